"""Networks and the Dynamic VAE model."""

from dynamic_vae.models.dynamic_vae import DynamicVAE
from dynamic_vae.models.networks import build_decoder, build_encoder

__all__ = ["DynamicVAE", "build_decoder", "build_encoder"]
