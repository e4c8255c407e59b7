"""Benchmarks of the router: execution quality against baselines and the oracle, and speed."""
