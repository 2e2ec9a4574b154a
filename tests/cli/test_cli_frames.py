"""`dynamic-vae train --frames/--dataset` with the loader options, on real clips (tiny runs)."""

import json
import re
from pathlib import Path

import numpy as np
import pytest
import tensorflow_datasets as tfds

from tests.helpers.dummy_inputs import dummy_data_root
from dynamic_vae.cli import build_parser, main
from dynamic_vae.runs import load_run

TINY = ["--epochs", "1", "--latent-dim", "3", "--batch-size", "8", "--window", "2",
        "--image-every", "0", "--quiet"]


def test_loader_flags_parse():
    args = build_parser().parse_args(
        ["train", "-o", "r", "--frames", "x.avi", "--grayscale", "--size", "48x64",
         "--crop", "1,2,30,40", "--stride", "2", "--max-frames", "9"])
    assert (args.color, args.size, args.crop, args.stride, args.max_frames) == (
        "gray", (48, 64), (1, 2, 30, 40), 2, 9)
    args = build_parser().parse_args(["train", "-o", "r", "--dataset", "d/c", "--rgb",
                                      "--size", "32"])
    assert (args.dataset, args.color, args.size, args.crop) == ("d/c", "rgb", (32, 32),
                                                                "center")


@pytest.mark.parametrize("argv", [
    ["--crop", "1,2,3"], ["--size", "0"], ["--size", "4x"], ["--grayscale", "--rgb"],
    ["--frames", "a.avi", "--dataset", "b/c"]])
def test_bad_loader_flags_are_rejected(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["train", "-o", "r", *argv])
    assert exit_info.value.code == 2


