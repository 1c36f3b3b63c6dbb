"""TruDi agent configurations (Isaac Lab ``@configclass``, extending rsl-rl's runner config)."""
