"""The Markdown report of an evaluation (`format_report(metrics)`), from metrics alone."""

from __future__ import annotations

from typing import Any

LABELS = {"dynamic_vae": "Dynamic VAE", "linear_baseline": "linear baseline",
          "dynamic_vae_test_pair": "Dynamic VAE, x_0 from the held-out test pair",
          "dynamic_vae_decoder": "Dynamic VAE, decoder alone (no texture forecast)",
          "linear_baseline_residual": "linear baseline + residual texture forecast",
          "ground_truth": "ground truth (held-out real sequence)",
          "fourier_loop": "Fourier loop over the same period"}


def alive_applies(metrics: dict[str, Any]) -> bool:
    """Whether the std-ratio *alive* check fits the run's process.

    *Alive* asks whether a long synthesised sequence keeps the training frames' per-frame
    contrast (std ratio within the tolerance of 1): a texture that decays to its mean image
    or blows up fails it. A counting run is judged by the digit order instead (transition
    accuracy): its synthesised digits are fainter than the real ones, so their std ratio is
    below 1 however well they count, and the check says nothing about its dynamics.
    """
    return metrics.get("kind") != "counting"


def alive_text(metrics: dict[str, Any], stability: dict[str, Any]) -> str:
    """`yes` or `no` for one model's stability metrics, or `not judged` where the check does
    not fit the run (`alive_applies`)."""
    if not alive_applies(metrics):
        return "not judged"
    return "yes" if stability["alive"] else "no"


def synthesis_start(metrics: dict[str, Any]) -> str:
    """Where the evaluation's synthesised Dynamic VAE sequences start (older metrics without
    the field started at x_0 ~ N(0, I))."""
    return metrics.get("synthesis_start", "x_0 ~ N(0, I)")


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
            *["| " + " | ".join(row) + " |" for row in rows], ""]


