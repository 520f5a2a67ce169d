"""Measuring instruments: the evaluation, the benchmark and the load test (not the product)."""
