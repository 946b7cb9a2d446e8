"""The ``twin`` command line (click)."""
