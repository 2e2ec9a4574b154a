"""`dynamic-vae` hides TensorFlow's start-up and C++ log lines unless asked to show them."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from dynamic_vae.cli.quiet import is_tensorflow_noise, verbose_requested

ROOT = Path(__file__).resolve().parents[2]

# What TensorFlow prints at start-up on a CPU-only machine, and generally: absl's C++ log
# prefix (I0000 00:00:...), CUDA probing, the oneDNN and CPU-feature banners.
TENSORFLOW_LINE = re.compile(r"^[IWE]\d{4} \d\d:\d\d:|cuInit|oneDNN|rebuild TensorFlow|"
                             r"absl::InitializeLog", re.MULTILINE)


def run_program(*args, **env):
    """`python -m dynamic_vae.cli ARGS` with this checkout first on the path, TensorFlow's
    log level unset (its default, the noisiest) and `env` added."""
    environ = {key: value for key, value in os.environ.items()
               if key not in ("TF_CPP_MIN_LOG_LEVEL", "DYNAMIC_VAE_VERBOSE")}
    environ["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    environ.update(env)
    return subprocess.run([sys.executable, "-m", "dynamic_vae.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=600, env=environ, cwd=ROOT)


@pytest.mark.slow
def test_a_command_prints_no_tensorflow_start_up_line(tmp_path):
    result = run_program("baseline", "--cycle", "1234", "--num-frames", "300",
                         "--output", tmp_path / "x")
    assert result.returncode == 0, result.stderr
    assert "fitted the linear baseline" in result.stdout
    assert not TENSORFLOW_LINE.search(result.stdout + result.stderr), result.stderr


@pytest.mark.slow
def test_errors_still_show(tmp_path):
    result = run_program("baseline", "--num-frames", "many", "--output", tmp_path / "x")
    assert result.returncode == 2
    assert "argument --num-frames: invalid int value: 'many'" in result.stderr
    # An error raised after TensorFlow is loaded passes the filter too.
    result = run_program("generate", tmp_path / "missing", "--out", tmp_path / "x.npy")
    assert result.returncode == 2
    assert "dynamic-vae generate: error:" in result.stderr
    assert "not a finished run directory" in result.stderr
    assert not TENSORFLOW_LINE.search(result.stdout + result.stderr), result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("how", ["flag", "environment"])
def test_verbose_shows_tensorflow_lines(tmp_path, how):
    flags, env = (["--verbose"], {}) if how == "flag" else ([], {"DYNAMIC_VAE_VERBOSE": "1"})
    result = run_program(*flags, "baseline", "--num-frames", "300", "--output", tmp_path / "x",
                         **env)
    assert result.returncode == 0, result.stderr
    assert any(is_tensorflow_noise(line) for line in result.stderr.splitlines()), result.stderr


def test_the_filter_keeps_everything_else_even_when_the_program_aborts(tmp_path):
    # quiet.py is loaded from its file so the child starts without TensorFlow.
    code = f"""
import importlib.util, os, sys, time
spec = importlib.util.spec_from_file_location("quiet", {str(ROOT / "dynamic_vae/cli/quiet.py")!r})
quiet = importlib.util.module_from_spec(spec)
spec.loader.exec_module(quiet)
quiet.StderrFilter().start()
os.write(2, b"I0000 00:00:1796139492.700790    5217 cudart_stub.cc:31] Could not find cuda\\n")
os.write(2, b"a warning of ours\\nstep 1/2\\rstep 2/2\\r")
time.sleep(0.3)
os.write(2, b"E0000 00:00:1796139492.8   5217 cuda_platform.cc:52] failed call to cuInit: x\\n")
os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called are written\\n")
os.write(2, b"F0000 00:00:1796139492.9   5217 check.cc:1] Check failed: x\\n")
sys.stderr.write("Traceback (most recent call last): ...\\n")
os.abort()
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    assert result.returncode != 0
    assert result.stderr.decode() == (
        "a warning of ours\nstep 1/2\rstep 2/2\r"
        "F0000 00:00:1796139492.9   5217 check.cc:1] Check failed: x\n"
        "Traceback (most recent call last): ...\n")


@pytest.mark.parametrize("line, noise", [
    ("I0000 00:00:1796139492.700448    5217 port.cc:153] oneDNN custom operations are on.", True),
    ("W0000 00:00:1796139492.7    5217 gpu_device.cc:2] Cannot dlopen some GPU libraries.", True),
    ("E0000 00:00:1796140041.287296   10970 cuda_platform.cc:52] failed call to cuInit: "
     "INTERNAL: CUDA error", True),
    ("2024-05-01 12:00:00.123456: I tensorflow/core/platform/cpu_feature_guard.cc:182] "
     "This TensorFlow binary is optimized", True),
    ("To enable the following instructions: AVX2 FMA, in other operations, rebuild "
     "TensorFlow with the appropriate compiler flags.", True),
    ("WARNING: All log messages before absl::InitializeLog() is called are written to "
     "STDERR", True),
    ("F0000 00:00:1796139492.9   5217 check.cc:1] Check failed: x", False),
    ("dynamic-vae train: error: --sigma: sigma must be > 0, got -1", False),
    ("Traceback (most recent call last):", False),
    ("Epoch 1/3", False),
])
def test_tensorflow_noise(line, noise):
    assert is_tensorflow_noise(line) is noise


def test_verbose_requested(monkeypatch):
    monkeypatch.delenv("DYNAMIC_VAE_VERBOSE", raising=False)
    assert verbose_requested(["--verbose", "train", "-o", "r"])
    assert not verbose_requested(["train", "-o", "r"])
    # After the command, --verbose would be one of its arguments.
    assert not verbose_requested(["train", "--verbose"])
    monkeypatch.setenv("DYNAMIC_VAE_VERBOSE", "1")
    assert verbose_requested(["train", "-o", "r"])
