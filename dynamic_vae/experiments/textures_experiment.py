"""Dynamic textures: one model per clip, judged by k-step prediction, liveliness and novelty."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from dynamic_vae.config import get_preset
from dynamic_vae.experiments.condition import Condition
from dynamic_vae.experiments.data_folder import DATA_ENV, data_folder
from dynamic_vae.experiments.experiment_family import ExperimentFamily

# Four DynTex videos and a 48x48 traffic patch, relative to the data folder (docs/data.md).
DEFAULT_CLIPS = ("dyntex/boiling_water.avi", "dyntex/fountain.avi", "dyntex/flashing_light.avi",
                 "dyntex/seawave.avi", "traffic48/traffic_a.npy")
COLORS = ("gray", "rgb")
# A 10-step prediction from the pair [y_{t-1}, y_t] needs 12 consecutive frames.
MIN_TEST_FRAMES = 12


def split_heldout_tail(frames: np.ndarray, fraction: float, source: Path | str
                       ) -> tuple[np.ndarray, np.ndarray]:
    """`(training frames, held-out tail)`: the last `fraction` of a clip, at least
    `MIN_TEST_FRAMES` (enough for 10-step predictions), as `experiment textures` holds it out.

    Args:
        frames: `(T, H, W, C)` the whole clip.
        fraction: in (0, 1).
        source: the clip's path, for the error.

    Raises:
        ValueError: naming `source`, when the clip cannot give up the tail and keep
            `MIN_TEST_FRAMES` to train on.
    """
    test = max(int(np.ceil(fraction * len(frames))), MIN_TEST_FRAMES)
    if len(frames) - test < MIN_TEST_FRAMES:
        raise ValueError(f"{source}: {len(frames)} frames are too few to hold out {test} and "
                         f"train on at least {MIN_TEST_FRAMES}; use --test-fraction 0")
    return frames[:-test], frames[-test:]


def clip_name(path: Path) -> str:
    """The table's name of a clip: its file or folder name without the suffix."""
    return path.stem if path.is_file() else path.name


