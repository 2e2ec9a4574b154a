"""Keras layers of the Dynamic VAE."""

from dynamic_vae.layers.dynamic_layer import DynamicLayer

__all__ = ["DynamicLayer"]
