"""How well a trained counting run counts: transition accuracy and legibility of synthesised
sequences, judged by the project's digit classifier.

Each seed synthesises from both starts of eq. (35): x0 from the posterior mean of the run's
held-out test pair (the paper's protocol and `dynamic-vae generate`'s default) and no pair, as
the served `generate` starts: one of the run's stored start states picked by the seed, or
x0 ~ N(0, I) for a run without them (the stationary prior, which also visits states near the
centre of the cycle plane that no encoded frame occupies). `--training-pairs K` adds K starts from
training pairs picked at random (seeded), one per seed in turn, to show that the test pair's
figure is no luck of one pair. `--served` also exports the run to a temporary directory and
reads each seed's frames from the SavedModel's `generate` signature, as a TF Serving client
receives them. Beside the order, the variety of the handwriting: the diversity ratio and
the class-conditional Frechet distance of the classifier's features
(`dynamic_vae.evaluation.diversity.diversity_metrics`) of the frames from the served-style
start (and of the exported signature's, with `--served`), against fresh real digits of the
cycle. The same two figures for the decoder's reconstructions of fresh real frames (each
pair's posterior mean, decoded) give the variety the decoder reaches at all: synthesis
decodes states of the same model, so its figures are bounded by these; the reconstructions
of the run's own training frames beside them tell overfitting from a bound on what the
states carry. `--cycle` judges a
run trained on saved counting frames (`train --frames`), whose config names no cycle.

Usage: python bench/counting_quality.py RUN_DIR [--length 200] [--seeds 0,1,2,3,4]
           [--training-pairs K] [--served] [--cycle 1234]
Prints a table and writes RUN_DIR/counting_quality.json (and bench/results/ when --out is given).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from dynamic_vae.evaluation.run_evaluation import load_run_frames  # noqa: E402
from dynamic_vae.evaluation.digit_classifier import (classify_digits,  # noqa: E402
                                                     load_digit_classifier,
                                                     transition_accuracy)
from dynamic_vae.atomic import atomic_write_text  # noqa: E402
from dynamic_vae.spectrum import (cycle_ceiling, cycle_eigenvalue,  # noqa: E402
                                  spectrum_report)
from dynamic_vae.synthesis import synthesize  # noqa: E402
from dynamic_vae.pixels import to_unit_range  # noqa: E402
from dynamic_vae.runs import load_run  # noqa: E402


def served_sequences(model, length: int, seeds: list[int]):
    """Yields `(seed, frames (length, H, W, C) uint8)` from the model's exported `generate`
    signature, read as a TF Serving client reads it."""
    import tempfile

    import tensorflow as tf

    from dynamic_vae.export import export_model

    with tempfile.TemporaryDirectory(prefix="counting-quality-") as directory:
        served = tf.saved_model.load(str(export_model(model, Path(directory) / "run",
                                                      max_frames=length)))
        for seed in seeds:
            outputs = served.signatures["generate"](num_frames=tf.constant(length, tf.int32),
                                                    seed=tf.constant(seed, tf.int64))
            yield seed, tf.make_ndarray(tf.make_tensor_proto(outputs["frames"]))


def reconstructed_frames(model, real: np.ndarray, count: int) -> np.ndarray:
    """`(count, H, W, C)` uint8: the first `count + 1` frames of `real` (floats in [0, 1])
    encoded pair by pair and decoded from each pair's posterior mean of its second frame."""
    from dynamic_vae.evaluation.prediction import context_pairs, dynamic_vae_predictor

    pairs = context_pairs(real[:count + 1], np.arange(1, count + 1))
    # The prediction at k = 0 is the decoded posterior mean of each pair's second frame.
    decoded = dynamic_vae_predictor(model, texture=False)(pairs, [0])[0]
    return (decoded * 255.0).round().astype(np.uint8)


