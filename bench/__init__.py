"""Benchmarks: `python -m bench [NAME ...]` runs bench/<NAME>.py and rewrites its section of BENCHMARKS.md."""
