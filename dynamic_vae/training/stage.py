"""One stage of a run: data -> start -> fit -> finish -> save.

    data    the frame pairs, less the validation windows (`training.data`)
    start   the compiled model at its starting weights or its backup (`training.start`)
    fit     Keras `fit`, backed up every epoch (`training.fit`)
    finish  `DynamicVAE.finish`: the closed-form steps after the last epoch
            (`dynamic_vae.models.finishing`), the same call a user makes after `model.fit`
    save    the run directory's files (`training.save`)
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf

from dynamic_vae.atomic import atomic_write_text
from dynamic_vae.config import RunConfig
from dynamic_vae.data.frame_pairs import FramePairs
from dynamic_vae.distribute import is_chief
from dynamic_vae.models.dynamic_vae import DynamicVAE
from dynamic_vae.run_backup import RunBackup
from dynamic_vae.runs import BACKUP_DIR, CONFIG_FILE, LOGS_DIR
from dynamic_vae.training.data import hold_out_validation
from dynamic_vae.training.fit import fit_stage
from dynamic_vae.training.save import save_stage, stage_summary
from dynamic_vae.training.start import start_model


def train_stage(
    config: RunConfig,
    output_dir: str | Path,
    data: tuple[FramePairs, dict[str, Any]],
    verbose: int | str,
    restart: bool,
    strategy: tuple[str, tf.distribute.Strategy],
    callbacks: list[keras.callbacks.Callback] | None,
    source: DynamicVAE | None,
    record: dict[str, Any],
    summary_entries: dict[str, Any] | None = None,
) -> tuple[DynamicVAE, dict[str, Any]]:
    """Trains one stage of `train` into `output_dir` and returns `(model, summary)`.

    Args:
        config: the stage's configuration.
        output_dir: the stage's run directory.
        data: `(frame pairs, config.json's data entry)`, what `training.data.training_data`
            gives.
        verbose: Keras progress output.
        restart: discard a backup in `output_dir` and train from scratch.
        strategy: the strategy's name and the strategy.
        callbacks: more Keras callbacks for `fit`.
        source: the model whose weights start the stage, or `None`.
        record: more entries for config.json.
        summary_entries: more entries for summary.json (e.g. the period read from the
            frames).
    """
    strategy_name, distribution = strategy
    chief = is_chief(distribution)
    output_dir = Path(output_dir)
    all_pairs, data_info = data
    pairs, validation_windows = hold_out_validation(all_pairs, config.training)

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

    model, first_epoch = start_model(config, distribution, backup, restart, source, pairs,
                                     validation_windows)
    fitted = fit_stage(model, config, pairs, validation_windows, first_epoch, backup,
                       distribution, write_dir / LOGS_DIR, chief, callbacks, verbose)
    # The training pairs only (validation windows excluded), as in the epochs just fitted.
    finished = model.finish(pairs, seed=config.training.seed)

    summary = stage_summary(model, config, pairs, backup.history, first_epoch, fitted,
                            finished, strategy_name, distribution.num_replicas_in_sync)
    summary.update(summary_entries or {})
    save_stage(model, write_dir, pairs, config.model.pixel_range, backup.history, summary)
    if chief:
        # Only once every output is in place: a kill before this line resumes and rewrites them.
        backup.clear()
    else:
        shutil.rmtree(write_dir, ignore_errors=True)
    return model, summary
