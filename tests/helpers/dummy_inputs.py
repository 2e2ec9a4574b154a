"""The tiny synthetic inputs of the TFDS builder tests, written at test time into a temporary
folder (no data file lives in git). Synthetic on purpose: these test the builders' plumbing,
not the data; real data stays in ../shared/data."""

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

import imageio.v3 as iio
import numpy as np
from PIL import Image


@functools.cache
def dummy_data_root() -> Path:
    """A folder holding counting_mnist/, dynamic_textures/ and object_rotation/, made once per
    test process and removed when it exits."""
    root = Path(tempfile.mkdtemp(prefix="dynamic-vae-dummy-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    counting_mnist(root)
    dynamic_textures(root)
    object_rotation(root)
    return root


def counting_mnist(root: Path) -> None:
    """mnist.npz: two 28x28 'digits' per class, a bright bar at a row given by the class."""
    images = np.zeros((20, 28, 28), dtype=np.uint8)
    labels = np.repeat(np.arange(10), 2)
    for i, label in enumerate(labels):
        images[i, 2 + 2 * label:4 + 2 * label, 4 + i % 2:24] = 255
    folder = root / "counting_mnist"
    folder.mkdir(exist_ok=True)
    np.savez_compressed(folder / "mnist.npz", images=images, labels=labels)


def dynamic_textures(root: Path) -> None:
    """A GIF, an AVI, a UCLA-style folder of PGM frames and an .npy array: four clips."""
    folder = root / "dynamic_textures"
    (folder / "ucla" / "seq-a").mkdir(parents=True, exist_ok=True)
    t = np.arange(5)[:, None, None]
    y, x = np.mgrid[0:16, 0:20]
    wave = (127 + 100 * np.sin(0.6 * x[None] + 0.9 * t + 0.2 * y[None])).astype(np.uint8)
    rgb = np.stack([wave, wave[:, ::-1], 255 - wave], axis=-1)
    images = [Image.fromarray(f) for f in rgb]
    images[0].save(folder / "wave.gif", save_all=True, append_images=images[1:], duration=100)
    iio.imwrite(folder / "wave.avi", rgb[:, :16, :16], plugin="FFMPEG", fps=5, codec="mpeg4")
    for i, frame in enumerate(wave[:3, :12, :12]):
        Image.fromarray(frame).save(folder / "ucla" / "seq-a" / f"frame{i + 1}.pgm")
    np.save(folder / "ripple.npy", wave[:4, :10, :10])


def object_rotation(root: Path) -> None:
    """coil_small.npz: two objects, 8 views each (a bar turning 45 degrees per view)."""
    frames = np.zeros((2, 8, 8, 8), dtype=np.uint8)
    for view in range(8):
        angle = np.pi * view / 4
        for r in np.linspace(-3, 3, 13):
            for obj in range(2):
                row, col = int(round(3.5 + r * np.sin(angle))), int(round(3.5 + r * np.cos(angle)))
                frames[obj, view, row, col] = 200 + 50 * obj
    folder = root / "object_rotation"
    folder.mkdir(exist_ok=True)
    np.savez_compressed(folder / "coil_small.npz", frames=frames, object_ids=np.array([3, 7]))
