"""`dynamic-vae client generate | forecast | impute`: call a served model over gRPC.

Only the official TF Serving stubs are used, so these work against `tensorflow_model_server`
as well as `dynamic-vae serve`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from dynamic_vae.cli.formats import (OUTPUT_HELP, as_uint8, check_output_path, write_output,
                                     write_samples)
from dynamic_vae.cli.inference import add_forecast_arguments, load_clip


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--target", default="localhost:8500", help="gRPC host:port")
    parser.add_argument("--model", required=True, help="model name")
    parser.add_argument("--version", type=int, help="pin a version (default: newest)")
    parser.add_argument("--frames", type=Path, required=True,
                        help=".npy/.npz clip (T, H, W[, C]), uint8 or float in [0, 1]")
    parser.add_argument("--out", type=Path, required=True, help=OUTPUT_HELP)
    parser.add_argument("--fps", type=int, default=10)
    parser.add_argument("--scale", type=int, default=1, help="enlarge images by this factor")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds")


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "client", help="call a TF Serving (or 'dynamic-vae serve') server over gRPC")
    actions = parser.add_subparsers(dest="action", required=True)
    generate = actions.add_parser("generate", help="generate a sequence and write it")
    generate.add_argument("--target", default="localhost:8500", help="gRPC host:port")
    generate.add_argument("--model", required=True, help="model name")
    generate.add_argument("--version", type=int, help="pin a version (default: newest)")
    generate.add_argument("--length", type=int, default=64, help="frames to generate")
    generate.add_argument("--seed", type=int, default=0)
    generate.add_argument("--out", type=Path, required=True, help=OUTPUT_HELP)
    generate.add_argument("--fps", type=int, default=10)
    generate.add_argument("--scale", type=int, default=1, help="enlarge images by this factor")
    generate.add_argument("--timeout", type=float, default=60.0, help="seconds")
    generate.set_defaults(handler=run_client_generate)
    _add_forecast(actions)
    _add_impute(actions)


def run_client_generate(args: argparse.Namespace) -> int:
    import time

    import grpc

    from dynamic_vae.serving import PredictionClient

    check_output_path(args.out)
    with PredictionClient(args.target, args.model, version=args.version,
                          timeout=args.timeout) as client:
        start = time.perf_counter()
        try:
            frames, _ = client.generate(args.length, args.seed)
        except grpc.RpcError as error:
            raise ValueError(f"{args.target}: {error.code().name}: {error.details()}") from None
        latency = time.perf_counter() - start
    write_output(args, args.out, frames)
    print(f"wrote {len(frames)} frames of shape {frames.shape[1:]} from {args.model} at "
          f"{args.target} to {args.out} ({1000 * latency:.1f} ms)")
    return 0


def _add_forecast(actions: argparse._SubParsersAction) -> None:
    parser = actions.add_parser("forecast", help="forecast the frames after a clip")
    _add_common(parser)
    add_forecast_arguments(parser)
    parser.set_defaults(handler=run_client_forecast)


def _add_impute(actions: argparse._SubParsersAction) -> None:
    parser = actions.add_parser("impute", help="fill the missing frames of a clip")
    _add_common(parser)
    parser.add_argument("--missing", help="missing frames: indices such as '3,5,8-10' or a "
                                          ".npy bool mask (true = missing); default: the "
                                          "blank (all-zero) frames of the clip")
    parser.add_argument("--smooth-all", action="store_true",
                        help="write every frame's smoothed estimate, not only the missing ones")
    parser.set_defaults(handler=run_client_impute)


def _as_served_frames(client, signature: str, frames, flag: str):
    """The clip in the dtype and frame shape the served signature takes (uint8 or float32)."""
    import numpy as np
    import tensorflow as tf

    from dynamic_vae.pixels import from_pixel_range, to_pixel_range

    spec = client.signature_defs().signature_def[signature].inputs["frames"]
    dtype = tf.as_dtype(spec.dtype)
    shape = tuple(d.size for d in spec.tensor_shape.dim[1:])
    if frames.shape[1:] != shape:
        raise ValueError(f"{flag}: the served model works on frames of shape {shape}, got "
                         f"{frames.shape[1:]}")
    unit = to_pixel_range(frames, (0.0, 1.0))
    return from_pixel_range(unit, (0.0, 1.0)) if dtype == tf.uint8 else unit.astype(np.float32)


def _call(args: argparse.Namespace, method: str, **inputs):
    """`(client method's outputs, latency in s)`; gRPC errors become ValueError (exit 2)."""
    import time

    import grpc

    from dynamic_vae.serving import PredictionClient

    with PredictionClient(args.target, args.model, version=args.version,
                          timeout=args.timeout) as client:
        try:
            frames = _as_served_frames(client, method, inputs.pop("frames"),
                                       f"--frames {args.frames}")
            start = time.perf_counter()
            outputs = getattr(client, method)(frames, **inputs)
        except grpc.RpcError as error:
            raise ValueError(f"{args.target}: {error.code().name}: {error.details()}") from None
        return outputs, time.perf_counter() - start


def run_client_forecast(args: argparse.Namespace) -> int:
    from dynamic_vae.cli.inference import check_forecast_flags

    check_forecast_flags(args)
    frames = load_clip(args)
    outputs, latency = _call(args, "forecast", frames=frames, num_steps=args.steps,
                             num_samples=args.samples, seed=args.seed)
    write_output(args, args.out, as_uint8(outputs["mean_frames"]))
    if args.samples:
        write_samples(args, as_uint8(outputs["sampled_frames"]))
    print(f"forecast {args.steps} frames after {len(frames)} from {args.model} at "
          f"{args.target}: mean to {args.out}"
          + (f", {args.samples} samples to {args.samples_out}" if args.samples else "")
          + f" ({1000 * latency:.1f} ms)")
    return 0


def run_client_impute(args: argparse.Namespace) -> int:
    from dynamic_vae.cli.inference import frames_to_impute

    frames = load_clip(args)
    missing = frames_to_impute(args, frames)
    outputs, latency = _call(args, "impute", frames=frames, missing=missing)
    key = "smoothed_frames" if args.smooth_all else "imputed_frames"
    write_output(args, args.out, as_uint8(outputs[key]))
    print(f"imputed {int(missing.sum())} of {len(frames)} frames with {args.model} at "
          f"{args.target}; wrote {args.out} ({1000 * latency:.1f} ms)")
    return 0
