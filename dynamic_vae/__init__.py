"""dynamic-vae: linear models of non-linear visual processes (Sagel & Shen's Dynamic VAE).

Importing the package registers its Keras classes, so `keras.models.load_model` can read
`.keras` files of `DynamicVAE` models after `import dynamic_vae`.
"""

from dynamic_vae.layers import DynamicLayer
from dynamic_vae.models import DynamicVAE, build_decoder, build_encoder

__version__ = "0.1.0"

__all__ = ["DynamicLayer", "DynamicVAE", "build_decoder", "build_encoder"]
