"""Exporting a model instance to other model checkers (Promela for SPIN)."""
