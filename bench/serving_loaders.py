"""Every signature of an exported version on TF Serving's loading path and on Python's.

TF Serving's C++ loader imports the MetaGraph into a fresh TF1 graph, runs the restore op and fetches
the SignatureDef's tensor names (`dynamic_vae.serving.c_api_model.CApiModel` calls that loader
through TensorFlow's C API; `dynamic_vae.serving.graph_model.GraphModel` does the same in
Python); `tf.saved_model.load` restores through the object graph instead. This runs one
request per signature on all three, plus the embedded server's `Servable`, and prints, per
signature, the largest difference between the paths and whether uint8 frames are identical. Writes
bench/results/serving_loaders.json. Not a test.
Usage: python bench/serving_loaders.py VERSION_DIR   (e.g. saved_models/counting/1)
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from dynamic_vae.export.example_requests import example_requests  # noqa: E402
from dynamic_vae.serving.c_api_model import CApiModel  # noqa: E402
from dynamic_vae.serving.servable import Servable  # noqa: E402
from dynamic_vae.serving.graph_model import GraphModel  # noqa: E402
from results_file import write_results  # noqa: E402


def largest_difference(first: dict[str, np.ndarray], second: dict[str, np.ndarray]) -> float:
    return max((float(np.max(np.abs(first[k].astype(np.float64) - second[k].astype(np.float64)),
                                 initial=0.0)) for k in first), default=0.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("version_dir", type=Path)
    args = parser.parse_args()
    info = json.loads((args.version_dir / "assets.extra" / "dynamic_vae_export.json").read_text())
    requests = example_requests(tuple(info["frame_shape"]), info["latent_dim"],
                                info["frames_dtype"])
    started = time.perf_counter()
    graph_model = GraphModel(args.version_dir)
    graph_seconds = time.perf_counter() - started
    python = tf.saved_model.load(str(args.version_dir)).signatures
    c_api_model = CApiModel(args.version_dir)
    servable = Servable(args.version_dir, int(args.version_dir.name))
    rows = []
    for name in sorted(graph_model.signature_defs):
        inputs = requests[name]
        by_graph = graph_model.run(name, inputs)
        by_python = {k: v.numpy() for k, v in python[name](
            **{k: tf.constant(v) for k, v in inputs.items()}).items()}
        by_server = servable.run(name, inputs)
        by_c_api = c_api_model.run(name, inputs)
        frames = [k for k, v in by_python.items() if v.dtype == np.uint8]
        rows.append({
            "signature": name, "outputs": sorted(by_graph),
            "max_diff_graph_python": largest_difference(by_graph, by_python),
            "max_diff_server_graph": largest_difference(by_server, by_graph),
            "max_diff_c_api_python": largest_difference(by_c_api, by_python),
            "uint8_frames_identical": all(np.array_equal(by_graph[k], by_python[k])
                                          and np.array_equal(by_c_api[k], by_python[k])
                                          for k in frames),
        })
    c_api_model.close()
    print(f"{'signature':<16} {'graph vs python':>18} {'server vs graph':>18} "
          f"{'C API vs python':>18} {'frames identical':>17}")
    for row in rows:
        print(f"{row['signature']:<16} {row['max_diff_graph_python']:>18.2e} "
              f"{row['max_diff_server_graph']:>18.2e} {row['max_diff_c_api_python']:>18.2e} "
              f"{str(row['uint8_frames_identical']):>17}")
    print(f"graph-mode load (restore op + init): {graph_seconds:.2f} s; "
          f"warm-up records replayed by the server: {servable.warmup_requests}")
    out = Path(__file__).resolve().parent / "results" / "serving_loaders.json"
    write_results(out, {
        "version_dir": str(args.version_dir.resolve()), "rows": rows,
        "graph_load_seconds": graph_seconds, "warmup_requests": servable.warmup_requests,
        "tensorflow": tf.__version__})
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
