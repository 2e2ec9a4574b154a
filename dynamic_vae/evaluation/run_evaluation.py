"""`evaluate_run`: every metric of a trained run, written to RUN/evaluation/.

    RUN/evaluation/report.md       the numbers, in Markdown, with the figures
    RUN/evaluation/metrics.json    everything report.md states, machine-readable
    RUN/evaluation/spectrum.png    eigenvalues of A (Dynamic VAE, linear baseline)
    RUN/evaluation/stability.png   per-frame mean and std of synthesised sequences
    RUN/evaluation/strips.png      ground truth / Dynamic VAE / linear baseline
    RUN/evaluation/baseline.npz    the linear baseline the evaluation used

The directory is built under a temporary name and renamed into place, so a reader sees the
previous complete evaluation or the new one, never a mixture.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dynamic_vae.data.frame_pairs import validate_frames
from dynamic_vae.evaluation.appearance import sharpness_ratio, spectrum_distance
from dynamic_vae.evaluation.cycle_spectrum import cycle_eigenvalue_match
from dynamic_vae.evaluation.martin_distance import clip_martin_distance
from dynamic_vae.spectrum import cycle_ceiling
from dynamic_vae.evaluation.digit_order import digit_order_metrics
from dynamic_vae.evaluation.diversity import cycle_distance, diversity_metrics
from dynamic_vae.evaluation.figures import plot_spectra, plot_stability, plot_strips
from dynamic_vae.evaluation.novelty import novelty_metrics
from dynamic_vae.evaluation.prediction import (DEFAULT_STEPS, context_pairs,
                                               dynamic_vae_predictor, k_step_prediction_errors,
                                               linear_baseline_predictor, prediction_starts)
from dynamic_vae.evaluation.report import format_report
from dynamic_vae.evaluation.stability import per_frame_statistics, stability_metrics
from dynamic_vae.evaluation.temporal_statistics import temporal_metrics
from dynamic_vae.atomic import atomic_directory, atomic_write_text
from dynamic_vae.pixels import to_pixel_range, to_unit_range
from dynamic_vae.runs import (BASELINE_FILE, CONFIG_FILE, EVALUATION_DIR,
                              EVALUATION_METRICS_FILE, Run, load_run)

TEST_PAIR_START = "dynamic_vae_test_pair"
# The temporal statistics read the first this many frames of the seed-0 synthesis: one
# length for every horizon, long enough for lags of 10 to average over many products.
TEMPORAL_FRAMES = 500
# Fresh real digits per digit of the cycle that synthesised digits' variety is measured
# against: split in two halves of 200, each class's Frechet distances compare 200 frames.
DIVERSITY_REAL_FRAMES_PER_DIGIT = 400


def unit_frames(frames: np.ndarray, name: str = "frames") -> np.ndarray:
    """Validated frames as float32 `(T, H, W, C)` in [0, 1]."""
    return to_pixel_range(validate_frames(np.asarray(frames), name=name), (0.0, 1.0))


def pca_reconstruction_error(training: np.ndarray, frames: np.ndarray,
                             components: int) -> float:
    """MSE of `frames` projected on the leading `components` principal components of the
    training frames (about their mean): what a linear observation map of the same latent
    dimension reconstructs, the ceiling an encoder and decoder should at least reach."""
    from dynamic_vae.baseline.linear_dynamic_texture import randomized_svd

    flat = training.reshape(len(training), -1).astype(np.float64)
    mean = flat.mean(axis=0)
    _, _, basis = randomized_svd(flat - mean, min(components, len(flat) - 1))
    centred = frames.reshape(len(frames), -1).astype(np.float64) - mean
    return float(np.mean((centred - centred @ basis.T @ basis) ** 2))


def appearance_metrics(real: np.ndarray, sequences: np.ndarray,
                       latent_dim: int) -> dict[str, float]:
    """Sharpness ratio and spectrum distance of synthesised sequences `(S, T, H, W, C)` against
    the real frames, and the Martin distance between linear dynamic textures of latent_dim
    states fitted to the real frames and to the first sequence."""
    synthesised = sequences.reshape(-1, *sequences.shape[2:])
    return {"sharpness_ratio": sharpness_ratio(real, synthesised),
            "spectrum_distance": spectrum_distance(real, synthesised),
            "martin_distance": clip_martin_distance(real, sequences[0],
                                                    latent_dim=min(latent_dim, len(real) - 1))}


def load_run_frames(run: Run) -> np.ndarray:
    """The frames a run was trained on, rebuilt from where its config.json says they came
    from.

    Counting-MNIST runs are regenerated from their cycle, length and seed. Runs whose
    config.json records the loader options (`train --frames`) read their video, frame folder
    or array again with those options; other runs read the `.npy`/`.npz` file they name.

    Raises:
        FileNotFoundError: when the recorded source is not a readable file, or holds several
            sequences (pass the frames explicitly then).
    """
    from dynamic_vae.data import load_sequences
    from dynamic_vae.data.numpy_frames import read_array
    from dynamic_vae.training.data import load_training_frames

    run_dir, source = run.directory, run.data_source
    if run.trained_on_counting_mnist:
        frames, _ = load_training_frames(run.config)
        return unit_frames(frames, name=f"{run_dir}: counting-MNIST frames")
    loader = run.data.get("loader")
    if source and loader is not None and Path(source).exists():
        options = {name: tuple(value) if isinstance(value, list) else value
                   for name, value in loader.items()}
        sequences = list(load_sequences(source, **options).values())
        if len(sequences) == 1:
            return unit_frames(sequences[0], name=str(source))
    elif source and Path(source).is_file():
        return unit_frames(read_array(Path(source)), name=str(source))
    raise FileNotFoundError(
        f"{run_dir}/{CONFIG_FILE}: the training frames came from {source!r}, which is not one "
        "readable sequence; pass them explicitly (evaluate_run(frames=...), CLI --frames)")


def heldout_sequence(run: Run, training_frames: np.ndarray,
                     num_frames: int = 1000) -> tuple[np.ndarray, str]:
    """Frames to predict on, and where they came from.

    Counting runs get a fresh sequence of the same cycle (another seed picks other images of
    each digit); other runs hold out only one pair, so their training frames are used and the
    report says so.
    """
    from dynamic_vae.data.counting_mnist import counting_mnist

    if run.trained_on_counting_mnist:
        training = run.config.training
        seed = training.seed + 1
        frames, _ = counting_mnist(training.cycle, num_frames, seed=seed)
        return unit_frames(frames), (f"a fresh counting sequence (cycle {training.cycle}, "
                                     f"seed {seed}, {num_frames} frames)")
    return training_frames, ("windows of the training frames (the run held out only one "
                             "pair, so these were seen in training)")


def resolve_baseline(run_dir: Path, baseline: str | Path | None, training_frames: np.ndarray,
                     latent_dim: int, seed: int):
    """`(LinearDynamicTexture or None, description)` for `baseline` = 'auto', 'none' or a
    path to a `baseline.npz` (or a directory holding one)."""
    from dynamic_vae.baseline import LinearDynamicTexture

    if baseline is None or str(baseline) == "none":
        return None, "none"
    if str(baseline) == "auto":
        for candidate in (run_dir / BASELINE_FILE, run_dir / EVALUATION_DIR / BASELINE_FILE):
            if candidate.is_file():
                model = LinearDynamicTexture.load(candidate)
                if model.frame_shape == training_frames.shape[1:]:
                    return model, f"loaded from {candidate}"
        # As for the Dynamic VAE, the last pair is held out.
        model = LinearDynamicTexture(latent_dim=latent_dim, seed=seed).fit(training_frames[:-1])
        return model, (f"fitted here on {len(training_frames) - 1} training frames "
                       f"(n = {latent_dim}, randomized SVD, singular values of A clipped to 1)")
    path = Path(baseline)
    if path.is_dir():
        path = path / BASELINE_FILE
    if not path.is_file():
        raise FileNotFoundError(f"--baseline {baseline}: no such file (expected 'auto', 'none' "
                                f"or a {BASELINE_FILE})")
    model = LinearDynamicTexture.load(path)
    if model.frame_shape != training_frames.shape[1:]:
        raise ValueError(f"--baseline {path}: frames of shape {model.frame_shape}, the run's "
                         f"are {training_frames.shape[1:]}")
    return model, f"loaded from {path}"


def whitened_transition(baseline) -> tuple[np.ndarray, np.ndarray]:
    """The baseline's `(A, B)` in coordinates where its training states have unit covariance.

    Its SVD states are scaled by the singular values, so A A^T + B B^T = I cannot hold there;
    after whitening with P^(-1/2) (P the state covariance) the stationarity residual means
    what it means for the Dynamic VAE. Eigenvalues of A are unchanged (a similarity).
    """
    covariance = np.cov(baseline.states, rowvar=False)
    values, vectors = np.linalg.eigh(covariance)
    values = np.maximum(values, 1e-12)
    root = (vectors * np.sqrt(values)) @ vectors.T
    inverse_root = (vectors / np.sqrt(values)) @ vectors.T
    return (inverse_root @ baseline.transition_matrix @ root,
            inverse_root @ baseline.noise_matrix)


def _dynamic_vae_sequences(model, seeds: Sequence[int], horizon: int,
                           initial_pair: np.ndarray | None = None) -> np.ndarray:
    from dynamic_vae.synthesis import synthesize

    sequences = [synthesize(model, horizon, seed=seed, initial_pair=initial_pair,
                            as_uint8=False)[0][0] for seed in seeds]
    return to_unit_range(np.stack(sequences), model.pixel_range)


def _pose_advance_metrics(run: Run, sequences: dict[str, np.ndarray], training: np.ndarray,
                          period: int, seeds: list[int], horizon: int) -> dict[str, Any]:
    """The `pose_advance` section of a periodic video run: how often a synthesised frame's
    phase (that of its nearest frame among the clip's first `period`) advances by 1 +- 1
    frame round the cycle, per sequence set and seed, beside the Fourier loop's over the
    same period and the clip's own."""
    from dynamic_vae.evaluation.pose_advance import (fourier_loop_accuracies,
                                                     pose_advance_accuracy)

    views = training[:period]
    scored = dict(sequences)
    test_pair = run.test_pair
    if test_pair is not None:
        # `dynamic-vae generate`'s default start.
        scored[TEST_PAIR_START] = _dynamic_vae_sequences(run.model, seeds, horizon,
                                                         initial_pair=test_pair)
    accuracies = {name: [pose_advance_accuracy(seq, views, step=1) for seq in frames]
                  for name, frames in scored.items()}
    # Fitted to the frames the linear baseline is fitted to (the last pair held out).
    accuracies["fourier_loop"] = fourier_loop_accuracies(training[:-1], period, views, 1,
                                                         seeds, horizon)
    section: dict[str, Any] = {
        "period": int(period), "views": f"the training frames' first {period}",
        "real": pose_advance_accuracy(training, views, step=1)}
    for name, per_seed in accuracies.items():
        section[name] = {"mean": float(np.mean(per_seed)), "min": float(np.min(per_seed)),
                         "per_seed": per_seed}
    return section


def _counting_metrics(run: Run, classifier, classifier_accuracy, sequences, heldout):
    """`(digits, diversity)` sections of a counting run's metrics."""
    from dynamic_vae.data.counting_mnist import parse_cycle
    from dynamic_vae.evaluation.digit_classifier import digit_features, load_digit_classifier

    cycle = run.config.training.cycle
    if classifier is None:
        classifier, classifier_accuracy = load_digit_classifier()
    result = {"cycle": cycle, "classifier_heldout_accuracy": classifier_accuracy}
    # Each sequence set's features and digits, read once for both sections.
    read = {}
    for label, frames in {**sequences, "ground_truth": heldout[np.newaxis]}.items():
        features, probabilities = digit_features(classifier,
                                                 frames.reshape(-1, *frames.shape[2:]))
        digits = probabilities.argmax(axis=-1)
        result[label] = digit_order_metrics(digits.reshape(frames.shape[:2]),
                                            probabilities.max(axis=-1).reshape(frames.shape[:2]),
                                            cycle)
        read[label] = (features, digits)
    real_features, real_classes, real_source = real_digit_features(
        classifier, cycle, run.config.training.seed)
    diversity = {"real": real_source,
                 "classes": "the digit the classifier reads; digits outside the cycle are "
                            "left out"}
    for label in sequences:
        diversity[label] = diversity_metrics(*read[label], real_features, real_classes,
                                             parse_cycle(cycle), seed=0)
    return result, diversity


def real_digit_features(classifier, cycle: str, training_seed: int
                        ) -> tuple[np.ndarray, np.ndarray, str]:
    """`(features, classes, description)` of the real digits a counting run's variety is
    measured against: a fresh counting sequence of `cycle` (another seed than the training
    and held-out sequences'), `DIVERSITY_REAL_FRAMES_PER_DIGIT` frames per digit, read by the
    same classifier as the synthesised frames so both are classed alike."""
    from dynamic_vae.data.counting_mnist import counting_mnist, parse_cycle
    from dynamic_vae.evaluation.digit_classifier import digit_features

    seed = training_seed + 2
    real, _ = counting_mnist(cycle, DIVERSITY_REAL_FRAMES_PER_DIGIT * len(parse_cycle(cycle)),
                             seed=seed)
    features, probabilities = digit_features(classifier, real)
    return (features, probabilities.argmax(axis=-1),
            f"a fresh counting sequence (cycle {cycle}, seed {seed}, {len(real)} frames)")


def check_evaluation_options(seeds: int, horizon: int) -> None:
    """Raises ValueError naming `--seeds`/`--horizon` when they cannot be evaluated."""
    if seeds < 1:
        raise ValueError(f"--seeds must be >= 1, got {seeds}")
    if horizon < 8:
        raise ValueError(f"--horizon must be >= 8 frames, got {horizon}")


def evaluate_run(
    run_dir: str | Path,
    seeds: int = 5,
    horizon: int = 1000,
    baseline: str | Path | None = "auto",
    frames: np.ndarray | None = None,
    heldout_frames: np.ndarray | None = None,
    steps: Sequence[int] = DEFAULT_STEPS,
    prediction_windows: int = 500,
    strip_frames: int = 24,
    classifier: Any = None,
    classifier_accuracy: float | None = None,
) -> dict[str, Any]:
    """Evaluates a trained run and writes RUN/evaluation/ (see the module docstring).

    Args:
        run_dir: a run directory written by `dynamic_vae.training.train`.
        seeds: synthesised sequences (seeds 0 .. seeds - 1), each `horizon` frames long.
        horizon: frames per synthesised sequence.
        baseline: 'auto' (the run's baseline.npz, else one fitted on the training frames),
            'none', or the path of a `baseline.npz`.
        frames: the training frames, when config.json's source cannot be re-read.
        heldout_frames: frames to measure prediction error on (default: see
            `heldout_sequence`).
        steps: the k of the k-step prediction errors.
        prediction_windows: how many starting frames the prediction errors average over.
        strip_frames: frames per row of strips.png.
        classifier, classifier_accuracy: the digit classifier for counting runs (default: the
            cached one of `load_digit_classifier`).

    Returns:
        The metrics (what metrics.json holds).
    """
    from dynamic_vae.spectrum import spectrum_report

    start_time = time.perf_counter()
    run_dir = Path(run_dir)
    check_evaluation_options(seeds, horizon)
    run = load_run(run_dir)
    model = run.model
    training = (unit_frames(frames, name="frames") if frames is not None
                else load_run_frames(run))
    if training.shape[1:] != tuple(model.frame_shape):
        raise ValueError(f"frames: shape {training.shape[1:]} per frame, the model expects "
                         f"{tuple(model.frame_shape)}")
    if heldout_frames is not None:
        heldout, heldout_source = unit_frames(heldout_frames, name="heldout_frames"), "given"
    else:
        heldout, heldout_source = heldout_sequence(run, training)
    if heldout.shape[1:] != training.shape[1:]:
        raise ValueError(f"heldout_frames: shape {heldout.shape[1:]} per frame, the model "
                         f"expects {training.shape[1:]}")
    counting = run.trained_on_counting_mnist
    cycle = run.config.training.cycle
    seed_list = list(range(seeds))
    baseline_model, baseline_source = resolve_baseline(
        run_dir, baseline, training, model.latent_dim, run.config.training.seed)

    labels = {"dynamic_vae": "Dynamic VAE", "linear_baseline": "linear baseline"}
    predictors = {"dynamic_vae": dynamic_vae_predictor(model)}
    sequences = {"dynamic_vae": _dynamic_vae_sequences(model, seed_list, horizon)}
    spectra = {"dynamic_vae": spectrum_report(*model.transition())}
    if baseline_model is not None:
        predictors["linear_baseline"] = linear_baseline_predictor(baseline_model)
        sequences["linear_baseline"] = np.stack(
            [baseline_model.synthesize(horizon, seed=seed)[0] for seed in seed_list])
        spectra["linear_baseline"] = spectrum_report(*whitened_transition(baseline_model))

    starts = prediction_starts(len(heldout), max(steps), prediction_windows)
    metrics: dict[str, Any] = {
        "run": str(run_dir),
        "kind": "counting" if counting else "video",
        "training_frames": int(len(training)),
        "frame_shape": list(training.shape[1:]),
        "seeds": seed_list,
        "horizon": int(horizon),
        # As `synthesize` without a pair (and the served `generate`) starts.
        "synthesis_start": ("a stored start state picked by the seed"
                            if getattr(model, "start_states", None) is not None
                            else "x_0 ~ N(0, I)"),
        "baseline": baseline_source,
        "prediction": {"heldout": heldout_source, "windows": int(len(starts)),
                       **{name: k_step_prediction_errors(predict, heldout, starts, steps,
                                                         mean_frame=training.mean(axis=0))
                          for name, predict in predictors.items()}},
        "stability": {name: stability_metrics(seq, training) for name, seq in sequences.items()},
        "novelty": {name: novelty_metrics(seq, training) for name, seq in sequences.items()},
        "spectrum": spectra,
    }
    if getattr(model, "residual_texture", None) is not None:
        # What the texture's forecast is worth (the residual's forecast and the shrinkage):
        # the same predictions from the decoder alone, A^k x_t decoded.
        metrics["prediction"]["dynamic_vae_decoder"] = k_step_prediction_errors(
            dynamic_vae_predictor(model, texture=False), heldout, starts, steps,
            mean_frame=training.mean(axis=0))
        if baseline_model is not None:
            # The same forecast given to the baseline: a texture of the same rank fitted to
            # what its reconstruction leaves out of its own training frames (the last pair
            # held out, as for its fit), so a gain of the Dynamic VAE over the baseline is
            # not the forecast alone.
            texture, texture_info = baseline_model.fit_residual_texture(
                training[:-1], rank=model.residual_texture.rank, seed=run.config.training.seed)
            metrics["prediction"]["linear_baseline_residual"] = k_step_prediction_errors(
                linear_baseline_predictor(baseline_model, texture), heldout, starts, steps,
                mean_frame=training.mean(axis=0))
            metrics["baseline_residual_texture"] = texture_info
    # The decoder's own blur, for scale: reconstructions of the held-out frames (k = 0).
    heldout_std = per_frame_statistics(heldout[starts])[1].mean()
    metrics["reconstruction"] = {
        "pca": pca_reconstruction_error(training, heldout[starts], model.latent_dim)}
    # The decoder's alone for the Dynamic VAE: a texture forecast at k = 0 would project the
    # held-out frame's own residual back onto it.
    reconstructors = {**predictors, "dynamic_vae": dynamic_vae_predictor(model, texture=False)}
    for name, predict in reconstructors.items():
        reconstructed = predict(context_pairs(heldout, starts), [0])[0]
        metrics["stability"][name]["reconstruction_std_ratio"] = float(
            per_frame_statistics(reconstructed)[1].mean() / heldout_std)
        metrics["reconstruction"][name] = float(np.mean((reconstructed - heldout[starts]) ** 2))
    metrics["appearance"] = {name: appearance_metrics(training, seq, model.latent_dim)
                             for name, seq in sequences.items()}
    if not counting:
        # A texture's rhythm: how much the seed-0 synthesis moves and how long its pixels
        # remember, against the training frames.
        metrics["temporal"] = {name: {"frames": int(min(TEMPORAL_FRAMES, seq.shape[1])),
                                      **temporal_metrics(training, seq[0, :TEMPORAL_FRAMES])}
                               for name, seq in sequences.items()}
    if counting:
        period = len(cycle)
        metrics["cycle_spectrum"] = {
            name: cycle_eigenvalue_match(np.array([complex(*v) for v in s["eigenvalues"]]),
                                         period) for name, s in spectra.items()}
        for match in metrics["cycle_spectrum"].values():
            first = match["harmonics"][0]
            # What the dynamics alone allow: the accuracy of a perfect decoder reading the
            # plane of the first harmonic (errors above it are the decoder's).
            eigenvalue = first["modulus"] * np.exp(1j * np.radians(first["nearest_degrees"]))
            match["ceiling"] = (cycle_ceiling(eigenvalue, period)
                                if first["modulus"] <= 1 else None)
        counted = dict(sequences)
        test_pair = run.test_pair
        if test_pair is not None:
            # The paper's start (eq. 35), which `dynamic-vae generate` uses by default.
            counted[TEST_PAIR_START] = _dynamic_vae_sequences(model, seed_list, horizon,
                                                              initial_pair=test_pair)
        metrics["digits"], metrics["diversity"] = _counting_metrics(
            run, classifier, classifier_accuracy, counted, heldout)
    else:
        period = run.config.model.period
        # The real clip's own cycles are the yardstick; a clip shorter than two periods, or
        # a horizon of one, has no frames one period apart.
        if period and period >= 2 and len(training) > period and horizon > period:
            metrics["cycle_distance"] = {name: cycle_distance(seq, training, period)
                                         for name, seq in sequences.items()}
        if period and period >= 3 and len(training) > period and horizon > 1:
            metrics["pose_advance"] = _pose_advance_metrics(run, sequences, training, period,
                                                            seed_list, horizon)

    target = run_dir / EVALUATION_DIR
    with atomic_directory(target) as out:
        if baseline_model is not None:
            # Kept with the evaluation (the old directory, which may hold it, is replaced).
            baseline_model.save(out / BASELINE_FILE)
        plot_spectra({labels[name]: np.array([complex(*v) for v in s["eigenvalues"]])
                      for name, s in spectra.items()}, out / "spectrum.png",
                     period=len(cycle) if counting else None)
        plot_stability({labels[name]: seq[0] for name, seq in sequences.items()}, training,
                       out / "stability.png")
        first = int(starts[0])
        length = min(strip_frames, len(heldout) - first)
        rows = {"ground truth": heldout[first:first + length]}
        context = context_pairs(heldout, np.array([first]))
        for name, predict in predictors.items():
            rollout = predict(context, list(range(length)))
            rows[f"{labels[name]}: noise-free forecast from the same frame"] = \
                np.concatenate([rollout[k] for k in range(length)])
        for name, seq in sequences.items():
            rows[f"{labels[name]}: synthesised, seed 0"] = seq[0, :length]
        plot_strips(rows, out / "strips.png")
        metrics["wall_time_seconds"] = time.perf_counter() - start_time
        atomic_write_text(out / EVALUATION_METRICS_FILE, json.dumps(metrics, indent=2))
        atomic_write_text(out / "report.md", format_report(metrics))
    return metrics
