"""TFDS builder `dynamic_textures`: the user's dynamic-texture videos (UCLA-50, DynTex, ...)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import tensorflow_datasets as tfds

from dynamic_vae.data.video_loader import load_sequences


@dataclasses.dataclass
class DynamicTexturesConfig(tfds.core.BuilderConfig):
    """How every clip is converted.

    Args:
        color: "gray" or "rgb".
        size: side of the square output frames (centre crop, then resize).
    """

    color: str = "gray"
    size: int = 48


class DynamicTextures(tfds.core.GeneratorBasedBuilder):
    """Dynamic textures: one example per clip, read with `dynamic_vae.data.load_sequences`.

    The manual directory may hold any mix of video files (.avi, .mp4, .gif, ...), folders of
    frame images (UCLA-50 layout: one folder per sequence) and .npy/.npz frame arrays, at any
    depth. Configs: `gray48` (48x48 gray, the cropped UCLA-50 format of the paper) and `rgb64`.

    Example:

        import dynamic_vae.datasets  # registers the builders
        builder = tfds.builder("dynamic_textures/gray48", data_dir="/data/tfds")
        builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
            manual_dir="/data/dyntex"))

    Reference: Saisan, Doretto, Wu & Soatto, "Dynamic texture recognition", CVPR 2001
    (UCLA-50); Peteri, Fazekas & Huiskes, "DynTex", Pattern Recognition Letters 2010.
    """

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release."}
    MANUAL_DOWNLOAD_INSTRUCTIONS = """
    Put your dynamic-texture clips in the manual directory: video files (.avi, .mp4, .mov,
    .mkv, .webm, .mpg, .gif), folders of frame images (.png, .jpg, .pgm, .bmp; one folder per
    sequence, as UCLA-50 ships), or .npy/.npz arrays (T, H, W[, C]). Sub-folders are searched;
    each clip becomes one example named by its path relative to the manual directory.
    """
    BUILDER_CONFIGS = [
        DynamicTexturesConfig(name="gray48", color="gray", size=48,
                              description="48x48 gray, centre-cropped (UCLA-50 style)"),
        DynamicTexturesConfig(name="rgb64", color="rgb", size=64,
                              description="64x64 RGB, centre-cropped"),
    ]

    def _info(self) -> tfds.core.DatasetInfo:
        config = self.builder_config
        channels = 1 if config.color == "gray" else 3
        return self.dataset_info_from_configs(
            description="Dynamic-texture clips, one example per clip.",
            features=tfds.features.FeaturesDict({
                "frames": tfds.features.Video(shape=(None, config.size, config.size, channels)),
                "name": tfds.features.Text(),
            }),
        )

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        return {"train": self._generate_examples(Path(dl_manager.manual_dir))}

    def _generate_examples(self, root: Path):
        config = self.builder_config
        clips = load_sequences(root, color=config.color, size=config.size, crop="center")
        for name, frames in clips.items():
            yield name, {"frames": np.asarray(frames, dtype=np.uint8), "name": name}
