"""`dynamic-vae compare` end to end on small synthetic .npy clips."""

import json

import numpy as np
import pytest

from dynamic_vae.cli import main
from tests.helpers.moving_gratings import moving_grating


@pytest.fixture
def clips(tmp_path):
    """A real clip and two 'syntheses' (another noise draw, a slower grating) as uint8 .npy."""
    paths = {}
    for name, frames in (("real", moving_grating(seed=0)), ("noisy", moving_grating(seed=1)),
                         ("slow", moving_grating(speed=0.2, seed=2))):
        paths[name] = tmp_path / f"{name}.npy"
        np.save(paths[name], np.round(frames * 255).astype(np.uint8))
    return paths


def compare_argv(clips, *flags):
    return ["compare", str(clips["real"]), f"noisy={clips['noisy']}", f"slow={clips['slow']}",
            "--size", "16", "--latent-dim", "4", *flags]


def test_table_names_every_video(clips, capsys):
    assert main(compare_argv(clips)) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("| video | frames | sharpness ratio | spectrum distance")
    assert lines[2].startswith("| noisy | 40 |") and lines[3].startswith("| slow | 40 |")


def test_json_output_parses(clips, capsys):
    assert main(compare_argv(clips, "--format", "json")) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row["name"] for row in rows] == ["noisy", "slow"]
    assert {"sharpness_ratio", "spectrum_distance", "martin_distance", "std_ratio",
            "temporal_std_ratio", "alive", "frames"} < set(rows[0])


def test_output_writes_comparison_json(clips, tmp_path, capsys):
    output = tmp_path / "comparison"
    assert main(compare_argv(clips, "--max-frames", "30", "--output", str(output))) == 0
    assert f"wrote {output / 'comparison.json'}" in capsys.readouterr().out
    written = json.loads((output / "comparison.json").read_text())
    assert written["settings"] == {
        "real": str(clips["real"]), "videos": {"noisy": str(clips["noisy"]),
                                               "slow": str(clips["slow"])},
        "size": 16, "color": "gray", "max_frames": 30, "latent_dim": 4, "real_frames": 30}
    assert [row["frames"] for row in written["rows"]] == [30, 30]
    assert [path.name for path in output.iterdir()] == ["comparison.json"]


def test_rgb_loads_three_channels(clips, capsys):
    assert main(compare_argv(clips, "--color", "rgb", "--format", "json")) == 0
    assert json.loads(capsys.readouterr().out)[0]["sharpness_ratio"] > 0


@pytest.mark.parametrize("argv, message", [
    (["compare", "REAL_PATH", "noisy.npy"],
     "argument NAME=VIDEO: expected NAME=VIDEO (for example LDS=synth/lds.avi), got "
     "'noisy.npy'"),
    (["compare", "REAL_PATH", "=noisy.npy"], "argument NAME=VIDEO: expected NAME=VIDEO"),
    (["compare", "REAL_PATH", "a=x.npy", "--size", "0"],
     "argument --size: expected a positive integer, got '0'"),
    (["compare", "REAL_PATH", "a=x.npy", "--latent-dim", "ten"],
     "argument --latent-dim: expected a positive integer, got 'ten'"),
])
def test_malformed_arguments_are_rejected_by_the_parser(clips, argv, message, capsys):
    argv = [str(clips["real"]) if arg == "REAL_PATH" else arg for arg in argv]
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_duplicate_names_are_rejected(clips, capsys):
    argv = ["compare", str(clips["real"]), f"A={clips['noisy']}", f"A={clips['slow']}"]
    assert main(argv) == 2
    assert (f"NAME=VIDEO: expected distinct names, got 'A' twice ({clips['noisy']} and "
            f"{clips['slow']})") in capsys.readouterr().err


def test_a_missing_file_is_named(clips, tmp_path, capsys):
    missing = tmp_path / "missing.avi"
    assert main(["compare", str(clips["real"]), f"gone={missing}"]) == 2
    assert f"gone={missing}: no such file or folder" in capsys.readouterr().err
    assert main(["compare", str(missing), f"noisy={clips['noisy']}"]) == 2
    assert f"REAL {missing}: no such file or folder" in capsys.readouterr().err


def test_too_few_frames_for_the_martin_distance(clips, capsys):
    assert main(compare_argv(clips, "--max-frames", "4")) == 2
    assert ("dynamic-vae compare: error: real: the Martin distance with latent_dim=4 needs "
            "more than 4 frames, got 4") in capsys.readouterr().err


def test_a_short_video_is_named(clips, tmp_path, capsys):
    short = tmp_path / "short.npy"
    np.save(short, np.load(clips["slow"])[:3])
    assert main(["compare", str(clips["real"]), f"short={short}", "--size", "16",
                 "--latent-dim", "4"]) == 2
    assert ("short: the Martin distance with latent_dim=4 needs more than 4 frames, got 3"
            in capsys.readouterr().err)
