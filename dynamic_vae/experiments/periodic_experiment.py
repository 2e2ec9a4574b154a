"""Cyclic processes on real video: one model per clip, judged by pose-advance accuracy."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from dynamic_vae.config import RunConfig, get_preset
from dynamic_vae.experiments.condition import Condition
from dynamic_vae.experiments.data_folder import DATA_ENV, data_folder
from dynamic_vae.experiments.experiment_family import ExperimentFamily

# Bare clip names are read from here, relative to the data folder (docs/data.md).
RUNNING_FOLDER = Path("running")
CLIP_SUFFIX = ".mp4"
DEFAULT_CLIPS = "tiger,horse"
COLORS = ("gray", "rgb")
# "none" squashes the whole frame into the square: a running animal fills a wide frame, and
# the centred square of a 316x600 clip cuts off its head and tail.
CROPS = ("none", "center")
# A 10-step prediction from the pair [y_{t-1}, y_t] needs 12 consecutive frames.
MIN_FRAMES = 12
# The epoch length of a preset that sets no window budget of its own (as rotation's ten
# turns of 72 views).
FALLBACK_PAIRS_PER_EPOCH = 720
# Encoded training frames stored as synthesis starts: a start drawn from N(0, I) keeps its
# random radius in a locked plane for ever, one on the clip's own states does not.
START_STATES = 64


def resolve_clip(item: str, data_dir: str | Path | None) -> Path:
    """The file (or frame folder) one `--clips` item names.

    A bare name (no folder, no suffix) is `DATA/running/NAME.mp4`, DATA being `data_dir` or
    `$DYNAMIC_VAE_DATA`; anything else is a path, which must exist.

    Args:
        item: one comma-separated item of `--clips`.
        data_dir: the `--data-dir` flag's value (`None` when left out).

    Returns:
        The path, checked to exist.

    Raises:
        FileNotFoundError: naming `--clips`, the item and the path looked for.
        ValueError: when a bare name is given and no data folder is set.

    Example:
    >>> resolve_clip("tiger", "/data")                       # doctest: +SKIP
    PosixPath('/data/running/tiger.mp4')
    """
    path = Path(item)
    if path.name == item and not path.suffix:
        folder = data_folder(data_dir, "--data-dir")
        candidate = folder / RUNNING_FOLDER / f"{item}{CLIP_SUFFIX}"
        if not candidate.is_file():
            raise FileNotFoundError(
                f"--clips: expected a video file, or a bare name NAME read as "
                f"{folder / RUNNING_FOLDER}/NAME{CLIP_SUFFIX}; got {item!r}, and {candidate} "
                "does not exist")
        return candidate
    if not path.exists():
        raise FileNotFoundError(f"--clips: expected an existing video file (or a bare name, "
                                f"read from the data folder's {RUNNING_FOLDER}/), got {item!r}: "
                                "no such file")
    return path


def clip_paths(text: str, data_dir: str | Path | None) -> list[Path]:
    """The clips of a `--clips` value, each resolved by `resolve_clip`, distinct, with
    distinct names (a clip's name is its run directory's).

    Raises:
        ValueError: naming `--clips` on an empty list or duplicates.
        FileNotFoundError: from `resolve_clip`.
    """
    items = [item.strip() for item in str(text).split(",") if item.strip()]
    if not items:
        raise ValueError(f"--clips: expected comma-separated video files or bare names, got "
                         f"{text!r}")
    paths = [resolve_clip(item, data_dir) for item in items]
    seen: dict[str, str] = {}
    for item, path in zip(items, paths):
        for key in (str(path.resolve()), path.stem if path.is_file() else path.name):
            if key in seen:
                raise ValueError(f"--clips: expected distinct clips with distinct names, got "
                                 f"{seen[key]!r} and {item!r} (both {key!r})")
            seen[key] = item
    return paths


def parse_periods(text: str | None, count: int) -> list[int | None]:
    """`--period`: one period for every clip, or one per clip in `--clips` order; `None`
    (flag left out) estimates each clip's period.

    Raises:
        ValueError: naming `--period`, on anything but 1 or `count` integers.
    """
    if text is None:
        return [None] * count
    try:
        periods = [int(v) for v in str(text).split(",") if v.strip()]
    except ValueError:
        periods = []
    if len(periods) not in (1, count):
        raise ValueError(f"--period: expected one integer, or one per clip ({count} "
                         f"comma-separated integers), got {text!r}")
    return periods * count if len(periods) == 1 else periods


def clip_name(path: Path) -> str:
    """The table's name of a clip: its file or folder name without the suffix."""
    return path.stem if path.is_file() else path.name


