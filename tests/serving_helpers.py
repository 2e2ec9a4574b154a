"""A tiny untrained run directory for the export and serving tests (32x32 frames, n = 4)."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from dynamic_vae.models.dynamic_vae import DynamicVAE
from dynamic_vae.training import MODEL_FILE, save_model

LATENT_DIM = 4
FRAME_SHAPE = (32, 32, 1)


def make_tiny_run(run_dir: Path, seed: int = 0) -> Path:
    """A run directory holding an untrained small model (export needs only model.keras)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    model = DynamicVAE(frame_shape=FRAME_SHAPE, latent_dim=LATENT_DIM, base_channels=8,
                       sigma=0.5, seed=seed)
    save_model(model, run_dir / MODEL_FILE)
    (run_dir / "config.json").write_text(json.dumps({"model": {"latent_dim": LATENT_DIM}}))
    return run_dir


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
