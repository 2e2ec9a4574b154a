"""End to end through `dynamic-vae forecast | impute | denoise` on a tiny saved model."""

import numpy as np
import pytest

from dynamic_vae.cli import main
from dynamic_vae.models.dynamic_vae import DynamicVAE
from dynamic_vae.runs import save_model

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("run")
    save_model(DynamicVAE(frame_shape=(16, 16, 1), latent_dim=3, filter_size=3,
                          base_channels=8, seed=0), path / "model.keras")
    return path


@pytest.fixture(scope="module")
def clip_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "clip.npy"
    np.save(path, np.random.default_rng(0).integers(1, 256, (6, 16, 16, 1), dtype=np.uint8))
    return path


def test_forecast_writes_mean_and_samples(run_dir, clip_file, tmp_path, capsys):
    code = main(["forecast", str(run_dir), "--frames", str(clip_file), "--steps", "3",
                 "--samples", "2", "--samples-out", str(tmp_path / "samples.npy"),
                 "--out", str(tmp_path / "mean.gif"), "--seed", "4"])
    assert code == 0, capsys.readouterr().err
    assert (tmp_path / "mean.gif").stat().st_size > 0
    samples = np.load(tmp_path / "samples.npy")
    assert samples.shape == (2, 3, 16, 16, 1) and samples.dtype == np.uint8
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mean.gif", "samples.npy"]


def test_impute_from_indices_mask_file_and_blanks_agree(run_dir, clip_file, tmp_path):
    clip = np.load(clip_file)
    mask = np.zeros(6, bool)
    mask[[1, 4]] = True
    np.save(tmp_path / "mask.npy", mask)
    blanked = clip.copy()
    blanked[mask] = 0
    np.save(tmp_path / "blanked.npy", blanked)
    assert main(["impute", str(run_dir), "--frames", str(clip_file), "--missing", "1,4",
                 "--out", str(tmp_path / "a.npy")]) == 0
    assert main(["impute", str(run_dir), "--frames", str(clip_file), "--missing",
                 str(tmp_path / "mask.npy"), "--out", str(tmp_path / "b.npy")]) == 0
    assert main(["impute", str(run_dir), "--frames", str(tmp_path / "blanked.npy"),
                 "--out", str(tmp_path / "c.npy")]) == 0
    a, b, c = (np.load(tmp_path / f"{name}.npy") for name in "abc")
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)
    np.testing.assert_array_equal(a[~mask], clip[~mask])


def test_denoise_writes_every_frame(run_dir, clip_file, tmp_path):
    assert main(["denoise", str(run_dir), "--frames", str(clip_file), "--float",
                 "--out", str(tmp_path / "d.npy")]) == 0
    denoised = np.load(tmp_path / "d.npy")
    assert denoised.shape == (6, 16, 16, 1) and denoised.dtype == np.float32


@pytest.mark.parametrize("args, message", [
    (["impute", "--missing", "0,9"], "--missing 0,9: frame index 9 is out of range"),
    (["impute"], "no frame is blank"),
    (["impute", "--missing", "MASK"], "shape (6,)"),
    (["forecast", "--steps", "0"], "--steps must be >= 1, got 0"),
    (["forecast", "--steps", "2", "--samples", "2"], "--samples needs --samples-out"),
    (["denoise", "--frames", "WRONG"], "works on frames of shape (16, 16, 1), got (8, 8, 1)"),
    (["denoise", "--out", "x.txt"], "unsupported format '.txt'"),
])
def test_bad_arguments_exit_2_with_a_clear_error(run_dir, clip_file, tmp_path, capsys,
                                                 args, message):
    np.save(tmp_path / "mask.npy", np.zeros(4, bool))
    np.save(tmp_path / "wrong.npy", np.zeros((6, 8, 8, 1), np.uint8))
    command, *rest = args
    rest = [str(tmp_path / "mask.npy") if v == "MASK" else
            str(tmp_path / "wrong.npy") if v == "WRONG" else v for v in rest]
    if "--frames" not in rest:
        rest += ["--frames", str(clip_file)]
    if "--out" not in rest:
        rest += ["--out", str(tmp_path / "out.npy")]
    assert main([command, str(run_dir), *rest]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out.npy").exists()
