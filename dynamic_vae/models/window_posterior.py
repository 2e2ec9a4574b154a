"""The smoothed (structured) posterior over a window of latent states.

With `posterior="smoothed"` the frame encoder's Gaussian N(mu_t, diag(s_t^2)) is read as a
noisy *measurement* of the state, not as the state's posterior, and the posterior over a window
x_{1:L} is the exact posterior of the model's own linear-Gaussian prior given those
measurements:

    q(x_{1:L}) ∝ p(x_{1:L}) prod_t N(mu_t; x_t, diag(s_t^2)),
    p(x_{1:L}) = N(x_1; 0, I) prod_t N(x_{t+1}; A x_t, B B^T),

computed by a Kalman filter and a Rauch-Tung-Striebel smoother. Its KL to the prior is

    KL(q || p) = sum_t E_q[log N(mu_t; x_t, diag(s_t^2))] - log Z,
    log Z      = log of the measurements' likelihood under the prior (the filter's
                 innovations),

and the reconstruction needs only the smoothed marginals q(x_t). Why this matters: with the
factorised posterior q(x_t) q(x_{t+1}) the KL is smallest when B B^T covers the encoder's
variance twice over (B B^T ≈ residual + S_{t+1} + A S_t A^T), so frame-to-frame jitter of the
codes is paid for with innovation noise and the learned dynamics stay short-lived. Here the
jitter is explained as measurement noise, B B^T only has to cover what the dynamics really leave
open, and the posterior is tight exactly where the dynamics are persistent (as in the Kalman VAE
of Fraccaro et al. 2017, with the stationary prior of the Dynamic VAE).

The recursions run in float64: encoder variances can be small enough for float32 covariance
updates to lose positive definiteness.
"""

from __future__ import annotations

import math

import tensorflow as tf

SMOOTHER_DTYPE = tf.float64
_JITTER = 1e-9


def _symmetric(matrix: tf.Tensor) -> tf.Tensor:
    return 0.5 * (matrix + tf.linalg.matrix_transpose(matrix))


