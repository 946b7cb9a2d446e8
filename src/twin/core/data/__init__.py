"""Plant data: time series from historians, step tests and OPC UA history.

:class:`~twin.core.data.table.PlantData` is the one form every command that
reads plant data works on (inspection, identification, calibration);
:func:`~twin.core.data.load.load_data` makes it from a file.
"""

from twin.core.data.load import load_data
from twin.core.data.table import PlantData

__all__ = ["PlantData", "load_data"]
