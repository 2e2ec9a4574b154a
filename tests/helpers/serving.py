"""A tiny untrained run directory for the export and serving tests (32x32 frames, n = 4)."""

from __future__ import annotations

import socket
from pathlib import Path

from dynamic_vae.models.dynamic_vae import DynamicVAE
from dynamic_vae.config import RunConfig
from dynamic_vae.runs import CONFIG_FILE, MODEL_FILE, save_model

LATENT_DIM = 4
FRAME_SHAPE = (32, 32, 1)
EXPORT_MAX_FRAMES = 48

_shared_export: dict = {}


def make_tiny_run(run_dir: Path, seed: int = 0) -> Path:
    """A run directory holding an untrained small model (export needs only model.keras)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    model = DynamicVAE(frame_shape=FRAME_SHAPE, latent_dim=LATENT_DIM, base_channels=8,
                       sigma=0.5, seed=seed)
    save_model(model, run_dir / MODEL_FILE)
    (run_dir / CONFIG_FILE).write_text(RunConfig(model=model.model_config).to_json())
    return run_dir


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def shared_tiny_export(tmp_path_factory) -> dict:
    """One tiny run exported as `saved_models/tiny/1` for the whole test run.

    Test modules share it (building, exporting and loading is most of their setup time);
    a module that adds versions adds them after the others have read version 1.
    """
    if not _shared_export:
        from dynamic_vae.export import export_run
        from dynamic_vae.runs import load_run

        root = tmp_path_factory.mktemp("tiny-export")
        run_dir = make_tiny_run(root / "run")
        version_dir = export_run(run_dir, "tiny", base_dir=root / "saved_models",
                                 max_frames=EXPORT_MAX_FRAMES)
        model = load_run(run_dir).model
        _shared_export.update(root=root, run=run_dir, version_dir=version_dir, model=model)
    return dict(_shared_export)


def random_frames(count: int, seed: int = 0):
    """uint8 frames `(count, 32, 32, 1)`: the export's maths does not depend on content."""
    import numpy as np

    return np.random.default_rng(seed).integers(0, 256, size=(count, *FRAME_SHAPE),
                                                dtype=np.uint8)


def save_unrestorable_version(version_dir: Path) -> None:
    """Writes a SavedModel whose `double` signature (`{"y": 2 x}`) reads a variable the
    checkpoint never restores: the Python object-graph loader runs it, a session loader
    (TF Serving's C++ `LoadSavedModel`, `tf.compat.v1`) cannot."""
    import keras
    import numpy as np
    import tensorflow as tf

    class Untracked(tf.Module):
        def __init__(self):
            super().__init__()
            holder = type("Holder", (), {})()
            holder.weight = keras.Variable(np.float32(2.0), name="weight")
            self._holder = holder
            # The Keras variable itself, not its backing tf.Variable: it exports a second
            # resource that the restore op does not initialise.
            self.tracked = holder.weight

        @tf.function(input_signature=[tf.TensorSpec([], tf.float32, name="x")])
        def double(self, x):
            return {"y": x * self._holder.weight}

    module = Untracked()
    tf.saved_model.save(module, str(version_dir), signatures={"double": module.double})
