"""`dynamic-vae export`, `serve` and `client generate` end to end, and the same client
against a real `tensorflow_model_server` when one is on PATH."""

import shutil
import subprocess
import sys
import time

import imageio.v3 as iio
import numpy as np
import pytest

from dynamic_vae.cli import main
from dynamic_vae.synthesis import synthesize
from dynamic_vae.runs import load_run
from tests.helpers.serving import FRAME_SHAPE, free_port, make_tiny_run

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def exported_cli(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    run_dir = make_tiny_run(root / "run")
    base_dir = root / "saved_models"
    assert main(["export", str(run_dir), "--name", "tiny", "--base-dir", str(base_dir),
                 "--max-frames", "32"]) == 0
    return {"root": root, "run": run_dir, "model_dir": base_dir / "tiny"}


def start_server(*args, timeout=120):
    """A `dynamic-vae serve` subprocess, once it prints that it is serving."""
    process = subprocess.Popen([sys.executable, "-m", "dynamic_vae.cli", "serve", *map(str, args)],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    deadline = time.monotonic() + timeout
    line = ""
    while time.monotonic() < deadline and process.poll() is None:
        line = process.stdout.readline()
        if line.startswith("serving model"):
            return process, line
    process.kill()
    raise AssertionError(f"server did not start (exit code {process.poll()}, last line "
                         f"{line!r})")


def test_export_cli_writes_version_1(exported_cli):
    assert (exported_cli["model_dir"] / "1" / "saved_model.pb").is_file()
    assert [p.name for p in exported_cli["model_dir"].iterdir()] == ["1"]


@pytest.mark.parametrize("argv, message", [
    (["export", "{root}/missing", "--name", "x"], "not a finished run"),
    (["export", "{run}", "--name", "x", "--max-frames", "0"], "--max-frames must be >= 1"),
    (["serve", "--model-base-path", "{root}/missing"], "no such folder"),
    (["client", "generate", "--model", "tiny", "--out", "{root}/seq.txt"],
     "unsupported format"),
])
def test_cli_errors_exit_2_with_a_message(exported_cli, capsys, argv, message):
    argv = [a.format(root=exported_cli["root"], run=exported_cli["run"]) for a in argv]
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_serve_and_client_generate_a_gif(exported_cli, capsys):
    port = free_port()
    process, line = start_server("--model-base-path", exported_cli["model_dir"], "--port", port,
                                 "--rest-port", 0, "--num-versions", 0)
    try:
        assert f"127.0.0.1:{port}" in line
        gif = exported_cli["root"] / "seq.gif"
        assert main(["client", "generate", "--target", f"127.0.0.1:{port}", "--model", "tiny",
                     "--length", "16", "--seed", "3", "--out", str(gif)]) == 0
        assert "wrote 16 frames" in capsys.readouterr().out
        frames = iio.imread(gif, index=None)
        assert frames.shape[:3] == (16, 32, 32)
        npy = exported_cli["root"] / "seq.npy"
        assert main(["client", "generate", "--target", f"127.0.0.1:{port}", "--model", "tiny",
                     "--length", "16", "--seed", "3", "--version", "1", "--out", str(npy)]) == 0
        model = load_run(exported_cli["run"]).model
        expected, _ = synthesize(model, 16, seed=3)
        assert np.abs(np.load(npy).astype(int) - expected[0]).max() <= 1
        assert main(["client", "generate", "--target", f"127.0.0.1:{port}", "--model", "tiny",
                     "--length", "33", "--out", str(npy)]) == 2
        assert "INVALID_ARGUMENT" in capsys.readouterr().err
        assert process.poll() is None  # still serving
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_client_against_a_real_tensorflow_model_server(exported_cli, tmp_path):
    binary = shutil.which("tensorflow_model_server")
    if binary is None:
        pytest.skip("tensorflow_model_server is not on PATH (no PyPI/Debian package here)")
    port = free_port()
    process = subprocess.Popen([binary, f"--port={port}", "--rest_api_port=0",
                                "--model_name=tiny",
                                f"--model_base_path={exported_cli['model_dir']}"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        out = tmp_path / "seq.npy"
        deadline = time.monotonic() + 60
        while main(["client", "generate", "--target", f"127.0.0.1:{port}", "--model", "tiny",
                    "--length", "8", "--seed", "3", "--out", str(out)]) != 0:
            assert time.monotonic() < deadline, "tensorflow_model_server did not answer"
            time.sleep(1)
        model = load_run(exported_cli["run"]).model
        expected, _ = synthesize(model, 8, seed=3)
        frames = np.load(out)
        assert frames.shape == (8, *FRAME_SHAPE)
        assert np.abs(frames.astype(int) - expected[0]).max() <= 1
    finally:
        process.terminate()
        process.wait(timeout=30)
