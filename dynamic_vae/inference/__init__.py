"""Kalman inference in a learned linear latent space: forecast, impute and denoise video."""

from dynamic_vae.inference.kalman import (LatentPosteriors, extend_with_missing,
                                          latent_posteriors, posterior_trajectories,
                                          state_space_model)

__all__ = ["LatentPosteriors", "extend_with_missing", "latent_posteriors",
           "posterior_trajectories", "state_space_model"]
