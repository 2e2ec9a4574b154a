"""Does a synthesised digit that the classifier reads wrong fool the read-back's judge?

The read-back term (`dynamic_vae.models.driven_prior`) asks the encoder to read a frame
decoded from a new hand at its own phase. If the encoder read the frames a digit classifier
calls wrong at their right phase anyway, the term could not see them: either they carry
marks that only the encoder reads (then pixel noise or a blur would move its reading) or they
are hands the decoder draws badly that the encoder still places by their phase.

For each seed, a counting run synthesises frames as `generate` does (its stored starts). A
frame's intended digit is its phase's: the cycle's digit at the offset most frames agree on.
The encoder's reading of a frame is the phase `j` whose state `A^j x_t` (its persistent part,
`Q_p`) lies nearest the encoder's posterior mean of that frame, `j = 0` being its own. The
bench counts the frames the classifier reads as another digit (and what it reads them as),
and how many of them the encoder reads at their own phase: on the clean frames, after
Gaussian pixel noise, and after a Gaussian blur.

Usage: python bench/readback_judge.py RUN_DIR [--length 1000] [--seeds 0,1,2]
           [--noise 0.1,0.3] [--blur 1.0,2.0] [--out PATH]
Prints a table and writes RUN_DIR/readback_judge.json (and --out when given).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from dynamic_vae.evaluation.digit_classifier import (classify_digits,  # noqa: E402
                                                     load_digit_classifier)
from dynamic_vae.evaluation.digit_order import cycle_phases  # noqa: E402
from dynamic_vae.models.driven_prior import innovation_projections  # noqa: E402
from dynamic_vae.pixels import from_pixel_range  # noqa: E402
from dynamic_vae.runs import load_run  # noqa: E402
from dynamic_vae.synthesis import synthesize  # noqa: E402
from results_file import write_results  # noqa: E402


def encoder_shifts(model, frames: np.ndarray, states: np.ndarray, transition: np.ndarray,
                   persistent: np.ndarray) -> np.ndarray:
    """`(T,)` the phase shift j in [0, P) whose `Q_p A^j x_t` is nearest the encoder's
    reading `Q_p mu(frame_t)`: 0 when the encoder reads the frame at its own phase."""
    period = model.model_config.period
    candidates = np.stack([states @ np.linalg.matrix_power(transition, j).T @ persistent
                           for j in range(period)], axis=1)
    read = np.asarray(model.encoder(tf.convert_to_tensor(frames, tf.float32),
                                    training=False)[0]) @ persistent
    return np.argmin(((candidates - read[:, None]) ** 2).sum(-1), axis=1)


def blurred(frames: np.ndarray, width: float) -> np.ndarray:
    """`frames` (T, H, W, C) convolved with a Gaussian of standard deviation `width` pixels
    in H and W (edges extended)."""
    radius = int(np.ceil(3 * width))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / width) ** 2)
    taps /= taps.sum()
    padded = np.pad(frames, ((0, 0), (radius, radius), (radius, radius), (0, 0)), mode="edge")
    rows = sum(t * padded[:, i:i + frames.shape[1]] for i, t in enumerate(taps))
    return sum(t * rows[:, :, i:i + frames.shape[2]] for i, t in enumerate(taps))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("run", type=Path)
    parser.add_argument("--length", type=int, default=1000)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--noise", default="0.1,0.3", help="pixel noise standard deviations")
    parser.add_argument("--blur", default="1.0,2.0", help="blur widths in pixels")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    run = load_run(args.run)
    model, cycle = run.model, run.config.training.cycle
    if not cycle or model.model_config.period < 2:
        raise SystemExit(f"{args.run}: expected a counting run with a locked period, got "
                         f"cycle {cycle!r} and period {model.model_config.period}")
    classifier, _ = load_digit_classifier()
    transition, noise = (np.asarray(m, np.float64) for m in model.transition())
    persistent = innovation_projections(tf.constant(noise, tf.float32))[0].numpy()
    rng = np.random.default_rng(0)
    conditions = (["clean"] + [f"noise {s}" for s in args.noise.split(",") if s]
                  + [f"blur {w}" for w in args.blur.split(",") if w])
    counts = {"frames": 0, "classifier_wrong": 0}
    confusions: dict[str, int] = {}
    read_right = {c: {"classifier_right": 0, "classifier_wrong": 0} for c in conditions}
    for seed in (int(s) for s in args.seeds.split(",")):
        frames, states = synthesize(model, args.length, seed=seed, as_uint8=False)
        frames, states = frames[0], np.asarray(states, np.float64)[0]
        digits, _ = classify_digits(classifier, from_pixel_range(frames, model.pixel_range))
        intended = np.array([cycle[p] for p in cycle_phases(digits, cycle)])
        read = np.array([str(d) for d in digits])
        wrong = read != intended
        for pair in zip(intended[wrong], read[wrong]):
            confusions["->".join(pair)] = confusions.get("->".join(pair), 0) + 1
        counts["frames"] += len(frames)
        counts["classifier_wrong"] += int(wrong.sum())
        for condition in conditions:
            kind, _, value = condition.partition(" ")
            seen = (frames if kind == "clean" else
                    frames + float(value) * rng.standard_normal(frames.shape) if kind == "noise"
                    else blurred(frames, float(value)))
            own = encoder_shifts(model, seen, states, transition, persistent) == 0
            read_right[condition]["classifier_right"] += int(own[~wrong].sum())
            read_right[condition]["classifier_wrong"] += int(own[wrong].sum())
    right_total = counts["frames"] - counts["classifier_wrong"]
    print(f"{counts['frames']} frames, {counts['classifier_wrong']} read by the classifier as "
          f"another digit than their phase's")
    common = sorted(confusions.items(), key=lambda item: -item[1])
    print("phase's digit -> classifier's reading: " + ", ".join(f"{k} {v}" for k, v in common))
    print(f"{'encoder input':>14}  read at own phase: classifier-right frames / wrong frames")
    for condition, tally in read_right.items():
        print(f"{condition:>14}  {tally['classifier_right'] / max(right_total, 1):.3f} / "
              f"{tally['classifier_wrong'] / max(counts['classifier_wrong'], 1):.3f} "
              f"({tally['classifier_wrong']} of {counts['classifier_wrong']})")
    result = {"run": str(args.run), "cycle": cycle, "length": args.length,
              "seeds": args.seeds, **counts, "confusions": dict(common),
              "read_at_own_phase": read_right}
    write_results(args.run / "readback_judge.json", result)
    if args.out:
        write_results(args.out, result)


if __name__ == "__main__":
    main()
