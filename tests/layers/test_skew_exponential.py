"""The fixed-operation exponential against SciPy's, and under XLA."""

import numpy as np
import pytest
import scipy.linalg
import tensorflow as tf

from dynamic_vae.layers.skew_exponential import MAX_SQUARINGS, SCALED_NORM, skew_exponential


def _skew(rng, n, scale):
    k = scale * rng.normal(size=(n, n))
    return (k - k.T).astype(np.float32)


@pytest.mark.parametrize("scale", [0.0, 1e-4, 0.3, 2.0, 30.0, 300.0])
@pytest.mark.parametrize("n", [1, 2, 7, 16])
def test_matches_scipy_and_is_orthogonal(n, scale, rng):
    skew = _skew(rng, n, scale)
    exponential = skew_exponential(tf.constant(skew)).numpy()
    assert exponential.dtype == np.float32
    np.testing.assert_allclose(exponential, scipy.linalg.expm(skew.astype(np.float64)),
                               atol=2e-7)
    product = exponential.astype(np.float64) @ exponential.T
    np.testing.assert_allclose(product, np.eye(n), atol=3e-7)


def test_a_plane_rotation_is_the_closed_form():
    angle = 2.5
    skew = np.array([[0.0, -angle], [angle, 0.0]], np.float32)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    np.testing.assert_allclose(skew_exponential(tf.constant(skew)).numpy(), rotation,
                               atol=1e-7)


def test_float64_in_float64_out(rng):
    skew = _skew(rng, 5, 1.0).astype(np.float64)
    exponential = skew_exponential(tf.constant(skew)).numpy()
    assert exponential.dtype == np.float64
    np.testing.assert_allclose(exponential, scipy.linalg.expm(skew), atol=1e-12)


def test_compiles_with_xla_and_its_gradient_is_expms(rng):
    """tf.linalg.expm's gradient is a while loop XLA rejects; this one compiles, and agrees."""
    generator = tf.Variable(rng.normal(size=(6, 6)).astype(np.float32))
    weights = tf.constant(rng.normal(size=(6, 6)).astype(np.float32))

    def gradient(exponential):
        with tf.GradientTape() as tape:
            value = tf.reduce_sum(exponential(generator - tf.transpose(generator)) * weights)
        return tape.gradient(value, generator)

    compiled = tf.function(lambda: gradient(skew_exponential), jit_compile=True)()
    np.testing.assert_allclose(compiled.numpy(), gradient(tf.linalg.expm).numpy(), atol=2e-5)


def test_the_squarings_cover_the_documented_norm(rng):
    """Beyond theta * 2^MAX_SQUARINGS the scaled norm would exceed theta: the docstring's
    bound. Just inside it, the result is still exact."""
    limit = SCALED_NORM * 2.0 ** MAX_SQUARINGS
    angle = 0.45 * limit  # 1-norm of the 2x2 generator is the angle
    skew = np.array([[0.0, -angle], [angle, 0.0]])
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    np.testing.assert_allclose(skew_exponential(tf.constant(skew)).numpy(), rotation,
                               atol=1e-6)
