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
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf


def pick_start_states(states: tf.Tensor, num_sequences: int | tf.Tensor,
                      seed: tf.Tensor) -> tf.Tensor:
    """`(num_sequences, n)` rows of `states` `(N, n)` picked uniformly from an int32 `(2,)`
    stateless seed (one function for in-process synthesis and the exported signatures)."""
    count = tf.shape(states)[0]
    index = tf.random.stateless_uniform(tf.reshape(num_sequences, [1]), seed=seed, minval=0,
                                        maxval=count, dtype=tf.int32)
    return tf.gather(states, index)


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

    def call(self, inputs: Any) -> tf.Tensor:
        raise NotImplementedError("StartStates is read with `pick`, not called")

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({"count": self.count, "latent_dim": self.latent_dim})
        return config


_pick_start_states = tf.function(pick_start_states, reduce_retracing=True)
