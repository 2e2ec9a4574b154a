"""One condition of an experiment: a configuration to train, evaluate and tabulate."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from dynamic_vae.config import RunConfig


@dataclasses.dataclass
class Condition:
    """A run of an experiment.

    Args:
        name: the run directory's name inside the experiment's output directory.
        config: what to train.
        frames: the training frames (`None`: the counting-MNIST sequence of `config`).
        frames_source: where `frames` came from, for config.json (a file path lets
            `dynamic-vae evaluate` re-read them).
        labels: values the family's table shows for this condition (e.g. the cycle).

    Example:
    >>> Condition("cycle-1234", get_preset("counting-mnist"), labels={"cycle": "1234"})
    ... # doctest: +SKIP
    """

    name: str
    config: RunConfig
    frames: np.ndarray | None = None
    frames_source: str | None = None
    labels: dict[str, Any] = dataclasses.field(default_factory=dict)
