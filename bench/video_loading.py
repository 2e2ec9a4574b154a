"""How fast the loaders turn the shared DynTex clips into training frames.

Usage: python bench/video_loading.py [--data ../shared/data] [--out bench/results/video_loading.json]
Prints a table (clip, conversion, frames, seconds, frames/s) and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from dynamic_vae.data import load_video  # noqa: E402
from dynamic_vae.atomic import atomic_write_text  # noqa: E402

CONVERSIONS = {
    "full RGB": {},
    "gray 48x48": {"color": "gray", "size": 48},
    "RGB 64x64": {"color": "rgb", "size": 64},
}


def main() -> None:
    root = Path(__file__).resolve().parents[2] / "shared" / "data"
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=root)
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).resolve().parent / "results" / "video_loading.json")
    args = parser.parse_args()
    load_video(args.data / "dyntex" / "seawave.avi", max_frames=2)  # warm-up (imports, TF)
    rows = []
    print(f"{'clip':<20} {'conversion':<12} {'frames':>6} {'seconds':>8} {'frames/s':>9}")
    for clip in sorted((args.data / "dyntex").glob("*.avi")):
        for label, options in CONVERSIONS.items():
            start = time.perf_counter()
            frames = load_video(clip, **options)
            seconds = time.perf_counter() - start
            rows.append({"clip": clip.name, "conversion": label, "frames": len(frames),
                         "shape": list(frames.shape[1:]), "seconds": seconds,
                         "frames_per_second": len(frames) / seconds})
            print(f"{clip.name:<20} {label:<12} {len(frames):6d} {seconds:8.2f} "
                  f"{len(frames) / seconds:9.0f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out, json.dumps({"rows": rows}, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
