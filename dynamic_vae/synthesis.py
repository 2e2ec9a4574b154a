"""Synthesis of new sequences from a trained Dynamic VAE (eq. 35).

    x_0     = first half of the posterior mean of a given frame pair (brought onto the cycle
              of the stored start states of a model with a locked period), or one of the
              model's stored start states (`dynamic_vae.models.start_states`), or
              x_0 ~ N(0, I)
    x_{t+1} = A x_t + noise_scale * B v_t,   v_t ~ N(0, I)
    y_t     = C(x_t) + e_t

where e_t is a draw of the model's residual texture (`dynamic_vae.models.residual_texture`)
when it has one, and 0 otherwise or with `texture=False` (the decoder's mean frames).

The latent rollout runs as one `tf.scan` in a compiled function, and frames are decoded in
batches: there is no per-frame Python loop.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from dynamic_vae.data.frame_pairs import validate_frames
from dynamic_vae.layers.latent_step import latent_rollout
from dynamic_vae.pixels import from_pixel_range, to_pixel_range

# Seeds are folded into int32 stateless seeds modulo this (the exported signatures do the same).
SEED_MODULUS = 2**31 - 1


def start_seed(seed: int) -> np.ndarray:
    """The stateless seed that picks a stored start state for `synthesize(..., seed)`."""
    return np.array([seed % SEED_MODULUS, 2], dtype=np.int32)


def texture_seed(seed: int) -> np.ndarray:
    """The stateless seed of the residual texture of `synthesize(..., seed)`: apart from the
    two the rollout splits off `[seed, 0]`, so adding a texture leaves the latents as they
    were."""
    return np.array([seed % SEED_MODULUS, 1], dtype=np.int32)


@tf.function(reduce_retracing=True)
def rollout_latents(transition_matrix: tf.Tensor, noise_matrix: tf.Tensor,
                    initial_states: tf.Tensor, noise: tf.Tensor) -> tf.Tensor:
    """States `(S, T, n)` from `x_0` `(S, n)` and innovations `v` `(S, T - 1, n)` (pre-scaled).

    x_{t+1} = A x_t + B v_t for every sequence at once (`latent_rollout`).
    """
    states = latent_rollout(initial_states, tf.transpose(noise, [1, 0, 2]), transition_matrix,
                            noise_matrix)
    return tf.transpose(states, [1, 0, 2])


def synthesize_latents(
    transition_matrix: np.ndarray,
    noise_matrix: np.ndarray,
    num_frames: int,
    seed: int = 0,
    initial_state: np.ndarray | None = None,
    num_sequences: int = 1,
    noise_scale: float = 1.0,
) -> np.ndarray:
    """Latent trajectories `(num_sequences, num_frames, n)` of eq. (35).

    Args:
        transition_matrix: `A`, `(n, n)`.
        noise_matrix: `B`, `(n, n)`.
        num_frames: frames per sequence, >= 1.
        seed: seeds x_0 (when not given) and the innovations; the same seed gives the same
            trajectories.
        initial_state: `x_0`, `(n,)` or `(num_sequences, n)`; `None` draws x_0 ~ N(0, I).
        num_sequences: independent sequences.
        noise_scale: multiplies the innovations (0 gives the noise-free rollout A^t x_0).
    """
    a = np.asarray(transition_matrix, dtype=np.float32)
    b = np.asarray(noise_matrix, dtype=np.float32)
    n = a.shape[0]
    if a.shape != (n, n) or b.shape != (n, n):
        raise ValueError(f"transition_matrix and noise_matrix must be square and of one size, "
                         f"got {a.shape} and {b.shape}")
    if int(num_frames) < 1:
        raise ValueError(f"num_frames must be >= 1, got {num_frames}")
    if int(num_sequences) < 1:
        raise ValueError(f"num_sequences must be >= 1, got {num_sequences}")
    if not np.isfinite(noise_scale) or noise_scale < 0:
        raise ValueError(f"noise_scale must be a finite number >= 0, got {noise_scale}")
    stateless_seed = tf.constant([seed % SEED_MODULUS, 0], dtype=tf.int32)
    seeds = tf.random.experimental.stateless_split(stateless_seed, 2)
    if initial_state is None:
        x0 = tf.random.stateless_normal([num_sequences, n], seed=seeds[0])
    else:
        x0 = np.asarray(initial_state, dtype=np.float32)
        if x0.shape == (n,):
            x0 = np.broadcast_to(x0, (num_sequences, n))
        if x0.shape != (num_sequences, n):
            raise ValueError(f"initial_state must have shape ({n},) or ({num_sequences}, {n}), "
                             f"got {np.shape(initial_state)}")
        x0 = tf.constant(x0)
    noise = noise_scale * tf.random.stateless_normal(
        [num_sequences, int(num_frames) - 1, n], seed=seeds[1])
    return rollout_latents(tf.constant(a), tf.constant(b), x0, noise).numpy()


def decode_in_batches(model, latents: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """Decodes latents `(..., n)` to frames `(..., H, W, C)` in the model's pixel range."""
    flat = np.asarray(latents, dtype=np.float32).reshape(-1, latents.shape[-1])
    decoded = [model.decode(flat[i:i + batch_size]).numpy()
               for i in range(0, len(flat), batch_size)]
    frames = np.concatenate(decoded) if decoded else np.zeros([0, *model.frame_shape])
    return frames.reshape(*latents.shape[:-1], *model.frame_shape)