class TexturesExperiment(ExperimentFamily):
    """Trains one model per texture clip; the table compares the Dynamic VAE's k-step
    prediction errors with the linear baseline's (alone and with the same forecast of its
    residual) and with repeating the last frame, says whether 1000-frame syntheses stay alive
    and new, and whether they move at the clip's pace.

    By default each clip's last fifth (at least 12 frames, enough for 10-step predictions) is
    held out: the models train on the rest and the k-step errors are measured on the unseen
    tail, so a model that only memorised its training frames does not win.
    `--test-fraction 0` trains on the whole clip as the paper did (its single held-out pair
    is then the only unseen data, and errors are measured on training windows).

    Example:
    >>> dynamic-vae experiment textures --epochs 20 --output runs/textures
    ... # doctest: +SKIP
    >>> dynamic-vae experiment textures --color rgb --size 64 --output runs/textures-rgb64
    ... # doctest: +SKIP
    """

    name = "textures"
    help = ("one model per dynamic texture clip (DynTex, traffic): k-step prediction, "
            "stability and novelty, DVAE vs linear baseline")
    # Residual networks, calibrated decoder and a fixed budget of windows per epoch: made for
    # any clip without flags.
    default_preset = "video"
    columns = (
        ("clip", "clip", ""),
        ("frames", "frames", "d"),
        ("test_frames", "held-out frames", "d"),
        ("k1_dvae", "k=1 MSE DVAE", ".4f"),
        ("k1_lds", "k=1 MSE LDS", ".4f"),
        ("k1_lds_residual", "k=1 MSE LDS+residual", ".4f"),
        ("k1_persistence", "k=1 MSE persistence", ".4f"),
        ("k5_dvae", "k=5 MSE DVAE", ".4f"),
        ("k5_lds", "k=5 MSE LDS", ".4f"),
        ("k5_lds_residual", "k=5 MSE LDS+residual", ".4f"),
        ("k5_persistence", "k=5 MSE persistence", ".4f"),
        ("k10_dvae", "k=10 MSE DVAE", ".4f"),
        ("k10_lds", "k=10 MSE LDS", ".4f"),
        ("k10_lds_residual", "k=10 MSE LDS+residual", ".4f"),
        ("k10_persistence", "k=10 MSE persistence", ".4f"),
        ("std_ratio_dvae", "std ratio DVAE", ".2f"),
        ("alive_dvae", "alive DVAE", ""),
        ("std_ratio_lds", "std ratio LDS", ".2f"),
        ("alive_lds", "alive LDS", ""),
        ("novelty_dvae", "novelty ratio DVAE", ".2f"),
        ("near_copies_dvae", "near copies DVAE", ".3f"),
        ("novelty_lds", "novelty ratio LDS", ".2f"),
        ("near_copies_lds", "near copies LDS", ".3f"),
        ("sharpness_dvae", "sharpness DVAE", ".2f"),
        ("sharpness_lds", "sharpness LDS", ".2f"),
        ("spectrum_distance_dvae", "spectrum dist. DVAE", ".3f"),
        ("spectrum_distance_lds", "spectrum dist. LDS", ".3f"),
        ("motion_ratio_dvae", "motion ratio DVAE", ".2f"),
        ("motion_ratio_lds", "motion ratio LDS", ".2f"),
        ("autocorrelation_distance_dvae", "autocorr. dist. DVAE", ".3f"),
        ("autocorrelation_distance_lds", "autocorr. dist. LDS", ".3f"),
        ("martin_dvae", "Martin DVAE", ".2f"),
        ("martin_lds", "Martin LDS", ".2f"),
        ("reconstruction_dvae", "reconstruction DVAE", ".4f"),
        ("reconstruction_pca", "reconstruction PCA", ".4f"),
        ("stationarity_residual", "stationarity residual", ".4f"),
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--data-dir", type=Path, default=None,
                            help="the data folder relative clips are read from (default: "
                                 f"${DATA_ENV})")
        parser.add_argument("--clips", default=None,
                            help="comma-separated clips (videos, frame folders or .npy/.npz), "
                                 "relative to --data-dir or absolute (default: "
                                 f"{','.join(DEFAULT_CLIPS)})")
        parser.add_argument("--color", choices=COLORS, default="gray",
                            help="gray (default, UCLA-50 style) or rgb")
        parser.add_argument("--size", type=int, default=48,
                            help="frames are resized (centre crop) to SIZE x SIZE (default 48)")
        parser.add_argument("--max-frames", type=int, default=None,
                            help="use at most this many frames of each clip")
        parser.add_argument("--test-fraction", type=float, default=0.2,
                            help="hold out this final fraction of each clip (at least 12 "
                                 "frames) for the k-step errors (default 0.2; 0 = train on "
                                 "all, the paper's protocol)")

    def clip_paths(self, args: argparse.Namespace) -> list[Path]:
        """The clips `args` name, each checked to exist."""
        names = (DEFAULT_CLIPS if args.clips is None
                 else [c.strip() for c in str(args.clips).split(",") if c.strip()])
        if not names:
            raise ValueError(f"--clips: expected comma-separated clip paths, got {args.clips!r}")
        relative = [n for n in names if not Path(n).is_absolute()]
        folder = data_folder(args.data_dir, "--data-dir") if relative else None
        paths = [Path(n) if Path(n).is_absolute() else folder / n for n in names]
        for path in paths:
            if not path.exists():
                raise FileNotFoundError(f"--clips: {path} does not exist (clips are read "
                                        f"relative to --data-dir {folder})")
        return paths

    def conditions(self, args: argparse.Namespace) -> list[Condition]:
        from dynamic_vae.data import load_video

        if args.size < 8 or args.size % 8:
            raise ValueError(f"--size: the decoder upsamples three times by 2, so the size "
                             f"must be a positive multiple of 8, got {args.size}")
        if args.max_frames is not None and args.max_frames < 12:
            raise ValueError(f"--max-frames: 10-step predictions need at least 12 frames, got "
                             f"{args.max_frames}")
        if not 0 <= args.test_fraction < 1:
            raise ValueError(f"--test-fraction: expected a number in [0, 1), got "
                             f"{args.test_fraction}")
        paths = self.clip_paths(args)
        names = [clip_name(p) for p in paths]
        if len(set(names)) != len(names):
            raise ValueError(f"--clips: clip names must be unique, got {names}")
        base = get_preset(args.preset)
        channels = 1 if args.color == "gray" else 3
        conditions = []
        for path, name in zip(paths, names):
            frames = load_video(path, color=args.color, size=args.size,
                                max_frames=args.max_frames)
            if len(frames) < 12:
                raise ValueError(f"{path}: {len(frames)} frames; 10-step predictions need at "
                                 "least 12")
            config = base.override(frame_shape=(args.size, args.size, channels),
                                   epochs=args.epochs)
            training, options = frames, {}
            if args.test_fraction > 0:
                training, heldout = split_heldout_tail(frames, args.test_fraction, path)
                options = {"heldout_frames": heldout}
            conditions.append(Condition(
                name=f"{name}-{args.color}{args.size}", config=config, frames=training,
                frames_source=str(path), evaluate_options=options,
                labels={"clip": f"{name} ({args.color} {args.size}x{args.size})",
                        "frames": len(frames), "test_frames": len(frames) - len(training)}))
        return conditions

    def row(self, condition: Condition, summary: dict[str, Any],
            metrics: dict[str, Any]) -> dict[str, Any]:
        row = {"clip": condition.labels["clip"], "frames": condition.labels["frames"],
               "test_frames": condition.labels["test_frames"],
               "stationarity_residual": summary["spectrum"]["stationarity_residual"],
               "spectral_radius": summary["spectrum"]["spectral_radius"]}
        for key, suffix in (("dynamic_vae", "dvae"), ("linear_baseline", "lds")):
            if key not in metrics["prediction"]:
                continue
            for k in ("1", "5", "10"):
                error = metrics["prediction"][key].get(k)
                row[f"k{k}_{suffix}"] = None if error is None else error["mse"]
            stability = metrics["stability"][key]
            row[f"std_ratio_{suffix}"] = stability["std_ratio"]
            row[f"alive_{suffix}"] = "yes" if stability["alive"] else "no"
            row[f"novelty_{suffix}"] = metrics["novelty"][key]["ratio"]
            row[f"near_copies_{suffix}"] = metrics["novelty"][key]["near_copy_fraction"]
            appearance = metrics["appearance"][key]
            row[f"sharpness_{suffix}"] = appearance["sharpness_ratio"]
            row[f"spectrum_distance_{suffix}"] = appearance["spectrum_distance"]
            row[f"martin_{suffix}"] = appearance["martin_distance"]
            temporal = metrics.get("temporal", {}).get(key, {})
            row[f"motion_ratio_{suffix}"] = temporal.get("motion_ratio")
            row[f"autocorrelation_distance_{suffix}"] = temporal.get("autocorrelation_distance")
        for k in ("1", "5", "10"):
            # The decoder's own predictions, without the residual texture's forecast or its
            # shrinkage; the baseline with both; and the last context frame repeated, scored
            # on the same windows and targets as every model.
            for key, name in (("dynamic_vae_decoder", "dvae_decoder"),
                              ("linear_baseline_residual", "lds_residual")):
                error = metrics["prediction"].get(key, {}).get(k)
                row[f"k{k}_{name}"] = None if error is None else error["mse"]
            error = metrics["prediction"]["dynamic_vae"].get(k)
            row[f"k{k}_persistence"] = None if error is None else error["persistence_mse"]
        row["reconstruction_dvae"] = metrics["reconstruction"]["dynamic_vae"]
        row["reconstruction_pca"] = metrics["reconstruction"]["pca"]
        return row
