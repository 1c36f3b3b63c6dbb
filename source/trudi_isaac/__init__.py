"""trudi-isaac: Trust-Region Diffusion Policies (TruDi) for Isaac Lab, on rsl-rl's runner."""

__version__ = "0.1.0"
