"""Synthesis throughput (frames/s) for 1000-frame rollouts, and the tf.data pair pipeline's
throughput alone (windows/s and pairs/s), on this machine.

Prints a table and writes bench/results/synthesis_throughput.json. Not a test. Each case runs
in its own process, so its peak resident memory (MiB) is its own.
Usage: python bench/synthesis_throughput.py [--length 1000]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from dynamic_vae.config import get_preset  # noqa: E402
from dynamic_vae.data import make_frame_pairs  # noqa: E402
from dynamic_vae.models import DynamicVAE  # noqa: E402
from dynamic_vae.synthesis import synthesize  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from isolated import emit, import_baseline_mib, run_child  # noqa: E402
from results_file import write_results  # noqa: E402

SHAPES = {f"{h}x{w}x{c}": (h, w, c) for h, w, c in [(32, 32, 1), (48, 48, 1), (64, 64, 3)]}
PIPELINES = {"window2": (2, 64), "window5": (5, 16)}


def synthesis_rate(frame_shape: tuple[int, int, int], frames: int, repeats: int = 3) -> float:
    config = get_preset("counting-mnist").override(frame_shape=frame_shape)
    # Speed does not depend on the weights' values: an untrained model of the preset's size.
    model = DynamicVAE.from_model_config(config.model, seed=0)
    synthesize(model, frames, seed=0)  # trace
    best = float("inf")
    for seed in range(repeats):
        start = time.perf_counter()
        synthesize(model, frames, seed=seed)
        best = min(best, time.perf_counter() - start)
    return frames / best


def pipeline_rate(window: int, batch: int, steps: int = 300) -> float:
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, size=(8000, 32, 32, 1), dtype=np.uint8)
    dataset = make_frame_pairs(frames).dataset(batch, seed=0, repeat=True, window=window)
    iterator = iter(dataset)
    for _ in range(20):
        next(iterator)
    start = time.perf_counter()
    for _ in range(steps):
        next(iterator)
    return steps * batch * (window - 1) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--length", type=int, default=1000)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" /
                                              "synthesis_throughput.json"))
    args = parser.parse_args()
    if args.child:
        if args.child in SHAPES:
            emit({"rate": synthesis_rate(SHAPES[args.child], args.length)})
        else:
            emit({"rate": pipeline_rate(*PIPELINES[args.child])})
        return
    results, peaks = {}, {}
    baseline = import_baseline_mib()
    print(f"peak memory of importing TensorFlow alone: {baseline:.0f} MiB")
    print(f"{'case':40} {'rate':>10} {'peak MiB':>9}")
    cases = [(f"synthesis {key} frames/s", key) for key in SHAPES]
    cases += [(f"pipeline window {PIPELINES[key][0]} pairs/s", key) for key in PIPELINES]
    for name, key in cases:
        result = run_child(__file__, key, ["--length", str(args.length)])
        results[name], peaks[name] = result["rate"], result["peak_rss_mib"]
        print(f"{name:40} {results[name]:10.0f} {peaks[name]:9.0f}", flush=True)
    out = write_results(args.out, {"frames": args.length, "import_baseline_mib": baseline,
                                   "results": results, "peak_rss_mib": peaks})
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
