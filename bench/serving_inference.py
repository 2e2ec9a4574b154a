"""The served `forecast` and `impute` signatures on a trained counting run: gRPC latency
(p50 / p99) against the in-process Python API, agreement with it, and whether the forecast and
imputed digits are right (by the project's digit classifier).

Exports RUN into a temporary folder (never into saved_models/), serves it with
`dynamic-vae serve` in a separate process on a free port, observes `--observed` frames of new
counting clips (MNIST images drawn with other seeds than training's) and forecasts `--steps`
frames over gRPC; imputes clips with half their frames missing. Prints a table and writes
bench/results/serving_inference.json. Not a test.
Usage: python bench/serving_inference.py [RUN] [--clips 20] [--observed 10] [--steps 10]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("NO_GCE_CHECK", "true")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serving_latency import percentiles, start_server  # noqa: E402

from dynamic_vae.atomic import atomic_write_text  # noqa: E402
from dynamic_vae.data.counting_mnist import counting_mnist, successor_map  # noqa: E402
from dynamic_vae.evaluation.digit_classifier import (classify_digits,  # noqa: E402
                                                     load_digit_classifier)
from dynamic_vae.export import export_run  # noqa: E402
from dynamic_vae.inference.video import forecast, impute  # noqa: E402
from dynamic_vae.serving import PredictionClient  # noqa: E402
from dynamic_vae.runs import load_run  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "serving_inference.json"


def continuation(last_digit: int, steps: int, cycle: str) -> np.ndarray:
    successor = successor_map(cycle)
    digits, digit = [], last_digit
    for _ in range(steps):
        digit = successor[digit]
        digits.append(digit)
    return np.array(digits)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", nargs="?", type=Path, default=Path("/work/runs/counting-1234"))
    parser.add_argument("--clips", type=int, default=20)
    parser.add_argument("--observed", type=int, default=10)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=50, help="timed calls per protocol")
    args = parser.parse_args()

    run = load_run(args.run)
    model, cycle = run.model, run.config.training.cycle
    classifier, classifier_accuracy = load_digit_classifier()
    clip_length = args.observed + args.steps
    # New digit images (seeds != training's 0) and every phase of the cycle.
    clips = []
    for index in range(args.clips):
        frames, digits = counting_mnist(cycle, num_frames=clip_length + len(cycle),
                                        seed=1000 + index)
        start = index % len(cycle)
        clips.append((frames[start:start + clip_length], digits[start:start + clip_length]))

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        version_dir = export_run(args.run, "counting", base_dir=tmp, max_frames=256)
        export_seconds = time.perf_counter() - start
        server, port = start_server(version_dir.parent)
        try:
            with PredictionClient(f"127.0.0.1:{port}", "counting", timeout=120) as client:
                start = time.perf_counter()
                client.forecast(clips[0][0][:args.observed], args.steps, args.samples, 0)
                first_call = time.perf_counter() - start
                start = time.perf_counter()
                client.impute(clips[0][0], np.arange(clip_length) % 2 == 1)
                first_impute = time.perf_counter() - start
                # The Python API traces its tf.functions on the first call: timed apart.
                start = time.perf_counter()
                forecast(model, clips[0][0][:args.observed], args.steps, args.samples)
                impute(model, clips[0][0], np.arange(clip_length) % 2 == 1)
                first_local = time.perf_counter() - start

                forecast_ok, sample_ok, impute_ok, max_diff = [], [], [], 0
                remote, local, remote_impute, local_impute = [], [], [], []
                rng = np.random.default_rng(0)
                for index in range(max(args.repeats, args.clips)):
                    frames, digits = clips[index % args.clips]
                    observed = frames[:args.observed]
                    start = time.perf_counter()
                    served = client.forecast(observed, args.steps, args.samples, seed=index)
                    remote.append(time.perf_counter() - start)
                    start = time.perf_counter()
                    mean, samples = forecast(model, observed, args.steps, args.samples,
                                             seed=index)
                    local.append(time.perf_counter() - start)
                    max_diff = max(max_diff, int(np.abs(
                        served["mean_frames"].astype(int) - mean).max()), int(np.abs(
                        served["sampled_frames"].astype(int) - samples).max()))

                    missing = rng.permutation(clip_length) < clip_length // 2
                    start = time.perf_counter()
                    imputed = client.impute(frames, missing)["imputed_frames"]
                    remote_impute.append(time.perf_counter() - start)
                    start = time.perf_counter()
                    local_imputed = impute(model, frames, missing)
                    local_impute.append(time.perf_counter() - start)
                    max_diff = max(max_diff, int(np.abs(
                        imputed.astype(int) - local_imputed).max()))
                    if index >= args.clips:
                        continue
                    expected = continuation(int(digits[args.observed - 1]), args.steps, cycle)
                    assert np.array_equal(expected, digits[args.observed:])
                    predicted, _ = classify_digits(classifier, served["mean_frames"])
                    forecast_ok.append(predicted == expected)
                    sampled, _ = classify_digits(
                        classifier, served["sampled_frames"].reshape(-1, 32, 32, 1))
                    sample_ok.append(sampled.reshape(args.samples, -1) == expected)
                    filled, _ = classify_digits(classifier, imputed[missing])
                    impute_ok.append(filled == digits[missing])
        finally:
            server.terminate()
            server.wait(timeout=30)

    forecast_ok = np.array(forecast_ok)  # (clips, steps)
    sample_ok = np.array(sample_ok)      # (clips, samples, steps)
    result = {
        "run": str(args.run), "cycle": cycle, "clips": args.clips, "observed": args.observed,
        "steps": args.steps, "samples": args.samples, "repeats": max(args.repeats, args.clips),
        "export_seconds": export_seconds, "first_forecast_call_ms": 1000 * first_call,
        "first_impute_call_ms": 1000 * first_impute,
        "first_in_process_forecast_and_impute_ms": 1000 * first_local,
        "forecast_grpc": percentiles(remote), "forecast_in_process_api": percentiles(local),
        "impute_grpc": percentiles(remote_impute),
        "impute_in_process_api": percentiles(local_impute),
        "max_abs_uint8_diff_grpc_vs_api": max_diff,
        "classifier_heldout_accuracy": classifier_accuracy,
        "forecast_mean_digit_accuracy": float(forecast_ok.mean()),
        "forecast_mean_digit_accuracy_by_step": forecast_ok.mean(axis=0).tolist(),
        "forecast_sample_digit_accuracy": float(sample_ok.mean()),
        "forecast_sample_digit_accuracy_by_step": sample_ok.mean(axis=(0, 1)).tolist(),
        "impute_50pct_missing_digit_accuracy": float(np.concatenate(impute_ok).mean()),
    }
    print(f"{'call':34s} {'p50 ms':>8s} {'p99 ms':>8s}")
    for key in ("forecast_grpc", "forecast_in_process_api", "impute_grpc",
                "impute_in_process_api"):
        print(f"{key:34s} {result[key]['p50_ms']:8.1f} {result[key]['p99_ms']:8.1f}")
    for key in ("export_seconds", "first_forecast_call_ms", "first_impute_call_ms",
                "first_in_process_forecast_and_impute_ms",
                "max_abs_uint8_diff_grpc_vs_api", "forecast_mean_digit_accuracy",
                "forecast_sample_digit_accuracy", "impute_50pct_missing_digit_accuracy"):
        print(f"{key:34s} {result[key]}")
    print("forecast mean accuracy by step  ",
          " ".join(f"{v:.2f}" for v in result["forecast_mean_digit_accuracy_by_step"]))
    atomic_write_text(RESULTS, json.dumps(result, indent=2))
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
