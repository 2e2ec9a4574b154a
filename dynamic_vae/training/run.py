"""A run: one stage, or a first stage and later stages (fine-tuning, variety), each from
the weights of the stage before."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import keras
import numpy as np

from dynamic_vae.atomic import atomic_write_text
from dynamic_vae.config import DEFAULT_PRESETS, PERIODIC_START_STATES, RunConfig
from dynamic_vae.distribute import is_chief, make_strategy
from dynamic_vae.evaluation.periodicity import (estimate_period, phase_share,
                                               phase_variance_ratio, residual_persistence)
from dynamic_vae.models.dynamic_vae import DynamicVAE
from dynamic_vae.runs import (BACKUP_DIR, FINETUNE_DIR, SUMMARY_FILE, WARM_START_DIR, load_run,
                               load_run_record)
from dynamic_vae.training.data import training_data
from dynamic_vae.training.stage import train_stage
from dynamic_vae.training.start import warm_start_source


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

    A configuration with later stages (`finetune`, `variety`) trains its first stage into
    `output_dir/warm_start/`, then each later stage from the weights of the one before; the
    last stage writes `output_dir`, and a fine-tuning stage followed by a variety stage
    writes `output_dir/finetune/` (`stage_directories`). Each earlier stage's directory is a
    complete run, kept, and reused by a rerun when it finished with the same configuration.

    Every stage ends with `DynamicVAE.finish` on its training pairs, the closed-form steps
    after the last epoch: a model trained with `model.fit` on the same pairs and then
    finished with `model.finish(pairs)` is the same model.

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
        `(model, summary)` where summary is what summary.json holds (with later stages: the
        last stage's, plus `stages`, each stage's wall time and epochs).

    Raises:
        ValueError: if `output_dir` holds a backup of another configuration (and not
            `restart`).
        FloatingPointError: if the loss becomes NaN or inf; names the epoch and the last good
            backup, and writes no model.

    Example:
    >>> config = get_preset("counting-mnist").override(epochs=5, finetune_epochs=2)
    >>> model, summary = train(config, "runs/x")                  # doctest: +SKIP
    """
    if (frames is None and config.training.period_from_cycle and not config.model.period
            and len(config.training.cycle) >= 3):
        # The counting-MNIST sequence built from the cycle repeats every len(cycle) frames.
        config = config.override(period=len(config.training.cycle))
    # summary.json of the run (its last stage) records the period read from the frames.
    summary_entries = {}
    if frames is not None and config.training.period_from_frames and not config.model.period:
        estimated_period = frames_period(frames)
        summary_entries["period_from_frames"] = estimated_period
        if estimated_period is not None:
            # With a linear path the harmonic start is the frames' Fourier series, which puts
            # the fundamental in from the first epoch. Without one it is `harmonic_transition`,
            # whose planes take up to every state dimension (9 of 10 for a period of 10) and
            # leave none for what each frame draws anew (a counting display's handwriting);
            # such a model learns its rotation from its own start, as for a named cycle, and
            # gets the period locked after training.
            config = config.override(
                period=estimated_period,
                harmonic_start=config.training.harmonic_start or config.model.linear_path,
                start_states=config.model.start_states or PERIODIC_START_STATES)
    source = None if init_from is None else warm_start_source(init_from, config)
    # One strategy for every stage: a multi-worker strategy can be set up once per process.
    distribution = make_strategy(strategy)
    data = training_data(config, frames, frames_source)
    for name, stage in zip(config.stage_names(), config.stages()):
        # Caught here, once the data are known good, before any stage trains.
        stage.model.check_readback_period(f"the {name}")
    if frames_loader is not None:
        data[1]["loader"] = dict(frames_loader)
    common = dict(data=data, verbose=verbose, restart=restart,
                  strategy=(strategy, distribution), callbacks=callbacks)
    first_record = {} if init_from is None else {"init_from": str(init_from)}
    names, stages = config.stage_names(), config.stages()
    if len(stages) == 1:
        return train_stage(config, output_dir, source=source, record=first_record,
                           summary_entries=summary_entries, **common)
    directories = stage_directories(output_dir, len(stages))
    first = stages[0]
    results = []
    retrained = False
    for index, (name, stage, directory) in enumerate(zip(names, stages, directories)):
        if index == 0:
            record = first_record
        else:
            record = {"init_from": str(directories[index - 1]),
                      "finetune": dict(config.finetune), "first_stage": first.to_dict()}
            if name == "variety":
                record["variety"] = dict(config.variety)
            source = results[-1][0]
        last = index == len(stages) - 1
        # An earlier stage that finished with the same configuration, from an unchanged
        # stage before it, is reused.
        result = None if restart or last or retrained else _finished_stage(
            directory, {**stage.to_dict(), "data": data[1], **record})
        if result is None:
            retrained = True
            result = train_stage(stage, directory, source=source, record=record,
                                 summary_entries=summary_entries if last else None, **common)
        results.append(result)
    model, summary = results[-1]
    summary["stages"] = [
        {"stage": name, "run": str(directory), "epochs": stage_summary["epochs"],
         "wall_time_seconds": stage_summary["wall_time_seconds"],
         "pairs_per_second": stage_summary["pairs_per_second"]}
        for name, directory, (_, stage_summary) in zip(names, directories, results)]
    # The run's totals: every stage (a reused stage counts with its recorded time).
    summary["wall_time_seconds"] = sum(s["wall_time_seconds"] for s in summary["stages"])
    summary["pairs_per_second"] = sum(
        s["wall_time_seconds"] * s["pairs_per_second"] for s in summary["stages"]) / max(
        summary["wall_time_seconds"], 1e-9)
    if is_chief(distribution):
        atomic_write_text(Path(output_dir) / SUMMARY_FILE, json.dumps(summary, indent=2))
    return model, summary


