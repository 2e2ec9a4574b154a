"""`dynamic-vae forecast | impute | denoise`: Kalman inference in a model's latent space."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from dynamic_vae.cli.formats import OUTPUT_HELP, check_output_path, write_output, write_samples


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", type=Path, help="run directory of a trained Dynamic VAE")
    parser.add_argument("--frames", type=Path, required=True,
                        help=".npy/.npz clip (T, H, W[, C]), uint8 or float in [0, 1]")
    parser.add_argument("--out", type=Path, required=True, help=OUTPUT_HELP)
    parser.add_argument("--float", action="store_true",
                        help=".npy: float32 frames in [0, 1] instead of uint8")
    parser.add_argument("--fps", type=int, default=10)
    parser.add_argument("--scale", type=int, default=1, help="enlarge images by this factor")


def add_forecast_arguments(parser: argparse.ArgumentParser) -> None:
    """The forecast flags shared by `dynamic-vae forecast` and `dynamic-vae client forecast`."""
    parser.add_argument("--steps", type=int, required=True, help="frames to forecast")
    parser.add_argument("--samples", type=int, default=0,
                        help="also draw this many sampled futures (needs --samples-out)")
    parser.add_argument("--samples-out", type=Path,
                        help="file for the sampled futures: .npy (S, K, H, W, C), or .png/.gif/"
                             ".mp4 (one row / one after the other)")
    parser.add_argument("--seed", type=int, default=0)


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "forecast", help="forecast the frames after a clip (Kalman filter in latent space)")
    _add_common(parser)
    add_forecast_arguments(parser)
    parser.add_argument("--missing", help="frames of the clip to ignore: indices such as "
                                          "'3,5,8-10' or a .npy bool mask")
    parser.set_defaults(handler=run_forecast)

    parser = subparsers.add_parser(
        "impute", help="fill missing frames with smoothed estimates (Kalman smoother)")
    _add_common(parser)
    parser.add_argument("--missing", help="missing frames: indices such as '3,5,8-10' or a "
                                          ".npy bool mask (true = missing); default: the "
                                          "blank (all-zero) frames of the clip")
    parser.add_argument("--smooth-all", action="store_true",
                        help="replace every frame by its smoothed estimate, not only the "
                             "missing ones")
    parser.set_defaults(handler=run_impute)

    parser = subparsers.add_parser(
        "denoise", help="replace every frame of a noisy clip by its smoothed estimate")
    _add_common(parser)
    parser.set_defaults(handler=run_denoise)


def load_clip(args: argparse.Namespace) -> np.ndarray:
    """The clip of --frames, after the cheap checks of --out and --scale.

    Raises:
        FileNotFoundError, ValueError: naming the flag at fault.
    """
    from dynamic_vae.cli.frame_source import load_frames_file
    from dynamic_vae.data.frame_pairs import validate_frames

    check_output_path(args.out)
    if args.scale < 1:
        raise ValueError(f"--scale must be >= 1, got {args.scale}")
    return validate_frames(load_frames_file(args.frames), name=f"--frames {args.frames}")


def _load_model(args: argparse.Namespace, frames):
    """The run's model, after the cheap checks of the arguments (loading it takes seconds)."""
    from dynamic_vae.runs import load_run

    model = load_run(args.run).model
    if frames.shape[1:] != tuple(model.frame_shape):
        raise ValueError(f"--frames {args.frames}: the model in {args.run} works on frames of "
                         f"shape {tuple(model.frame_shape)}, got {frames.shape[1:]}")
    return model


def _missing(args: argparse.Namespace, frames):
    """The --missing argument as a bool mask, or None (blank frames)."""
    from dynamic_vae.cli.frame_source import load_frames_file
    from dynamic_vae.inference.masks import missing_mask, parse_indices

    if args.missing is None:
        return None
    flag = f"--missing {args.missing}"
    if args.missing.endswith((".npy", ".npz")):
        mask = load_frames_file(Path(args.missing), flag="--missing")
        if mask.dtype != bool:
            raise ValueError(f"{flag}: expected a bool mask (true = missing), got dtype "
                             f"{mask.dtype}")
        return missing_mask(len(frames), mask, name=flag)
    return missing_mask(len(frames), np.array(parse_indices(args.missing, flag), np.int64),
                        name=flag)


def frames_to_impute(args: argparse.Namespace, frames):
    """The frames to fill in: --missing, or else the clip's blank (all-zero) frames."""
    from dynamic_vae.inference.masks import missing_mask

    missing = _missing(args, frames)
    if missing is None:
        missing = missing_mask(len(frames), None, frames=frames,
                               name=f"--frames {args.frames} (blank frames)")
        if not missing.any():
            raise ValueError(f"--frames {args.frames}: no frame is blank (all zero) and no "
                             "--missing was given: nothing to impute")
    return missing


def check_forecast_flags(args: argparse.Namespace) -> None:
    """--steps, --samples and --samples-out, checked before anything is loaded."""
    if args.steps < 1:
        raise ValueError(f"--steps must be >= 1, got {args.steps}")
    if args.samples < 0:
        raise ValueError(f"--samples must be >= 0, got {args.samples}")
    if args.samples and args.samples_out is None:
        raise ValueError("--samples needs --samples-out (where to write the sampled futures)")
    if args.samples_out is not None:
        check_output_path(args.samples_out, "--samples-out")


def run_forecast(args: argparse.Namespace) -> int:
    from dynamic_vae.inference.video import forecast

    check_forecast_flags(args)
    frames = load_clip(args)
    missing = _missing(args, frames)
    model = _load_model(args, frames)
    mean, samples = forecast(model, frames, args.steps, num_samples=args.samples,
                             seed=args.seed, missing=() if missing is None else missing,
                             as_uint8=not args.float)
    write_output(args, args.out, mean)
    if args.samples:
        write_samples(args, samples)
    print(f"forecast {args.steps} frames after {len(frames)}: mean to {args.out}"
          + (f", {args.samples} samples to {args.samples_out}" if args.samples else ""))
    return 0


def run_impute(args: argparse.Namespace) -> int:
    from dynamic_vae.inference.video import impute

    frames = load_clip(args)
    missing = frames_to_impute(args, frames)
    model = _load_model(args, frames)
    imputed = impute(model, frames, missing, keep_observed=not args.smooth_all,
                     as_uint8=not args.float)
    write_output(args, args.out, imputed)
    print(f"imputed {int(missing.sum())} of {len(frames)} frames; wrote {args.out}")
    return 0


def run_denoise(args: argparse.Namespace) -> int:
    from dynamic_vae.inference.video import denoise

    frames = load_clip(args)
    model = _load_model(args, frames)
    write_output(args, args.out, denoise(model, frames, as_uint8=not args.float))
    print(f"denoised {len(frames)} frames; wrote {args.out}")
    return 0
