"""Differential tests: random small models, every engine must agree (see test_differential.py)."""
