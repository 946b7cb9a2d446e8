"""FMI: exporting plant models as FMUs, and running any FMU as the plant."""
