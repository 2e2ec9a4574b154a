"""The latent transition x_{t+1} = A x_t + B v_t, one step and a whole rollout.

Training (the dynamic layer's eq. 33 and the model's prediction rollout), in-process synthesis
and the exported serving graphs all step the latent state with these two functions, so a
served sequence is the in-process one to the last bit.

States are row vectors (the batch on the first axis), so the step is
`x_{t+1} = x_t A^T + v_t B^T`.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf


def latent_step(states: tf.Tensor, transition_matrix: Any, noise_matrix: Any = None,
                innovations: tf.Tensor | None = None) -> tf.Tensor:
    """One step `x_{t+1} = A x_t + B v_t` of row-vector states.

    Args:
        states: `x_t`, `(..., n)`.
        transition_matrix: `A`, `(n, n)` (a tensor or a variable).
        noise_matrix: `B`, `(n, n)`; needed only with `innovations`.
        innovations: `v_t`, shaped like `states`, already scaled; `None` for the noise-free
            step `A x_t`.

    Returns:
        `x_{t+1}`, shaped like `states`.

    Example:
    >>> latent_step(tf.ones([1, 2]), 0.5 * tf.eye(2), tf.eye(2), tf.ones([1, 2]))
    <tf.Tensor: shape=(1, 2), dtype=float32, numpy=array([[1.5, 1.5]], dtype=float32)>
    """
    advanced = tf.matmul(states, transition_matrix, transpose_b=True)
    if innovations is None:
        return advanced
    return advanced + tf.matmul(innovations, noise_matrix, transpose_b=True)


def latent_rollout(initial_states: tf.Tensor, innovations: tf.Tensor,
                   transition_matrix: Any, noise_matrix: Any) -> tf.Tensor:
    """States `(T, S, n)`, time-major, from `x_0` `(S, n)` and innovations `(T - 1, S, n)`.

    The rollout is one `tf.scan` over time (no Python loop), so it compiles into one graph
    loop whatever T is.

    Args:
        initial_states: `x_0` of S sequences, `(S, n)`.
        innovations: `v_0 .. v_{T-2}`, time-major `(T - 1, S, n)`, already scaled.
        transition_matrix: `A`, `(n, n)`.
        noise_matrix: `B`, `(n, n)`.

    Returns:
        `x_0 .. x_{T-1}`, `(T, S, n)`.

    Example:
    >>> latent_rollout(tf.ones([1, 2]), tf.zeros([3, 1, 2]), 0.5 * tf.eye(2), tf.eye(2))[:, 0, 0]
    <tf.Tensor: shape=(4,), dtype=float32, numpy=array([1.   , 0.5  , 0.25 , 0.125], dtype=float32)>
    """
    def step(state: tf.Tensor, innovation: tf.Tensor) -> tf.Tensor:
        return latent_step(state, transition_matrix, noise_matrix, innovation)

    later = tf.scan(step, innovations, initializer=initial_states)
    return tf.concat([initial_states[tf.newaxis], later], axis=0)
