"""TensorBoard shows what a run learnt: a synthesised strip and the eigenvalues of A."""

import numpy as np
import pytest
import tensorflow as tf

from dynamic_vae.config import get_preset
from dynamic_vae.runs import LOGS_DIR
from dynamic_vae.training import train


def logged_images(log_dir):
    """`{tag: [epochs]}` of every image summary under `log_dir`."""
    found = {}
    for path in sorted(log_dir.rglob("events.out.tfevents.*")):
        for raw in tf.data.TFRecordDataset(str(path)):
            event = tf.compat.v1.Event.FromString(raw.numpy())
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name == "images":
                    image = tf.io.decode_png(tf.make_ndarray(value.tensor)[2])
                    assert image.shape[0] > 16 and image.shape[1] > 16
                    found.setdefault(value.tag, []).append(int(event.step))
    return found


@pytest.mark.parametrize("image_every, expected_epochs", [(5, [1]), (1, [0, 1])])
def test_every_stage_logs_images_at_its_last_epoch(tmp_path, counting_frames, image_every,
                                                   expected_epochs):
    config = get_preset("paper-v1").override(
        frame_shape=(32, 32, 1), latent_dim=2, base_channels=8, batch_size=32, epochs=2,
        image_every=image_every, seed=0)
    frames = counting_frames[0][:80]
    train(config, tmp_path / "run", frames=frames, verbose=0)
    images = logged_images(tmp_path / "run" / LOGS_DIR / "dynamics")
    # A 2-epoch stage with image_every 5 still logs at its last epoch (step 1).
    assert images == {"synthesised_strip": expected_epochs,
                      "eigenvalues_of_A": expected_epochs}


def test_image_every_zero_logs_no_images(tmp_path, counting_frames):
    config = get_preset("paper-v1").override(
        frame_shape=(32, 32, 1), latent_dim=2, base_channels=8, batch_size=32, epochs=1,
        image_every=0, seed=0)
    train(config, tmp_path / "run", frames=counting_frames[0][:40], verbose=0)
    assert logged_images(tmp_path / "run" / LOGS_DIR / "dynamics") == {}


def test_spectrum_image_is_an_rgb_picture():
    from dynamic_vae.evaluation.figures import spectrum_image

    image = spectrum_image(np.array([0.9j, -0.9j, 0.5]))
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[-1] == 3
    assert image.min() < 128 < image.max()  # something drawn on a light background
