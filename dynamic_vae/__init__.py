"""dynamic-vae: linear models of non-linear visual processes (Sagel & Shen's Dynamic VAE).

Importing the package registers its Keras classes, so `keras.models.load_model` can read
`.keras` files of `DynamicVAE` models after `import dynamic_vae`. The `dynamic-vae` program is
the exception: importing them imports TensorFlow, whose start-up lines the program hides, so
it imports them itself once its stderr filter is in place.
"""

import importlib
import os
import sys

__version__ = "0.1.0"

__all__ = ["DynamicLayer", "DynamicVAE", "build_decoder", "build_encoder"]

_EXPORTS = {"DynamicLayer": "dynamic_vae.layers", "DynamicVAE": "dynamic_vae.models",
            "build_decoder": "dynamic_vae.models", "build_encoder": "dynamic_vae.models"}


def _starting_the_program() -> bool:
    """Whether this import is the start of the `dynamic-vae` script or of
    `python -m dynamic_vae.cli` (whose sys.argv[0] is "-m" while its package is imported)."""
    argv = getattr(sys, "orig_argv", [])
    return (os.path.basename(sys.argv[0] if sys.argv else "") == "dynamic-vae"
            or any(flag == "-m" and module.split(".")[:2] == ["dynamic_vae", "cli"]
                   for flag, module in zip(argv, argv[1:])))


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'dynamic_vae' has no attribute {name!r}")


if not _starting_the_program():
    from dynamic_vae.layers import DynamicLayer  # noqa: E402
    from dynamic_vae.models import DynamicVAE, build_decoder, build_encoder  # noqa: E402
