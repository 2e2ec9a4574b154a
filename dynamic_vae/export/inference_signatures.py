"""The Kalman inference serving signatures: `forecast` and `impute`.

They run the same graph code as the Python API (`dynamic_vae.inference.video.forecast` /
`impute`, via `dynamic_vae.inference.clip`), so a served forecast equals the in-process one for
the same seed. Every size a request controls (clip length, steps, samples) is checked before
anything sized by it is allocated: an oversized request is InvalidArgument, not out of memory.
"""

from __future__ import annotations

import tensorflow as tf

from dynamic_vae.export.sequence_module import SEED_MODULUS, SequenceModule
from dynamic_vae.export.signature_builder import register_signature
from dynamic_vae.inference.clip import forecast_frames, smooth_clip

# The pair encoder needs a pair: the Python API refuses shorter clips too.
MIN_CLIP_FRAMES = 2


def _bounded(value: tf.Tensor, name: str, low: int, high: int, why: str = "") -> list:
    return [
        tf.debugging.assert_greater_equal(value, tf.constant(low, value.dtype),
                                          message=f"{name} must be >= {low}"),
        tf.debugging.assert_less_equal(value, tf.constant(high, value.dtype),
                                       message=f"{name} must be <= {high}{why}"),
    ]


def _clip_checks(module: SequenceModule, frames: tf.Tensor) -> list:
    checks = _bounded(tf.shape(frames)[0], "the number of frames (T of frames)",
                      MIN_CLIP_FRAMES, module.max_frames,
                      " (max_frames, set at export with --max-frames)")
    if frames.dtype.is_floating:
        # As the Python API refuses them: NaN would poison every filtered state.
        checks.append(tf.debugging.assert_equal(
            tf.reduce_all(tf.math.is_finite(frames) & (frames >= 0.0) & (frames <= 1.0)), True,
            message="frames: float frames must be finite and lie in [0, 1]"))
    return checks


def _after(checks: list, *tensors: tf.Tensor) -> list[tf.Tensor]:
    """`tensors`, made to depend on `checks`: nothing computed from them runs first."""
    with tf.control_dependencies(checks):
        return [tf.identity(t) for t in tensors]


def stateless_seed(seed: tf.Tensor) -> tf.Tensor:
    """The int32 `(2,)` seed the Python API derives from the same int64 seed."""
    return tf.stack([tf.cast(tf.math.floormod(seed, SEED_MODULUS), tf.int32), 0])


def build_forecast(module: SequenceModule):
    """`forecast(frames (T, H, W, C), num_steps, num_samples, seed)` -> the K = num_steps
    frames after the clip.

    Outputs: `mean_frames (K, H, W, C)` (decoded predictive means, plus the residual
    texture's forecast for a model with one, as `dynamic_vae.inference.forecast`), `sampled_frames
    (S, K, H, W, C)` (decoded trajectories drawn from p(future | clip), S = num_samples, each
    frame with a sampled residual for a model with a texture),
    `mean_latents (K, n)` (for a model with a texture, shrunk by its shares as
    `dynamic_vae.inference.clip.forecast_frames` does), `latent_covariances (K, n, n)`, `sampled_latents (S, K, n)`.
    Bounds: 2 <= T <= max_frames, 1 <= K <= max_frames, 0 <= S and S * K <= max_frames
    (the frames decoded for the samples).
    """
    limit = module.max_frames

    @tf.function(autograph=False, input_signature=[
        module.frames_spec(None, name="frames"),
        tf.TensorSpec([], tf.int32, name="num_steps"),
        tf.TensorSpec([], tf.int32, name="num_samples"),
        tf.TensorSpec([], tf.int64, name="seed")])
    def forecast(frames: tf.Tensor, num_steps: tf.Tensor, num_samples: tf.Tensor,
                 seed: tf.Tensor) -> dict[str, tf.Tensor]:
        # int64 so the product of two in-range int32 values cannot wrap around.
        decoded = tf.cast(num_samples, tf.int64) * tf.cast(num_steps, tf.int64)
        checks = (_clip_checks(module, frames)
                  + _bounded(num_steps, "num_steps", 1, limit, " (max_frames)")
                  + _bounded(num_samples, "num_samples", 0, limit, " (max_frames)"))
        with tf.control_dependencies(checks):
            checks.append(tf.debugging.assert_less_equal(
                decoded, tf.constant(limit, tf.int64),
                message=f"num_samples * num_steps (the sampled frames) must be <= {limit} "
                        "(max_frames)"))
        frames, num_steps, num_samples = _after(checks, frames, num_steps, num_samples)
        observed = tf.zeros([tf.shape(frames)[0]], tf.bool)
        mean_frames, means, covariances, samples, residuals = forecast_frames(
            module, module.to_model_pixels(frames), observed, num_steps, num_samples,
            stateless_seed(seed))
        means = tf.cast(means, tf.float32)
        samples = tf.cast(samples, tf.float32)
        flat_samples = tf.reshape(samples, [-1, module.latent_dim])
        # The decoder's convolutions reject an empty batch (num_samples = 0).
        sampled_frames = tf.cond(
            tf.size(flat_samples) > 0,
            lambda: tf.cast(module.decode(flat_samples), tf.float32),
            lambda: tf.zeros([0, *module.frame_shape], tf.float32))
        sampled_frames = tf.reshape(sampled_frames, tf.shape(residuals)) + residuals
        return {
            "mean_frames": module.to_output_frames(mean_frames),
            "sampled_frames": module.to_output_frames(sampled_frames),
            "mean_latents": means,
            "latent_covariances": tf.cast(covariances, tf.float32),
            "sampled_latents": samples,
        }

    return forecast


def build_impute(module: SequenceModule):
    """`impute(frames (T, H, W, C), missing bool (T,))` -> the clip with its missing frames
    filled by their smoothed estimates C(E[x_t | present frames]).

    Outputs: `imputed_frames (T, H, W, C)` (the given frames where present),
    `smoothed_frames (T, H, W, C)` (every frame decoded from its smoothed state),
    `smoothed_means (T, n)`, `smoothed_covariances (T, n, n)`.
    Bounds: 2 <= T <= max_frames, one mask entry per frame, at least one frame present.
    """

    @tf.function(autograph=False,
                 input_signature=[module.frames_spec(None, name="frames"),
                                  tf.TensorSpec([None], tf.bool, name="missing")])
    def impute(frames: tf.Tensor, missing: tf.Tensor) -> dict[str, tf.Tensor]:
        checks = _clip_checks(module, frames) + [
            tf.debugging.assert_equal(
                tf.shape(missing)[0], tf.shape(frames)[0],
                message="missing must have one entry per frame (shape (T,))"),
            tf.debugging.assert_equal(
                tf.reduce_all(missing), False,
                message="missing: every frame is marked missing; at least one must be present"),
        ]
        frames, missing = _after(checks, frames, missing)
        posteriors = smooth_clip(module, module.to_model_pixels(frames), missing)
        means = tf.cast(posteriors.smoothed_means, tf.float32)
        smoothed_frames = module.decode_frames(means)
        return {
            "imputed_frames": tf.where(missing[:, tf.newaxis, tf.newaxis, tf.newaxis],
                                       smoothed_frames, frames),
            "smoothed_frames": smoothed_frames,
            "smoothed_means": means,
            "smoothed_covariances": tf.cast(posteriors.smoothed_covariances, tf.float32),
        }

    return impute


register_signature("forecast", build_forecast)
register_signature("impute", build_impute)
