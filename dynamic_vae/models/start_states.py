"""Where synthesis starts when no frame pair is given: encoded training states.

The latent process is stationary with x ~ N(0, I), so x_0 ~ N(0, I) is a valid start in
theory. In practice the encoder places frames on a small part of that distribution: on a
ring in the plane of a cycle, for instance, and a draw from N(0, I) can land near the ring's
centre, where the decoder has seen no code (an illegible digit, a blurred pose). When a
plane's modulus is 1 (a locked harmonic, `dynamic_vae.spectrum.lock_harmonics`) a state
keeps its radius there for ever, so a bad start is never forgotten.

This layer stores the posterior means of evenly spaced training frames; synthesis without a
given pair starts at one of them, picked by the seed:

    i ~ Uniform{0 .. N - 1}   (stateless, from the synthesis seed)
    x_0 = states[i]

so every sequence starts on the data, and the same seed picks the same state in process and
in a served export.

With a locked period P, the part of each stored state that the innovations leave alone (its
phase on the locked planes) is replaced by the consensus of all stored states: each state's
orbit under A, `A^k p_j` for k = 0 .. P - 1, is aligned to it, and the aligned points are
averaged,

    p_i <- mean_j  A^(k_ij) p_j,   k_ij = argmin_k |A^k p_j - p_i|

so every start lies on one clean cycle. An encoded frame's persistent part also carries some
of that frame's own look (a radius nearer the centre for a sloppy digit, an angle between two
steps), and a locked plane would repeat that look in every cycle of the synthesis.

A start read from a frame pair is brought onto the same states' ring. The posterior mean of
two frames is pulled towards the prior's centre (two frames say less about the phase than the
windows training read), and on a locked plane that radius is kept for ever. So the part of
x_0 that the innovations leave alone (`Q_p x_0`, the directions where B B^T is below 0.01:
the locked planes) is replaced by that of the stored state it points at most nearly:

    j   = argmax_i  <Q_p x_0, Q_p states[i]> / |Q_p states[i]|
    x_0 <- x_0 - Q_p x_0 + Q_p states[j]

The pair still chooses the phase and the innovation-driven part (the handwriting of a digit,
say); the stored state gives the radius at which the decoder was trained.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf


# How far A^P may be from the identity on the persistent directions for them to count as a
# locked cycle (locked planes turn back exactly, up to float32 round-off over P steps).
CYCLE_TOLERANCE = 1e-3


def pick_start_states(states: tf.Tensor, num_sequences: int | tf.Tensor,
                      seed: tf.Tensor) -> tf.Tensor:
    """`(num_sequences, n)` rows of `states` `(N, n)` picked uniformly from an int32 `(2,)`
    stateless seed (one function for in-process synthesis and the exported signatures)."""
    count = tf.shape(states)[0]
    index = tf.random.stateless_uniform(tf.reshape(num_sequences, [1]), seed=seed, minval=0,
                                        maxval=count, dtype=tf.int32)
    return tf.gather(states, index)


def cycle_consensus(states: np.ndarray, transition_matrix: np.ndarray,
                    noise_matrix: np.ndarray, period: int) -> np.ndarray:
    """`states` `(N, n)` with their persistent parts replaced by the consensus of the orbits
    of all of them under `transition_matrix` over `period` steps (see the module).

    The persistent directions are those `innovation_projections` gives for `noise_matrix`.
    States are unchanged when there are none, or when `transition_matrix` does not turn
    them through `period` steps back onto themselves (no locked cycle to align to)."""
    from dynamic_vae.models.driven_prior import innovation_projections

    states = np.asarray(states, dtype=np.float64)
    q_persistent = np.asarray(innovation_projections(np.asarray(noise_matrix))[0])
    transition = np.asarray(transition_matrix, dtype=np.float64)
    cycle = q_persistent @ np.linalg.matrix_power(transition, int(period)) @ q_persistent
    if np.trace(q_persistent) < 0.5 or not np.allclose(cycle, q_persistent,
                                                       atol=CYCLE_TOLERANCE):
        return states
    persistent = states @ q_persistent
    power = np.eye(len(transition))
    orbits = []                                              # (P, N, n): A^k p_j
    for _ in range(int(period)):
        orbits.append(persistent @ power.T)
        power = transition @ power
    orbits = np.stack(orbits, axis=1)                        # (N, P, n)
    consensus = np.empty_like(persistent)
    for i, point in enumerate(persistent):
        nearest = np.argmin(np.linalg.norm(orbits - point, axis=2), axis=1)
        consensus[i] = orbits[np.arange(len(states)), nearest].mean(axis=0)
    # Projected again: only the persistent part may change.
    return states - persistent + consensus @ q_persistent


def snap_to_start_states(states: tf.Tensor, start_states: tf.Tensor,
                         noise_matrix: tf.Tensor) -> tf.Tensor:
    """`states` `(m, n)` with their persistent part replaced by that of the stored start
    state each points at most nearly (see the module; one function for in-process synthesis
    and the exported signatures). States are unchanged when B leaves no direction alone,
    or before any start state is stored (all zero)."""
    from dynamic_vae.models.driven_prior import innovation_projections

    q_persistent, _ = innovation_projections(noise_matrix)
    q_persistent = tf.cast(q_persistent, states.dtype)
    persistent = tf.matmul(states, q_persistent)
    start_persistent = tf.matmul(tf.cast(start_states, states.dtype), q_persistent)
    norms = tf.norm(start_persistent, axis=1)
    # The ring's direction decides, not the (shrunk) radius; a state on no ring (norm 0)
    # never wins over one on it.
    alignment = tf.matmul(persistent, start_persistent, transpose_b=True) / tf.maximum(
        norms, 1e-12)[tf.newaxis]
    nearest = tf.gather(start_persistent, tf.argmax(alignment, axis=1))
    stored = tf.reduce_max(norms) > 1e-6
    return tf.where(stored, states - persistent + nearest, states)


@keras.saving.register_keras_serializable(package="dynamic_vae")
class StartStates(keras.layers.Layer):
    """Encoded training states that synthesis starts from (see the module).

    The weights are set by `fit`, not by gradient descent.

    Args:
        count: how many states are stored.
        latent_dim: `n`.
        **kwargs: passed to `keras.layers.Layer`.

    Example:
    >>> starts = StartStates(count=64, latent_dim=10)
    >>> starts.fit(encoded_states)                          # doctest: +SKIP
    >>> starts.pick(3, seed=np.array([7, 2], "int32")).shape
    TensorShape([3, 10])
    """

    def __init__(self, count: int, latent_dim: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if int(count) < 1 or int(latent_dim) < 1:
            raise ValueError(f"count and latent_dim: expected positive integers, got {count} "
                             f"and {latent_dim}")
        self.count = int(count)
        self.latent_dim = int(latent_dim)
        self.states = self.add_weight(name="states", shape=(self.count, self.latent_dim),
                                      initializer="zeros", trainable=False, dtype="float32")
        self.built = True

    def fit(self, states: np.ndarray) -> int:
        """Stores `count` of `states` `(N, n)`, evenly spaced in their order (repeating some
        when N < count). Returns how many distinct states were stored."""
        states = np.asarray(states, dtype=np.float32)
        if states.ndim != 2 or states.shape[1] != self.latent_dim or len(states) < 1:
            raise ValueError(f"states: expected (N >= 1, {self.latent_dim}), got shape "
                             f"{states.shape}")
        if not np.isfinite(states).all():
            raise ValueError("states: holds NaN or inf values")
        chosen = np.round(np.linspace(0, len(states) - 1, self.count)).astype(np.int64)
        self.states.assign(states[chosen])
        return int(len(np.unique(chosen)))

    def pick(self, num_sequences: int, seed: np.ndarray | tf.Tensor) -> tf.Tensor:
        """`(num_sequences, n)` starts from an int32 `(2,)` stateless seed."""
        # The value, not the variable: one compiled function serves every model.
        return _pick_start_states(tf.convert_to_tensor(self.states),
                                  tf.constant(int(num_sequences)),
                                  tf.convert_to_tensor(seed, tf.int32))

    def snap(self, states: np.ndarray | tf.Tensor, noise_matrix: np.ndarray | tf.Tensor
             ) -> tf.Tensor:
        """`states` `(m, n)` brought onto the stored states' ring (`snap_to_start_states`)."""
        return snap_to_start_states(tf.convert_to_tensor(states, tf.float32),
                                    tf.convert_to_tensor(self.states),
                                    tf.convert_to_tensor(noise_matrix, tf.float32))

    def call(self, inputs: Any) -> tf.Tensor:
        raise NotImplementedError("StartStates is read with `pick`, not called")

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({"count": self.count, "latent_dim": self.latent_dim})
        return config


_pick_start_states = tf.function(pick_start_states, reduce_retracing=True)