def _number(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _variety_lines(metrics: dict[str, Any]) -> list[str]:
    """The Variety section: `diversity` (counting runs) and `cycle_distance` (periodic video
    runs), when the metrics have them."""
    lines = []
    if "diversity" in metrics:
        diversity = metrics["diversity"]
        lines += ["## Variety", "",
                  "In the digit classifier's penultimate-layer features, per digit of the "
                  f"cycle (a frame's digit: {diversity['classes']}), against "
                  f"{diversity['real']}. "
                  "Diversity ratio: spread (sqrt of the trace of the covariance) of the "
                  "synthesised frames over the real frames' (1: as varied as real digits; 0: "
                  "one template per digit). Frechet distance: between Gaussians fitted to "
                  "synthesised and real features (the FID formula with this classifier), and "
                  "the real-vs-real floor between two disjoint halves of the real frames, at "
                  "the same number of frames. Means over the digits scored.", ""]
        rows = []
        for name, d in diversity.items():
            if not isinstance(d, dict):
                continue
            rows.append([LABELS[name], _number(d["diversity_ratio"], ".3f"),
                         _number(d["frechet_distance"], ".2f"),
                         _number(d["frechet_distance_real"], ".2f"),
                         ", ".join(str(c) for c in d["classes_missing"]) or "-"])
        lines += _table(["sequence", "diversity ratio", "Frechet distance",
                         "Frechet distance, real vs real", "digits not scored (< 2 frames)"],
                        rows)
    if "cycle_distance" in metrics:
        cycle = metrics["cycle_distance"]
        period = next(iter(cycle.values()))["period"]
        lines += ["## Variety from cycle to cycle", "",
                  f"RMS pixel difference between frames one period ({period} frames) apart, "
                  "in synthesised sequences and in the real clip; the ratio is theirs (0: "
                  "every cycle the same, a replayed loop; about 1: cycles differ as the real "
                  "clip's do; '-': the real clip repeats exactly).", ""]
        rows = [[LABELS[name], f"{c['cycle_rms']:.4f}", f"{c['cycle_rms_real']:.4f}",
                 _number(c["cycle_distance_ratio"], ".3f")] for name, c in cycle.items()]
        lines += _table(["model", "cycle-to-cycle RMS", "real clip's", "cycle distance ratio"],
                        rows)
    if "pose_advance" in metrics:
        pose = metrics["pose_advance"]
        lines += ["## Pose advance round the period", "",
                  f"Fraction of steps whose phase (that of the nearest of {pose['views']} "
                  "frames) advances by 1 +- 1 frame round the cycle, moving forward (1: "
                  "turns as the clip does; 0: frozen or reversed). The Fourier loop is the "
                  "clip's truncated Fourier series over the same period, replayed; the real "
                  f"clip scores {pose['real']:.3f}.", ""]
        rows = [[LABELS.get(name, name), f"{p['mean']:.3f}",
                 f"{p['min']:.3f}"]
                for name, p in pose.items() if isinstance(p, dict)]
        lines += _table(["sequence", "pose advance, mean over seeds", "worst seed"], rows)
    return lines


def format_report(metrics: dict[str, Any]) -> str:
    """report.md for the metrics `evaluate_run` returns."""
    models = list(metrics["stability"])
    seeds, horizon = len(metrics["seeds"]), metrics["horizon"]
    lines = [f"# Evaluation of `{metrics['run']}`", "",
             f"{metrics['kind']} run; {metrics['training_frames']} training frames of shape "
             f"{tuple(metrics['frame_shape'])}; {seeds} synthesised sequences (seeds 0-"
             f"{seeds - 1}) of {horizon} frames each, starting from {synthesis_start(metrics)} "
             "(the linear baseline's from x_0 ~ N(0, I)). Linear baseline: "
             f"{metrics['baseline']}. Pixels in [0, 1].", ""]

    if "digits" in metrics:
        digits = metrics["digits"]
        lines += ["## Digit order", "",
                  f"Cycle {digits['cycle']}; digits read by the project's CNN classifier "
                  f"(held-out accuracy on real digits {digits['classifier_heldout_accuracy']:.3f})."
                  " Transition accuracy: fraction of t where digit(t+1) follows digit(t) in the "
                  "cycle (mean +- std over sequences). Legible: confidence > "
                  f"{digits['dynamic_vae']['legible_threshold']}. Dynamic VAE sequences "
                  f"start from {synthesis_start(metrics)} unless the row says otherwise.", ""]
        rows = []
        for name in [*models, *(["dynamic_vae_test_pair"] if "dynamic_vae_test_pair" in digits
                                else []), "ground_truth"]:
            d = digits[name]
            rows.append([LABELS[name],
                         f"{d['transition_accuracy']:.3f} +- {d['transition_accuracy_std']:.3f}",
                         f"{d['legible_fraction']:.3f}", f"{d['mean_confidence']:.3f}",
                         f"{d['in_cycle_fraction']:.3f}"])
        lines += _table(["sequence", "transition accuracy", "legible", "mean confidence",
                         "digits in the cycle"], rows)

    lines += _variety_lines(metrics)

    prediction = metrics["prediction"]
    steps = list(prediction[models[0]])
    lines += ["## k-step prediction", "",
              f"Mean squared pixel error of the noise-free rollout x_(t+k) = A^k x_t, decoded, "
              f"over {prediction['windows']} starting frames of {prediction['heldout']}. "
              "Skill = 1 - error / error of repeating frame t (> 0 beats it). With a residual "
              "texture, the rollout keeps the texture's cross-validated share of the predicted "
              "change, x_t + lambda_k (A^k x_t - x_t), and the texture's forecast of the "
              "residual is added; the linear baseline is also given both, from a texture "
              "fitted to what its own reconstruction leaves out, and the decoder alone is "
              "the rollout A^k x_t decoded.", ""]
    rows = [[LABELS[name], *[f"{prediction[name][k]['mse']:.4f} "
                             f"(skill {prediction[name][k]['skill']:+.2f})" for k in steps]]
            for name in [*models[:1], *(["dynamic_vae_decoder"] if "dynamic_vae_decoder"
                                        in prediction else []), *models[1:],
                         *(["linear_baseline_residual"] if "linear_baseline_residual"
                           in prediction else [])]]
    rows.append(["repeat frame t", *[f"{prediction[models[0]][k]['persistence_mse']:.4f}"
                                     for k in steps]])
    if "mean_frame_mse" in prediction[models[0]][steps[0]]:
        rows.append(["training mean frame", *[f"{prediction[models[0]][k]['mean_frame_mse']:.4f}"
                                              for k in steps]])
    lines += _table(["model", *[f"k = {k}" for k in steps]], rows)

    first_stability = metrics["stability"][models[0]]
    lines += ["## Long-horizon stability", "",
              f"Per-frame pixel mean and std over the last {first_stability['late_frames']} "
              "frames of each sequence, over the training frames' (1 = same), and over the "
              "first frames' (drift). Alive: late std ratio within "
              f"{first_stability['tolerance']:.0%} of 1. Temporal std: each pixel's std over "
              "time (0 = frozen). Reconstruction std ratio: the same ratio for the model's "
              "reconstructions of held-out frames (k = 0), i.e. the blur that is the "
              "decoder's, not the dynamics'."
              + ("" if alive_applies(metrics) else
                 " Alive is not judged on a counting run: its synthesised digits are fainter "
                 "than real ones however well they count, and the digit order above judges "
                 "its dynamics."), ""]
    rows = [[LABELS[name], f"{s['std_ratio']:.3f}", f"{s['early_std_ratio']:.3f}",
             f"{s['drift_ratio']:.3f}",
             f"{s['mean_ratio']:.3f}", f"{s['temporal_std_ratio']:.3f}",
             alive_text(metrics, s),
             f"{s['alive_fraction']:.2f}" if alive_applies(metrics) else "-",
             f"{s['reconstruction_std_ratio']:.3f}" if "reconstruction_std_ratio" in s
             else "-"]
            for name, s in metrics["stability"].items()]
    lines += _table(["model", "std ratio, late", "std ratio, early", "drift (late / early)",
                     "mean ratio",
                     "temporal std ratio", "alive", "alive seeds",
                     "reconstruction std ratio"], rows)
    lines += ["![stability](stability.png)", ""]

    lines += ["## Novelty", "",
              "RMS pixel distance of synthesised frames to their nearest training frame, against "
              "the training frames' leave-one-out nearest-neighbour distance (distinct frames). "
              "Ratio ~1: new frames at the data's own spacing; << 1: copies; >> 1: off the "
              "data.", ""]
    rows = [[LABELS[name], f"{n['synthesised_median']:.4f}", f"{n['training_median']:.4f}",
             f"{n['ratio']:.2f}", f"{n['near_copy_fraction']:.3f}"]
            for name, n in metrics["novelty"].items()]
    lines += _table(["model", "median NN distance", "training LOO median", "ratio",
                     "near copies"], rows)

    if "appearance" in metrics:
        lines += ["## Appearance", "",
                  "Sharpness: mean spatial-gradient energy of the synthesised frames over the "
                  "training frames' (1: as sharp; a blur is well below 1). Spectrum distance: "
                  "mean |log10| difference of the radially averaged spatial power spectra (0: "
                  "the same). Martin distance: between linear dynamic textures fitted to the "
                  "training frames and to a synthesised sequence (0: the same process). "
                  "Reconstruction: MSE of held-out frames encoded and decoded (k = 0), against "
                  "PCA with as many components as the latent dimension.", ""]
        reconstruction = metrics.get("reconstruction", {})
        rows = [[LABELS[name], f"{a['sharpness_ratio']:.2f}", f"{a['spectrum_distance']:.3f}",
                 f"{a['martin_distance']:.2f}",
                 f"{reconstruction[name]:.4f}" if name in reconstruction else "-"]
                for name, a in metrics["appearance"].items()]
        if "pca" in reconstruction:
            rows.append(["PCA (same n)", "-", "-", "-", f"{reconstruction['pca']:.4f}"])
        lines += _table(["model", "sharpness ratio", "spectrum distance", "Martin distance",
                         "reconstruction MSE"], rows)

    if "temporal" in metrics:
        temporal = metrics["temporal"]
        first = next(iter(temporal.values()))
        lines += ["## Temporal statistics", "",
                  f"The first {first['frames']} frames of the seed-0 synthesis against the "
                  "training frames. Motion ratio: mean squared difference of consecutive frames "
                  "over the training frames' (1: moves as much; 0: frozen; a 2x slower copy "
                  "about 0.25). Autocorrelation distance: mean over lags 1-"
                  f"{first['lags']} of the absolute difference of the per-pixel temporal "
                  "autocorrelations (0: pixels decorrelate at the clip's pace).", ""]
        rows = [[LABELS[name], f"{t['motion_ratio']:.3f}",
                 f"{t['autocorrelation_distance']:.3f}",
                 *[f"{t['autocorrelation'][k - 1]:.2f}" for k in (1, t["lags"])]]
                for name, t in temporal.items()]
        rows.append(["training frames", "1", "0",
                     *[f"{first['real_autocorrelation'][k - 1]:.2f}" for k in (1, first["lags"])]])
        lines += _table(["sequence", "motion ratio", "autocorrelation distance",
                         "autocorrelation, lag 1", f"autocorrelation, lag {first['lags']}"],
                        rows)

    lines += ["## Spectrum of A", "",
              "The linear baseline's A and B are taken in whitened coordinates (training states "
              "of unit covariance, as the Dynamic VAE's prior), so its stationarity residual "
              "is comparable.", ""]
    rows = []
    for name, s in metrics["spectrum"].items():
        periods = sorted({round(p, 2) for p, m in zip(s["periods"], s["moduli"])
                          if p is not None and m > 0.5})
        rows.append([LABELS[name], f"{s['spectral_radius']:.3f}", f"{s['spectral_norm']:.3f}",
                     f"{s['stationarity_residual']:.4f}",
                     ", ".join(f"{p:g}" for p in periods) or "-"])
    lines += _table(["model", "spectral radius", "spectral norm", "stationarity residual",
                     "periods (modulus > 0.5)"], rows)
    if "cycle_spectrum" in metrics:
        rows = [[LABELS[name], str(h["k"]), f"{h['target_degrees']:.1f}",
                 f"{h['nearest_degrees']:.1f}", f"{h['modulus']:.3f}"]
                for name, c in metrics["cycle_spectrum"].items() for h in c["harmonics"]]
        lines += [f"Eigenvalue nearest to each exp(+-2 pi i k / p), p = "
                  f"{next(iter(metrics['cycle_spectrum'].values()))['period']}:", "",
                  *_table(["model", "k", "target angle (deg)", "its angle (deg)", "modulus"],
                          rows)]
        ceilings = [f"{LABELS[name]} {c['ceiling']:.3f}"
                    for name, c in metrics["cycle_spectrum"].items()
                    if c.get("ceiling") is not None]
        if ceilings:
            lines += ["Transition accuracy a perfect decoder would reach with these dynamics "
                      "(the k = 1 plane's sectors, `spectrum.cycle_ceiling`): "
                      + ", ".join(ceilings) + ".", ""]
    lines += ["![spectrum](spectrum.png)", "",
              "## Strips", "",
              "Ground truth, noise-free rollouts from the same frame, and synthesised sequences.",
              "", "![strips](strips.png)", "",
              f"Evaluated in {metrics['wall_time_seconds']:.1f} s.", ""]
    return "\n".join(lines)
