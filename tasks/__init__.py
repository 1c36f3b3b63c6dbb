"""Registration of TruDi into existing Isaac Lab tasks, and the offline asset root."""
