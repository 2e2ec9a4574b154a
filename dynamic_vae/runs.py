"""The run directory: what a run holds, under which names, and how it is read back.

A run directory written by `dynamic_vae.training.train` holds:

    model.keras          the trained model (written atomically)
    config.json          the complete RunConfig, where the frames came from (`data`) and,
                         for a warm start or a fine-tuning stage, `init_from`/`first_stage`
    history.csv/.json    per-epoch metrics
    training_curves.png  the loss terms, stationarity residual and spectral radius per epoch
    summary.json         wall time, training throughput, final metrics, spectrum of A
    logs/                TensorBoard: every loss term, the stationarity residual and the
                         spectral radius of A per epoch; synthesised strips and the
                         eigenvalues of A as images
    test_pairs.npy       the held-out frame pair(s) `(P, 2, H, W, C)`, float32 in [0, 1]:
                         synthesis starts from the first one by default (eq. 35)
    backup/              the training state of the last epochs while training runs (deleted
                         when the run finishes; see dynamic_vae.run_backup)
    warm_start/          the first stage of a configuration with later stages (a run
                         directory)
    finetune/            the fine-tuning stage when a variety stage follows it (a run
                         directory)
    evaluation/          what `dynamic-vae evaluate` wrote (see
                         dynamic_vae.evaluation.run_evaluation)

A linear-baseline run (`dynamic-vae baseline`) holds `baseline.npz` instead of `model.keras`,
with its own config.json and test_pairs.npy.

`load_run` reads a finished run into a `Run`; it is the only reader of config.json, so the
rest of the package sees typed fields only.
"""

from __future__ import annotations

import dataclasses
import json
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dynamic_vae.atomic import atomic_path, atomic_save_npy
from dynamic_vae.config import RunConfig
from dynamic_vae.pixels import to_unit_range

if TYPE_CHECKING:
    from dynamic_vae.models.dynamic_vae import DynamicVAE

MODEL_FILE = "model.keras"
CONFIG_FILE = "config.json"
SUMMARY_FILE = "summary.json"
HISTORY_JSON_FILE = "history.json"
HISTORY_CSV_FILE = "history.csv"
TRAINING_CURVES_FILE = "training_curves.png"
TEST_PAIRS_FILE = "test_pairs.npy"
BASELINE_FILE = "baseline.npz"
LOGS_DIR = "logs"
BACKUP_DIR = "backup"
# backup/: the best weights so far of a stage that keeps its best held-out epoch, and which
# epoch and validation loss they are.
BEST_WEIGHTS_FILE = "best.npz"
BEST_RECORD_FILE = "best.json"
WARM_START_DIR = "warm_start"
# The fine-tuning stage's run directory inside a run that ends with a variety stage.
FINETUNE_DIR = "finetune"
EVALUATION_DIR = "evaluation"
# evaluation/metrics.json: everything the evaluation report states, machine-readable.
EVALUATION_METRICS_FILE = "metrics.json"

# config.json's `data.source` of runs trained on the generated counting-MNIST sequence.
COUNTING_SOURCE = "counting-mnist"
# config.json's `model` entry of a linear-baseline run.
BASELINE_KIND = "linear-dynamic-texture"
# config.json entries besides the RunConfig's sections.
_RECORD_ENTRIES = ("data", "init_from", "first_stage")


