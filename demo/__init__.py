"""Demo warehouse: the data model of METRICS.md D.1, generated deterministically."""
