"""The algorithm: TruDi's update, the path KL of its trust region, the return scale of its rewards."""
