"""Helpers shared by configs, models and algorithm: configuration range checks, fields by dotted key."""
