"""Saving a stage: the run directory's model, summary, history and test pairs.

What a run directory holds, and under which names, is `dynamic_vae.runs`'s to say; this
module writes it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from dynamic_vae.atomic import atomic_path, atomic_write_text
from dynamic_vae.config import RunConfig
from dynamic_vae.data.frame_pairs import FramePairs
from dynamic_vae.models.dynamic_vae import DynamicVAE
from dynamic_vae.runs import (HISTORY_CSV_FILE, HISTORY_JSON_FILE, MODEL_FILE, SUMMARY_FILE,
                              TRAINING_CURVES_FILE, save_model, save_test_pairs)
from dynamic_vae.spectrum import spectrum_report
from dynamic_vae.training.fit import FitOutcome


def stage_summary(model: DynamicVAE, config: RunConfig, pairs: FramePairs,
                  history: dict[str, list[float]], first_epoch: int, fitted: FitOutcome,
                  finished: dict[str, Any], strategy: str, replicas: int) -> dict[str, Any]:
    """What summary.json holds for a stage: its epochs, time, throughput, final metrics,
    spectrum of A, and what the finishing steps (`DynamicVAE.finish`) reported."""
    training = config.training
    epochs_run = len(history.get("loss", []))
    epochs_this_time = epochs_run - first_epoch
    wall_time = fitted.wall_time_seconds
    summary = {
        "epochs": epochs_run,
        "resumed_from_epoch": first_epoch,
        "strategy": strategy,
        "replicas": int(replicas),
        "wall_time_seconds": wall_time,
        "train_pairs": int(len(pairs.train_starts)),
        # A window of L frames trains L - 1 pairs.
        "pairs_per_second": (epochs_this_time * (training.windows_per_epoch or len(
            pairs.window_starts(training.window))) * (training.window - 1)
            / max(wall_time, 1e-9)),
        "final_metrics": {k: v[-1] for k, v in history.items()},
        "spectrum": spectrum_report(*model.transition()),
        "test_pair_starts": [int(t) for t in pairs.test_starts],
        **finished,
    }
    if fitted.best is not None:
        summary["validation"] = {"windows": fitted.validation_windows,
                                 "best_epoch": fitted.best.best_epoch,
                                 "best_loss": fitted.best.best_loss}
    return summary


def save_stage(model: DynamicVAE, write_dir: Path, pairs: FramePairs,
               pixel_range: tuple[float, float], history: dict[str, list[float]],
               summary: dict[str, Any]) -> None:
    """Writes the stage's files into `write_dir`, summary.json last."""
    save_model(model, write_dir / MODEL_FILE)
    save_test_pairs(write_dir, pairs.test_pairs, pixel_range)
    atomic_write_text(write_dir / HISTORY_JSON_FILE, json.dumps(history, indent=2))
    write_history_csv(history, write_dir / HISTORY_CSV_FILE)
    plot_history(history, write_dir / TRAINING_CURVES_FILE)
    atomic_write_text(write_dir / SUMMARY_FILE, json.dumps(summary, indent=2))


def plot_history(history: dict[str, list[float]], path: str | Path) -> None:
    """Draws the loss terms, stationarity residual and spectral radius per epoch as a PNG.

    Args:
        history: per-epoch metrics (`val_` entries are drawn beside their training ones).
        path: the PNG file (written atomically).

    Example:
    >>> plot_history({"loss": [3.0, 2.0, 1.5]}, "curves.png")     # doctest: +SKIP
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [k for k in ("loss", "reconstruction", "kl", "prediction", "stationarity_residual",
                         "spectral_radius") if k in history]
    fig, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 2.8))
    for ax, name in zip(np.atleast_1d(axes), names):
        ax.plot(np.arange(1, len(history[name]) + 1), history[name], label="train")
        if f"val_{name}" in history:
            ax.plot(np.arange(1, len(history[name]) + 1), history[f"val_{name}"],
                    label="held-out pair")
        ax.set_title(name)
        ax.set_xlabel("epoch")
    np.atleast_1d(axes)[0].legend()
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=90)
    plt.close(fig)


def write_history_csv(history: dict[str, list[float]], path: Path) -> None:
    """Writes per-epoch metrics as CSV: an `epoch` column, then the metrics by name."""
    names = sorted(history)
    rows = ["epoch," + ",".join(names)]
    for epoch in range(len(history.get("loss", []))):
        rows.append(f"{epoch + 1}," + ",".join(f"{history[n][epoch]:.6g}" for n in names))
    atomic_write_text(path, "\n".join(rows) + "\n")
