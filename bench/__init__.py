"""Benchmarks, each against a baseline measured in the same run; `python -m bench` runs them all.

Every module with a `main(argv) -> int` is a benchmark (retrieval, answers, startup, ...); the
results go to BENCHMARKS.md, one section per benchmark.
"""
