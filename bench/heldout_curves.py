"""Held-out reconstruction and k-step errors after every epoch, with parts of the model frozen.

Trains the `video` preset's first stage on one clip's head (the last fifth held out, as
`experiment textures` does) with chosen parts trainable, and after each epoch (and at the
start) encodes and decodes the held-out frames and predicts 1, 5 and 10 steps ahead. It shows
which part of the observation map generalises and which memorises the training frames. Writes
bench/results/heldout_curves.json. Not a test.

Usage:
    python bench/heldout_curves.py CLIP [--trains all|encoder|decoder|networks|dynamics]
        [--epochs 3] [--set FIELD=VALUE ...]

`--trains`: `all` (every weight), `encoder` (the decoder frozen), `decoder` (the encoder
frozen), `networks` (the linear maps beside the networks frozen), `dynamics` (A, B and the
posterior's variance only). `--set` overrides preset fields (e.g. `--set decoder_noise=1.0`,
`--set observation_noise=fixed --set sigma=0.1`).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from dynamic_vae.baseline.linear_dynamic_texture import LinearDynamicTexture  # noqa: E402
from dynamic_vae.config import get_preset  # noqa: E402
from dynamic_vae.data import load_video  # noqa: E402
from dynamic_vae.evaluation.prediction import (context_pairs, dynamic_vae_predictor,  # noqa: E402
                                               k_step_prediction_errors,
                                               linear_baseline_predictor, prediction_starts)
from dynamic_vae.training import train  # noqa: E402
from results_file import write_results  # noqa: E402

STEPS = (1, 5, 10)
# Layers held fixed for each choice (`dynamics` is the preset's own `trainable` field).
FROZEN = {"all": [], "encoder": [("decoder", None)], "decoder": [("encoder", None)],
          "networks": [("encoder", "linear_mean"), ("decoder", "linear_observation")],
          "dynamics": []}


def parse_value(text: str):
    try:
        return json.loads(text)
    except ValueError:
        return text


class HeldOutCurves(keras.callbacks.Callback):
    """Freezes the chosen parts before the first step and measures the held-out tail."""

    def __init__(self, heldout: np.ndarray, frozen: list[tuple[str, str | None]]) -> None:
        super().__init__()
        self.heldout, self.frozen = heldout, frozen
        self.starts = prediction_starts(len(heldout), max(STEPS), 200)
        self.rows: list[dict] = []

    def on_train_begin(self, logs=None) -> None:
        # Before the training step is traced, so the frozen weights get no updates.
        for network, layer in self.frozen:
            part = getattr(self.model, network)
            (part if layer is None else part.get_layer(layer)).trainable = False
        self.measure(0)

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        self.measure(epoch + 1)

    def measure(self, epoch: int) -> None:
        predict = dynamic_vae_predictor(self.model)
        errors = k_step_prediction_errors(predict, self.heldout, self.starts, STEPS)
        decoded = predict(context_pairs(self.heldout, self.starts), [0])[0]
        target = self.heldout[self.starts]
        self.rows.append({"epoch": epoch,
                          "reconstruction": float(np.mean((decoded.reshape(target.shape)
                                                           - target) ** 2)),
                          **{f"k{k}": errors[str(k)]["mse"] for k in STEPS}})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clip", type=Path)
    parser.add_argument("--trains", choices=sorted(FROZEN), default="all")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--size", type=int, default=48)
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE")
    parser.add_argument("--output", type=Path, default=Path("bench/results/heldout_curves.json"))
    args = parser.parse_args()
    overrides = {}
    for item in args.set:
        if "=" not in item:
            parser.error(f"--set: expected FIELD=VALUE, got {item!r}")
        field, value = item.split("=", 1)
        overrides[field] = parse_value(value)

    frames = load_video(args.clip, color="gray", size=args.size)
    held = max(int(np.ceil(0.2 * len(frames))), 12)
    training, heldout = frames[:-held], frames[-held:].astype(np.float32) / 255.0
    config = get_preset("video").override(
        frame_shape=(args.size, args.size, 1), epochs=args.epochs, finetune_epochs=0,
        trainable="dynamics" if args.trains == "dynamics" else "all", image_every=0,
        **overrides)
    curves = HeldOutCurves(heldout, FROZEN[args.trains])
    baseline = LinearDynamicTexture(config.model.latent_dim).fit(training)
    linear = k_step_prediction_errors(linear_baseline_predictor(baseline), heldout,
                                      curves.starts, STEPS)
    started = time.perf_counter()
    run_dir = Path("runs") / "heldout-curves"
    train(config, run_dir, frames=training, verbose=0, restart=True, callbacks=[curves])
    seconds = time.perf_counter() - started

    print(f"{args.clip.name}: {len(training)} training frames, {held} held out; trains "
          f"{args.trains}; {overrides or 'preset fields'}")
    print("MSE x 1000 on the held-out tail")
    print(f"{'epoch':>5} {'reconstruction':>14} " + " ".join(f"{'k=' + str(k):>7}"
                                                           for k in STEPS))
    for row in curves.rows:
        print(f"{row['epoch']:>5} {1e3 * row['reconstruction']:>14.3f} "
              + " ".join(f"{1e3 * row[f'k{k}']:>7.3f}" for k in STEPS))
    print(f"  LDS {'':>14} " + " ".join(f"{1e3 * linear[str(k)]['mse']:>7.3f}" for k in STEPS))
    print(f"training: {seconds:.0f} s")
    write_results(args.output, {
        "clip": str(args.clip), "trains": args.trains, "overrides": overrides,
        "epochs": curves.rows, "linear_baseline": {f"k{k}": linear[str(k)]["mse"]
                                                   for k in STEPS},
        "training_seconds": seconds})


if __name__ == "__main__":
    main()
