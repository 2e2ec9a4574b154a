"""The report's figures: spectrum on the unit circle, stability curves, side-by-side strips.

Every figure is written atomically (temporary file, then rename).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dynamic_vae.atomic import atomic_path
from dynamic_vae.outputs import tile_frames


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | Path) -> Path:
    plt = _pyplot()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
    return Path(path)


def plot_spectra(spectra: dict[str, np.ndarray], path: str | Path,
                 period: int | None = None) -> Path:
    """Eigenvalues of each model's A (`{label: complex eigenvalues}`) on the unit circle;
    each complex eigenvalue is annotated with the period 2 pi / |angle| it implies, and the
    p-th roots of unity are marked when `period` is given."""
    return _save(_spectra_figure(spectra, period), path)


def spectrum_image(eigenvalues: np.ndarray, label: str = "model") -> np.ndarray:
    """The eigenvalues of one A on the unit circle (as `plot_spectra` draws them), rendered
    to an RGB image `(H, W, 3)` uint8, e.g. for `tf.summary.image`.

    Args:
        eigenvalues: complex eigenvalues of A.
        label: the title's name for the model.

    Returns:
        The image.
    """
    import io

    import imageio.v3 as iio

    plt = _pyplot()
    fig = _spectra_figure({label: eigenvalues}, None)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=60)
    plt.close(fig)
    return iio.imread(buffer.getvalue(), extension=".png")[..., :3]


def _spectra_figure(spectra: dict[str, np.ndarray], period: int | None):
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(spectra), figsize=(4.2 * len(spectra), 4.2), squeeze=False)
    circle = np.exp(1j * np.linspace(0, 2 * np.pi, 361))
    for ax, (label, eigenvalues) in zip(axes[0], spectra.items()):
        eigenvalues = np.asarray(eigenvalues, dtype=np.complex128)
        ax.plot(circle.real, circle.imag, color="0.6", lw=1)
        if period:
            roots = np.exp(2j * np.pi * np.arange(period) / period)
            ax.scatter(roots.real, roots.imag, marker="x", color="tab:red", s=40,
                       label=f"{period}-th roots of unity")
            ax.legend(loc="lower left", fontsize=7)
        ax.scatter(eigenvalues.real, eigenvalues.imag, color="tab:blue", s=22, zorder=3)
        for value in eigenvalues:
            if value.imag > 1e-6 and abs(value) > 0.1:  # labels near 0 would pile up
                ax.annotate(f"{2 * np.pi / abs(np.angle(value)):.2f}", (value.real, value.imag),
                            textcoords="offset points", xytext=(4, 4), fontsize=7)
        ax.set_aspect("equal")
        ax.set_xlim(-1.15, 1.15)
        ax.set_ylim(-1.15, 1.15)
        ax.axhline(0, color="0.85", lw=0.8)
        ax.axvline(0, color="0.85", lw=0.8)
        radius = np.abs(eigenvalues).max() if len(eigenvalues) else 0.0
        ax.set_title(f"{label}: eigenvalues of A\n(spectral radius {radius:.3f}; "
                     "labels: periods)", fontsize=9)
    fig.tight_layout()
    return fig


def plot_stability(curves: dict[str, np.ndarray], training_frames: np.ndarray,
                   path: str | Path, smoothing: int = 25) -> Path:
    """Per-frame pixel mean and std of synthesised sequences (`{label: (T, H, W, C)}`),
    as `smoothing`-frame moving averages, against the training frames' mean +- one standard
    deviation of the same statistics."""
    from dynamic_vae.evaluation.stability import per_frame_statistics

    plt = _pyplot()
    train_mean, train_std = per_frame_statistics(training_frames)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
    for ax, reference, name in ((axes[0], train_mean, "per-frame mean"),
                                (axes[1], train_std, "per-frame std")):
        ax.axhspan(reference.mean() - reference.std(), reference.mean() + reference.std(),
                   color="0.88", label="training (mean +- std)")
        ax.axhline(reference.mean(), color="0.5", lw=1)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("frame")
    for label, frames in curves.items():
        window = max(1, min(smoothing, len(frames)))
        kernel = np.ones(window) / window
        for ax, values in zip(axes, per_frame_statistics(frames)):
            smoothed = np.convolve(values, kernel, mode="valid")
            ax.plot(np.arange(len(smoothed)) + window - 1, smoothed, lw=1,
                    label=f"{label} ({window}-frame moving average)")
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    return _save(fig, path)


def plot_strips(rows: dict[str, np.ndarray], path: str | Path, scale: int = 2) -> Path:
    """One labelled row of frames per entry of `rows` (`{label: (T, H, W, C)}` in [0, 1])."""
    plt = _pyplot()
    images = [tile_frames(np.asarray(frames)) for frames in rows.values()]
    width = max(image.shape[1] for image in images)
    fig, axes = plt.subplots(len(images), 1, squeeze=False,
                             figsize=(width * scale / 100 + 0.4,
                                      sum(i.shape[0] for i in images) * scale / 100
                                      + 0.3 * len(images)))
    for ax, label, image in zip(axes[:, 0], rows, images):
        ax.imshow(image[..., 0] if image.shape[-1] == 1 else image, cmap="gray", vmin=0,
                  vmax=255, interpolation="nearest")
        ax.set_title(label, fontsize=8, loc="left")
        ax.axis("off")
    fig.tight_layout()
    return _save(fig, path)
