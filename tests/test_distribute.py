"""Training under tf.distribute matches one device with the same global batch."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dynamic_vae.distribute import is_chief, make_strategy

SCRIPT = Path(__file__).resolve().parent / "helpers" / "distributed_run.py"
# Replicas draw their own latent noise, so curves agree only up to sampling noise:
# measured 1.1%, 0.15% and 0.005% in epochs 1-3.
LOSS_RTOL = 0.02


def run_script(*args: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(SCRIPT), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})})


def result_of(process: subprocess.Popen) -> dict:
    stdout, stderr = process.communicate(timeout=400)
    assert process.returncode == 0, stderr[-3000:]
    return json.loads(stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_mirrored_on_two_logical_cpus_matches_one_device(tmp_path):
    result = result_of(run_script("mirrored", str(tmp_path)))
    assert len(result["mirrored"]) == len(result["default"]) == 3
    np.testing.assert_allclose(result["mirrored"], result["default"], rtol=LOSS_RTOL)
    # One plain-SGD step: summing two replicas' gradients of their half-batch means without
    # the 1/R loss scale would double the update (ratio 2).
    assert 0.9 < result["update_norm_ratio"] < 1.1
    assert result["update_relative_difference"] < 0.2
    for name in ("model.keras", "history.json", "summary.json"):
        assert (tmp_path / "mirrored" / name).is_file()


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.mark.slow
def test_multiworker_two_processes_match_one_device(tmp_path):
    from tests.test_resume import moving_bars, tiny_config

    from dynamic_vae.training import train

    workers = [f"127.0.0.1:{port}" for port in free_ports(2)]
    processes = [
        run_script("multiworker", str(tmp_path / "run"), env={"TF_CONFIG": json.dumps(
            {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})})
        for index in range(2)]
    results = [result_of(p) for p in processes]
    train(tiny_config(epochs=3), tmp_path / "single", frames=moving_bars(96), verbose=0)
    single = json.loads((tmp_path / "single" / "history.json").read_text())["loss"]
    chief = results[0]["multiworker"]
    assert len(chief) == 3
    np.testing.assert_allclose(chief, single, rtol=LOSS_RTOL)
    # Only the chief wrote the run directory; the other worker's scratch output is gone.
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["replicas"] == 2 and summary["strategy"] == "multiworker"
    assert not (tmp_path / "run" / "backup").exists()


def test_unknown_strategy_is_a_clear_error():
    with pytest.raises(ValueError, match="--strategy: expected one of default, mirrored, "
                                         "multiworker, got 'tpu'"):
        make_strategy("tpu")


@pytest.mark.parametrize("tf_config, message", [
    (None, "TF_CONFIG environment variable is not set"),
    ("{not json", "TF_CONFIG: expected JSON with cluster.worker"),
    ('{"cluster": {"worker": ["a:1"]}}', "TF_CONFIG: expected JSON"),
    ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 3}}',
     "is not one of the 1 workers"),
])
def test_multiworker_without_a_usable_tf_config_is_a_clear_error(monkeypatch, tf_config,
                                                                 message):
    if tf_config is None:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    else:
        monkeypatch.setenv("TF_CONFIG", tf_config)
    with pytest.raises(ValueError, match=message):
        make_strategy("multiworker")


def test_one_device_is_the_chief():
    assert is_chief(make_strategy("default"))
