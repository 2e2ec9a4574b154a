"""TFDS builder `object_rotation`: objects turning on a turntable, one sequence per object
and viewing condition, views in pose order."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import tensorflow_datasets as tfds

from dynamic_vae.data.numpy_frames import read_array
from dynamic_vae.datasets.view_groups import group_views_by_pose


@dataclasses.dataclass
class ObjectRotationConfig(tfds.core.BuilderConfig):
    """Where the views come from.

    Args:
        source: "npz" (COIL-20-style arrays in the manual directory) or "smallnorb" (the TFDS
            'smallnorb' data set, already prepared in the same data_dir).
        size: side of the output frames (None keeps the source's size).
        step_degrees: the rotation between consecutive views of a sequence.
    """

    source: str = "npz"
    size: int | None = None
    step_degrees: float = 5.0


class ObjectRotation(tfds.core.GeneratorBasedBuilder):
    """Rotating objects as frame sequences: example = one full circle of views in pose order
    (the last view is followed by the first).

    Configs: `coil20` reads every `.npz` in the manual directory holding `frames`
    (N, V, H, W[, C]) uint8 (N objects, V views in turntable order; COIL-20 has 72 views 5
    degrees apart) and optionally `object_ids` (N,). `smallnorb48` reads TFDS 'smallnorb'
    (which the user prepares; nothing is downloaded), groups its images by category, instance,
    elevation and lighting, orders each group by azimuth (18 views, 20 degrees apart) and
    resizes them to 48x48.

    Example:

        import dynamic_vae.datasets  # registers the builders
        builder = tfds.builder("object_rotation/coil20", data_dir="/data/tfds")
        builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
            manual_dir="/data/coil20"))

    Reference: Nene, Nayar & Murase, "Columbia Object Image Library (COIL-20)", CUCS-005-96;
    LeCun, Huang & Bottou, "Learning methods for generic object recognition with invariance to
    pose and lighting", CVPR 2004 (Small NORB).
    """

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release: COIL-20-style arrays and Small NORB."}
    MANUAL_DOWNLOAD_INSTRUCTIONS = """
    coil20: put one or more .npz files in the manual directory, each with an array `frames`
    (N, V, H, W[, C]) uint8 of N objects' V views in turntable order, and optionally
    `object_ids` (N,) int.
    smallnorb48: prepare TFDS 'smallnorb' in the same data_dir first (tfds build smallnorb
    --data_dir DIR, on a machine with internet, or with its files in DIR/downloads/manual);
    this builder only reads it.
    """
    BUILDER_CONFIGS = [
        ObjectRotationConfig(name="coil20", source="npz", size=None, step_degrees=5.0,
                             description="COIL-20-style arrays, one sequence per object"),
        ObjectRotationConfig(name="smallnorb48", source="smallnorb", size=48,
                             step_degrees=20.0,
                             description="Small NORB, one sequence per object, elevation "
                                         "and lighting, 48x48"),
    ]

    def _info(self) -> tfds.core.DatasetInfo:
        size = self.builder_config.size
        return self.dataset_info_from_configs(
            description="Objects turning through a full circle, views in pose order.",
            features=tfds.features.FeaturesDict({
                "frames": tfds.features.Video(shape=(None, size, size, 1)),
                "object_id": np.int64,
                "name": tfds.features.Text(),
                "step_degrees": np.float32,
            }),
        )

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        if self.builder_config.source == "smallnorb":
            return {split: self._generate_examples(split=split) for split in ("train", "test")}
        return {"train": self._generate_examples(root=Path(dl_manager.manual_dir))}

    def _generate_examples(self, root: Path | None = None, split: str | None = None):
        if self.builder_config.source == "smallnorb":
            yield from self._norb_examples(split)
        else:
            yield from self._npz_examples(root)

    def _example(self, frames: np.ndarray, object_id: int, name: str) -> dict:
        size = self.builder_config.size
        if frames.ndim == 3:
            frames = frames[..., np.newaxis]
        if frames.shape[-1] == 3:
            frames = np.round(frames.astype(np.float32) @ np.float32([0.299, 0.587, 0.114])
                              )[..., np.newaxis].astype(np.uint8)
        if size is not None and frames.shape[1:3] != (size, size):
            import tensorflow as tf

            frames = np.round(tf.image.resize(frames.astype(np.float32), (size, size),
                                              antialias=True).numpy())
            frames = np.clip(frames, 0, 255).astype(np.uint8)
        return {"frames": frames, "object_id": int(object_id), "name": name,
                "step_degrees": float(self.builder_config.step_degrees)}

    def _npz_examples(self, root: Path):
        files = sorted(p for p in root.rglob("*.npz") if not p.name.startswith("."))
        if not files:
            raise FileNotFoundError(f"{root}: no .npz files with COIL-20-style `frames`")
        for path in files:
            frames = read_array(path, key="frames")
            with path.open("rb") as handle, np.load(handle, allow_pickle=False) as data:
                ids = (np.asarray(data["object_ids"]) if "object_ids" in data.files else None)
            if frames.ndim not in (4, 5):
                raise ValueError(f"{path}: frames must be (N, V, H, W) or (N, V, H, W, C), got "
                                 f"shape {frames.shape}")
            sequences = list(frames)
            if ids is not None and len(ids) != len(sequences):
                raise ValueError(f"{path}: object_ids has {len(ids)} entries for "
                                 f"{len(sequences)} objects")
            for index, views in enumerate(sequences):
                object_id = int(ids[index]) if ids is not None else index
                name = f"{path.stem}/object{object_id:03d}"
                yield name, self._example(np.asarray(views), object_id, name)

    def _norb_examples(self, split: str):
        norb = tfds.load("smallnorb", split=split, data_dir=self.data_dir_root, download=False,
                         batch_size=-1, try_gcs=False)
        arrays = tfds.as_numpy(norb)
        groups = group_views_by_pose(
            arrays["label_azimuth"], category=arrays["label_category"],
            instance=arrays["instance"], elevation=arrays["label_elevation"],
            lighting=arrays["label_lighting"])
        for (category, instance, elevation, lighting), indices in groups:
            name = f"c{category}_i{instance}_e{elevation}_l{lighting}"
            yield name, self._example(arrays["image"][indices], 10 * category + instance, name)
