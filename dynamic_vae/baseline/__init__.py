"""The baselines the Dynamic VAE is compared with: the linear dynamic texture the paper
compares with, and the training-free Fourier loop of a cyclic process of known period."""

from dynamic_vae.baseline.fourier_loop import FourierLoop
from dynamic_vae.baseline.linear_dynamic_texture import LinearDynamicTexture, randomized_svd

__all__ = ["FourierLoop", "LinearDynamicTexture", "randomized_svd"]