def budget_windows_per_epoch(base: RunConfig, pairs_per_epoch: int | None) -> int | None:
    """The `windows_per_epoch` that makes an epoch of `base` about `pairs_per_epoch` pairs long.

    Args:
        base: the configuration whose (first stage's) window length counts the pairs.
        pairs_per_epoch: the `--pairs-per-epoch` flag (`None`: the preset's own budget, or
            `FALLBACK_PAIRS_PER_EPOCH` pairs for a preset that sets none).

    Returns:
        The budget in windows, or `None` to keep the preset's.
    """
    training = base.training
    if pairs_per_epoch is None:
        if training.windows_per_epoch is not None:
            return None
        pairs_per_epoch = FALLBACK_PAIRS_PER_EPOCH
    # A window of L frames trains L - 1 pairs. The budget replaces copies of the loop:
    # reshuffled passes over one sequence train the same pairs, and a single sequence keeps
    # the held-out last pair (and the validation tail) out of training.
    return max(1, math.ceil(pairs_per_epoch / (training.window - 1)))


class PeriodicExperiment(ExperimentFamily):
    """Trains one model per clip of a cyclic process (an animal running in a loop) on all of
    its frames but the last pair, which `train` holds out as it does for any clip (the
    linear baseline is fitted without it too; each of the video preset's stages also keeps
    the clip's last tenth aside to choose its best epoch), and judges 1000-frame syntheses by
    pose-advance accuracy: each synthesised frame is given the phase of its nearest frame
    among the clip's first period, and a step counts when the phase advances by 1 +- 1 frame
    round the cycle (and moves). The period is estimated from the clip's own frames
    (`dynamic_vae.evaluation.periodicity.estimate_period`) unless `--period` gives it. The
    model gets the period (`ModelConfig.period`: after training, A's planes near the
    period's harmonics turn exactly) and 64 encoded frames as synthesis starts
    (`ModelConfig.start_states`, what the served `generate` starts from as well). Beside the
    linear baseline, the Fourier loop (`dynamic_vae.baseline.FourierLoop`: the clip's
    truncated Fourier series over the same period, no training) is scored the same way.

    Example:
    >>> dynamic-vae experiment periodic --clips tiger,horse --output runs/periodic
    ... # doctest: +SKIP
    >>> dynamic-vae experiment periodic --clips my/loop.mp4 --period 24 --color rgb \\
    ...     --output runs/loop                                       # doctest: +SKIP
    """

    name = "periodic"
    help = ("one model per clip of a cyclic process (e.g. running animals): pose-advance "
            "accuracy round the clip's period, DVAE vs linear baseline and Fourier loop")
    # Made for any real clip without flags (see textures): linear start, stationary
    # transition, calibrated decoder, a budget of windows per epoch.
    default_preset = "video"
    columns = (
        ("clip", "clip", ""),
        ("frame", "frames as", ""),
        ("frames", "frames", "d"),
        ("period", "period", "d"),
        ("period_source", "period from", ""),
        ("pose_advance_dvae", "pose-advance DVAE", ".3f"),
        ("pose_advance_dvae_min", "DVAE worst seed", ".3f"),
        ("pose_advance_dvae_mean_frames", "DVAE mean frames", ".3f"),
        ("pose_advance_lds", "pose-advance LDS", ".3f"),
        ("pose_advance_fourier", "pose-advance Fourier loop", ".3f"),
        ("pose_advance_ground_truth", "pose-advance real clip", ".3f"),
        ("k1_dvae", "k=1 MSE DVAE", ".4f"),
        ("k1_lds", "k=1 MSE LDS", ".4f"),
        ("std_ratio_dvae", "std ratio DVAE", ".2f"),
        ("std_ratio_lds", "std ratio LDS", ".2f"),
        ("cycle_distance_dvae", "cycle distance DVAE", ".2f"),
        ("spectral_radius", "spectral radius", ".3f"),
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--clips", default=DEFAULT_CLIPS,
                            help="comma-separated clips: video files (or anything `train "
                                 "--frames` reads), or bare names NAME read as "
                                 f"DATA/{RUNNING_FOLDER}/NAME{CLIP_SUFFIX} (default "
                                 f"{DEFAULT_CLIPS})")
        parser.add_argument("--data-dir", type=Path, default=None,
                            help=f"the data folder bare names are read from (default: "
                                 f"${DATA_ENV})")
        parser.add_argument("--size", type=int, default=64,
                            help="frames are resized to SIZE x SIZE (default 64)")
        parser.add_argument("--color", choices=COLORS, default="gray",
                            help="gray (default) or rgb")
        parser.add_argument("--crop", choices=CROPS, default="none",
                            help="none (default): squash the whole frame into the square, so "
                                 "a wide frame keeps the whole animal; center: the largest "
                                 "centred square, at the true aspect ratio")
        parser.add_argument("--period", default=None,
                            help="the cycle's period in frames, one for every clip or one per "
                                 "clip (comma-separated); 2 <= P <= half the clip's frames "
                                 "(default: estimated from each clip's frames)")
        parser.add_argument("--pairs-per-epoch", type=int, default=None,
                            help="training pairs per epoch, drawn from reshuffled passes over "
                                 "the clip (default: the preset's window budget, video: 1024 "
                                 f"windows of 4 frames; {FALLBACK_PAIRS_PER_EPOCH} for a "
                                 "preset without one)")

    def conditions(self, args: argparse.Namespace) -> list[Condition]:
        from dynamic_vae.data import load_video
        from dynamic_vae.evaluation.periodicity import estimate_period

        if args.size < 8 or args.size % 8:
            raise ValueError(f"--size: the decoder upsamples three times by 2, so the size "
                             f"must be a positive multiple of 8, got {args.size}")
        if args.pairs_per_epoch is not None and args.pairs_per_epoch < 1:
            raise ValueError(f"--pairs-per-epoch: expected >= 1, got {args.pairs_per_epoch}")
        paths = clip_paths(args.clips, args.data_dir)
        periods = parse_periods(args.period, len(paths))
        base = get_preset(args.preset)
        channels = 1 if args.color == "gray" else 3
        conditions = []
        for path, given in zip(paths, periods):
            name = clip_name(path)
            try:
                frames = load_video(path, color=args.color, size=args.size, crop=args.crop)
            except ValueError as error:  # the message starts with the path
                raise ValueError(f"--clips {error}") from None
            if len(frames) < MIN_FRAMES:
                raise ValueError(f"--clips {path}: expected at least {MIN_FRAMES} frames "
                                 f"(10-step predictions), got {len(frames)}")
            try:
                estimated, why_not = estimate_period(frames), None
            except ValueError as error:
                estimated, why_not = None, str(error)
            if given is None and estimated is None:
                raise ValueError(f"--clips {path}: {why_not}; give the period with --period")
            if given is not None and not 2 <= given <= len(frames) // 2:
                raise ValueError(f"--period: expected 2 <= P <= {len(frames) // 2} for {path} "
                                 f"(the clip's {len(frames)} frames must show the cycle at "
                                 f"least twice), got {given}")
            period = estimated if given is None else given
            config = base.override(frame_shape=(args.size, args.size, channels),
                                   epochs=args.epochs,
                                   windows_per_epoch=budget_windows_per_epoch(
                                       base, args.pairs_per_epoch),
                                   # The planes that turn about once per period (or a
                                   # harmonic of it) are locked to it after training, and
                                   # synthesis starts on encoded frames of the clip.
                                   period=int(period) if period >= 3 else 0,
                                   start_states=START_STATES)
            crop = "" if args.crop == "none" else "-centre"
            conditions.append(Condition(
                name=f"{name}-{args.color}{args.size}{crop}", config=config, frames=frames,
                frames_source=str(path),
                labels={"clip": name,
                        "frame": (f"{args.color} {args.size}x{args.size}, "
                                  + ("whole frame" if args.crop == "none" else "centre crop")),
                        "frames": len(frames), "period": int(period),
                        "period_estimated": given is None, "period_estimate": estimated,
                        # One cycle of real frames in phase order: what a synthesised
                        # frame's phase is read against.
                        "views": frames[:period]}))
        return conditions

    def extra_metrics(self, condition: Condition, run_dir: Path) -> dict[str, Any]:
        from dynamic_vae.evaluation.pose_advance import pose_advance_accuracy
        from dynamic_vae.pixels import to_unit_range
        from dynamic_vae.runs import EVALUATION_DIR, EVALUATION_METRICS_FILE, load_run
        from dynamic_vae.synthesis import synthesize

        evaluated = json.loads((run_dir / EVALUATION_DIR / EVALUATION_METRICS_FILE).read_text())
        # `evaluate` scores every periodic run against the clip's first period: the Dynamic
        # VAE from its stored starts, the linear baseline, the Fourier loop and the clip.
        # A period of 2 trains no locked plane (no `period`), so it has no such section.
        section = evaluated.get("pose_advance")
        if section is None:
            return {"pose_advance": {}}
        seeds, horizon = evaluated["seeds"], evaluated["horizon"]
        views = condition.labels["views"]
        model = load_run(run_dir).model
        pose = {"period": condition.labels["period"], "step_frames": 1, "tolerance_frames": 1,
                "seeds": seeds, "horizon": horizon, "ground_truth": section["real"],
                **{name: section[name] for name in ("dynamic_vae", "linear_baseline",
                                                    "fourier_loop") if name in section}}
        if getattr(model, "residual_texture", None) is not None:
            # The same sequences without the texture's draw: how much the fine detail it
            # adds moves frames to another phase's nearest view.
            values = [pose_advance_accuracy(to_unit_range(
                synthesize(model, horizon, seed=seed, as_uint8=False, texture=False)[0][0],
                model.pixel_range), views, step=1) for seed in seeds]
            pose["dynamic_vae_mean_frames"] = {"mean": float(np.mean(values)),
                                               "min": float(np.min(values)),
                                               "per_seed": values}
        return {"pose_advance": pose}

    def row(self, condition: Condition, summary: dict[str, Any],
            metrics: dict[str, Any]) -> dict[str, Any]:
        labels = condition.labels
        pose = metrics["family"]["pose_advance"]
        lds = pose.get("linear_baseline", {})
        fourier = pose.get("fourier_loop", {})
        dvae = pose.get("dynamic_vae", {})
        prediction = metrics["prediction"]
        stability = metrics["stability"]
        return {
            "clip": labels["clip"],
            "frame": labels["frame"],
            "frames": labels["frames"],
            "period": labels["period"],
            "period_estimated": labels["period_estimated"],
            "period_estimate": labels["period_estimate"],
            "period_source": "estimated" if labels["period_estimated"] else "--period",
            "pose_advance_dvae": dvae.get("mean"),
            "pose_advance_dvae_min": dvae.get("min"),
            "pose_advance_lds": lds.get("mean"),
            "pose_advance_lds_min": lds.get("min"),
            "pose_advance_fourier": fourier.get("mean"),
            "pose_advance_fourier_min": fourier.get("min"),
            "pose_advance_fourier_per_seed": fourier.get("per_seed"),
            "pose_advance_dvae_mean_frames": pose.get("dynamic_vae_mean_frames", {}).get("mean"),
            "pose_advance_dvae_per_seed": dvae.get("per_seed"),
            "pose_advance_lds_per_seed": lds.get("per_seed"),
            "pose_advance_ground_truth": pose.get("ground_truth"),
            "k1_dvae": prediction["dynamic_vae"]["1"]["mse"],
            "k1_lds": prediction.get("linear_baseline", {}).get("1", {}).get("mse"),
            "std_ratio_dvae": stability["dynamic_vae"]["std_ratio"],
            "std_ratio_lds": stability.get("linear_baseline", {}).get("std_ratio"),
            # Synthesised frames one period apart against the clip's (0: a replayed loop).
            "cycle_distance_dvae": metrics.get("cycle_distance", {}).get(
                "dynamic_vae", {}).get("cycle_distance_ratio"),
            "cycle_distance_lds": metrics.get("cycle_distance", {}).get(
                "linear_baseline", {}).get("cycle_distance_ratio"),
            "spectral_radius": summary["spectrum"]["spectral_radius"],
            "stationarity_residual": summary["spectrum"]["stationarity_residual"],
        }