def handwriting_variety(classifier, sequences: dict[str, list[np.ndarray]], cycle: str,
                        training_seed: int) -> dict[str, dict]:
    """`diversity_metrics` of each start's frames (all seeds together) against the real
    digits `evaluate` measures a counting run's variety against."""
    from dynamic_vae.data.counting_mnist import parse_cycle
    from dynamic_vae.evaluation.diversity import diversity_metrics
    from dynamic_vae.evaluation.digit_classifier import digit_features
    from dynamic_vae.evaluation.run_evaluation import real_digit_features

    real_features, real_classes, _ = real_digit_features(classifier, cycle, training_seed)
    variety = {}
    for start, frames in sequences.items():
        features, probabilities = digit_features(classifier, np.concatenate(frames))
        variety[start] = diversity_metrics(features, probabilities.argmax(axis=-1),
                                           real_features, real_classes, parse_cycle(cycle),
                                           seed=0)
        variety[start].pop("per_class", None)
    return variety


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("run", type=Path)
    parser.add_argument("--length", type=int, default=200)
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--training-pairs", type=int, default=0)
    parser.add_argument("--served", action="store_true",
                        help="also judge the exported generate signature's frames")
    parser.add_argument("--cycle", default=None,
                        help="the cycle the frames count (default: the run's own)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    run = load_run(args.run)
    model, cycle = run.model, args.cycle or run.config.training.cycle
    classifier, classifier_accuracy = load_digit_classifier()
    test_pair = run.test_pair
    starts = {"prior": None} if test_pair is None else {"test_pair": test_pair, "prior": None}
    seeds = [int(s) for s in args.seeds.split(",")]
    if args.training_pairs > 0:
        training_frames = load_run_frames(run)
        # The last pair is the test pair: pick among the training pairs before it.
        picks = np.random.default_rng(0).choice(len(training_frames) - 2,
                                                args.training_pairs, replace=False)
        starts.update({f"pair_{t}": training_frames[t:t + 2]
                       for t in sorted(int(t) for t in picks)})
    rows = []
    sequences: dict[str, list[np.ndarray]] = {}
    print(f"digit classifier held-out accuracy: {classifier_accuracy:.3f}")
    print(f"{'x0':>9} {'seed':>4} {'noise':>5} {'transition acc':>14} {'legible':>8}  "
          "first digits")
    for index, (start, pair) in enumerate(starts.items()):
        for noise_scale in (1.0, 0.0):
            if start.startswith("pair_"):
                # Each training pair once, noisy, with the seeds in turn.
                if not noise_scale:
                    continue
                chosen = [seeds[index % len(seeds)]]
            else:
                # Without noise a test-pair start is one sequence whatever the seed.
                chosen = seeds if pair is None or noise_scale else seeds[:1]
            for seed in chosen:
                frames, _ = synthesize(model, args.length, seed=seed, initial_pair=pair,
                                       noise_scale=noise_scale)
                if start == "prior" and noise_scale:
                    sequences.setdefault("prior", []).append(frames[0])
                digits, confidence = classify_digits(classifier, frames[0])
                row = {"start": start, "seed": seed, "noise_scale": noise_scale,
                       "transition_accuracy": transition_accuracy(digits, cycle),
                       "legible_fraction": float(np.mean(confidence > 0.9)),
                       "digits": "".join(map(str, digits))}
                rows.append(row)
                print(f"{start:>9} {seed:4d} {noise_scale:5.1f} "
                      f"{row['transition_accuracy']:14.3f} {row['legible_fraction']:8.3f}  "
                      f"{row['digits'][:40]}")

    for seed, frames in (served_sequences(model, args.length, seeds) if args.served else []):
        sequences.setdefault("served", []).append(frames)
        digits, confidence = classify_digits(classifier, frames)
        row = {"start": "served", "seed": seed, "noise_scale": 1.0,
               "transition_accuracy": transition_accuracy(digits, cycle),
               "legible_fraction": float(np.mean(confidence > 0.9)),
               "digits": "".join(map(str, digits))}
        rows.append(row)
        print(f"{'served':>9} {seed:4d} {1.0:5.1f} {row['transition_accuracy']:14.3f} "
              f"{row['legible_fraction']:8.3f}  {row['digits'][:40]}")

    def min_of(start: str, key: str) -> float | None:
        values = [r[key] for r in rows if r["start"].startswith(start)
                  and r["noise_scale"] == 1.0]
        return float(np.min(values)) if values else None

    def mean_of(start: str, key: str) -> float | None:
        values = [r[key] for r in rows if r["start"].startswith(start)
                  and r["noise_scale"] == 1.0]
        return float(np.mean(values)) if values else None

    # Another seed than the training, held-out and real-feature sequences'.
    from dynamic_vae.data.counting_mnist import counting_mnist

    count = min(args.length * len(seeds), 2000)
    fresh, _ = counting_mnist(cycle, count + 1, seed=run.config.training.seed + 3)
    sequences["reconstructed"] = [reconstructed_frames(model, fresh.astype(np.float32) / 255.0,
                                                       count)]
    # The same for the run's own training frames: a gap between the two is overfitting.
    sequences["reconstructed_training"] = [reconstructed_frames(
        model, to_unit_range(load_run_frames(run), model.pixel_range), count)]
    eigenvalue = cycle_eigenvalue(model.transition()[0], len(cycle))
    # Above modulus 1 (A A^T slightly over I) the process is not stationary: no ceiling.
    ceiling = cycle_ceiling(eigenvalue, len(cycle)) if abs(eigenvalue) <= 1 else None
    summary = {
        "run": str(args.run), "cycle": cycle, "frames": args.length, "seeds": seeds,
        "classifier_heldout_accuracy": classifier_accuracy,
        "mean_transition_accuracy": mean_of("prior", "transition_accuracy"),
        "mean_legible_fraction": mean_of("prior", "legible_fraction"),
        "test_pair_mean_transition_accuracy": mean_of("test_pair", "transition_accuracy"),
        "test_pair_mean_legible_fraction": mean_of("test_pair", "legible_fraction"),
        "training_pairs_mean_transition_accuracy": mean_of("pair_", "transition_accuracy"),
        "min_transition_accuracy": min_of("prior", "transition_accuracy"),
        "test_pair_min_transition_accuracy": min_of("test_pair", "transition_accuracy"),
        "served_mean_transition_accuracy": mean_of("served", "transition_accuracy"),
        "served_min_transition_accuracy": min_of("served", "transition_accuracy"),
        "spectral_radius": spectrum_report(*model.transition())["spectral_radius"],
        "cycle_eigenvalue": [eigenvalue.real, eigenvalue.imag],
        "cycle_ceiling": ceiling,
        "diversity": handwriting_variety(classifier, sequences, cycle,
                                         run.config.training.seed),
        "rows": rows,
    }
    for start, label in (("test_pair", "x0 from the test pair"),
                         ("pair_", "x0 from training pairs"),
                         ("prior", "x0 as the served generate"),
                         ("served", "the exported generate")):
        if mean_of(start, "transition_accuracy") is not None:
            print(f"{label:>26}, over seeds (noise 1.0): transition accuracy "
                  f"{mean_of(start, 'transition_accuracy'):.3f} (worst "
                  f"{min_of(start, 'transition_accuracy'):.3f}), legible "
                  f"{mean_of(start, 'legible_fraction'):.3f}")
    for start, variety in summary["diversity"].items():
        print(f"{start:>26}: diversity {variety['diversity_ratio']:.3f}, Frechet distance "
              f"{variety['frechet_distance']:.1f} (real vs real "
              f"{variety['frechet_distance_real']:.1f})")
    print(f"cycle plane: eigenvalue modulus {abs(eigenvalue):.4f}, angle "
          f"{np.degrees(np.angle(eigenvalue)):.2f} deg" + (
              "" if ceiling is None else
              f"; a perfect decoder would reach {ceiling:.3f} from N(0, I)"))
    atomic_write_text(args.run / "counting_quality.json", json.dumps(summary, indent=2))
    if args.out:
        atomic_write_text(args.out, json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
