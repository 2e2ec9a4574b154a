"""Exact Kalman filtering, smoothing and posterior sampling in a linear latent space.

The state space model (TFP `LinearGaussianStateSpaceModel`):

    x_0     ~ N(m_0, P_0)                     (default N(0, I), the stationary marginal)
    x_{t+1} = A x_t + B v_t,   v_t ~ N(0, I)  (transition noise B B^T)
    z_t     = x_t + e_t,       e_t ~ N(0, R_t)

where z_t is a per-time-step measurement of the state (for the Dynamic VAE, the encoder's
posterior mean of frame t) with its own covariance R_t (the encoder's posterior covariance).
Time steps flagged `missing` are not conditioned on, which is how gaps are filled and how a
forecast is a filter run past the end of the clip.

Everything here is pure TensorFlow, tensors in and out, so it runs inside `tf.function` and can
be wrapped by an exported serving signature.
"""

from __future__ import annotations

import tensorflow as tf
import tensorflow_probability as tfp

from dynamic_vae.inference.latent_posteriors import LatentPosteriors

tfd = tfp.distributions


def state_space_model(
    transition_matrix: tf.Tensor,
    noise_matrix: tf.Tensor,
    observation_covariances: tf.Tensor,
    initial_mean: tf.Tensor | None = None,
    initial_covariance: tf.Tensor | None = None,
) -> tfd.LinearGaussianStateSpaceModel:
    """The linear Gaussian state space model above, one time step per row of R.

    Args:
        transition_matrix: `A`, `(n, n)`.
        noise_matrix: `B`, `(n, m)`; the transition noise covariance is `B B^T`.
        observation_covariances: `R_t`, `(T, n, n)`, symmetric positive definite (rows of
            missing steps are never used but must still factorise, e.g. the identity).
        initial_mean: `m_0`, `(n,)`; default zeros.
        initial_covariance: `P_0`, `(n, n)`; default the identity.
    """
    transition_matrix = tf.convert_to_tensor(transition_matrix)
    dtype = transition_matrix.dtype
    noise_matrix = tf.convert_to_tensor(noise_matrix, dtype=dtype)
    observation_covariances = tf.convert_to_tensor(observation_covariances, dtype=dtype)
    n = tf.shape(transition_matrix)[-1]
    num_timesteps = tf.shape(observation_covariances)[0]
    if initial_mean is None:
        initial_mean = tf.zeros([n], dtype=dtype)
    initial_mean = tf.convert_to_tensor(initial_mean, dtype=dtype)
    if initial_covariance is None:
        initial_prior = tfd.MultivariateNormalDiag(loc=initial_mean,
                                                   scale_diag=tf.ones_like(initial_mean))
    else:
        initial_prior = tfd.MultivariateNormalTriL(
            loc=initial_mean,
            scale_tril=tf.linalg.cholesky(tf.convert_to_tensor(initial_covariance, dtype)))
    observation_scales = tf.linalg.cholesky(observation_covariances)
    zeros = tf.zeros([n], dtype=dtype)

    def observation_noise(t: tf.Tensor) -> tfd.Distribution:
        return tfd.MultivariateNormalTriL(loc=zeros,
                                          scale_tril=tf.gather(observation_scales, t))

    return tfd.LinearGaussianStateSpaceModel(
        num_timesteps=num_timesteps,
        transition_matrix=tf.linalg.LinearOperatorFullMatrix(transition_matrix),
        # B itself is a square root of B B^T: no factorisation, and B may be rank deficient.
        transition_noise=tfd.MultivariateNormalLinearOperator(
            loc=zeros, scale=tf.linalg.LinearOperatorFullMatrix(noise_matrix)),
        observation_matrix=tf.linalg.LinearOperatorIdentity(n, dtype=dtype),
        observation_noise=observation_noise,
        initial_state_prior=initial_prior)


def latent_posteriors(
    transition_matrix: tf.Tensor,
    noise_matrix: tf.Tensor,
    observations: tf.Tensor,
    observation_covariances: tf.Tensor,
    missing: tf.Tensor,
    initial_mean: tf.Tensor | None = None,
    initial_covariance: tf.Tensor | None = None,
) -> LatentPosteriors:
    """Kalman filter and Rauch-Tung-Striebel smoother over one clip with gaps.

    Args:
        transition_matrix: `A`, `(n, n)`.
        noise_matrix: `B`, `(n, m)`.
        observations: `z_t`, `(T, n)` (values at missing steps are ignored).
        observation_covariances: `R_t`, `(T, n, n)`.
        missing: bool `(T,)`; true where step t has no measurement.
        initial_mean, initial_covariance: the prior of x_0 (default N(0, I)).

    Returns:
        `LatentPosteriors` with means `(T, n)` and covariances `(T, n, n)`.
    """
    model = state_space_model(transition_matrix, noise_matrix, observation_covariances,
                              initial_mean, initial_covariance)
    observations = tf.convert_to_tensor(observations, dtype=model.dtype)
    missing = tf.convert_to_tensor(missing, dtype=tf.bool)
    (_, filtered_means, filtered_covariances, predicted_means, predicted_covariances,
     _, _) = model.forward_filter(observations, mask=missing)
    smoothed_means, smoothed_covariances = model.backward_smoothing_pass(
        filtered_means, filtered_covariances, predicted_means, predicted_covariances)
    return LatentPosteriors(filtered_means, filtered_covariances, smoothed_means,
                            smoothed_covariances)


def posterior_trajectories(
    transition_matrix: tf.Tensor,
    noise_matrix: tf.Tensor,
    observations: tf.Tensor,
    observation_covariances: tf.Tensor,
    missing: tf.Tensor,
    num_samples: int | tf.Tensor,
    seed: tf.Tensor,
    initial_mean: tf.Tensor | None = None,
    initial_covariance: tf.Tensor | None = None,
) -> tf.Tensor:
    """Latent trajectories `(num_samples, T, n)` drawn from p(x_0..x_{T-1} | measurements).

    Durbin-Koopman simulation smoothing (TFP `posterior_sample`). Missing steps, including
    steps after the last measurement (a forecast), are filled with the model's own noise.

    Args:
        seed: a stateless int32 seed of shape `(2,)`; the same seed gives the same samples.
        (others as in `latent_posteriors`)
    """
    model = state_space_model(transition_matrix, noise_matrix, observation_covariances,
                              initial_mean, initial_covariance)
    observations = tf.convert_to_tensor(observations, dtype=model.dtype)
    return model.posterior_sample(observations, sample_shape=[num_samples],
                                  mask=tf.convert_to_tensor(missing, dtype=tf.bool),
                                  seed=tf.convert_to_tensor(seed, dtype=tf.int32))


def extend_with_missing(observations: tf.Tensor, observation_covariances: tf.Tensor,
                        missing: tf.Tensor, steps: int | tf.Tensor
                        ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """Appends `steps` unobserved time steps (for forecasting past the end of a clip)."""
    n = tf.shape(observations)[-1]
    dtype = observations.dtype
    observations = tf.concat([observations, tf.zeros([steps, n], dtype=dtype)], axis=0)
    eye = tf.eye(n, batch_shape=[steps], dtype=dtype)
    observation_covariances = tf.concat([observation_covariances, eye], axis=0)
    missing = tf.concat([tf.convert_to_tensor(missing, tf.bool), tf.ones([steps], tf.bool)],
                        axis=0)
    return observations, observation_covariances, missing
