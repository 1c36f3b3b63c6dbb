"""rsl-rl's ``OnPolicyRunner`` made crash- and NaN-safe (atomic checkpoints, Ctrl-C saves), and CPU multi-process runs."""
