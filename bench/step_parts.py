"""Where the time of the `video` preset's fine-tuning step goes, part by part.

Times, forward and backward (medians of repeated calls, milliseconds): the whole training
step (16 windows of 5 frames at 48x48 gray); the encoder over its 80 frames; the decoder over
the step's 192 decoded frames (128 for the pairs, 64 for the 4-step rollouts); a SiLU and a
group normalisation over the decoder's last feature map (192 x 48 x 48 x 16), in float32 and
bfloat16, and this project's normalisation against Keras's; and reading the stationary A and
B once against at each of 4 rollout steps. Only public model attributes are used, so an
earlier checkout can be timed with the same script (`PYTHONPATH=OLD_CHECKOUT`).

Prints a table and writes bench/results/step_parts.json. Not a test: numbers depend on the
machine. Usage: python bench/step_parts.py [--repeats 30] [--out PATH]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from dynamic_vae.config import get_preset  # noqa: E402
from dynamic_vae.data import make_frame_pairs  # noqa: E402
from dynamic_vae.layers import ChannelsLastGroupNormalization  # noqa: E402
from dynamic_vae.training import build_model  # noqa: E402
from results_file import write_results  # noqa: E402

LAST_MAP = (192, 48, 48, 16)


def median_ms(function, repeats: int) -> float:
    function()
    function()
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        seconds.append(time.perf_counter() - start)
    return float(np.median(seconds)) * 1000


def gradient_of(call, variables, inputs):
    """A compiled function: forward and backward of `call(inputs)` into `variables` and the
    inputs."""
    @tf.function
    def run():
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            value = tf.reduce_sum(tf.cast(call(inputs), tf.float32))
        return tape.gradient(value, [inputs, *variables])
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" /
                                             "step_parts.json"))
    args = parser.parse_args()
    config = get_preset("video").override(frame_shape=(48, 48, 1), filter_size=5,
                                          window=5).finetune_stage()
    keras.utils.set_random_seed(0)
    model = build_model(config)
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, size=(400, 48, 48, 1), dtype=np.uint8)
    pairs = make_frame_pairs(frames, pixel_range=config.model.pixel_range)
    windows = next(iter(pairs.dataset(16, seed=0, drop_remainder=True, window=5)))
    step = tf.function(model.train_step)
    encoder_inputs = tf.reshape(windows, [-1, 48, 48, 1])
    decoder_inputs = tf.random.normal([192, config.model.latent_dim])
    layer = model.dynamic_layer
    state = tf.random.normal([16, config.model.latent_dim])

    def rollout(read_once: bool):
        @tf.function
        def run():
            with tf.GradientTape() as tape:
                x = state
                pair = (layer.transition_matrix, layer.noise_matrix) if read_once else None
                for _ in range(4):
                    a, b = pair or (layer.transition_matrix, layer.noise_matrix)
                    x = tf.matmul(x, a, transpose_b=True) + tf.matmul(x, b, transpose_b=True)
                value = tf.reduce_sum(x)
            return tape.gradient(value, layer.trainable_weights)
        return run

    times = {"precision": config.model.mixed_precision,
             "training step": median_ms(lambda: step(windows), args.repeats),
             "encoder, 80 frames": median_ms(gradient_of(
                 lambda x: model.encoder(x, training=True)[0], model.encoder.trainable_weights,
                 encoder_inputs), args.repeats),
             "decoder, 192 frames": median_ms(gradient_of(
                 lambda z: model.decoder(z, training=True), model.decoder.trainable_weights,
                 decoder_inputs), args.repeats)}
    last_map = tf.random.normal(LAST_MAP)
    for dtype in ("float32", "bfloat16"):
        values = tf.cast(last_map, dtype)
        times[f"SiLU, last map, {dtype}"] = median_ms(
            gradient_of(tf.nn.silu, [], values), args.repeats)
    for name, normalisation in (
            ("this project's", ChannelsLastGroupNormalization(8)),
            ("Keras's", keras.layers.GroupNormalization(8))):
        normalisation.build(LAST_MAP)
        times[f"group norm, last map, float32, {name}"] = median_ms(gradient_of(
            normalisation, normalisation.trainable_weights, last_map), args.repeats)
    times["A and B read once, 4-step rollout"] = median_ms(rollout(True), args.repeats)
    times["A and B read at every step, 4-step rollout"] = median_ms(rollout(False),
                                                                    args.repeats)
    print(f"{'part (forward and backward)':48} {'ms':>8}")
    for name, value in times.items():
        print(f"{name:48} {value:>8}" if isinstance(value, str) else f"{name:48} {value:8.1f}")
    out = write_results(args.out, {"tensorflow": tf.__version__, "milliseconds": times})
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
