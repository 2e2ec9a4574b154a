"""How well Kalman inference in the latent space imputes, forecasts and denoises counting
MNIST, against pixel interpolation, the linear dynamic texture and the noise-free rollout.

Clips of a held-out counting sequence (same cycle, another seed for which digit image shows in
each frame) are cut into `clip_length` frames. Scores: the fraction of frames the project's
digit classifier reads as the true digit, and the pixel MSE against the true frame (in [0, 1];
the digit *image* in a future frame is random, so MSE rewards a sharp-but-typical digit less
than a blurred class mean).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import tensorflow as tf

from dynamic_vae.baseline import LinearDynamicTexture
from dynamic_vae.config import RunConfig
from dynamic_vae.data.counting_mnist import counting_mnist
from dynamic_vae.evaluation.digit_classifier import classify_digits, load_digit_classifier
from dynamic_vae.inference.baselines import (linear_interpolation, texture_pixel_variance,
                                             texture_posteriors)
from dynamic_vae.inference.observations import latent_measurements
from dynamic_vae.inference.video import denoise, forecast, impute
from dynamic_vae.pixels import as_unit_float, to_unit_range
from dynamic_vae.synthesis import decode_in_batches


def _unit(frames: np.ndarray) -> np.ndarray:
    return as_unit_float(frames) if frames.dtype == np.uint8 else frames


def _scores(classifier, predicted: list[np.ndarray], truth: list[np.ndarray],
            digits: list[int]) -> dict[str, float]:
    predicted, truth = _unit(np.stack(predicted)), _unit(np.stack(truth))
    read, _ = classify_digits(classifier, predicted)
    return {"digit_accuracy": float(np.mean(read == np.asarray(digits))),
            "pixel_mse": float(np.mean((predicted - truth) ** 2)), "frames": len(predicted)}


def _decode_unit(model, latents: np.ndarray) -> np.ndarray:
    frames = decode_in_batches(model, np.asarray(latents, np.float32))
    return to_unit_range(frames, model.pixel_range)


def _forecasts(model, texture, pixel_variance: float, seen: np.ndarray,
               horizons: tuple[int, ...]) -> dict[str, np.ndarray]:
    """Each forecasting method's frames `(len(horizons), H, W, C)` in [0, 1] after `seen`."""
    a_model = model.transition()[0].astype(np.float64)
    mean, _ = forecast(model, seen, max(horizons), as_uint8=False)
    last, _, _ = latent_measurements(model, _unit(seen), tf.zeros([len(seen)], tf.bool))
    last = last.numpy()[-1].astype(np.float64)
    filtered = texture_posteriors(texture, seen, np.zeros(len(seen), bool),
                                  pixel_variance).filtered_means.numpy()[-1]
    a_texture = texture.transition_matrix
    return {
        "dvae_kalman": mean[np.array(horizons) - 1],
        "dvae_rollout": _decode_unit(model, np.stack(
            [np.linalg.matrix_power(a_model, h) @ last for h in horizons])),
        "texture_kalman": texture.decode(np.stack(
            [np.linalg.matrix_power(a_texture, h) @ filtered for h in horizons])),
        "texture_rollout": np.concatenate([texture.predict(seen[-1:], h) for h in horizons]),
    }


