"""`DynamicsMonitor`: what the model has learnt, in TensorBoard."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from dynamic_vae.evaluation.figures import spectrum_image
from dynamic_vae.outputs import tile_frames
from dynamic_vae.spectrum import spectrum_report
from dynamic_vae.synthesis import synthesize


class DynamicsMonitor(keras.callbacks.Callback):
    """Logs what the model has learnt to TensorBoard.

    Every epoch: the spectral radius and norm of A and the stationarity residual. Every
    `image_every` epochs and at the last epoch of `fit` (so a stage shorter than
    `image_every` still shows its result): a synthesised sequence strip
    (`synthesised_strip`) and the eigenvalues of A on the unit circle
    (`eigenvalues_of_A`), as images.

    Args:
        log_dir: the TensorBoard log folder.
        image_every: epochs between images; 0 logs none.
        strip_frames: frames in the synthesised strip.
        seed: seed of the synthesised strip.

    Example:
    >>> model.fit(dataset, epochs=10,                             # doctest: +SKIP
    ...           callbacks=[DynamicsMonitor("logs/dynamics", image_every=5)])
    """

    def __init__(self, log_dir: str | Path, image_every: int = 5, strip_frames: int = 24,
                 seed: int = 0) -> None:
        super().__init__()
        self.log_dir = str(log_dir)
        self.image_every = image_every
        self.strip_frames = strip_frames
        self.seed = seed
        self._writer = None

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._writer = tf.summary.create_file_writer(self.log_dir)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        a, b = self.model.transition()
        if not (np.isfinite(a).all() and np.isfinite(b).all()):
            return  # diverged: NonFiniteLossStop reports it
        report = spectrum_report(a, b)
        if logs is not None:
            logs["spectral_radius"] = report["spectral_radius"]
        with self._writer.as_default(step=epoch):
            tf.summary.scalar("spectral_radius", report["spectral_radius"])
            tf.summary.scalar("spectral_norm", report["spectral_norm"])
            tf.summary.scalar("stationarity_residual", report["stationarity_residual"])
            if self._logs_images(epoch):
                frames, _ = synthesize(self.model, self.strip_frames, seed=self.seed)
                strip = tile_frames(frames[0])
                tf.summary.image("synthesised_strip", strip[np.newaxis], max_outputs=1)
                spectrum = spectrum_image(np.linalg.eigvals(a.astype(np.float64)),
                                          label=f"epoch {epoch + 1}")
                tf.summary.image("eigenvalues_of_A", spectrum[np.newaxis], max_outputs=1)
        self._writer.flush()

    def _logs_images(self, epoch: int) -> bool:
        if not self.image_every:
            return False
        last = (epoch + 1) == (self.params or {}).get("epochs")
        return last or (epoch + 1) % self.image_every == 0

    def on_train_end(self, logs: dict | None = None) -> None:
        if self._writer is not None:
            self._writer.close()
