"""FMI import: any FMU (2.0 or 3.0, Co-Simulation or Model Exchange) as the plant."""