def evaluate_counting(model, config: RunConfig, num_clips: int = 50,
                      clip_length: int = 20, missing_fraction: float = 0.5,
                      observed: int = 10, horizons: tuple[int, ...] = (1, 5, 10),
                      noise_std: float = 0.3, seed: int = 1) -> dict[str, Any]:
    """Impute / forecast / denoise scores of `model` and the baselines (see module doc).

    `config` is the run's (`load_run(...).config`): its counting-MNIST cycle, length and seed
    rebuild the training frames the linear baseline is fitted on.
    """
    cycle = config.training.cycle
    started = time.perf_counter()
    training_frames, _ = counting_mnist(cycle, config.training.num_frames,
                                        seed=config.training.seed)
    texture = LinearDynamicTexture(latent_dim=model.latent_dim).fit(training_frames[:-1])
    pixel_variance = texture_pixel_variance(texture, training_frames[:2000])
    frames, digits = counting_mnist(cycle, num_clips * clip_length, seed=seed)
    classifier, classifier_accuracy = load_digit_classifier()
    rng = np.random.default_rng(seed)

    methods_impute = ("dvae_kalman", "texture_kalman", "pixel_linear")
    methods_forecast = ("dvae_kalman", "dvae_rollout", "texture_kalman", "texture_rollout")
    methods_denoise = ("dvae_kalman", "dvae_per_frame", "texture_kalman", "noisy_input")
    imputed = {m: [] for m in methods_impute}
    imputed_truth, imputed_digits = [], []
    forecasts = {(m, h): [] for m in methods_forecast for h in horizons}
    denoised = {m: [] for m in methods_denoise}
    steps = max(horizons)
    for c in range(num_clips):
        clip = frames[c * clip_length:(c + 1) * clip_length]
        clip_digits = digits[c * clip_length:(c + 1) * clip_length]
        # --- impute: missing_fraction of the frames, at random
        missing = np.zeros(clip_length, bool)
        missing[rng.choice(clip_length, int(round(missing_fraction * clip_length)),
                           replace=False)] = True
        dvae = impute(model, clip, missing)
        texture_states = texture_posteriors(texture, clip, missing,
                                            pixel_variance).smoothed_means.numpy()
        linear = linear_interpolation(_unit(clip), missing)
        texture_frames = texture.decode(texture_states)
        for t in np.flatnonzero(missing):
            imputed["dvae_kalman"].append(dvae[t])
            imputed["texture_kalman"].append(texture_frames[t])
            imputed["pixel_linear"].append(linear[t])
            imputed_truth.append(clip[t])
            imputed_digits.append(int(clip_digits[t]))
        # --- forecast: the frames after the first `observed`
        if observed + steps <= clip_length:
            predicted = _forecasts(model, texture, pixel_variance, clip[:observed], horizons)
            for method, frames_by_horizon in predicted.items():
                for i, h in enumerate(horizons):
                    forecasts[(method, h)].append(frames_by_horizon[i])
        # --- denoise: Gaussian pixel noise
        noisy = np.clip(_unit(clip) + rng.normal(0.0, noise_std, clip.shape), 0, 1
                        ).astype(np.float32)
        denoised["dvae_kalman"].extend(denoise(model, noisy))
        encoded, _, _ = latent_measurements(model, noisy, tf.zeros([clip_length], tf.bool))
        denoised["dvae_per_frame"].extend(_decode_unit(model, encoded.numpy()))
        texture_states = texture_posteriors(texture, noisy, np.zeros(clip_length, bool),
                                            pixel_variance).smoothed_means.numpy()
        denoised["texture_kalman"].extend(texture.decode(texture_states))
        denoised["noisy_input"].extend(noisy)

    forecast_digits = {h: [] for h in horizons}
    forecast_truth = {h: [] for h in horizons}
    for c in range(num_clips):
        for h in horizons:
            t = c * clip_length + observed - 1 + h
            forecast_digits[h].append(int(digits[t]))
            forecast_truth[h].append(frames[t])
    clip_truth = list(frames[:num_clips * clip_length])
    clip_digits = [int(d) for d in digits[:num_clips * clip_length]]
    return {
        "cycle": cycle, "num_clips": num_clips, "clip_length": clip_length,
        "missing_fraction": missing_fraction, "observed_frames": observed,
        "noise_std": noise_std, "seed": seed, "latent_dim": model.latent_dim,
        "classifier_heldout_accuracy": classifier_accuracy,
        "texture_pixel_variance": pixel_variance,
        "impute": {m: _scores(classifier, v, imputed_truth, imputed_digits)
                   for m, v in imputed.items()},
        "forecast": {m: {str(h): _scores(classifier, forecasts[(m, h)], forecast_truth[h],
                                         forecast_digits[h]) for h in horizons}
                     for m in methods_forecast},
        "denoise": {m: _scores(classifier, v, clip_truth, clip_digits)
                    for m, v in denoised.items()},
        "wall_time_seconds": time.perf_counter() - started,
    }


def format_tables(result: dict[str, Any]) -> str:
    """Markdown tables of `evaluate_counting`'s result."""
    lines = [f"impute ({result['missing_fraction']:.0%} of {result['clip_length']}-frame clips "
             f"missing, {result['num_clips']} clips)", "",
             "| method | right digit | pixel MSE |", "|---|---|---|"]
    for method, score in result["impute"].items():
        lines.append(f"| {method} | {score['digit_accuracy']:.3f} | {score['pixel_mse']:.4f} |")
    horizons = list(next(iter(result["forecast"].values())))
    lines += ["", f"forecast after {result['observed_frames']} observed frames "
                  "(right digit / pixel MSE at horizon k)", "",
              "| method | " + " | ".join(f"k={h}" for h in horizons) + " |",
              "|---|" + "---|" * len(horizons)]
    for method, by_horizon in result["forecast"].items():
        cells = [f"{s['digit_accuracy']:.3f} / {s['pixel_mse']:.4f}"
                 for s in by_horizon.values()]
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    lines += ["", f"denoise (Gaussian pixel noise, std {result['noise_std']})", "",
              "| method | right digit | pixel MSE vs clean |", "|---|---|---|"]
    for method, score in result["denoise"].items():
        lines.append(f"| {method} | {score['digit_accuracy']:.3f} | {score['pixel_mse']:.4f} |")
    return "\n".join(lines)


