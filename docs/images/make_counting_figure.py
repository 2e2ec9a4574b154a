"""Makes docs/images/counting.png: real training frames above a synthesised sequence.

The top row is the start of the counting-MNIST sequence the run was trained on (rebuilt from
the cycle, length and seed that the run's config.json records); the bottom row is a new
sequence synthesised by the run's model (eq. 35) with `dynamic_vae.synthesis.synthesize`.

Usage (from the repository root, after `make demo`):

    python docs/images/make_counting_figure.py runs/demo [--frames 16] [--seed 0]
        [--start prior|test-pair] [--out docs/images/counting.png]

`--start prior` (the default) starts as `synthesize(model, T, seed=0)` and the served
`generate` do: from one of the model's stored start states picked by the seed, or from
x_0 ~ N(0, I) for a model without them; `--start test-pair` starts from the run's held-out
pair, as `dynamic-vae generate` does.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from PIL import Image, ImageDraw, ImageFont  # noqa: E402

SCALE = 2          # each 32x32 frame drawn at 64x64
GAP = 4            # pixels between frames
LABEL_WIDTH = 150  # room for the row labels on the left
BACKGROUND = 255


def training_frames(run, count: int) -> tuple[np.ndarray, str]:
    """The first `count` frames of the run's counting sequence, and its cycle."""
    from dynamic_vae.data import counting_mnist

    if not run.trained_on_counting_mnist:
        raise SystemExit(f"{run.directory}: not a counting-MNIST run (data source "
                         f"{run.data_source!r})")
    training = run.config.training
    frames, _ = counting_mnist(training.cycle, num_frames=training.num_frames,
                               seed=training.seed)
    return frames[:count], training.cycle


def synthesised_frames(run, count: int, seed: int, start: str) -> np.ndarray:
    from dynamic_vae.synthesis import synthesize

    model = run.model
    pair = run.test_pair if start == "test-pair" else None
    if start == "test-pair" and pair is None:
        raise SystemExit(f"{run.directory}: keeps no held-out test pair; use --start prior")
    frames, _ = synthesize(model, count, seed=seed, initial_pair=pair)
    return frames[0]


def strip(frames: np.ndarray) -> Image.Image:
    """A row of gray frames (T, H, W, 1) uint8, enlarged, with gaps between them."""
    count, height, width = frames.shape[:3]
    tile_h, tile_w = height * SCALE, width * SCALE
    row = Image.new("L", (count * tile_w + (count - 1) * GAP, tile_h), BACKGROUND)
    for i, frame in enumerate(frames[..., 0]):
        tile = Image.fromarray(frame).resize((tile_w, tile_h), Image.NEAREST)
        row.paste(tile, (i * (tile_w + GAP), 0))
    return row


def compose(rows: list[tuple[str, np.ndarray]], title: str) -> Image.Image:
    font = ImageFont.load_default()
    strips = [(label, strip(frames)) for label, frames in rows]
    width = LABEL_WIDTH + max(s.width for _, s in strips) + GAP
    title_h, row_gap = 22, 10
    height = title_h + sum(s.height for _, s in strips) + row_gap * len(strips)
    figure = Image.new("L", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(figure)
    draw.text((GAP, 4), title, fill=0, font=font)
    y = title_h
    for label, row in strips:
        for i, line in enumerate(label.split("\n")):
            draw.text((GAP, y + row.height // 2 - 12 + 14 * i), line, fill=0, font=font)
        figure.paste(row, (LABEL_WIDTH, y))
        y += row.height + row_gap
    return figure


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a finished counting-MNIST run directory")
    parser.add_argument("--frames", type=int, default=16, help="frames per row")
    parser.add_argument("--seed", type=int, default=0, help="synthesis seed")
    parser.add_argument("--start", choices=("prior", "test-pair"), default="prior")
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).resolve().parent / "counting.png")
    args = parser.parse_args()

    from dynamic_vae.runs import load_run

    run = load_run(args.run)
    real, cycle = training_frames(run, args.frames)
    synthetic = synthesised_frames(run, args.frames, args.seed, args.start)
    if args.start == "test-pair":
        start = "x_0 from the held-out pair"
    elif getattr(run.model, "start_states", None) is not None:
        start = "x_0 a stored start state"
    else:
        start = "x_0 ~ N(0, I)"
    figure = compose(
        [("real training\nframes", real),
         (f"synthesised\n(seed {args.seed})", synthetic)],
        title=f"Counting MNIST, cycle {cycle}: real frames (top) and a new sequence "
              f"synthesised by the learnt linear model (bottom; {start})")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    figure.save(args.out, optimize=True)
    print(f"wrote {args.out} ({args.out.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
