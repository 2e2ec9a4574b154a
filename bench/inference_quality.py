"""Kalman inference on a trained counting run: impute / forecast / denoise vs baselines.

Usage: python bench/inference_quality.py RUN_DIR [--clips 50] [--out bench/results/x.json]
Prints markdown tables and writes JSON (default bench/results/inference_quality.json). The run
directory is only read.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from dynamic_vae.evaluation.inference_quality import (evaluate_counting,  # noqa: E402
                                                      format_tables)
from dynamic_vae.outputs import atomic_write_text  # noqa: E402
from dynamic_vae.training import load_run  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("run", type=Path)
    parser.add_argument("--clips", type=int, default=50)
    parser.add_argument("--clip-length", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).parent / "results" / "inference_quality.json")
    args = parser.parse_args()
    model, config = load_run(args.run)
    result = evaluate_counting(model, config, num_clips=args.clips,
                               clip_length=args.clip_length, seed=args.seed)
    result["run"] = str(args.run)
    print(format_tables(result))
    print(f"\n({result['wall_time_seconds']:.0f} s; JSON in {args.out})")
    atomic_write_text(args.out, json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