def smoothed_window_posterior(measurements: tf.Tensor, measurement_variances: tf.Tensor,
                              transition_matrix: tf.Tensor, noise_matrix: tf.Tensor
                              ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """Smoothed marginals of x_{1:L} given encoder measurements, and KL(q || prior).

    Args:
        measurements: encoder means `(batch, L, n)`.
        measurement_variances: encoder variances `(batch, L, n)` (diagonal covariances).
        transition_matrix: A `(n, n)`.
        noise_matrix: B `(n, n)`; the innovation covariance is B B^T.

    Returns:
        `(means (batch, L, n), covariances (batch, L, n, n), kl (batch,))` in the dtype of
        `measurements`.
    """
    dtype = measurements.dtype
    mu = tf.cast(measurements, SMOOTHER_DTYPE)
    variances = tf.cast(measurement_variances, SMOOTHER_DTYPE)
    a = tf.cast(transition_matrix, SMOOTHER_DTYPE)
    b = tf.cast(noise_matrix, SMOOTHER_DTYPE)
    length, n = mu.shape[1], mu.shape[2]
    if length is None or n is None:
        raise ValueError(f"measurements: expected a static shape (batch, L, n), got "
                         f"{mu.shape}")
    eye = tf.eye(n, dtype=SMOOTHER_DTYPE)
    noise_covariance = tf.matmul(b, b, transpose_b=True) + _JITTER * eye
    batch = tf.shape(mu)[0]

    predicted_mean = tf.zeros([batch, n], SMOOTHER_DTYPE)
    predicted_cov = tf.broadcast_to(eye, [batch, n, n])  # the stationary prior of x_1
    log_z = tf.zeros([batch], SMOOTHER_DTYPE)
    filtered_means, filtered_covs, predicted_means, predicted_covs = [], [], [], []
    for t in range(length):
        measurement_cov = tf.linalg.diag(variances[:, t])
        innovation = mu[:, t] - predicted_mean
        chol = tf.linalg.cholesky(predicted_cov + measurement_cov)
        whitened = tf.linalg.triangular_solve(chol, innovation[..., None], lower=True)
        log_z += (-0.5 * tf.reduce_sum(tf.square(whitened), axis=[1, 2])
                  - tf.reduce_sum(tf.math.log(tf.linalg.diag_part(chol)), axis=1)
                  - 0.5 * n * math.log(2.0 * math.pi))
        # K = P (P + S)^-1; P and S are symmetric, so K^T = (P + S)^-1 P.
        gain = tf.linalg.matrix_transpose(tf.linalg.cholesky_solve(chol, predicted_cov))
        filtered_mean = predicted_mean + tf.linalg.matvec(gain, innovation)
        # Joseph form: stays positive semi-definite under round-off.
        keep = eye - gain
        filtered_cov = _symmetric(
            tf.matmul(tf.matmul(keep, predicted_cov), keep, transpose_b=True)
            + tf.matmul(tf.matmul(gain, measurement_cov), gain, transpose_b=True))
        predicted_means.append(predicted_mean)
        predicted_covs.append(predicted_cov)
        filtered_means.append(filtered_mean)
        filtered_covs.append(filtered_cov)
        predicted_mean = tf.linalg.matvec(a, filtered_mean)
        predicted_cov = _symmetric(tf.matmul(tf.matmul(a, filtered_cov), a, transpose_b=True)
                                   + noise_covariance)

    smoothed_means = [filtered_means[-1]]
    smoothed_covs = [filtered_covs[-1]]
    for t in range(length - 2, -1, -1):
        next_predicted_cov = predicted_covs[t + 1]
        # J = P_f A^T (P_pred)^-1, so J^T = (P_pred)^-1 A P_f.
        smoother_gain = tf.linalg.matrix_transpose(tf.linalg.cholesky_solve(
            tf.linalg.cholesky(next_predicted_cov), tf.matmul(a, filtered_covs[t])))
        mean = filtered_means[t] + tf.linalg.matvec(
            smoother_gain, smoothed_means[0] - predicted_means[t + 1])
        cov = _symmetric(filtered_covs[t] + tf.matmul(
            tf.matmul(smoother_gain, smoothed_covs[0] - next_predicted_cov),
            smoother_gain, transpose_b=True))
        smoothed_means.insert(0, mean)
        smoothed_covs.insert(0, cov)
    means = tf.stack(smoothed_means, axis=1)
    covs = tf.stack(smoothed_covs, axis=1)

    expected_log_measurement = -0.5 * tf.reduce_sum(
        tf.math.log(2.0 * math.pi * variances)
        + (tf.square(mu - means) + tf.linalg.diag_part(covs)) / variances, axis=[1, 2])
    kl = expected_log_measurement - log_z
    return tf.cast(means, dtype), tf.cast(covs, dtype), tf.cast(kl, dtype)


def sample_marginals(means: tf.Tensor, covariances: tf.Tensor, num_samples: int,
                     seed: tf.Tensor) -> tf.Tensor:
    """Reparametrised draws `(num_samples * batch, L, n)` (sample-major) from the marginals
    N(means[b, t], covariances[b, t]); a stateless `seed` `(2,)`."""
    n = means.shape[-1]
    chol = tf.linalg.cholesky(tf.cast(covariances, SMOOTHER_DTYPE)
                              + 1e-8 * tf.eye(n, dtype=SMOOTHER_DTYPE))
    chol = tf.cast(chol, means.dtype)
    shape = tf.concat([[num_samples], tf.shape(means)], axis=0)
    noise = tf.random.stateless_normal(shape, seed=seed, dtype=means.dtype)
    draws = means[None] + tf.linalg.matvec(chol[None], noise)
    return tf.reshape(draws, tf.concat([[-1], tf.shape(means)[1:]], axis=0))
