"""`dynamic-vae evaluate RUN`, `dynamic-vae compare REAL NAME=VIDEO ...` and
`dynamic-vae experiment <family>`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from dynamic_vae.config import MIXED_PRECISION

COMPARISON_FILE = "comparison.json"
COMPARISON_COLUMNS = (("name", "video", ""), ("frames", "frames", "d"),
                      ("sharpness_ratio", "sharpness ratio", ".3f"),
                      ("spectrum_distance", "spectrum distance", ".3f"),
                      ("martin_distance", "Martin distance", ".3f"),
                      ("std_ratio", "std ratio", ".3f"),
                      ("temporal_std_ratio", "temporal std ratio", ".3f"),
                      ("alive", "alive", ""))


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "evaluate", help="measure a trained run; writes RUN/evaluation/ (report.md, "
                         "metrics.json, figures)",
        description="k-step prediction error, long-horizon stability, novelty, spectrum of A "
                    "and side-by-side strips against the linear baseline; digit order for "
                    "counting runs.")
    parser.add_argument("run", type=Path, help="run directory")
    _add_evaluation_flags(parser)
    parser.add_argument("--frames", type=Path,
                        help="the training frames (.npy/.npz), when config.json's source "
                             "cannot be re-read")
    parser.add_argument("--heldout-frames", type=Path,
                        help="frames (.npy/.npz) to measure prediction error on")
    parser.add_argument("--baseline", default="auto",
                        help="'auto' (the run's baseline.npz, else fit one), 'none', or a "
                             "baseline.npz")
    parser.add_argument("--prediction-windows", type=int, default=500,
                        help="starting frames the k-step errors average over")
    parser.set_defaults(handler=run_evaluate)

    compare = subparsers.add_parser(
        "compare", help="score synthesised videos from any method against a real clip",
        description="Sharpness ratio, spectrum distance, Martin distance and std ratios of "
                    "each video against the real clip; every input is loaded with the same "
                    "--color, --size (centre crop) and --max-frames. No model is needed.")
    compare.add_argument("real", metavar="REAL", type=Path,
                         help="the real clip: a video, a folder of frame images or a "
                              ".npy/.npz array")
    compare.add_argument("videos", metavar="NAME=VIDEO", nargs="+", type=_named_video,
                         help="a synthesised video (same kinds of source as REAL) and the "
                              "name its row gets")
    compare.add_argument("--size", type=_positive_int, default=48,
                         help="frames are resized (centre crop) to SIZE x SIZE (default 48)")
    compare.add_argument("--color", choices=("gray", "rgb"), default="gray",
                         help="gray (default) or rgb")
    compare.add_argument("--max-frames", type=_positive_int, default=None,
                         help="use at most this many frames of each input")
    compare.add_argument("--latent-dim", type=_positive_int, default=10,
                         help="state dimension of the linear dynamic textures the Martin "
                              "distance fits (default 10; each input needs more frames)")
    compare.add_argument("--output", "-o", type=Path, metavar="DIR",
                         help=f"also write DIR/{COMPARISON_FILE} (the rows and the settings)")
    compare.add_argument("--format", choices=("table", "json"), default="table",
                         help="print a Markdown table (default) or JSON")
    compare.set_defaults(handler=run_compare)

    from dynamic_vae.experiments import FAMILIES

    experiment = subparsers.add_parser(
        "experiment", help="train, evaluate and tabulate a family of runs",
        description="Each family trains one model per condition, evaluates it (as "
                    "'dynamic-vae evaluate') and writes OUTPUT/results.md and results.json.")
    families = experiment.add_subparsers(dest="family", required=True)
    for family in FAMILIES.values():
        family_parser = families.add_parser(family.name, help=family.help,
                                            description=family.help)
        family_parser.add_argument("--output", "-o", type=Path, required=True,
                                   help="experiment directory (one run directory per "
                                        "condition, results.md, results.json)")
        family_parser.add_argument("--preset", default=family.default_preset)
        family_parser.add_argument("--epochs", type=int, default=None,
                                   help="training epochs (default: the preset's)")
        family_parser.add_argument("--finetune-epochs", type=int, default=None,
                                   help="epochs of the preset's fine-tuning stage, if it has "
                                        "one (default: the preset's; 0: none)")
        family_parser.add_argument("--variety-epochs", type=int, default=None,
                                   help="epochs of the preset's variety stage, if it has "
                                        "one (default: the preset's; 0: none)")
        family_parser.add_argument("--windows-per-epoch", type=int, default=None,
                                   help="training windows per epoch, in every stage "
                                        "(default: the preset's)")
        family_parser.add_argument("--mixed-precision", choices=MIXED_PRECISION,
                                   default=None,
                                   help="bfloat16 hidden layers; auto: where the machine "
                                        "has bfloat16 units (default: the preset's)")
        _add_evaluation_flags(family_parser)
        family_parser.add_argument("--quiet", action="store_true", help="no progress bars")
        family.add_arguments(family_parser)
        family_parser.set_defaults(handler=run_experiment_command, family_object=family)


def _add_evaluation_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seeds", type=int, default=5,
                        help="synthesised sequences (seeds 0 .. N-1)")
    parser.add_argument("--horizon", type=int, default=1000,
                        help="frames per synthesised sequence")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _named_video(text: str) -> tuple[str, Path]:
    name, separator, path = text.partition("=")
    if not separator or not name or not path:
        raise argparse.ArgumentTypeError(f"expected NAME=VIDEO (for example "
                                         f"LDS=synth/lds.avi), got {text!r}")
    return name, Path(path)


def summary_text(metrics: dict[str, Any]) -> str:
    """The headline numbers of an evaluation, a few lines."""
    from dynamic_vae.evaluation.report import alive_applies, alive_text

    lines = []
    names = {"dynamic_vae": "Dynamic VAE", "linear_baseline": "linear baseline"}
    for key, label in names.items():
        if key not in metrics["stability"]:
            continue
        parts = []
        if "digits" in metrics:
            digits = metrics["digits"][key]
            parts.append(f"transition accuracy {digits['transition_accuracy']:.3f}, "
                         f"legible {digits['legible_fraction']:.3f}")
            from_pair = metrics["digits"].get(f"{key}_test_pair")
            if from_pair is not None:
                parts[-1] += (f" (x_0 from the test pair: {from_pair['transition_accuracy']:.3f}"
                              f", legible {from_pair['legible_fraction']:.3f})")
        errors = metrics["prediction"][key]
        parts.append("k-step MSE " + ", ".join(f"k={k}: {v['mse']:.4f}"
                                               for k, v in errors.items()))
        stability = metrics["stability"][key]
        alive = alive_text(metrics, stability)
        if not alive_applies(metrics):
            alive += "; counting runs are judged by transition accuracy"
        parts.append(f"std ratio {stability['std_ratio']:.2f} (drift "
                     f"{stability['drift_ratio']:.2f}, alive: {alive})")
        parts.append(f"novelty ratio {metrics['novelty'][key]['ratio']:.2f}")
        diversity = metrics.get("diversity", {}).get(key)
        if diversity is not None and diversity["diversity_ratio"] is not None:
            parts.append(f"diversity ratio {diversity['diversity_ratio']:.2f}, Frechet "
                         f"distance {diversity['frechet_distance']:.2f} (real vs real "
                         f"{diversity['frechet_distance_real']:.2f})")
        cycle = metrics.get("cycle_distance", {}).get(key)
        if cycle is not None and cycle["cycle_distance_ratio"] is not None:
            parts.append(f"cycle distance ratio {cycle['cycle_distance_ratio']:.2f}")
        pose = metrics.get("pose_advance", {}).get(key)
        if pose is not None:
            parts.append(f"pose advance {pose['mean']:.3f} (Fourier loop "
                         f"{metrics['pose_advance']['fourier_loop']['mean']:.3f})")
        parts.append(f"spectral radius {metrics['spectrum'][key]['spectral_radius']:.3f}")
        lines.append(f"{label}: " + "; ".join(parts))
    return "\n".join(lines)


def run_evaluate(args: argparse.Namespace) -> int:
    from dynamic_vae.cli.frame_source import load_frames_file
    from dynamic_vae.evaluation import evaluate_run

    frames = None if args.frames is None else load_frames_file(args.frames)
    heldout = (None if args.heldout_frames is None
               else load_frames_file(args.heldout_frames, flag="--heldout-frames"))
    metrics = evaluate_run(args.run, seeds=args.seeds, horizon=args.horizon,
                           baseline=args.baseline, frames=frames, heldout_frames=heldout,
                           prediction_windows=args.prediction_windows)
    print(summary_text(metrics))
    print(f"evaluated in {metrics['wall_time_seconds']:.1f} s; report "
          f"{args.run / 'evaluation' / 'report.md'}")
    return 0


def _load_input(path: Path, argument: str, args: argparse.Namespace) -> np.ndarray:
    """`path` loaded with the command's --color, --size and --max-frames; a failure's message
    (which starts with the path) is prefixed with `argument`, so it reads like the command
    line: 'REAL clip.avi: ...' or 'LDS=lds.avi: ...'."""
    from dynamic_vae.data import load_video

    try:
        return load_video(path, color=args.color, size=args.size, max_frames=args.max_frames)
    except (ValueError, FileNotFoundError) as error:
        raise type(error)(f"{argument}{error}") from None


def run_compare(args: argparse.Namespace) -> int:
    from dynamic_vae.atomic import atomic_write_text
    from dynamic_vae.evaluation import compare_videos
    from dynamic_vae.experiments.runner import format_table

    paths: dict[str, Path] = {}
    for name, path in args.videos:
        if name in paths:
            raise ValueError(f"NAME=VIDEO: expected distinct names, got {name!r} twice "
                             f"({paths[name]} and {path})")
        paths[name] = path
    real = _load_input(args.real, "REAL ", args)
    videos = {name: _load_input(path, f"{name}=", args) for name, path in paths.items()}
    rows = compare_videos(real, videos, latent_dim=args.latent_dim)
    if args.format == "json":
        print(json.dumps(rows, indent=2))
    else:
        print(format_table([{**row, "alive": "yes" if row["alive"] else "no"} for row in rows],
                           COMPARISON_COLUMNS), end="")
    if args.output is not None:
        settings = {"real": str(args.real), "videos": {n: str(p) for n, p in paths.items()},
                    "size": args.size, "color": args.color, "max_frames": args.max_frames,
                    "latent_dim": args.latent_dim, "real_frames": len(real)}
        atomic_write_text(args.output / COMPARISON_FILE,
                          json.dumps({"settings": settings, "rows": rows}, indent=2) + "\n")
        if args.format == "table":
            print(f"wrote {args.output / COMPARISON_FILE}")
    return 0


def run_experiment_command(args: argparse.Namespace) -> int:
    from dynamic_vae.experiments import run_experiment
    from dynamic_vae.experiments.runner import COMMON_COLUMNS, format_table

    family = args.family_object
    conditions = family.conditions(args)
    for condition in conditions:
        # Every stage: a field a later stage names is replaced there too.
        condition.config = condition.config.override(
            finetune_epochs=args.finetune_epochs, variety_epochs=args.variety_epochs,
            windows_per_epoch=args.windows_per_epoch,
            mixed_precision=args.mixed_precision)
    rows = run_experiment(family, conditions, args.output, seeds=args.seeds,
                          horizon=args.horizon, verbose=0 if args.quiet else 2,
                          evaluate_options=family.evaluate_options(args))
    keys = {key for key, _, _ in family.columns}
    print()
    print(format_table(rows, family.columns + tuple(c for c in COMMON_COLUMNS
                                                    if c[0] not in keys)))
    print(f"wrote {args.output / 'results.md'} and {args.output / 'results.json'}")
    return 0
