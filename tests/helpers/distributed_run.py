"""Trains the tiny test model under tf.distribute strategies and prints the results as JSON.

Run as a subprocess by test_distribute.py: logical devices and TF_CONFIG must be set before
TensorFlow starts, and must not leak into the other tests' process.

    python tests/helpers/distributed_run.py mirrored OUTPUT_DIR     one device vs 2 logical CPUs
    python tests/helpers/distributed_run.py multiworker OUTPUT_DIR  one worker of TF_CONFIG's
                                                                    cluster
"""

import json
import sys
from pathlib import Path

import numpy as np
import tensorflow as tf

mode, output_dir = sys.argv[1], Path(sys.argv[2])
if mode == "mirrored":
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(2)])

# Run by path, Python puts this script's folder first on sys.path; the repository root takes
# its place so the tests package imports as under pytest and the helper modules here
# (serving.py, ...) cannot shadow top-level modules of the same name.
sys.path[0] = str(Path(__file__).resolve().parents[2])
import keras  # noqa: E402

from tests.test_resume import moving_bars, tiny_config  # noqa: E402

from dynamic_vae.data.frame_pairs import make_frame_pairs  # noqa: E402
from dynamic_vae.distribute import make_strategy  # noqa: E402
from dynamic_vae.models.dynamic_vae import DynamicVAE  # noqa: E402
from dynamic_vae.training import train  # noqa: E402

FRAMES = moving_bars(96)
CONFIG = tiny_config(epochs=3)


def loss_curve(strategy: str, run_dir: Path) -> list[float]:
    _, summary = train(CONFIG, run_dir, frames=FRAMES, verbose=0, strategy=strategy)
    assert summary["replicas"] == (1 if strategy == "default" else 2), summary["replicas"]
    return json.loads((run_dir / "history.json").read_text())["loss"] if (
        run_dir / "history.json").exists() else []


def sgd_update(strategy_name: str) -> list[np.ndarray]:
    """The weight change of one plain-SGD step on one global batch of 16 pairs: unlike Adam's,
    its size is proportional to the gradient, so a wrong loss scale shows (a factor R)."""
    strategy = make_strategy(strategy_name)
    keras.utils.set_random_seed(0)
    with strategy.scope():
        model = DynamicVAE.from_model_config(CONFIG.model, seed=0)
        model.compile(optimizer=keras.optimizers.SGD(1e-3))
    before = [keras.ops.convert_to_numpy(v) for v in model.trainable_variables]
    batch = make_frame_pairs(FRAMES).dataset(16, shuffle=False).take(1)
    model.fit(batch, epochs=1, verbose=0)
    return [keras.ops.convert_to_numpy(v) - b for v, b in zip(model.trainable_variables, before)]


if mode == "mirrored":
    single, mirrored = sgd_update("default"), sgd_update("mirrored")
    norm = lambda arrays: float(np.sqrt(sum(np.sum(a ** 2) for a in arrays)))  # noqa: E731
    print(json.dumps({
        "default": loss_curve("default", output_dir / "default"),
        "mirrored": loss_curve("mirrored", output_dir / "mirrored"),
        "update_norm_ratio": norm(mirrored) / norm(single),
        "update_relative_difference": norm([m - s for m, s in zip(mirrored, single)])
        / norm(single)}))
else:
    print(json.dumps({"multiworker": loss_curve("multiworker", output_dir)}))