@dataclasses.dataclass
class Run:
    """A finished run directory, read back.

    Attributes:
        directory: the run directory.
        model: the trained `DynamicVAE`, or the `LinearDynamicTexture` of a baseline run.
        config: the configuration the model was trained with (for a later stage: that
            stage's, with `finetune` and `variety` as recorded); a run without config.json
            gets its model's `ModelConfig` and default training fields. `None` for a
            baseline run.
        data: where the training frames came from, as recorded (`source`, `num_frames`,
            `cycle`, `sequences`, `sha1`, ...; empty when unknown).
        test_pairs: the held-out pairs `(P, 2, H, W, C)`, float32 in [0, 1], or `None` when
            the run keeps none.
        summary: what summary.json holds, or `None` when the run has none.
        init_from: the run directory whose weights started this one, if any.
        first_stage: the first stage's configuration of a run with later stages, else
            `None` (the stage this one started from is `init_from`).

    Example:
    >>> run = load_run("runs/demo")                    # doctest: +SKIP
    >>> run.config.training.cycle, run.model.latent_dim   # doctest: +SKIP
    ('1234', 10)
    """

    directory: Path
    model: Any
    config: RunConfig | None
    data: dict[str, Any]
    test_pairs: np.ndarray | None = None
    summary: dict[str, Any] | None = None
    init_from: str | None = None
    first_stage: RunConfig | None = None

    @property
    def is_baseline(self) -> bool:
        """Whether this is a linear-baseline run (its model a `LinearDynamicTexture`)."""
        return self.config is None

    @property
    def test_pair(self) -> np.ndarray | None:
        """The first held-out pair `(2, H, W, C)`, float32 in [0, 1], or `None`."""
        if self.test_pairs is None or not len(self.test_pairs):
            return None
        return self.test_pairs[0]

    @property
    def data_source(self) -> str | None:
        """Where the training frames came from (`counting-mnist`, a file, a TFDS split)."""
        source = self.data.get("source")
        return None if source is None else str(source)

    @property
    def trained_on_counting_mnist(self) -> bool:
        """Whether the frames were the counting-MNIST sequence of `config.training` (so they
        can be regenerated from its cycle, length and seed)."""
        return self.data_source == COUNTING_SOURCE and self.config is not None

    def path(self, name: str) -> Path:
        """`directory / name`, for the file names of this module."""
        return self.directory / name

    def record(self) -> dict[str, Any]:
        """What config.json says, as JSON: the configuration, `data` and, when set,
        `init_from` and `first_stage` (for provenance, e.g. in an export's metadata)."""
        record: dict[str, Any] = {} if self.config is None else self.config.to_dict()
        record["data"] = dict(self.data)
        if self.init_from is not None:
            record["init_from"] = self.init_from
        if self.first_stage is not None:
            record["first_stage"] = self.first_stage.to_dict()
        return json.loads(json.dumps(record))


def load_run(run_dir: str | Path, allow_baseline: bool = False) -> Run:
    """Reads a finished run directory.

    Args:
        run_dir: a directory written by `dynamic_vae.training.train` (or, with
            `allow_baseline`, by `dynamic-vae baseline`).
        allow_baseline: also read linear-baseline runs (`Run.model` is then a
            `LinearDynamicTexture` and `Run.config` is `None`); without it they are refused
            as not being Dynamic VAE runs.

    Returns:
        The `Run`.

    Raises:
        FileNotFoundError: naming the missing file when `run_dir` is not a finished run.
        ValueError: naming the damaged file when one cannot be read.
    """
    run_dir = Path(run_dir)
    model_path = run_dir / MODEL_FILE
    baseline = not model_path.is_file() and (run_dir / BASELINE_FILE).is_file()
    if baseline and allow_baseline:
        return _load_baseline_run(run_dir)
    if not model_path.is_file():
        kind = (f"it is a linear-baseline run ({BASELINE_FILE})" if baseline
                else "train one with 'dynamic-vae train'")
        raise FileNotFoundError(f"{run_dir}: not a finished run directory ({MODEL_FILE} is "
                                f"missing); {kind}")
    model = load_dynamic_vae(model_path)
    record = load_run_record(run_dir)
    config_path = run_dir / CONFIG_FILE
    if record is None:
        config, record = RunConfig(model=model.model_config), {}
    else:
        config = _parse(config_path, {k: v for k, v in record.items()
                                      if k not in _RECORD_ENTRIES})
    first_stage = record.get("first_stage")
    init_from = record.get("init_from")
    return Run(directory=run_dir, model=model, config=config,
               data=_data_entry(config_path, record),
               test_pairs=load_test_pairs(run_dir), summary=_load_summary(run_dir),
               init_from=None if init_from is None else str(init_from),
               first_stage=None if first_stage is None else _parse(config_path, first_stage))


def load_dynamic_vae(path: str | Path) -> "DynamicVAE":
    """The `DynamicVAE` of a `.keras` file, loaded without running any code it may hold.

    Args:
        path: the `.keras` file (a run's `model.keras`).

    Raises:
        ValueError: naming the file when it is damaged or holds another kind of model.
    """
    import keras

    from dynamic_vae.models.dynamic_vae import DynamicVAE

    path = Path(path)
    try:
        with warnings.catch_warnings():
            # A stage that trains part of the model (`trainable` 'observation' or
            # 'dynamics') saves optimizer slots for that part only, while the loaded model's
            # optimizer is built for all its trainable weights; Keras then skips the slots
            # with a warning, and the loaded model's optimizer starts afresh, as it would
            # for a new stage.
            warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer",
                                    category=UserWarning)
            # safe_mode stays on: a .keras file may not smuggle in Python lambdas.
            model = keras.models.load_model(path, safe_mode=True)
    except Exception as error:  # noqa: BLE001 - damaged archives fail in many ways
        raise ValueError(f"{path}: cannot load the model ({type(error).__name__}: "
                         f"{str(error)[:300]}); the file is damaged, truncated or not a "
                         "dynamic-vae .keras archive") from None
    if not isinstance(model, DynamicVAE):
        raise ValueError(f"{path}: expected a DynamicVAE, got {type(model).__name__}")
    return model