def initial_state_from_pair(model, frame_pair: np.ndarray) -> np.ndarray:
    """x_0: the first half of the posterior mean of one frame pair `(2, H, W[, C])`, brought
    onto the cycle of the model's stored start states when it has them and a locked period
    (`dynamic_vae.models.start_states.snap_to_start_states`).

    The pair is uint8 or float in [0, 1], like training frames.
    """
    pair = validate_frames(np.asarray(frame_pair), name="initial frame pair")
    if pair.shape[0] != 2 or pair.shape[1:] != tuple(model.frame_shape):
        expected = (2, *model.frame_shape)
        raise ValueError(f"initial frame pair: expected shape {expected}, got {pair.shape}")
    pair = to_pixel_range(pair, model.pixel_range)[np.newaxis]
    state = model.encode_states(pair)[:, :model.latent_dim]
    if model.start_states is not None and model.model_config.period >= 3:
        state = model.start_states.snap(state, model.transition()[1])
    return np.asarray(state)[0]


def synthesize(
    model,
    num_frames: int,
    seed: int = 0,
    initial_pair: np.ndarray | None = None,
    num_sequences: int = 1,
    noise_scale: float = 1.0,
    as_uint8: bool = True,
    texture: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Synthesises new sequences with a trained model.

    Args:
        model: a `DynamicVAE`.
        num_frames: frames per sequence.
        seed: the same seed gives the same sequence.
        initial_pair: a frame pair `(2, H, W[, C])` whose posterior mean gives x_0
            (`initial_state_from_pair`); `None`
            starts at one of the model's stored start states picked by the seed, or, for a
            model without them, draws x_0 from the stationary N(0, I).
        num_sequences: independent sequences.
        noise_scale: multiplies the innovations.
        as_uint8: return frames as uint8 0..255 (else float32 in the model's pixel range).
        texture: add a draw of the model's residual texture (if it has one) to the decoded
            frames; False gives the decoder's mean frames.

    Returns:
        `(frames (num_sequences, num_frames, H, W, C), latents (num_sequences, num_frames, n))`.
    """
    a, b = model.transition()
    if initial_pair is not None:
        x0 = initial_state_from_pair(model, initial_pair)
    elif getattr(model, "start_states", None) is not None:
        x0 = model.start_states.pick(num_sequences, start_seed(seed)).numpy()
    else:
        x0 = None
    latents = synthesize_latents(a, b, num_frames, seed=seed, initial_state=x0,
                                 num_sequences=num_sequences, noise_scale=noise_scale)
    frames = decode_in_batches(model, latents)
    if texture and getattr(model, "residual_texture", None) is not None:
        frames = frames + model.residual_texture.sample(
            num_sequences, num_frames, texture_seed(seed)).numpy()
    if as_uint8:
        frames = from_pixel_range(frames, model.pixel_range)
    return frames, latents
