"""Chaos testing: fault storms and crash-restarts checked against the venues' ledgers."""
