"""The `dynamic-vae` command line: train, generate, inspect."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from dynamic_vae.runs import (BASELINE_FILE, BASELINE_KIND, CONFIG_FILE,  # noqa: E402
                              TEST_PAIRS_FILE, load_test_pair)

START_CHOICES = ("test-pair", "prior")


def _boolean(text: str) -> bool:
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


# Flags that override a preset field, with their types.
MODEL_FLAGS = {
    "latent_dim": int, "filter_size": int, "base_channels": int, "sigma": float,
    "stationarity_weight": float, "kl_weight": float, "output_activation": str,
    "num_samples": int, "encoder_mode": str, "prediction_weight": float,
    "prediction_noise": _boolean, "prediction_shrink": float, "posterior": str, "mixed_precision": str,
}
TRAINING_FLAGS = {
    "learning_rate": float, "batch_size": int, "epochs": int, "seed": int, "cycle": str,
    "num_frames": int, "steps_per_execution": int, "image_every": int,
    "kl_warmup_epochs": int, "window": int, "jit_compile": _boolean,
    "finetune_epochs": int,
}


def _add_train(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train", help="train a model into a run directory",
        description="Train a Dynamic VAE. Start from a preset; any flag below overrides the "
                    "preset's field of the same name. A preset with a fine-tuning stage "
                    "(counting-mnist) trains it after the first, from its weights, into the "
                    "run directory (the first stage goes to RUN/warm_start/); a flag sets "
                    "its field in both stages, --epochs sets the first stage's length and "
                    "--finetune-epochs the second's (0: no fine-tuning).")
    parser.add_argument("--preset", default="counting-mnist",
                        help="counting-mnist (default) or paper-v1")
    parser.add_argument("--output", "-o", type=Path, required=True, help="run directory")
    from dynamic_vae.cli_frames import add_frame_source_arguments
    add_frame_source_arguments(parser)
    for name, kind in {**MODEL_FLAGS, **TRAINING_FLAGS}.items():
        parser.add_argument("--" + name.replace("_", "-"), type=kind, default=None)
    parser.add_argument("--init-from", type=Path, default=None, metavar="RUN",
                        help="start from this finished run's networks, A and B (same "
                             "architecture), e.g. to fine-tune with --posterior smoothed")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    _add_run_control_flags(parser)


def _add_run_control_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "resuming and distribution",
        "A killed run resumes from its last completed epoch when the same command is run "
        "again (the run directory's backup/ must be of the same configuration).")
    group.add_argument("--restart", action="store_true",
                       help="discard the run directory's backup and train from scratch")
    group.add_argument("--strategy", choices=("default", "mirrored", "multiworker"),
                       default="default",
                       help="tf.distribute strategy: one device, all local GPUs, or the "
                            "workers of TF_CONFIG (batch sizes are global)")


def _add_generate(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("generate", help="synthesise a new sequence (eq. 35)")
    parser.add_argument("run", type=Path, help="run directory")
    parser.add_argument("--frames", type=int, default=200, help="frames to synthesise")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True,
                        help="output file: .npy (uint8 array), .png (grid), .gif or .mp4")
    parser.add_argument("--noise-scale", type=float, default=1.0)
    start = parser.add_mutually_exclusive_group()
    start.add_argument("--start", choices=START_CHOICES, default=None,
                       help="x0: the posterior mean of the run's held-out test pair (the "
                            "paper's protocol; the default when the run keeps one in "
                            f"{TEST_PAIRS_FILE}) or x0 ~ N(0, I), the stationary prior")
    start.add_argument("--from-pair", type=Path,
                       help="start from the posterior mean of this (2, H, W[, C]) .npy pair")
    parser.add_argument("--float", action="store_true",
                        help=".npy: float32 frames in [0, 1] instead of uint8")
    parser.add_argument("--fps", type=int, default=10)
    parser.add_argument("--scale", type=int, default=1, help="enlarge images by this factor")


def _add_inspect(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("inspect", help="eigenvalues and periods of A")
    parser.add_argument("run", type=Path, help="run directory")
    parser.add_argument("--json", action="store_true", help="print JSON")


def _add_baseline(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "baseline", help="fit the linear dynamic texture baseline (Doretto et al. 2003)")
    parser.add_argument("--output", "-o", type=Path, required=True,
                        help="run directory (baseline.npz is written there)")
    from dynamic_vae.cli_frames import add_frame_source_arguments
    add_frame_source_arguments(parser)
    parser.add_argument("--cycle", default="1234", help="counting-MNIST digit cycle")
    parser.add_argument("--num-frames", type=int, default=8000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--latent-dim", type=int, default=10)
    parser.add_argument("--noise-dim", type=int, default=None)
    parser.add_argument("--no-clip", action="store_true",
                        help="keep A's singular values above 1 (synthesis may blow up)")


_COMMAND_MODULES: list[str] = [
    "dynamic_vae.cli_evaluation",
    "dynamic_vae.cli_inference",
    "dynamic_vae.cli_datasets",
    "dynamic_vae.cli_serving",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dynamic-vae",
        description="Linear models of non-linear visual processes (Dynamic VAE).")
    subparsers = parser.add_subparsers(dest="command", required=True)
    _add_train(subparsers)
    _add_generate(subparsers)
    _add_inspect(subparsers)
    _add_baseline(subparsers)
    # Feature modules own their subcommands: each has add_parsers(subparsers) and sets
    # `handler` on its parsers, so adding a command never touches the dispatch below.
    for module_name in _COMMAND_MODULES:
        importlib.import_module(module_name).add_parsers(subparsers)
    return parser


def load_frames_file(path: Path, flag: str = "--frames"):
    """Frames from a `.npy` file or the single array (or `frames` array) of a `.npz` file.

    Errors name `flag` and the file; nothing is unpickled.
    """
    import numpy as np

    if not path.is_file():
        raise FileNotFoundError(f"{flag} {path}: no such file")
    if path.suffix not in (".npy", ".npz"):
        raise ValueError(f"{flag} {path}: expected a .npy or .npz file, got "
                         f"'{path.suffix or '(no ending)'}'")
    import zipfile
    import zlib

    # A damaged .npz fails as a zip archive, at opening or only when a member is read.
    unreadable = (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error)
    try:
        data = np.load(path, allow_pickle=False)
        if path.suffix == ".npz":
            keys = list(data.keys())
            key = "frames" if "frames" in keys else (keys[0] if len(keys) == 1 else None)
            if key is None:
                raise LookupError(keys)
            data = data[key]
    except LookupError as keys:
        raise ValueError(f"{flag} {path}: holds arrays {keys.args[0]}; expected one array "
                         "or one named 'frames'") from None
    except unreadable as error:
        raise ValueError(f"{flag} {path}: cannot read it as a numpy array ({error})") from None
    return data


def run_train(args: argparse.Namespace) -> int:
    from dynamic_vae.cli_frames import frame_shape_of, load_frame_source
    from dynamic_vae.config import get_preset
    from dynamic_vae.training import train

    config = get_preset(args.preset)
    overrides = {name: getattr(args, name) for name in {**MODEL_FLAGS, **TRAINING_FLAGS}}
    frames, frames_source = load_frame_source(args)
    if frames is not None:
        overrides["frame_shape"] = frame_shape_of(frames)
    config = config.override(**overrides)
    _, summary = train(config, args.output, frames=frames, frames_source=frames_source,
                       verbose=0 if args.quiet else "auto", restart=args.restart,
                       strategy=args.strategy, init_from=args.init_from)
    if summary["resumed_from_epoch"]:
        print(f"resumed from the backup of epoch {summary['resumed_from_epoch']}")
    if "stages" in summary:
        first, second = summary["stages"]
        print(f"trained {first['epochs']} epochs ({first['wall_time_seconds']:.1f} s, "
              f"{first['run']}), then fine-tuned {second['epochs']} epochs "
              f"({second['wall_time_seconds']:.1f} s): {summary['wall_time_seconds']:.1f} s, "
              f"{summary['pairs_per_second']:.0f} pairs/s; spectral radius of A "
              f"{summary['spectrum']['spectral_radius']:.3f}; run directory {args.output}")
        return 0
    print(f"trained {summary['epochs']} epochs in {summary['wall_time_seconds']:.1f} s "
          f"({summary['pairs_per_second']:.0f} pairs/s); spectral radius of A "
          f"{summary['spectrum']['spectral_radius']:.3f}; run directory {args.output}")
    return 0


def run_baseline(args: argparse.Namespace) -> int:
    import json

    from dynamic_vae.baseline import LinearDynamicTexture
    from dynamic_vae.cli_frames import load_single_sequence
    from dynamic_vae.data.counting_mnist import counting_mnist
    from dynamic_vae.data.frame_pairs import validate_frames
    from dynamic_vae.pixels import to_pixel_range
    from dynamic_vae.runs import save_test_pairs
    from dynamic_vae.atomic import atomic_write_text

    frames, frames_source = load_single_sequence(args)
    if frames is not None:
        source = {"source": frames_source}
    else:
        frames, _ = counting_mnist(args.cycle, args.num_frames, seed=args.seed)
        source = {"source": "counting-mnist", "cycle": args.cycle,
                  "num_frames": args.num_frames}
    model = LinearDynamicTexture(latent_dim=args.latent_dim, noise_dim=args.noise_dim,
                                 clip_spectrum=not args.no_clip, seed=args.seed)
    # The last pair is held out, as for the Dynamic VAE.
    model.fit(frames[:-1])
    args.output.mkdir(parents=True, exist_ok=True)
    model.save(args.output / BASELINE_FILE)
    save_test_pairs(args.output, to_pixel_range(validate_frames(frames[-2:]), (0.0, 1.0))[None])
    atomic_write_text(args.output / CONFIG_FILE, json.dumps(
        {"model": BASELINE_KIND, "latent_dim": args.latent_dim,
         "noise_dim": model.noise_dim, "clip_spectrum": not args.no_clip,
         "training": {"cycle": args.cycle, "seed": args.seed}, "data": source}, indent=2))
    print(f"fitted the linear baseline (n = {args.latent_dim}) to {len(frames) - 1} frames; "
          f"wrote {args.output / BASELINE_FILE}")
    return 0


def run_generate(args: argparse.Namespace) -> int:
    import numpy as np

    from dynamic_vae.outputs import write_frames

    if args.frames < 1:
        raise ValueError(f"--frames must be >= 1, got {args.frames}")
    suffix = args.out.suffix.lower()
    if suffix not in (".npy", ".png", ".gif", ".mp4"):
        raise ValueError(f"--out {args.out}: unsupported format '{suffix or '(none)'}'; "
                         "expected .npy, .png, .gif or .mp4")
    initial_pair, start = generation_start(args.run, args.start, args.from_pair)
    from dynamic_vae.runs import load_run

    run = load_run(args.run, allow_baseline=True)
    if run.is_baseline:
        from dynamic_vae.pixels import from_pixel_range

        sequence, _ = run.model.synthesize(
            args.frames, seed=args.seed, noise_scale=args.noise_scale,
            initial_frame=None if initial_pair is None else initial_pair[0])
        if not args.float:
            sequence = from_pixel_range(sequence, (0.0, 1.0))
    else:
        from dynamic_vae.synthesis import synthesize

        model = run.model
        frames, _ = synthesize(model, args.frames, seed=args.seed, initial_pair=initial_pair,
                               noise_scale=args.noise_scale, as_uint8=not args.float)
        sequence = frames[0]
        if args.float:
            from dynamic_vae.pixels import to_unit_range

            sequence = to_unit_range(sequence, model.pixel_range)
    write_frames(args.out, sequence, fps=args.fps, scale=args.scale)
    print(f"wrote {args.frames} frames of shape {sequence.shape[1:]} to {args.out} "
          f"(x0: {start})")
    return 0


def generation_start(run_dir: Path, start: str | None, from_pair: Path | None
                     ) -> tuple["np.ndarray | None", str]:
    """The frame pair synthesis starts from (`None`: x0 ~ N(0, I)) and a description of it.

    `start` None picks the run's held-out test pair when it has one, else the prior.
    """
    if from_pair is not None:
        pair = load_frames_file(from_pair, flag="--from-pair")
        if pair.ndim not in (3, 4) or len(pair) != 2:
            raise ValueError(f"--from-pair {from_pair}: expected a frame pair of shape "
                             f"(2, H, W[, C]), got {pair.shape}")
        return pair, f"posterior mean of {from_pair}"
    if start == "prior":
        return None, "N(0, I)"
    pair = load_test_pair(run_dir)
    if pair is not None:
        return pair, "posterior mean of the held-out test pair"
    if start == "test-pair":
        raise ValueError(f"--start test-pair: {run_dir / TEST_PAIRS_FILE} is missing (runs "
                         "trained before dynamic-vae kept their test pair); use --start "
                         "prior or --from-pair")
    return None, f"N(0, I); the run has no {TEST_PAIRS_FILE}"


def run_inspect(args: argparse.Namespace) -> int:
    from dynamic_vae.runs import load_run
    from dynamic_vae.spectrum import format_spectrum, spectrum_report

    model = load_run(args.run).model
    report = spectrum_report(*model.transition())
    print(json.dumps(report, indent=2) if args.json else format_spectrum(report))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    commands = {"train": run_train, "generate": run_generate, "inspect": run_inspect,
                "baseline": run_baseline}
    handler = getattr(args, "handler", None) or commands[args.command]
    try:
        return handler(args)
    except (ValueError, FileNotFoundError, FloatingPointError) as error:
        print(f"dynamic-vae {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
