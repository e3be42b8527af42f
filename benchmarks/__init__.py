"""Benchmarks that print figures (``make bench``); see benchmarks/README.md."""
