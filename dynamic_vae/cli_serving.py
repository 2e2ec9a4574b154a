"""`dynamic-vae export`, `serve` and `client`: SavedModel export and TF Serving's APIs."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    _add_export(subparsers)


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