def nearest_view_offsets(predicted: np.ndarray, views: np.ndarray,
                         true_indices: np.ndarray) -> np.ndarray:
    """Circular distance, in views, between each predicted frame's nearest view (pixel MSE)
    and its true view; `views` `(V, ...)` go round once."""
    flat_views = _unit(views).reshape(len(views), -1)
    flat = _unit(np.asarray(predicted)).reshape(len(predicted), -1)
    distances = ((flat[:, None, :] - flat_views[None]) ** 2).mean(-1)
    offset = np.abs(distances.argmin(1) - np.asarray(true_indices)) % len(views)
    return np.minimum(offset, len(views) - offset)


def evaluate_rotation(model, views: np.ndarray, num_clips: int = 50, clip_length: int = 20,
                      missing_fraction: float = 0.5, observed: int = 10,
                      horizons: tuple[int, ...] = (1, 5, 10), seed: int = 1) -> dict[str, Any]:
    """Imputation and forecasting on a turntable sequence `views` `(V, H, W[, C])` (one full
    turn): clips of consecutive views from random starts. Imputation (`missing_fraction`
    missing) and forecasts (after the first `observed` views of a clip) are scored by whether
    the nearest true view is within +-1 view of the right one, and by pixel MSE (views are
    deterministic here, so MSE is meaningful)."""
    views = np.asarray(views)
    if views.ndim == 3:
        views = views[..., np.newaxis]
    started = time.perf_counter()
    loop = np.concatenate([views] * 10)
    texture = LinearDynamicTexture(latent_dim=model.latent_dim).fit(loop)
    pixel_variance = texture_pixel_variance(texture, loop)
    rng = np.random.default_rng(seed)
    imputed = {"dvae_kalman": [], "texture_kalman": [], "pixel_linear": []}
    truth = []
    forecasts: dict[str, list[np.ndarray]] = {}
    forecast_truth = []
    for _ in range(num_clips):
        indices = (rng.integers(len(views)) + np.arange(clip_length)) % len(views)
        clip = views[indices]
        missing = np.zeros(clip_length, bool)
        missing[rng.choice(clip_length, int(round(missing_fraction * clip_length)),
                           replace=False)] = True
        texture_states = texture_posteriors(texture, clip, missing,
                                            pixel_variance).smoothed_means.numpy()
        methods = {"dvae_kalman": impute(model, clip, missing),
                   "texture_kalman": texture.decode(texture_states),
                   "pixel_linear": linear_interpolation(_unit(clip), missing)}
        for name, frames in methods.items():
            imputed[name].extend(frames[missing])
        truth.extend(indices[missing])
        for name, frames in _forecasts(model, texture, pixel_variance, clip[:observed],
                                       horizons).items():
            forecasts.setdefault(name, []).append(frames)
        forecast_truth.append((indices[observed - 1] + np.array(horizons)) % len(views))
    forecast_truth = np.stack(forecast_truth)
    forecast_scores = {}
    for name, frames in forecasts.items():
        frames = np.stack(frames)  # (clips, horizons, H, W, C)
        forecast_scores[name] = {}
        for i, h in enumerate(horizons):
            offsets = nearest_view_offsets(frames[:, i], views, forecast_truth[:, i])
            error = np.mean((frames[:, i] - _unit(views[forecast_truth[:, i]])) ** 2)
            forecast_scores[name][str(h)] = {"within_one_view": float(np.mean(offsets <= 1)),
                                             "pixel_mse": float(error)}
    scores = {}
    for name, frames in imputed.items():
        offsets = nearest_view_offsets(np.stack(frames), views, np.array(truth))
        scores[name] = {"within_one_view": float(np.mean(offsets <= 1)),
                        "exact_view": float(np.mean(offsets == 0)),
                        "mean_offset": float(offsets.mean()), "frames": len(offsets)}
    return {"num_clips": num_clips, "clip_length": clip_length,
            "missing_fraction": missing_fraction, "seed": seed, "views": len(views),
            "observed_frames": observed, "impute": scores, "forecast": forecast_scores,
            "wall_time_seconds": time.perf_counter() - started}


def format_rotation_table(result: dict[str, Any]) -> str:
    lines = [f"impute on a turntable ({result['missing_fraction']:.0%} of "
             f"{result['clip_length']}-view clips missing, {result['num_clips']} clips)", "",
             "| method | nearest view within +-1 | exact view | mean offset (views) |",
             "|---|---|---|---|"]
    for name, score in result["impute"].items():
        lines.append(f"| {name} | {score['within_one_view']:.3f} | {score['exact_view']:.3f} "
                     f"| {score['mean_offset']:.2f} |")
    horizons = list(next(iter(result["forecast"].values())))
    lines += ["", f"forecast after {result['observed_frames']} views (nearest view within +-1 "
                  "/ pixel MSE at horizon k)", "",
              "| method | " + " | ".join(f"k={h}" for h in horizons) + " |",
              "|---|" + "---|" * len(horizons)]
    for name, by_horizon in result["forecast"].items():
        cells = [f"{v['within_one_view']:.3f} / {v['pixel_mse']:.4f}"
                 for v in by_horizon.values()]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
