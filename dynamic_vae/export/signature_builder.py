"""The registry of serving signatures an export writes; other modules add theirs to it.

A signature builder takes the `SequenceModule` and returns a `tf.function` with a full
input signature; it returns a dict of named outputs, which TF Serving passes on by name.
Builders are called in registration order when an export is written, so a feature module adds
a signature with one call and no change here:

    from dynamic_vae.export import register_signature

    def build_forecast(module):
        @tf.function(input_signature=[module.frames_spec(None, name="frames"), ...])
        def forecast(frames, ...):
            ...
            return {"frames": ..., "latents": ...}
        return forecast

    register_signature("forecast", build_forecast)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import tensorflow as tf

from dynamic_vae.export.sequence_module import SequenceModule

# TF Serving's name for the signature a request without signature_name runs.
DEFAULT_SIGNATURE = "serving_default"

SignatureBuild = Callable[[SequenceModule], tf.types.experimental.GenericFunction]


@dataclasses.dataclass(frozen=True)
class SignatureBuilder:
    """A named serving signature and the function that builds it for a module.

    Args:
        name: the signature key requests pass as `signature_name`.
        build: `SequenceModule -> tf.function` with a full input signature, returning a
            dict of named outputs.

    Example:
    >>> SignatureBuilder("decode", build_decode).build(module).get_concrete_function()
    """

    name: str
    build: SignatureBuild


SIGNATURE_BUILDERS: list[SignatureBuilder] = []


def register_signature(name: str, build: SignatureBuild, replace: bool = False) -> None:
    """Adds a signature every later export writes.

    Args:
        name: the signature key (what requests pass as `signature_name`).
        build: `module -> tf.function` with an input signature, returning a dict of outputs.
        replace: replace a builder of the same name instead of raising.
    """
    if not name or name == DEFAULT_SIGNATURE:
        raise ValueError(f"signature name must be non-empty and not {DEFAULT_SIGNATURE!r} "
                         f"(that is an alias of 'generate'), got {name!r}")
    existing = [i for i, b in enumerate(SIGNATURE_BUILDERS) if b.name == name]
    if existing and not replace:
        raise ValueError(f"a signature named {name!r} is already registered")
    if existing:
        SIGNATURE_BUILDERS[existing[0]] = SignatureBuilder(name, build)
    else:
        SIGNATURE_BUILDERS.append(SignatureBuilder(name, build))


def build_signatures(module: SequenceModule,
                     builders: list[SignatureBuilder] | None = None) -> dict:
    """Concrete functions of every registered signature, plus `serving_default` = `generate`."""
    builders = SIGNATURE_BUILDERS if builders is None else builders
    signatures = {}
    for builder in builders:
        function = builder.build(module)
        # Attached to the module so the functions (and what they capture) are saved with it.
        setattr(module, f"signature_{builder.name}", function)
        signatures[builder.name] = function.get_concrete_function()
    if "generate" in signatures:
        signatures[DEFAULT_SIGNATURE] = signatures["generate"]
    return signatures
