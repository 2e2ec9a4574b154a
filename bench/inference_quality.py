"""Kalman inference on a trained counting run: impute / forecast / denoise vs baselines.

Usage: python bench/inference_quality.py RUN_DIR [--clips 50] [--out bench/results/x.json]
       python bench/inference_quality.py RUN_DIR --rotation COIL.npz --object 1
(the second: a run trained on one COIL-20 object's turntable views; imputation scored by the
nearest true view)
Prints markdown tables and writes JSON (default bench/results/inference_quality.json). The run
directory is only read.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from dynamic_vae.evaluation.inference_quality import (evaluate_counting,  # noqa: E402
                                                      evaluate_rotation, format_rotation_table,
                                                      format_tables)
from dynamic_vae.atomic import atomic_write_text  # noqa: E402
from dynamic_vae.runs import load_run  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("run", type=Path)
    parser.add_argument("--clips", type=int, default=50)
    parser.add_argument("--clip-length", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rotation", type=Path,
                        help="COIL-20 .npz (frames (objects, 72, H, W)): score a turntable run")
    parser.add_argument("--object", type=int, default=1, help="COIL object id (1-based)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    run = load_run(args.run)
    model = run.model
    results = Path(__file__).parent / "results"
    if args.rotation is not None:
        data = np.load(args.rotation, allow_pickle=False)
        ids = list(data["object_ids"])
        if args.object not in ids:
            raise SystemExit(f"--object {args.object}: not in {args.rotation} (ids {ids})")
        result = evaluate_rotation(model, data["frames"][ids.index(args.object)],
                                   num_clips=args.clips, clip_length=args.clip_length,
                                   seed=args.seed)
        result["object"] = args.object
        args.out = args.out or results / "inference_quality_rotation.json"
        print(format_rotation_table(result))
    else:
        result = evaluate_counting(model, run.config, num_clips=args.clips,
                                   clip_length=args.clip_length, seed=args.seed)
        args.out = args.out or results / "inference_quality.json"
        print(format_tables(result))
    result["run"] = str(args.run)
    print(f"\n({result['wall_time_seconds']:.0f} s; JSON in {args.out})")
    atomic_write_text(args.out, json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
