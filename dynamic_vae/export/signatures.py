"""The built-in serving signatures: generate (= serving_default), generate_from, encode,
decode and metadata. Each builder takes the `SequenceModule` and returns a `tf.function`."""

from __future__ import annotations

import tensorflow as tf

from dynamic_vae.export.sequence_module import SequenceModule
from dynamic_vae.export.signature_builder import register_signature


def _num_frames_spec() -> tf.TensorSpec:
    return tf.TensorSpec([], tf.int32, name="num_frames")


def _seed_spec() -> tf.TensorSpec:
    return tf.TensorSpec([], tf.int64, name="seed")


def build_generate(module: SequenceModule):
    """`generate(num_frames, seed) -> frames (T, H, W, C), latents (T, n)`: x_0 is one of the
    model's stored start states picked by the seed, or x_0 ~ N(0, I) without them."""

    @tf.function(input_signature=[_num_frames_spec(), _seed_spec()])
    def generate(num_frames: tf.Tensor, seed: tf.Tensor) -> dict[str, tf.Tensor]:
        latents = module.rollout(module.start_state(seed), num_frames, seed)
        return {"frames": module.synthesised_frames(latents, seed), "latents": latents}

    return generate


def build_generate_from(module: SequenceModule):
    """`generate_from(frame_pair (2, H, W, C), num_frames, seed) -> frames, latents`.

    x_0 is the first half of the pair's posterior mean, brought onto the cycle of the stored
    start states of a model with a locked period (as `synthesize` starts from a pair); the
    innovations come from `seed`.
    """

    @tf.function(input_signature=[module.frames_spec(2, name="frame_pair"),
                                  _num_frames_spec(), _seed_spec()])
    def generate_from(frame_pair: tf.Tensor, num_frames: tf.Tensor,
                      seed: tf.Tensor) -> dict[str, tf.Tensor]:
        latents = module.rollout(module.initial_state(frame_pair), num_frames, seed)
        return {"frames": module.synthesised_frames(latents, seed), "latents": latents}

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