def test_a_truncated_video_fails_with_exit_2_naming_it(tmp_path, shared_data, capsys):
    data = (shared_data / "dyntex" / "fountain.avi").read_bytes()
    path = tmp_path / "fountain_cut.avi"
    path.write_bytes(data[:len(data) // 2])
    assert main(["train", "--frames", str(path), "--output", str(tmp_path / "r"), *TINY]) == 2
    err = capsys.readouterr().err
    assert f"--frames {path}: truncated" in err
    assert not (tmp_path / "r" / "model.keras").exists()


def test_unprepared_dataset_fails_with_exit_2(tmp_path, capsys):
    assert main(["train", "--dataset", "dynamic_textures/gray48", "--data-dir",
                 str(tmp_path), "--output", str(tmp_path / "r"), *TINY]) == 2
    assert "is not prepared" in capsys.readouterr().err


def test_frames_flags_load_a_real_dyntex_clip(shared_data):
    from dynamic_vae.cli.frame_source import frame_shape_of, load_frame_source

    clip = shared_data / "dyntex" / "seawave.avi"
    args = build_parser().parse_args(["train", "-o", "r", "--frames", str(clip), "--grayscale",
                                      "--size", "24", "--stride", "2", "--max-frames", "40"])
    frames, source = load_frame_source(args)
    assert frames.shape == (40, 24, 24, 1) and frames.dtype == np.uint8
    assert frame_shape_of(frames) == (24, 24, 1) and source == str(clip)
    args = build_parser().parse_args(["train", "-o", "r", "--frames",
                                      str(shared_data / "coil20" / "coil20_objects01-14.npz"),
                                      "--max-frames", "6"])
    frames, _ = load_frame_source(args)
    assert len(frames) == 14 and frames[0].shape == (6, 32, 32, 1)
    assert frame_shape_of(frames) == (32, 32, 1)


@pytest.mark.slow
def test_train_on_several_sequences_from_a_prepared_dataset(tmp_path):
    import dynamic_vae.datasets  # noqa: F401

    data_dir = tmp_path / "tfds"
    manual = dummy_data_root() / "dynamic_textures"
    tfds.builder("dynamic_textures/gray48", data_dir=str(data_dir)).download_and_prepare(
        download_config=tfds.download.DownloadConfig(manual_dir=str(manual)))
    run_dir = tmp_path / "run"
    assert main(["train", "--dataset", "dynamic_textures/gray48", "--data-dir", str(data_dir),
                 "--size", "16", "--output", str(run_dir), "--finetune-epochs", "1",
                 "--windows-per-epoch", "16", *TINY]) == 0
    run = load_run(run_dir)
    assert run.config.model.frame_shape == (16, 16, 1)
    # 4 clips of 5 + 5 + 3 + 4 frames; a pair never straddles two clips.
    # The frames' SHA-1 lets a resumed run check it trains on the same data.
    data = dict(run.data)
    assert re.fullmatch(r"[0-9a-f]{40}", data.pop("sha1"))
    assert data == {"source": "tfds:dynamic_textures/gray48[train]", "sequences": 4,
                              "num_frames": 17}
    first = json.loads((run_dir / "warm_start" / "summary.json").read_text())
    # Both stages hold out each clip's last 2 frames (window 2) where the clip keeps a
    # training pair besides: one validation window from each of the clips of 5, 5 and 4.
    summary = json.loads((run_dir / "summary.json").read_text())
    assert first["validation"] == {**summary["validation"], "best_epoch":
                                   first["validation"]["best_epoch"], "best_loss":
                                   first["validation"]["best_loss"]}
    assert summary["validation"]["windows"] == 3
    assert 0 < first["train_pairs"] == summary["train_pairs"] < 17 - 4 - 1


def test_prepare_builds_offline_without_opening_a_connection(tmp_path, monkeypatch, capsys):
    import socket

    def no_network(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    manual = dummy_data_root() / "object_rotation"
    assert main(["prepare", "object_rotation/coil20", "--manual-dir", str(manual),
                 "--data-dir", str(tmp_path)]) == 0
    assert "prepared object_rotation/coil20" in capsys.readouterr().out
    builder = tfds.builder("object_rotation/coil20", data_dir=str(tmp_path), try_gcs=False)
    assert builder.info.splits["train"].num_examples == 2


@pytest.mark.parametrize("argv,message", [
    (["dynamic_textures/bogus"], "dynamic_textures has configs ['gray48', 'rgb64']"),
    (["mnist/plain"], "expected one of ('counting_mnist'"),
    (["dynamic_textures/gray48", "--manual-dir", "{tmp}/missing"], "no such folder"),
])
def test_prepare_rejects_unknown_data_sets_and_folders(tmp_path, capsys, argv, message):
    argv = [a.format(tmp=tmp_path) for a in argv]
    assert main(["prepare", *argv, "--data-dir", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err


def test_baseline_fits_a_real_clip_through_the_loader_flags(tmp_path, shared_data, capsys):
    clip = shared_data / "dyntex" / "fountain.avi"
    run_dir = tmp_path / "ldt"
    assert main(["baseline", "--frames", str(clip), "--grayscale", "--size", "32",
                 "--max-frames", "60", "--latent-dim", "5", "--output", str(run_dir)]) == 0
    baseline_run = load_run(run_dir, allow_baseline=True)
    assert baseline_run.is_baseline and baseline_run.data == {"source": str(clip)}
    out = tmp_path / "ldt.npy"
    assert main(["generate", str(run_dir), "--length", "6", "--out", str(out)]) == 0
    assert np.load(out).shape == (6, 32, 32, 1)
    coil = shared_data / "coil20" / "coil20_objects01-14.npz"
    assert main(["baseline", "--frames", str(coil), "--output", str(tmp_path / "x")]) == 2
    assert "holds 14 sequences; this command fits one" in capsys.readouterr().err


def test_frames_of_a_counting_display_train_with_the_counting_preset(tmp_path, capsys):
    """Saved counting-MNIST frames, with no preset and no cycle: the frames say they repeat
    every 4 frames in a new hand each cycle, so `train` picks the counting preset and locks
    the period it read; a looping clip keeps the video preset."""
    from dynamic_vae.data import counting_mnist
    from tests.helpers.moving_blob import moving_blob

    frames, _ = counting_mnist("1234", 200, seed=0)
    np.save(tmp_path / "counting.npy", frames)
    assert main(["train", "--frames", str(tmp_path / "counting.npy"), "--output",
                 str(tmp_path / "count"), "--epochs", "1", "--finetune-epochs", "0",
                 "--variety-epochs", "0", "--latent-dim", "4", "--base-channels", "8",
                 "--image-every", "0", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert ("the frames repeat every 4 frames, each cycle in a new look" in out
            and "the counting-mnist preset" in out)
    run = load_run(tmp_path / "count")
    assert run.config.model.period == 4 and run.config.model.encoder_mode == "frame"
    assert run.config.model.architecture == "v1" and run.summary["period_from_frames"] == 4
    loop = (moving_blob(48, 12) * 255).astype(np.uint8)
    np.save(tmp_path / "loop.npy", loop)
    assert main(["train", "--frames", str(tmp_path / "loop.npy"), "--output",
                 str(tmp_path / "loop"), *TINY, "--finetune-epochs", "0"]) == 0
    assert "the frames repeat every 12 frames (the phase explains 1.00" in (
        capsys.readouterr().out)
    assert load_run(tmp_path / "loop").config.model.architecture == "residual"
