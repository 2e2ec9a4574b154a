"""Latency of generate(64 frames) over gRPC on loopback against the embedded server (p50 /
p99, throughput with 1 and 8 concurrent clients), and the in-process time of the same call
on the loaded SavedModel. Targets on 2 cores, 32x32 frames: p50 <= 20 ms, p99 <= 50 ms,
gRPC overhead (p50 gRPC / p50 in-process) <= 1.5x.

Exports RUN into a temporary folder, serves it with `dynamic-vae serve` in a separate process
(as deployed; client threads in the server's process would share its GIL) on a free port,
prints a table and writes bench/results/serving_latency.json. Not a test.
Usage: python bench/serving_latency.py [RUN] [--length 64] [--requests 200]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("NO_GCE_CHECK", "true")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from dynamic_vae.export import export_run  # noqa: E402
from dynamic_vae.serving import PredictionClient  # noqa: E402
from results_file import write_results  # noqa: E402


def start_server(model_dir: Path) -> tuple[subprocess.Popen, int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "dynamic_vae.cli", "serve", "--model-base-path", str(model_dir),
         "--port", str(port), "--rest-port", "0", "--poll-seconds", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    for line in process.stdout:
        if line.startswith("serving model"):
            return process, port
    raise RuntimeError(f"the server did not start (exit code {process.wait()})")


def percentiles(seconds: list[float]) -> dict[str, float]:
    ms = 1000 * np.asarray(seconds)
    return {"p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99)),
            "mean_ms": float(ms.mean())}


def interleaved(version_dir: Path, target: str, model: str, frames: int,
                requests: int) -> tuple[dict[str, float], dict[str, float]]:
    """In-process and 1-client gRPC latencies, call by call in turn, so both see the same
    machine load (the cores are shared with whatever else runs)."""
    generate = tf.saved_model.load(str(version_dir)).signatures["generate"]
    local, remote = [], []
    with PredictionClient(target, model) as client:
        for seed in range(10):  # trace, connect, warm up
            generate(num_frames=tf.constant(frames), seed=tf.constant(seed, tf.int64))
            client.generate(frames, seed)
        for seed in range(requests):
            start = time.perf_counter()
            generate(num_frames=tf.constant(frames),
                     seed=tf.constant(seed, tf.int64))["frames"].numpy()
            local.append(time.perf_counter() - start)
            start = time.perf_counter()
            client.generate(frames, seed)
            remote.append(time.perf_counter() - start)
    return percentiles(local), {**percentiles(remote),
                                "requests_per_second": len(remote) / sum(remote)}


def over_grpc(target: str, model: str, frames: int, requests: int,
              clients: int) -> dict[str, float]:
    times: list[float] = []
    errors: list[Exception] = []

    def work(index: int) -> None:
        with PredictionClient(target, model) as client:
            client.generate(frames, seed=index)  # connect and warm up
            barrier.wait()
            for i in range(requests // clients):
                start = time.perf_counter()
                try:
                    client.generate(frames, seed=index * requests + i)
                except Exception as error:  # noqa: BLE001 - counted in the table
                    errors.append(error)
                times.append(time.perf_counter() - start)

    barrier = threading.Barrier(clients + 1)
    threads = [threading.Thread(target=work, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    return {**percentiles(times), "requests_per_second": len(times) / wall,
            "errors": len(errors)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", nargs="?", default="/work/runs/counting-1234")
    parser.add_argument("--length", type=int, default=64)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" /
                                              "serving_latency.json"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        version_dir = export_run(args.run, "bench", base_dir=tmp, max_frames=args.length)
        results = {"run": str(args.run), "frames": args.length, "requests": args.requests,
                   "load_average_1min": os.getloadavg()[0]}
        server, port = start_server(version_dir.parent)
        try:
            target = f"127.0.0.1:{port}"
            results["in_process"], results["grpc_1_clients"] = interleaved(
                version_dir, target, "bench", args.length, args.requests)
            results["grpc_8_clients"] = over_grpc(target, "bench", args.length,
                                                  args.requests, 8)
        finally:
            server.terminate()
            server.wait()
    results["grpc_overhead_p50"] = (results["grpc_1_clients"]["p50_ms"]
                                    / results["in_process"]["p50_ms"])
    print(f"generate({args.length} frames), {args.requests} requests per case, "
          f"{os.cpu_count()} cores, load average {results['load_average_1min']:.1f} at start")
    print(f"{'case':22} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>8} {'errors':>7}")
    for case in ("in_process", "grpc_1_clients", "grpc_8_clients"):
        row = results[case]
        rate = row.get("requests_per_second", 1000 / row["mean_ms"])
        print(f"{case:22} {row['p50_ms']:8.1f} {row['p99_ms']:8.1f} {rate:8.1f} "
              f"{row.get('errors', 0):7d}")
    print(f"gRPC overhead (p50, 1 client / in-process): {results['grpc_overhead_p50']:.2f}x")
    out = write_results(args.out, results)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