# How much of the frames the period is estimated from: enough cycles of any period a model
# can lock, without reading a long video's every frame as float64.
PERIOD_ESTIMATE_FRAMES = 1024
MAX_ESTIMATED_PERIOD = 256
# A period is trained with only when the frames' phase explains their variance well beyond
# chance (`phase_variance_ratio` about 1). A lag that only happens to dip scores below 1
# (the flashing light's first 400 frames dip at 16 and score 0.24 there); a flicker with a
# beat of 31 frames scores 10, a counting display 30-90, a running animal's loop hundreds.
MIN_PHASE_VARIANCE_RATIO = 4.0


def _period_frames(frames: np.ndarray | list[np.ndarray]) -> np.ndarray:
    """The frames a period is read from: the longest sequence's first
    `PERIOD_ESTIMATE_FRAMES`."""
    sequence = max(frames, key=len) if isinstance(frames, (list, tuple)) else frames
    return np.asarray(sequence)[:PERIOD_ESTIMATE_FRAMES]


def frames_period(frames: np.ndarray | list[np.ndarray]) -> int | None:
    """The period (>= 3 frames) that `TrainingConfig.period_from_frames` trains with: that of
    the longest sequence's first `PERIOD_ESTIMATE_FRAMES` frames (`estimate_period`), when
    their phase explains them (`phase_variance_ratio` at least `MIN_PHASE_VARIANCE_RATIO`);
    else `None` (also for a period of 2 frames, which has no rotation plane to lock)."""
    sequence = _period_frames(frames)
    if len(sequence) < 6:  # a period of 3 shown twice
        return None
    try:
        period = estimate_period(sequence,
                                 max_period=min(len(sequence) // 2, MAX_ESTIMATED_PERIOD))
    except ValueError:
        return None
    if period < 3 or phase_variance_ratio(sequence, period) < MIN_PHASE_VARIANCE_RATIO:
        return None
    return period


# A periodic clip trains with the counting preset when its frames renew their look every
# cycle: the phase explains less than this share of their variance ...
RENEWED_MAX_PHASE_SHARE = 0.5
# ... and what it leaves is drawn anew from frame to frame (lag-one autocorrelation below
# this). Counting MNIST: shares 0.16-0.22 and autocorrelations within 0.01 of 0; the running
# animals' loops: shares above 0.98; the flashing light, whose flicker has a 31-frame beat:
# share 0.40, but autocorrelation 0.59.
RENEWED_MAX_PERSISTENCE = 0.3


def frames_preset(frames: np.ndarray | list[np.ndarray]) -> tuple[str, str]:
    """The preset `train --frames` starts from when none is named, and why, in words.

    `counting-mnist` when the frames have a period (`frames_period`) and renew their look
    every cycle: the phase explains less than `RENEWED_MAX_PHASE_SHARE` of the frames'
    variance (`phase_share`), and what it leaves is drawn anew each frame
    (`residual_persistence` below `RENEWED_MAX_PERSISTENCE`). That is the process the
    counting preset models: the phase on locked planes, each frame's own look from the
    innovations, and a decoder that writes that look for the phase's class (a counting
    display filmed by a user, say). Otherwise `video`, which models any clip and a loop
    that repeats itself.

    Example:
    >>> frames_preset(np.load("counting.npy"))          # doctest: +SKIP
    ('counting-mnist', 'the frames repeat every 4 frames, each cycle in a new look ...')
    """
    period = frames_period(frames)
    if period is None:
        return DEFAULT_PRESETS["frames"], "the frames show no period"
    sequence = _period_frames(frames)
    share = phase_share(sequence, period)
    persistence = residual_persistence(sequence, period)
    measured = f"(the phase explains {share:.2f} of their variance, the rest persists " \
               f"{persistence:.2f} from frame to frame)"
    if share < RENEWED_MAX_PHASE_SHARE and persistence < RENEWED_MAX_PERSISTENCE:
        return DEFAULT_PRESETS["counting"], (f"the frames repeat every {period} frames, each "
                                             f"cycle in a new look {measured}")
    return DEFAULT_PRESETS["frames"], f"the frames repeat every {period} frames {measured}"


def _comparable(record: dict[str, Any] | None) -> dict[str, Any] | None:
    """A config.json record as JSON holds it, with every configuration field (a field added
    since the record was written holds its default) and without empty later-stage sections
    (a run written before a section existed has none)."""
    if record is None:
        return None
    record = json.loads(json.dumps(record))
    for section in (record, record.get("first_stage")):
        # A field added since the record was written holds its default there.
        if isinstance(section, dict) and "model" in section and "training" in section:
            try:
                filled = RunConfig.from_dict({"model": section["model"],
                                              "training": section["training"]}).to_dict()
            except (TypeError, ValueError):
                continue
            section["model"], section["training"] = filled["model"], filled["training"]
        if isinstance(section, dict):
            for key in ("finetune", "variety"):
                if section.get(key) == {}:
                    del section[key]
    return record


def stage_directories(output_dir: str | Path, count: int) -> list[Path]:
    """Each stage's run directory: the last stage's is `output_dir`; before it, the first
    stage's is `output_dir/warm_start` and a fine-tuning stage followed by a variety stage
    has `output_dir/finetune`. Each is a complete run directory."""
    output_dir = Path(output_dir)
    earlier = [output_dir / WARM_START_DIR, output_dir / FINETUNE_DIR][:count - 1]
    return [*earlier, output_dir]


def _finished_stage(run_dir: Path, wanted: dict[str, Any]
                    ) -> tuple[DynamicVAE, dict[str, Any]] | None:
    """`(model, summary)` of an earlier stage that finished with the config.json `wanted`
    (configuration, data and warm start), else `None`. A stage whose backup is still there
    did not finish, whatever files an earlier run of it left."""
    if (run_dir / BACKUP_DIR).exists():
        return None
    try:
        if _comparable(load_run_record(run_dir)) != _comparable(wanted):
            return None
        run = load_run(run_dir)
    except (OSError, ValueError):
        return None
    if run.summary is None:
        return None
    return run.model, run.summary