def save_model(model: Any, path: str | Path) -> None:
    """Saves a `.keras` file atomically: a reader never sees a truncated archive."""
    with atomic_path(path, suffix=".keras") as tmp:
        model.save(tmp)


def load_run_record(run_dir: str | Path) -> dict[str, Any] | None:
    """config.json of a run as JSON holds it, or `None` when the run has none.

    `train` compares whole records to decide whether a finished stage can be reused; every
    other reader wants `load_run`'s typed fields.

    Raises:
        ValueError: naming config.json when it is not a JSON object.
    """
    path = Path(run_dir) / CONFIG_FILE
    if not path.is_file():
        return None
    return _read_json_object(path)


def save_test_pairs(run_dir: str | Path, test_pairs: np.ndarray,
                    pixel_range: tuple[float, float] = (0.0, 1.0)) -> None:
    """Writes a run's held-out pairs `(P, 2, H, W, C)`, given in `pixel_range`, to
    test_pairs.npy as float32 in [0, 1] (what `synthesize(initial_pair=...)` takes).

    The paper holds out one pair of the training sequence and starts synthesis from the
    first half of its posterior mean (eq. 35); keeping the pair in the run directory lets
    `generate` follow that protocol without the training data.
    """
    atomic_save_npy(Path(run_dir) / TEST_PAIRS_FILE, to_unit_range(test_pairs, pixel_range))


def load_test_pairs(run_dir: str | Path) -> np.ndarray | None:
    """The held-out pairs `(P, 2, H, W, C)` (float32 in [0, 1]) of a run, or `None` for a
    run that keeps none.

    Raises:
        ValueError: naming test_pairs.npy when it is damaged.
    """
    path = Path(run_dir) / TEST_PAIRS_FILE
    if not path.is_file():
        return None
    try:
        pairs = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise ValueError(f"{path}: not a readable .npy array ({error}); the run directory is "
                         "damaged") from None
    if pairs.ndim != 5 or pairs.shape[1] != 2 or pairs.dtype != np.float32:
        raise ValueError(f"{path}: expected float32 pairs of shape (P, 2, H, W, C), got "
                         f"{pairs.dtype} {pairs.shape}; the run directory is damaged")
    return pairs


def load_test_pair(run_dir: str | Path) -> np.ndarray | None:
    """The first held-out pair `(2, H, W, C)` (float32 in [0, 1]) of a run, or `None`."""
    pairs = load_test_pairs(run_dir)
    return pairs[0] if pairs is not None and len(pairs) else None


# --- reading ----------------------------------------------------------------------------


def _read_json_object(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: not valid JSON ({error}); the run directory is "
                         "damaged") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


def _parse(path: Path, sections: Any) -> RunConfig:
    try:
        return RunConfig.from_dict(sections)
    except (ValueError, TypeError) as error:
        raise ValueError(f"{path}: not a dynamic-vae run configuration ({error}); the run "
                         "directory is damaged") from None


def _data_entry(path: Path, record: dict[str, Any]) -> dict[str, Any]:
    data = record.get("data", {})
    if not isinstance(data, dict):
        raise ValueError(f"{path}: 'data' must be a JSON object, got {type(data).__name__}")
    return data


def _load_summary(run_dir: Path) -> dict[str, Any] | None:
    path = run_dir / SUMMARY_FILE
    return _read_json_object(path) if path.is_file() else None


def _load_baseline_run(run_dir: Path) -> Run:
    from dynamic_vae.baseline import LinearDynamicTexture

    model = LinearDynamicTexture.load(run_dir / BASELINE_FILE)
    record = load_run_record(run_dir) or {}
    config_path = run_dir / CONFIG_FILE
    return Run(directory=run_dir, model=model, config=None,
               data=_data_entry(config_path, record), test_pairs=load_test_pairs(run_dir),
               summary=_load_summary(run_dir))
