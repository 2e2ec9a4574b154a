"""Training throughput (frame pairs/s) of the Dynamic VAE on this machine.

Prints a table and writes bench/results/train_throughput.json. Not a test: numbers depend on
the machine. Each case runs in its own process, so its peak resident memory (MiB) is its own. Usage: python bench/train_throughput.py [--steps 60] [--cases 'paper-v1 32x32 gray,...'] [--jit]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from dynamic_vae.config import get_preset  # noqa: E402
from dynamic_vae.data import make_frame_pairs  # noqa: E402
from dynamic_vae.training import build_model  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from isolated import emit, import_baseline_mib, run_child  # noqa: E402
from results_file import write_results  # noqa: E402

CASES = {
    # name: (preset, frame shape, overrides); batches of 64 pairs in every case
    "paper-v1 32x32 gray": ("paper-v1", (32, 32, 1), {}),
    "paper-v1 48x48 gray": ("paper-v1", (48, 48, 1), {}),
    "paper-v1 64x64 RGB": ("paper-v1", (64, 64, 3), {}),
    "counting-mnist 32x32 gray": ("counting-mnist", (32, 32, 1), {}),
    # The preset's second stage: smoothed posterior, windows of 9.
    "counting-mnist fine-tuning": ("counting-mnist", (32, 32, 1), {"stage": "finetune"}),
    "paper-v1 32x32 gray bfloat16": ("paper-v1", (32, 32, 1), {"mixed_precision": "bfloat16"}),
    "paper-v1 64x64 RGB bfloat16": ("paper-v1", (64, 64, 3), {"mixed_precision": "bfloat16"}),
    # Residual networks with the linear path, optimal sigma. Windows of 5 (the preset's are 4):
    # 16 windows are 64 pairs, as in every other case, and a step decodes the same 64
    # rollout frames.
    "video 48x48 gray": ("video", (48, 48, 1), {"window": 5, "mixed_precision": "off"}),
    # The preset's second stage: everything trainable, in the preset's precision (`auto`:
    # bfloat16 where the machine has bfloat16 units), and in float32.
    "video 48x48 gray fine-tuning": ("video", (48, 48, 1), {"window": 5, "stage": "finetune"}),
    "video 48x48 gray fine-tuning float32": ("video", (48, 48, 1), {
        "window": 5, "stage": "finetune", "mixed_precision": "off"}),
    "video 48x48 gray fine-tuning bfloat16": ("video", (48, 48, 1), {
        "window": 5, "stage": "finetune", "mixed_precision": "bfloat16"}),
    # The same with 8 steps per call into the compiled function (fewer host round trips).
    "video 48x48 gray fine-tuning bfloat16 x8": ("video", (48, 48, 1), {
        "window": 5, "stage": "finetune", "mixed_precision": "bfloat16",
        "steps_per_execution": 8}),
    "video 64x64 RGB": ("video", (64, 64, 3), {"window": 5, "mixed_precision": "off"}),
    "video 128x128 RGB": ("video", (128, 128, 3), {"window": 5, "mixed_precision": "off"}),
    "video 64x64 RGB bfloat16": ("video", (64, 64, 3), {"mixed_precision": "bfloat16",
                                                         "window": 5}),
}


class StepTimer(keras.callbacks.Callback):
    """Wall-clock seconds of every call into the training function."""

    def __init__(self) -> None:
        super().__init__()
        self.seconds: list[float] = []
        self._start = 0.0

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        self._start = time.perf_counter()

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.seconds.append(time.perf_counter() - self._start)


def measure(preset: str, frame_shape: tuple[int, int, int], overrides: dict, steps: int,
            jit: bool) -> dict:
    overrides = dict(overrides)
    stage = overrides.pop("stage", "first")
    config = get_preset(preset).override(frame_shape=frame_shape, jit_compile=jit,
                                         filter_size=5, **overrides)
    config = config.finetune_stage() if stage == "finetune" else config.first_stage()
    window = config.training.window
    # A window of L frames holds L - 1 pairs: keep 64 pairs per step.
    batch = max(64 // (window - 1), 1)
    pairs_per_step = batch * (window - 1)
    rng = np.random.default_rng(0)
    # Throughput does not depend on pixel values; random frames of the right shape suffice.
    # The warm-up traces and compiles: at least one whole call of steps_per_execution steps.
    warm_up = max(5, config.training.steps_per_execution)
    frames = rng.integers(0, 255, size=(64 * (steps + warm_up) + 16, *frame_shape),
                          dtype=np.uint8)
    pairs = make_frame_pairs(frames, pixel_range=config.model.pixel_range)
    keras.utils.set_random_seed(0)
    model = build_model(config)
    dataset = pairs.dataset(batch, seed=0, drop_remainder=True, window=window)
    model.fit(dataset.take(warm_up), epochs=1, verbose=0)
    timer = StepTimer()
    start = time.perf_counter()
    model.fit(dataset.take(steps), epochs=1, verbose=0, callbacks=[timer])
    seconds = time.perf_counter() - start
    # A single stall of the machine (a run of 40 steps sometimes takes 10 s longer than
    # usual) moves the whole run's rate; the median step's is what the code sustains. The
    # batch callbacks bracket one call into the training function: steps_per_execution steps.
    step_seconds = float(np.median(timer.seconds)) / config.training.steps_per_execution
    return {"pairs_per_second": steps * pairs_per_step / seconds, "seconds": seconds,
            "median_step_pairs_per_second": pairs_per_step / step_seconds,
            "steps": steps, "window": window, "windows_per_batch": batch,
            "jit_compile": jit, "steps_per_execution": config.training.steps_per_execution,
            "mixed_precision": config.model.mixed_precision, "encoder_mode": config.model.encoder_mode,
            "posterior": config.model.posterior,
            "prediction_weight": config.model.prediction_weight}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--jit", action="store_true", help="XLA-compile (off by default)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" /
                                              "train_throughput.json"))
    args = parser.parse_args()
    if args.child:
        preset, shape, overrides = CASES[args.child]
        emit(measure(preset, shape, overrides, args.steps, jit=args.jit))
        return
    results = {}
    baseline = import_baseline_mib()
    print(f"peak memory of importing TensorFlow alone: {baseline:.0f} MiB")
    print(f"{'case':40} {'pairs/s':>9} {'median step':>12} {'s':>7} {'peak MiB':>9}")
    for name in args.cases.split(","):
        extra = ["--steps", str(args.steps)] + (["--jit"] if args.jit else [])
        results[name] = run_child(__file__, name, extra)
        print(f"{name:40} {results[name]['pairs_per_second']:9.0f} "
              f"{results[name]['median_step_pairs_per_second']:12.0f} "
              f"{results[name]['seconds']:7.2f} {results[name]['peak_rss_mib']:9.0f}",
              flush=True)
    out = write_results(args.out, {"tensorflow": tf.__version__, "pairs_per_step": 64,
                                   "import_baseline_mib": baseline, "results": results})
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
