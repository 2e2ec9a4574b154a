"""The linear baseline the paper compares with."""

from dynamic_vae.baseline.linear_dynamic_texture import LinearDynamicTexture, randomized_svd

__all__ = ["LinearDynamicTexture", "randomized_svd"]
