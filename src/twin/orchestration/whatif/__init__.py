"""What-if studies: scenarios sampled over uncertain inputs, run anywhere, summarised.

A study file (:mod:`.study`) names a base case (an open-loop plant or FMU,
a closed loop with APC and RTO, or a plain function), scenario variables and
their sampling (:mod:`.sampling`), and KPIs (:mod:`.kpis`). :func:`run_study`
runs the scenarios in chunks on local processes or a Dask cluster
(:mod:`.executors`), keeps every finished chunk so an interrupted study
resumes, and writes a Parquet summary, time series, sensitivity indices
(:mod:`.sensitivity`) and an HTML report (:mod:`.report`).
"""

from twin.orchestration.whatif.run import StudyResult, run_study
from twin.orchestration.whatif.study import Study, load_study, study_from_dict

__all__ = ["Study", "StudyResult", "load_study", "run_study", "study_from_dict"]
