"""`dynamic-vae export | serve`: TF Serving SavedModels and an embedded model server."""

from __future__ import annotations

import argparse
from pathlib import Path

from dynamic_vae.cli import quiet


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    _add_export(subparsers)
    _add_serve(subparsers)


def _add_export(subparsers: argparse._SubParsersAction) -> None:
    from dynamic_vae.export import DEFAULT_MAX_FRAMES

    parser = subparsers.add_parser(
        "export", help="export a run as a TF Serving SavedModel version",
        description="Write the model of a run directory to BASE_DIR/NAME/<next version>/ "
                    "(atomically: a polling server never sees a partial version).")
    parser.add_argument("run", type=Path, help="run directory")
    parser.add_argument("--name", required=True, help="model name (folder under --base-dir)")
    parser.add_argument("--base-dir", type=Path, default=Path("saved_models"))
    parser.add_argument("--max-frames", type=int, default=DEFAULT_MAX_FRAMES,
                        help="largest num_frames a request may ask for")
    parser.add_argument("--frames-dtype", choices=("uint8", "float32"), default="uint8",
                        help="frames in and out: uint8 0..255 (default) or float32 in [0, 1]")
    parser.set_defaults(handler=run_export)


def run_export(args: argparse.Namespace) -> int:
    from dynamic_vae.export import export_run

    if args.max_frames < 1:
        raise ValueError(f"--max-frames must be >= 1, got {args.max_frames}")
    path = export_run(args.run, args.name, base_dir=args.base_dir, max_frames=args.max_frames,
                      frames_dtype=args.frames_dtype)
    print(f"exported {args.run} as {args.name} version {path.name} to {path}")
    return 0


def _add_serve(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve", help="serve exported versions over TF Serving's gRPC and REST APIs",
        description="An embedded server speaking TF Serving's PredictionService / "
                    "ModelService (gRPC) and REST API for one model folder: serves the newest "
                    "version, picks up new versions as they appear, and keeps serving after "
                    "bad requests.")
    parser.add_argument("--model-base-path", type=Path, required=True,
                        help="the model folder holding integer versions (saved_models/NAME)")
    parser.add_argument("--model-name", help="name requests use (default: the folder name)")
    parser.add_argument("--port", type=int, default=8500, help="gRPC port")
    parser.add_argument("--rest-port", type=int, default=8501, help="REST port (0: none)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to bind (default local only; 0.0.0.0 for all)")
    parser.add_argument("--num-versions", type=int, default=1,
                        help="newest versions kept loaded, for requests pinning a version "
                             "(0: all)")
    parser.add_argument("--poll-seconds", type=float, default=1.0,
                        help="how often to look for new versions (0: never)")
    parser.add_argument("--max-request-bytes", type=int, default=16 * 1024 * 1024)
    parser.add_argument("--max-frames", type=int, default=None,
                        help="cap num_frames (and forecast's num_steps) below the "
                             "export's --max-frames")
    parser.add_argument("--max-batch", type=int, default=1024,
                        help="largest batch of frame pairs (encode) or latents (decode)")
    parser.set_defaults(handler=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    import logging

    from dynamic_vae.serving import ModelServer

    if not 0 <= args.port < 65536 or not 0 <= args.rest_port < 65536:
        raise ValueError(f"--port/--rest-port must lie in [0, 65535], got {args.port} and "
                         f"{args.rest_port}")
    for flag in ("max_request_bytes", "max_frames", "max_batch"):
        value = getattr(args, flag)
        if value is not None and value < 1:
            raise ValueError(f"--{flag.replace('_', '-')} must be >= 1, got {value}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if not (getattr(args, "verbose", False) or quiet.verbose_requested()):
        # The server's own INFO lines, not TensorFlow's (restoring variables, deprecations).
        quiet.quiet_tensorflow_logging()
    server = ModelServer(args.model_base_path, name=args.model_name, port=args.port,
                         rest_port=args.rest_port or None, host=args.host,
                         num_versions=args.num_versions or None,
                         poll_seconds=args.poll_seconds,
                         max_request_bytes=args.max_request_bytes,
                         max_frames=args.max_frames, max_batch=args.max_batch).start()
    print(f"serving model {server.name!r} versions {server.store.versions()} on "
          f"{args.host}:{server.grpc_port} (gRPC)"
          + (f" and {args.host}:{server.rest_port} (REST)" if server.rest_port else ""),
          flush=True)
    server.wait()
    return 0
