"""`dynamic-vae train | generate | inspect | baseline`: fit a model to a video and sample it."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from dynamic_vae.cli.flags import ConfigFlag, check_config_flags, config_flags
from dynamic_vae.cli.formats import check_output_path, write_output
from dynamic_vae.cli.frame_source import add_frame_source_arguments, load_frames_file
from dynamic_vae.runs import BASELINE_FILE, BASELINE_KIND, CONFIG_FILE, TEST_PAIRS_FILE

START_CHOICES = ("test-pair", "prior")

# `epochs` sets the first stage's length; this sets the fine-tuning stage's (it is a
# `RunConfig.override` field, not a dataclass field).
FINETUNE_EPOCHS_FLAG = ConfigFlag("finetune_epochs", int, help=(
    "epochs of the preset's fine-tuning stage, if it has one (0: no fine-tuning)"))
VARIETY_EPOCHS_FLAG = ConfigFlag("variety_epochs", int, help=(
    "epochs of the preset's variety stage, if it has one (0: no variety stage)"))


def run_config_flags() -> tuple[ConfigFlag, ...]:
    """The flags that override fields of the preset: every model and training field a flag
    can hold, and the lengths of the fine-tuning and variety stages."""
    from dynamic_vae.config import ModelConfig, TrainingConfig

    return (*config_flags(ModelConfig), *config_flags(TrainingConfig), FINETUNE_EPOCHS_FLAG,
            VARIETY_EPOCHS_FLAG)


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    _add_train(subparsers)
    _add_generate(subparsers)
    _add_inspect(subparsers)
    _add_baseline(subparsers)


def _add_train(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train", help="train a model into a run directory",
        description="Train a Dynamic VAE. Start from a preset; any flag below overrides the "
                    "preset's field of the same name. A preset with later stages trains "
                    "each from the weights of the one before: counting-mnist has a "
                    "fine-tuning stage (in RUN/finetune/) and a variety stage (in RUN), "
                    "after the first (in RUN/warm_start/); video has a fine-tuning stage "
                    "(in RUN). A flag sets its field in every stage; --epochs sets the first "
                    "stage's length, --finetune-epochs and --variety-epochs the later "
                    "stages' (0: no such stage).")
    parser.add_argument("--preset", default=None,
                        help="counting-mnist (the default for --cycle), video (the default "
                             "for --frames or --dataset) or paper-v1")
    parser.add_argument("--output", "-o", type=Path, required=True, help="run directory")
    add_frame_source_arguments(parser)
    group = parser.add_argument_group(
        "model and training", "Each overrides the preset's field of the same name.")
    for flag in run_config_flags():
        flag.add_to(group)
    parser.add_argument("--init-from", type=Path, default=None, metavar="RUN",
                        help="start from this finished run's networks, A and B (same "
                             "architecture), e.g. to train more epochs of a stage")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    _add_run_control_flags(parser)
    parser.set_defaults(handler=run_train)


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
    parser.add_argument("--length", type=int, default=200, help="frames to synthesise")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True,
                        help="output file: .npy (uint8 array), .png (grid), .gif or .mp4")
    parser.add_argument("--noise-scale", type=float, default=1.0)
    start = parser.add_mutually_exclusive_group()
    start.add_argument("--start", choices=START_CHOICES, default=None,
                       help="x0: the posterior mean of the run's held-out test pair, on "
                            "the stored starts' cycle for a periodic run (the "
                            "paper's protocol; the default when the run keeps one in "
                            f"{TEST_PAIRS_FILE}) or 'prior', what the served generate "
                            "does: x0 ~ N(0, I), or one of the run's stored start states "
                            "(picked by --seed) when it was trained with --start-states")
    start.add_argument("--from-pair", type=Path,
                       help="start from the posterior mean of this (2, H, W[, C]) .npy "
                            "pair (on the stored starts' cycle for a periodic run)")
    parser.add_argument("--float", action="store_true",
                        help=".npy: float32 frames in [0, 1] instead of uint8")
    parser.add_argument("--mean-frames", action="store_true",
                        help="the decoder's mean frames, without a draw of the model's "
                             "residual texture (models trained with --residual-rank > 0)")
    parser.add_argument("--fps", type=int, default=10)
    parser.add_argument("--scale", type=int, default=1, help="enlarge images by this factor")
    parser.set_defaults(handler=run_generate)


def _add_inspect(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("inspect", help="eigenvalues and periods of A")
    parser.add_argument("run", type=Path, help="run directory")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(handler=run_inspect)


def _add_baseline(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "baseline", help="fit the linear dynamic texture baseline (Doretto et al. 2003)")
    parser.add_argument("--output", "-o", type=Path, required=True,
                        help="run directory (baseline.npz is written there)")
    add_frame_source_arguments(parser)
    parser.add_argument("--cycle", default="1234", help="counting-MNIST digit cycle")
    parser.add_argument("--num-frames", type=int, default=8000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--latent-dim", type=int, default=10)
    parser.add_argument("--noise-dim", type=int, default=None)
    parser.add_argument("--no-clip", action="store_true",
                        help="keep A's singular values above 1 (synthesis may blow up)")
    parser.set_defaults(handler=run_baseline)


def run_train(args: argparse.Namespace) -> int:
    from dynamic_vae.cli.frame_source import (frame_loader_options, frame_shape_of,
                                              load_frame_source)
    from dynamic_vae.config import DEFAULT_PRESETS, get_preset
    from dynamic_vae.training import train
    from dynamic_vae.training.run import frames_preset

    flags = run_config_flags()
    check_config_flags(args, flags)
    overrides = {flag.name: getattr(args, flag.name) for flag in flags}
    frames, frames_source = load_frame_source(args)
    if args.preset:
        preset = args.preset
    elif frames is None:
        preset = DEFAULT_PRESETS["counting"]
    else:
        preset, reason = frames_preset(frames)
        print(f"{reason}: the {preset} preset (--preset names another)")
    config = get_preset(preset)
    if frames is not None:
        overrides["frame_shape"] = frame_shape_of(frames)
    config = config.override(**overrides)
    _, summary = train(config, args.output, frames=frames, frames_source=frames_source,
                       verbose=0 if args.quiet else "auto", restart=args.restart,
                       strategy=args.strategy, init_from=args.init_from,
                       frames_loader=frame_loader_options(args) if args.frames else None)
    if summary["resumed_from_epoch"]:
        print(f"resumed from the backup of epoch {summary['resumed_from_epoch']}")
    if "period_from_frames" in summary:
        period = summary["period_from_frames"]
        print("the frames show no period: trained as a non-periodic process" if period is None
              else f"the frames repeat every {period} frames: trained with period {period} "
                   "(--period-from-frames false turns the estimate off)")
    if "stages" in summary:
        first, *later = summary["stages"]
        steps = [f"trained {first['epochs']} epochs ({first['wall_time_seconds']:.1f} s, "
                 f"{first['run']})"]
        for stage in later:
            what = "fine-tuned" if stage["stage"] == "finetune" else "a variety stage of"
            where = "" if stage is later[-1] else f", {stage['run']}"
            steps.append(f"then {what} {stage['epochs']} epochs "
                         f"({stage['wall_time_seconds']:.1f} s{where})")
        print(f"{', '.join(steps)}: {summary['wall_time_seconds']:.1f} s, "
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
    from dynamic_vae.cli.frame_source import load_single_sequence
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
    if args.length < 1:
        raise ValueError(f"--length must be >= 1, got {args.length}")
    check_output_path(args.out)
    initial_pair, start = generation_start(args.run, args.start, args.from_pair)
    from dynamic_vae.runs import load_run

    run = load_run(args.run, allow_baseline=True)
    if run.is_baseline:
        from dynamic_vae.pixels import from_pixel_range

        sequence, _ = run.model.synthesize(
            args.length, seed=args.seed, noise_scale=args.noise_scale,
            initial_frame=None if initial_pair is None else initial_pair[0])
        if not args.float:
            sequence = from_pixel_range(sequence, (0.0, 1.0))
    else:
        from dynamic_vae.synthesis import synthesize

        model = run.model
        if initial_pair is None and model.start_states is not None:
            start = start.replace("N(0, I)", "a stored start state picked by the seed")
        frames, _ = synthesize(model, args.length, seed=args.seed, initial_pair=initial_pair,
                               noise_scale=args.noise_scale, as_uint8=not args.float,
                               texture=not args.mean_frames)
        sequence = frames[0]
        if args.float:
            from dynamic_vae.pixels import to_unit_range

            sequence = to_unit_range(sequence, model.pixel_range)
    write_output(args, args.out, sequence)
    print(f"wrote {args.length} frames of shape {sequence.shape[1:]} to {args.out} "
          f"(x0: {start})")
    return 0


def generation_start(run_dir: Path, start: str | None, from_pair: Path | None
                     ) -> tuple[np.ndarray | None, str]:
    """The frame pair synthesis starts from (`None`: x0 ~ N(0, I)) and a description of it.

    `start` None picks the run's held-out test pair when it has one, else the prior.
    """
    from dynamic_vae.runs import load_test_pair

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
