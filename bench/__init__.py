"""Benchmarks of the CTI service's hot paths (run as modules, e.g. `python -m bench.ingest`)."""
