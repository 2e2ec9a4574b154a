"""`dynamic-vae export | serving-config | serve`: TF Serving SavedModels, TF Serving's model
config, and an embedded model server."""

from __future__ import annotations

import argparse
from pathlib import Path

from dynamic_vae.cli import quiet


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    _add_export(subparsers)
    _add_serving_config(subparsers)
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
    parser.add_argument("--update-config", action=argparse.BooleanOptionalAction, default=None,
                        help="rewrite BASE_DIR/models.config (TF Serving's model config) to "
                             "list every exported model; default: only when BASE_DIR already "
                             "holds one (see serving-config)")
    parser.set_defaults(handler=run_export)


def run_export(args: argparse.Namespace) -> int:
    from dynamic_vae.export import export_run

    if args.max_frames < 1:
        raise ValueError(f"--max-frames must be >= 1, got {args.max_frames}")
    path = export_run(args.run, args.name, base_dir=args.base_dir, max_frames=args.max_frames,
                      frames_dtype=args.frames_dtype, serving_config=args.update_config)
    print(f"exported {args.run} as {args.name} version {path.name} to {path}")
    from dynamic_vae.export import SERVING_CONFIG_FILE
    from dynamic_vae.export.serving_config import has_serving_config

    if args.update_config or (args.update_config is None and has_serving_config(args.base_dir)):
        print(f"updated {args.base_dir / SERVING_CONFIG_FILE}")
    return 0


def _add_serving_config(subparsers: argparse._SubParsersAction) -> None:
    from dynamic_vae.export.serving_config import (DEFAULT_BASE_PATH_PREFIX,
                                                   DEFAULT_NUM_VERSIONS)

    parser = subparsers.add_parser(
        "serving-config", help="write TF Serving's model config for every exported model",
        description="(Re)write the ModelServerConfig (--model_config_file of "
                    "tensorflow_model_server) listing every model folder of SAVED_MODELS_DIR "
                    "that holds a version, atomically. Once it exists, export keeps it up to "
                    "date. A config not written by this command is never overwritten.")
    parser.add_argument("saved_models", type=Path, metavar="SAVED_MODELS_DIR",
                        help="the folder holding NAME/<version>/ (e.g. saved_models)")
    parser.add_argument("--config", type=Path, default=None,
                        help="the file to write (default SAVED_MODELS_DIR/models.config, "
                             "where serving/docker-compose.yml reads it)")
    parser.add_argument("--base-path-prefix", default=None,
                        help="where the server sees SAVED_MODELS_DIR (default: the existing "
                             f"config's, else {DEFAULT_BASE_PATH_PREFIX}, the container path "
                             "of docker-compose.yml; an absolute path for a local server)")
    parser.add_argument("--num-versions", type=int, default=None,
                        help="newest versions of each model kept loaded (default: the "
                             f"existing config's, else {DEFAULT_NUM_VERSIONS})")
    parser.set_defaults(handler=run_serving_config)


def run_serving_config(args: argparse.Namespace) -> int:
    from dynamic_vae.export import served_model_names, write_serving_config

    if args.num_versions is not None and args.num_versions < 1:
        raise ValueError(f"--num-versions must be >= 1, got {args.num_versions}")
    path = write_serving_config(args.saved_models, args.config,
                                base_path_prefix=args.base_path_prefix,
                                num_versions=args.num_versions)
    names = served_model_names(args.saved_models)
    print(f"wrote {path}: {len(names)} model(s): {', '.join(names)}")
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
