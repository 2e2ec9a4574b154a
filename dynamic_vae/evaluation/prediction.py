"""k-step prediction error from the noise-free rollout x_{t+k} = A^k x_t, decoded (for a model
with a residual texture, the rollout shrunk by the texture's shares, plus its mean forecast
from the context pair's residuals).

A predictor receives context pairs `[y_{t-1}, y_t]` `(N, 2, H, W, C)` (float in [0, 1]) and
the steps k, and returns its predictions of `y_{t+k}` for each k. Giving it the frame before
y_t (and never y_{t+1}) lets the paper's pair encoder infer x_t without seeing the future.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

Predictor = Callable[[np.ndarray, Sequence[int]], dict[int, np.ndarray]]
DEFAULT_STEPS = (1, 5, 10)


def prediction_starts(num_frames: int, max_step: int, count: int) -> np.ndarray:
    """Up to `count` evenly spread indices t with 1 <= t and t + max_step < num_frames."""
    first, last = 1, num_frames - 1 - max_step
    if last < first:
        raise ValueError(f"frames: {num_frames} frames are too few for {max_step}-step "
                         f"predictions (need at least {max_step + 2})")
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    return np.unique(np.linspace(first, last, min(count, last - first + 1)).round()
                     ).astype(np.int64)


def context_pairs(frames: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """`(N, 2, H, W, C)`: `[frames[t - 1], frames[t]]` for every t in `starts`."""
    starts = np.asarray(starts, dtype=np.int64)
    return np.stack([frames[starts - 1], frames[starts]], axis=1)


def k_step_prediction_errors(predict: Predictor, frames: np.ndarray, starts: np.ndarray,
                             steps: Sequence[int] = DEFAULT_STEPS,
                             mean_frame: np.ndarray | None = None
                             ) -> dict[str, dict[str, float]]:
    """Mean squared pixel error of `predict` against the true `frames[t + k]`, per k.

    Args:
        predict: see the module docstring.
        frames: `(T, H, W, C)` float in [0, 1].
        starts: the indices t predicted from (each needs t - 1 and t + max(steps) in range).
        steps: the k.
        mean_frame: the training frames' mean image; if given, the error of predicting it for
            every frame is reported too (`mean_frame_mse`: what a model that has forgotten
            x_t would score).

    Returns:
        `{str(k): {"mse": ..., "persistence_mse": ..., "skill": ...}}`; `persistence_mse`
        is the error of predicting `y_{t+k} = y_t`, and `skill = 1 - mse / persistence_mse`
        (> 0: better than repeating the last frame).
    """
    frames = np.asarray(frames, dtype=np.float32)
    starts = np.asarray(starts, dtype=np.int64)
    steps = [int(k) for k in steps]
    if min(steps) < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    if starts.min() < 1 or starts.max() + max(steps) >= len(frames):
        raise ValueError(f"starts must lie in [1, {len(frames) - 1 - max(steps)}] for "
                         f"{len(frames)} frames and steps up to {max(steps)}, got "
                         f"[{starts.min()}, {starts.max()}]")
    predictions = predict(context_pairs(frames, starts), steps)
    results = {}
    for k in steps:
        targets = frames[starts + k]
        predicted = np.asarray(predictions[k], dtype=np.float32).reshape(targets.shape)
        mse = float(np.mean((predicted - targets) ** 2))
        persistence = float(np.mean((frames[starts] - targets) ** 2))
        results[str(k)] = {"mse": mse, "persistence_mse": persistence,
                           "skill": 1.0 - mse / persistence if persistence > 0 else 0.0}
        if mean_frame is not None:
            results[str(k)]["mean_frame_mse"] = float(np.mean((np.asarray(
                mean_frame, dtype=np.float32) - targets) ** 2))
    return results


def dynamic_vae_predictor(model, texture: bool = True) -> Predictor:
    """Noise-free predictions of a `DynamicVAE`: x_t is the second half of the posterior mean
    of `[y_{t-1}, y_t]` in state space; y_{t+k} = C(A^k x_t), in [0, 1].

    With `texture` and a model that has a residual texture, the state's forecast keeps the
    texture's share of the predicted change, x_t + lambda_k (A^k x_t - x_t)
    (`ResidualTexture.shrunk_forecast`), and its mean forecast from the residuals of the pair
    is added: y_{t+k} = C(x_t + lambda_k (A^k x_t - x_t)) + E[e_{t+k} | e_t = y_t - C(x_t),
    e_{t-1} = y_{t-1} - C(x_{t-1})] (see `ResidualTexture.forecast`); False gives the
    decoder's predictions alone, from A^k x_t (and at k = 0 its reconstruction).
    """
    from dynamic_vae.pixels import to_pixel_range, to_unit_range
    from dynamic_vae.synthesis import decode_in_batches

    residual_texture = getattr(model, "residual_texture", None) if texture else None

    def predict(pairs: np.ndarray, steps: Sequence[int]) -> dict[int, np.ndarray]:
        model_pairs = to_pixel_range(np.asarray(pairs, dtype=np.float32), model.pixel_range)
        pair_states = np.concatenate([
            model.encode_states(model_pairs[i:i + 256]).numpy()
            for i in range(0, len(model_pairs), 256)])
        states = pair_states[:, model.latent_dim:]
        a, _ = model.transition()
        residuals = previous = None
        if residual_texture is not None:
            residuals = model_pairs[:, 1] - decode_in_batches(model, states.astype(np.float32))
            previous = model_pairs[:, 0] - decode_in_batches(
                model, pair_states[:, :model.latent_dim].astype(np.float32))
        out = {}
        for k in steps:
            rolled = states @ np.linalg.matrix_power(a.astype(np.float64), k).T
            if residual_texture is not None:
                rolled = residual_texture.shrunk_forecast(states, rolled, k).numpy()
            decoded = decode_in_batches(model, rolled.astype(np.float32))
            if residuals is not None:
                decoded = decoded + residual_texture.forecast(residuals, k, previous).reshape(
                    decoded.shape).astype(np.float32)
            out[k] = to_unit_range(decoded, model.pixel_range)
        return out

    return predict


def linear_baseline_predictor(baseline, residual_texture=None) -> Predictor:
    """Noise-free predictions of a `LinearDynamicTexture`.

    Without `residual_texture` they come from y_t alone (its state is one frame's projection,
    so y_{t-1} adds nothing): y_{t+k} = decode(A^k x_t). With one fitted to the baseline's own
    residuals (`LinearDynamicTexture.fit_residual_texture`), its states' forecast is shrunk
    by the texture's shares and its mean forecast from the pair's residuals is added, exactly
    as `dynamic_vae_predictor` does for the Dynamic VAE:
    y_{t+k} = decode(x_t + lambda_k (A^k x_t - x_t)) + E[e_{t+k} | e_t, e_{t-1}] with
    e = y - decode(encode(y)), clipped to [0, 1]. At k = 0 that gives back y_t.

    Args:
        baseline: a fitted `LinearDynamicTexture`.
        residual_texture: an optional fitted `ResidualTexture` of the baseline's residuals.

    Example:
    >>> texture, _ = baseline.fit_residual_texture(training_frames, rank=256)  # doctest: +SKIP
    >>> predict = linear_baseline_predictor(baseline, texture)                 # doctest: +SKIP
    """

    def predict(pairs: np.ndarray, steps: Sequence[int]) -> dict[int, np.ndarray]:
        if residual_texture is None:
            return {k: baseline.predict(pairs[:, 1], steps=k) for k in steps}
        states = baseline.encode(pairs[:, 1])
        predictions = {}
        for k in steps:
            rolled = states @ np.linalg.matrix_power(baseline.transition_matrix, k).T
            predictions[k] = baseline.decode(
                residual_texture.shrunk_forecast(states, rolled, k).numpy())
        residuals, previous = baseline.residuals(pairs[:, 1]), baseline.residuals(pairs[:, 0])
        return {k: np.clip(predicted + residual_texture.forecast(residuals, k, previous)
                           .reshape(predicted.shape), 0.0, 1.0).astype(np.float32)
                for k, predicted in predictions.items()}

    return predict
