"""The serving signatures of an export, and the registry other modules add theirs to.

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
    """A named serving signature and the function that builds it for a module."""

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


def _num_frames_spec() -> tf.TensorSpec:
    return tf.TensorSpec([], tf.int32, name="num_frames")


def _seed_spec() -> tf.TensorSpec:
    return tf.TensorSpec([], tf.int64, name="seed")


def build_generate(module: SequenceModule):
    """`generate(num_frames, seed) -> frames (T, H, W, C), latents (T, n)`, x_0 ~ N(0, I)."""

    @tf.function(input_signature=[_num_frames_spec(), _seed_spec()])
    def generate(num_frames: tf.Tensor, seed: tf.Tensor) -> dict[str, tf.Tensor]:
        latents = module.rollout(module.stationary_state(seed), num_frames, seed)
        return {"frames": module.decode_frames(latents), "latents": latents}

    return generate


def build_generate_from(module: SequenceModule):
    """`generate_from(frame_pair (2, H, W, C), num_frames, seed) -> frames, latents`.

    x_0 is the first half of the pair's posterior mean; the innovations come from `seed`.
    """

    @tf.function(input_signature=[module.frames_spec(2, name="frame_pair"),
                                  _num_frames_spec(), _seed_spec()])
    def generate_from(frame_pair: tf.Tensor, num_frames: tf.Tensor,
                      seed: tf.Tensor) -> dict[str, tf.Tensor]:
        latents = module.rollout(module.initial_state(frame_pair), num_frames, seed)
        return {"frames": module.decode_frames(latents), "latents": latents}

    return generate_from


def build_encode(module: SequenceModule):
    """`encode(frame_pairs (N, 2, H, W, C)) -> mean, log_variance (N, 2n)`."""

    @tf.function(input_signature=[module.frames_spec(None, 2, name="frame_pairs")])
    def encode(frame_pairs: tf.Tensor) -> dict[str, tf.Tensor]:
        mean, log_variance = module.encode_pairs(frame_pairs)
        return {"mean": mean, "log_variance": log_variance}

    return encode


def build_decode(module: SequenceModule):
    """`decode(latents (N, n)) -> frames (N, H, W, C)`."""

    @tf.function(input_signature=[tf.TensorSpec([None, module.latent_dim], tf.float32,
                                                name="latents")])
    def decode(latents: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"frames": module.decode_frames(latents)}

    return decode


def build_metadata(module: SequenceModule):
    """`metadata() -> transition_matrix, noise_matrix, frame_shape, pixel_range, max_frames,
    latent_dim`: what a client needs to build requests and interpret the latents."""

    @tf.function(input_signature=[])
    def metadata() -> dict[str, tf.Tensor]:
        return {
            "transition_matrix": module.transition_matrix,
            "noise_matrix": module.noise_matrix,
            "frame_shape": tf.constant(module.frame_shape, tf.int32),
            "pixel_range": tf.constant(module.pixel_range, tf.float32),
            "max_frames": tf.constant(module.max_frames, tf.int32),
            "latent_dim": tf.constant(module.latent_dim, tf.int32),
        }

    return metadata


for _name, _build in (("generate", build_generate), ("generate_from", build_generate_from),
                      ("encode", build_encode), ("decode", build_decode),
                      ("metadata", build_metadata)):
    register_signature(_name, _build)


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
