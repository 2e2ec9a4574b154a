"""Writing a trained Dynamic VAE as a TF Serving SavedModel version."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from dynamic_vae.export.sequence_module import SequenceModule
from dynamic_vae.export import signatures  # noqa: F401 - registers the built-in signatures
from dynamic_vae.export import inference_signatures  # noqa: F401 - forecast, impute
from dynamic_vae.export.signature_builder import SignatureBuilder, build_signatures
from dynamic_vae.export.versioning import write_version

DEFAULT_MAX_FRAMES = 1024
# Beside the SavedModel, where TF Serving ignores it: what was exported from where.
EXPORT_INFO_FILE = "assets.extra/dynamic_vae_export.json"
# TF Serving replays these Predict requests when it loads a version, before the version takes
# requests, so the first client does not pay for the graph's first run.
WARMUP_FILE = "assets.extra/tf_serving_warmup_requests"
WARMUP_FRAMES = 64


def export_model(
    model,
    model_dir: str | Path,
    max_frames: int = DEFAULT_MAX_FRAMES,
    frames_dtype: str = "uint8",
    info: dict[str, Any] | None = None,
    builders: list[SignatureBuilder] | None = None,
) -> Path:
    """Exports `model` as the next version of `model_dir` (e.g. `saved_models/NAME`).

    Args:
        model: a trained `DynamicVAE`.
        model_dir: the model's folder; versions are its integer subfolders.
        max_frames: the largest `num_frames` a request may ask for.
        frames_dtype: `uint8` (default) or `float32` frames in and out.
        info: extra JSON written to `assets.extra/dynamic_vae_export.json`.
        builders: the signatures to write (default: every registered one).

    Returns:
        The new version's folder.
    """
    module = SequenceModule(model, max_frames=max_frames, frames_dtype=frames_dtype)
    signatures = build_signatures(module, builders)
    export_info = {
        "max_frames": module.max_frames, "frames_dtype": frames_dtype,
        "frame_shape": list(module.frame_shape), "latent_dim": module.latent_dim,
        "pixel_range": list(module.pixel_range), "signatures": sorted(signatures),
        **(info or {}),
    }

    def write(folder: Path) -> None:
        tf.saved_model.save(module, str(folder), signatures=signatures)
        info_path = folder / EXPORT_INFO_FILE
        info_path.parent.mkdir(parents=True, exist_ok=True)
        info_path.write_text(json.dumps(export_info, indent=2, sort_keys=True))
        write_warmup_requests(folder / WARMUP_FILE, min(WARMUP_FRAMES, module.max_frames),
                              module, set(signatures))

    return write_version(model_dir, write)


def export_run(
    run_dir: str | Path,
    name: str,
    base_dir: str | Path = "saved_models",
    max_frames: int = DEFAULT_MAX_FRAMES,
    frames_dtype: str = "uint8",
    serving_config: bool | None = None,
) -> Path:
    """Exports the model of a run directory to `base_dir/name/<next version>/`.

    Args:
        run_dir: a finished run directory.
        name: the model's name (its folder under `base_dir`).
        base_dir: the folder of exported models.
        max_frames: the largest `num_frames` a request may ask for.
        frames_dtype: `uint8` (default) or `float32` frames in and out.
        serving_config: rewrite TF Serving's model config `base_dir/models.config` to list
            every exported model, this one included; None (default): only when `base_dir`
            already holds one written by `write_serving_config`.

    Returns:
        The new version's folder.

    Raises:
        FileNotFoundError: `run_dir` is not a finished run.
        ValueError: `name` is not a plain folder name, or `serving_config` is True and
            `base_dir/models.config` is a config written by hand (checked before exporting).

    Example:
    >>> export_run("runs/x", "counting", base_dir="saved_models")   # doctest: +SKIP
    PosixPath('saved_models/counting/1')
    """
    from dynamic_vae.export.serving_config import (SERVING_CONFIG_FILE, has_serving_config,
                                                   serving_config_settings,
                                                   write_serving_config)
    from dynamic_vae.runs import load_run

    if not name or name in (".", "..") or "/" in name or name.startswith("."):
        raise ValueError(f"--name: expected a plain folder name, got {name!r}")
    if name == SERVING_CONFIG_FILE:
        raise ValueError(f"--name: {name!r} is the model config's file name")
    if serving_config is None:
        serving_config = has_serving_config(base_dir)
    elif serving_config:
        # A config the export could not rewrite fails now, before a version is written.
        serving_config_settings(Path(base_dir) / SERVING_CONFIG_FILE)
    run = load_run(run_dir)
    version_dir = export_model(run.model, Path(base_dir) / name, max_frames=max_frames,
                               frames_dtype=frames_dtype,
                               info={"run_dir": str(Path(run_dir).resolve()),
                                     "run_config": run.record()})
    if serving_config:
        write_serving_config(base_dir)
    return version_dir


def write_warmup_requests(path: Path, num_frames: int, module: SequenceModule | None = None,
                          signature_names: set[str] | frozenset[str] = frozenset({"generate"})
                          ) -> None:
    """Warm-up requests in TF Serving's format (a TFRecord of PredictionLog): one `generate`
    of `num_frames`, and the smallest `forecast` and `impute` (their graphs' first run costs
    seconds, whatever the clip's size) when the export has them.

    Skipped without the `serving` extra: the export is still valid, only not warmed up.
    """
    try:
        from tensorflow_serving.apis import predict_pb2, prediction_log_pb2
    except ImportError:
        return
    requests = []
    if "generate" in signature_names:
        requests.append(("generate", {"num_frames": np.int32(num_frames), "seed": np.int64(0)}))
    if module is not None:
        clip = np.zeros([2, *module.frame_shape], module.frames_dtype)
        if "forecast" in signature_names:
            requests.append(("forecast", {"frames": clip, "num_steps": np.int32(1),
                                          "num_samples": np.int32(1), "seed": np.int64(0)}))
        if "impute" in signature_names:
            requests.append(("impute", {"frames": clip, "missing": np.array([False, True])}))
    if not requests:
        return
    with tf.io.TFRecordWriter(str(path)) as writer:
        for signature_name, inputs in requests:
            request = predict_pb2.PredictRequest()
            request.model_spec.signature_name = signature_name
            for name, value in inputs.items():
                request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
            log = prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(
                request=request))
            writer.write(log.SerializeToString())
