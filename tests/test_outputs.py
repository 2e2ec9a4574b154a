import imageio.v3 as iio
import numpy as np
import pytest

from dynamic_vae.outputs import tile_frames, write_frames


@pytest.fixture
def frames(rng):
    return rng.integers(0, 255, size=(12, 16, 16, 1), dtype=np.uint8)


def test_npy_keeps_the_array(frames, tmp_path):
    write_frames(tmp_path / "seq.npy", frames)
    np.testing.assert_array_equal(np.load(tmp_path / "seq.npy"), frames)


def test_png_grid_gif_and_mp4(frames, tmp_path):
    write_frames(tmp_path / "grid.png", frames, columns=5)
    grid = iio.imread(tmp_path / "grid.png")
    assert grid.shape == (3 * 17 - 1, 5 * 17 - 1)
    np.testing.assert_array_equal(grid[:16, :16], frames[0, :, :, 0])
    write_frames(tmp_path / "seq.gif", frames)
    gif = iio.imread(tmp_path / "seq.gif")
    assert gif.shape[0] == 12
    write_frames(tmp_path / "seq.mp4", frames, scale=2)
    video = iio.imread(tmp_path / "seq.mp4", plugin="FFMPEG")
    assert video.shape[:3] == (12, 32, 32)


def test_rgb_tiling(rng):
    rgb = rng.random((3, 4, 5, 3))
    assert tile_frames(rgb).shape == (4, 3 * 6 - 1, 3)


def test_unsupported_format_and_bad_shape_leave_nothing(frames, tmp_path):
    with pytest.raises(ValueError, match="unsupported format"):
        write_frames(tmp_path / "seq.avi", frames)
    with pytest.raises(ValueError, match="expected shape"):
        write_frames(tmp_path / "seq.gif", frames[:, :, :, :1].reshape(12, 256))
    assert list(tmp_path.iterdir()) == []


def test_failed_write_leaves_no_partial_file(frames, tmp_path, monkeypatch):
    def broken_save(path, array):
        with open(path, "wb") as handle:
            handle.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(np, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        write_frames(tmp_path / "seq.npy", frames)
    assert list(tmp_path.iterdir()) == []
