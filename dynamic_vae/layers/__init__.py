"""Keras layers of the Dynamic VAE."""

from dynamic_vae.layers.channels_last_group_normalization import \
    ChannelsLastGroupNormalization
from dynamic_vae.layers.dynamic_layer import DynamicLayer
from dynamic_vae.layers.stationary_dynamic_layer import StationaryDynamicLayer

__all__ = ["ChannelsLastGroupNormalization", "DynamicLayer", "StationaryDynamicLayer"]
