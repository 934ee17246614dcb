"""Jobs made of several layers, run by the CLI: writing a degraded copy of a dataset."""
