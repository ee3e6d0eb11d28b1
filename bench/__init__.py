"""Benchmarks: retrieval quality and latency against a plain BM25 baseline."""
