"""The rollout buffer that keeps each transition's whole denoising chain."""
