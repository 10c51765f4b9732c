"""Benchmarks for sealer, measured against peers in the same run (see bench/README.md). Not tests."""
