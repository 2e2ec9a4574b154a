"""The latent transition x_{t+1} = A x_t + B v_t against its numpy closed form."""

import numpy as np
import tensorflow as tf

from dynamic_vae.layers.latent_step import latent_rollout, latent_step


def matrices(n=3, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, n)).astype(np.float32) * 0.5,
            rng.normal(size=(n, n)).astype(np.float32) * 0.3)


def test_one_step_is_a_x_plus_b_v_for_row_vectors():
    a, b = matrices()
    rng = np.random.default_rng(1)
    x, v = rng.normal(size=(4, 3)).astype(np.float32), rng.normal(size=(4, 3)).astype(np.float32)
    np.testing.assert_allclose(latent_step(x, a, b, v).numpy(), x @ a.T + v @ b.T, rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(latent_step(x, a).numpy(), x @ a.T, rtol=1e-5, atol=1e-6)


def test_rollout_matches_the_closed_form_sum():
    a, b = matrices(seed=2)
    rng = np.random.default_rng(3)
    steps, sequences = 6, 2
    x0 = rng.normal(size=(sequences, 3)).astype(np.float32)
    v = rng.normal(size=(steps - 1, sequences, 3)).astype(np.float32)
    states = latent_rollout(tf.constant(x0), tf.constant(v), a, b).numpy()
    assert states.shape == (steps, sequences, 3)
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    for t in range(steps):
        # x_t = A^t x_0 + sum_{k < t} A^(t-1-k) B v_k
        expected = x0 @ np.linalg.matrix_power(a64, t).T
        for k in range(t):
            expected = expected + v[k] @ (np.linalg.matrix_power(a64, t - 1 - k) @ b64).T
        np.testing.assert_allclose(states[t], expected, rtol=1e-4, atol=1e-5)


def test_a_one_frame_rollout_is_the_initial_state():
    a, b = matrices()
    x0 = np.ones((1, 3), np.float32)
    states = latent_rollout(tf.constant(x0), tf.zeros([0, 1, 3]), a, b).numpy()
    np.testing.assert_array_equal(states, x0[np.newaxis])
