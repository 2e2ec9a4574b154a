"""How far apart a turntable's views are: what pose-advance accuracy asks of a decoder.

Pose advance reads each synthesised frame's pose as its nearest true view, and a step counts
when that view is within one view of the right one. A view two or more views away that looks
almost like the right one leaves a decoder little room: a frame decoded with an error of that
size is read as the wrong pose. Per object of a COIL-20-style `.npz` (views in pose order
round the circle), this prints, as mean squared errors per pixel in [0, 1]:

- `adjacent`: between each view and the next;
- `nearest wrong`: between each view and the most alike view at least two views away (the
  nearest pose the judge counts as wrong), averaged over views;
- `wrong < 2 x adjacent`: the fraction of views whose nearest wrong view is closer than twice
  the adjacent distance;
- `offset`: the median number of views between a view and its nearest wrong view (36 of 72:
  the object looks alike from the opposite side).

Usage: python bench/view_ambiguity.py COIL.npz [--out bench/results/view_ambiguity.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from dynamic_vae.experiments.rotation_experiment import load_coil_objects


def view_ambiguity(views: np.ndarray) -> dict[str, float]:
    """The statistics above for one object's views `(V, H, W[, C])` in [0, 1]."""
    count = len(views)
    flat = views.reshape(count, -1).astype(np.float64)
    distances = ((flat[:, None] - flat[None]) ** 2).mean(-1)
    index = np.arange(count)
    offsets = np.abs(index[:, None] - index[None])
    offsets = np.minimum(offsets, count - offsets)   # views round a circle
    adjacent = distances[index, (index + 1) % count]
    wrong = np.where(offsets >= 2, distances, np.inf)
    nearest_wrong = wrong.min(axis=1)
    return {"adjacent": float(adjacent.mean()),
            "nearest_wrong": float(nearest_wrong.mean()),
            "wrong_below_twice_adjacent": float(np.mean(nearest_wrong < 2 * adjacent)),
            "offset": float(np.median(offsets[index, wrong.argmin(axis=1)]))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("coil", help="COIL-20-style .npz with 'frames' (objects, views, H, W)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" /
                                              "view_ambiguity.json"))
    args = parser.parse_args()
    frames, ids = load_coil_objects(args.coil)
    scale = 255.0 if frames.dtype == np.uint8 else 1.0
    rows = {int(i): view_ambiguity(f / scale) for i, f in zip(ids, frames)}
    print(f"{'object':>6} {'adjacent':>9} {'nearest wrong':>14} {'wrong < 2 x adjacent':>21} "
          f"{'offset':>7}")
    for object_id, row in rows.items():
        print(f"{object_id:6d} {row['adjacent']:9.4f} {row['nearest_wrong']:14.4f} "
              f"{row['wrong_below_twice_adjacent']:21.2f} {row['offset']:7.0f}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"coil": str(args.coil), "objects": rows}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
