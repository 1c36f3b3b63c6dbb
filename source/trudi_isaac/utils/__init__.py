"""Helpers shared by configs, models and algorithm: configuration range checks."""
