"""Kalman inference in a learned linear latent space: forecast, impute and denoise video."""

from dynamic_vae.inference.kalman import (LatentPosteriors, extend_with_missing,
                                          latent_posteriors, posterior_trajectories,
                                          state_space_model)

__all__ = ["LatentPosteriors", "extend_with_missing", "latent_posteriors",
           "posterior_trajectories", "state_space_model"]
from dynamic_vae.inference.masks import missing_mask  # noqa: E402
from dynamic_vae.inference.video import denoise, forecast, impute  # noqa: E402

__all__ += ["denoise", "forecast", "impute", "missing_mask"]
