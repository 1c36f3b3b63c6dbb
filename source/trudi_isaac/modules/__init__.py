"""The models: the chain policies (diffusion and tanh-Gaussian actors), the distributional Q critic, export."""
