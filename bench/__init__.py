"""Benchmarks run by ``make bench``; each writes its figures into docs/benchmarks.md."""
