"""`dynamic-vae prepare`: build one of the project's TFDS data sets offline."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "prepare", help="build a TFDS data set (counting_mnist, dynamic_textures, "
                        "object_rotation) offline from a manual directory",
        description="Prepares NAME/CONFIG in --data-dir from the files in --manual-dir; "
                    "nothing is downloaded. Train on it with 'train --dataset NAME/CONFIG "
                    "--data-dir DIR'.")
    parser.add_argument("dataset", metavar="NAME/CONFIG",
                        help="e.g. dynamic_textures/gray48, object_rotation/coil20, "
                             "counting_mnist/cycle_1234")
    parser.add_argument("--data-dir", type=Path, required=True, help="TFDS data directory")
    parser.add_argument("--manual-dir", type=Path, default=None,
                        help="the user's files (videos, frame folders, .npz arrays); "
                             "optional for counting_mnist and object_rotation/smallnorb48")
    parser.set_defaults(handler=run_prepare)


def run_prepare(args: argparse.Namespace) -> int:
    import tensorflow_datasets as tfds

    import dynamic_vae.datasets  # noqa: F401  (registers the builders)
    from dynamic_vae.data.tfds_offline import disable_gcs

    disable_gcs()
    name, _, config = args.dataset.partition("/")
    if name not in dynamic_vae.datasets.BUILDER_NAMES:
        raise ValueError(f"dataset: expected one of {dynamic_vae.datasets.BUILDER_NAMES} "
                         f"(with /CONFIG), got {args.dataset!r}")
    configs = [c.name for c in tfds.builder_cls(name).BUILDER_CONFIGS]
    if config not in configs:
        raise ValueError(f"dataset {args.dataset!r}: {name} has configs {configs}")
    if args.manual_dir is not None and not args.manual_dir.is_dir():
        raise FileNotFoundError(f"--manual-dir {args.manual_dir}: no such folder")
    builder = tfds.builder(args.dataset, data_dir=str(args.data_dir), try_gcs=False)
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
        manual_dir=None if args.manual_dir is None else str(args.manual_dir)))
    counts = ", ".join(f"{split} {info.num_examples}"
                       for split, info in sorted(builder.info.splits.items()))
    print(f"prepared {args.dataset} in {args.data_dir} (examples: {counts})")
    return 0
