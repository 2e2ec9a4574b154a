"""Loaders: real DynTex clips, frame folders, numpy arrays, UCLA-50 layout, and damaged files."""

import shutil
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from dynamic_vae.data import VideoLoadError, load_sequences, load_video, validate_frames
from dynamic_vae.data.frame_folders import natural_key
from dynamic_vae.data.frame_options import FrameOptions
from dynamic_vae.data.frame_transforms import crop_window

CLIP = "dyntex/boiling_water.avi"
TMP_SETTINGS = settings(max_examples=12, deadline=None,
                        suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def clip_path(shared_data):
    return shared_data / CLIP


@pytest.fixture(scope="module")
def clip_rgb(clip_path):
    """The first 20 frames decoded independently of our loader."""
    return np.stack([frame for _, frame in zip(range(20), iio.imiter(clip_path,
                                                                      plugin="FFMPEG"))])


def test_real_clip_full_decode_matches_imageio_and_the_declared_length(clip_path, clip_rgb):
    frames = load_video(clip_path)
    assert frames.shape == (250, 288, 352, 3) and frames.dtype == np.uint8
    np.testing.assert_array_equal(frames[:20], clip_rgb)


def test_real_clip_stride_max_frames_and_given_crop_select_the_same_pixels(clip_path, clip_rgb):
    frames = load_video(clip_path, stride=3, max_frames=5, crop=(10, 20, 100, 120))
    np.testing.assert_array_equal(frames, clip_rgb[::3][:5, 10:110, 20:140])


def test_real_clip_gray_is_bt601_luma(clip_path, clip_rgb):
    gray = load_video(clip_path, color="gray", max_frames=4)
    expected = np.round(clip_rgb[:4].astype(np.float64) @ [0.299, 0.587, 0.114])
    assert gray.shape == (4, 288, 352, 1)
    assert np.abs(gray[..., 0].astype(np.int16) - expected).max() <= 1


def test_real_clip_at_48_gray_is_a_valid_centre_cropped_average(clip_path, clip_rgb):
    small = load_video(clip_path, color="gray", size=48, max_frames=6, dtype="float32")
    assert small.shape == (6, 48, 48, 1) and small.dtype == np.float32
    validate_frames(small)
    # 288x352 -> centre 288x288 square -> 48x48: each output pixel averages a 6x6 block.
    luma = clip_rgb[:6, :, 32:320].astype(np.float64) @ [0.299, 0.587, 0.114] / 255.0
    blocks = luma.reshape(6, 48, 6, 48, 6).mean(axis=(2, 4))
    assert np.abs(small[..., 0] - blocks).mean() < 0.02
    as_uint8 = load_video(clip_path, color="gray", size=48, max_frames=6)
    assert np.abs(as_uint8.astype(np.float32) / 255.0 - small).max() <= 0.5 / 255 + 1e-6


@pytest.fixture(scope="module")
def truncations(tmp_path_factory, clip_path):
    folder = tmp_path_factory.mktemp("truncated")
    return folder, clip_path.read_bytes()


@TMP_SETTINGS
@given(fraction=st.floats(min_value=0.0, max_value=0.999))
def test_every_truncated_copy_of_the_real_clip_fails_naming_the_file(truncations, fraction):
    folder, data = truncations
    path = folder / f"cut_{fraction:.6f}.avi"
    path.write_bytes(data[:int(len(data) * fraction)])
    with pytest.raises(VideoLoadError, match=str(path.name)):
        load_video(path)


def test_real_clip_damaged_in_the_middle_fails_on_the_frame_count(tmp_path, clip_path):
    data = bytearray(clip_path.read_bytes())
    data[len(data) // 3:len(data) // 2] = bytes(len(data) // 2 - len(data) // 3)
    path = tmp_path / "zeroed.avi"
    path.write_bytes(bytes(data))
    with pytest.raises(VideoLoadError, match=r"zeroed\.avi.*decoded \d+ frames.*declares 250"):
        load_video(path)


@TMP_SETTINGS
@given(junk=st.binary(min_size=1, max_size=300),
       suffix=st.sampled_from([".avi", ".mp4", ".gif", ".png", ".pgm", ".npy", ".npz"]))
def test_junk_bytes_of_any_supported_type_fail_naming_the_file(tmp_path, junk, suffix):
    path = tmp_path / f"junk{suffix}"
    path.write_bytes(junk)
    source = path
    if suffix in (".png", ".pgm"):
        source = tmp_path / "junk_frames"
        source.mkdir(exist_ok=True)
        shutil.copy(path, source / f"0{suffix}")
        shutil.copy(path, source / f"1{suffix}")
    with pytest.raises(VideoLoadError, match="junk"):
        load_video(source)


@pytest.mark.parametrize("suffix", [".avi", ".mp4", ".gif", ".npy", ".npz"])
def test_empty_files_fail_naming_the_file(tmp_path, suffix):
    path = tmp_path / f"empty{suffix}"
    path.touch()
    with pytest.raises(VideoLoadError, match=rf"empty{suffix}: empty file"):
        load_video(path)


def test_unsupported_and_missing_paths(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("frames")
    with pytest.raises(VideoLoadError, match=r"notes\.txt: unsupported file type '\.txt'"):
        load_video(path)
    with pytest.raises(FileNotFoundError, match="nothing.avi"):
        load_video(tmp_path / "nothing.avi")
    (tmp_path / "empty_folder").mkdir()
    with pytest.raises(VideoLoadError, match="empty_folder: no frame images"):
        load_video(tmp_path / "empty_folder")


def _moving_square(num_frames: int = 12, size: int = 32) -> np.ndarray:
    frames = np.zeros((num_frames, size, size, 3), dtype=np.uint8)
    for t in range(num_frames):
        frames[t, 8:24, t:t + 8] = (255, 128, 0)
    return frames


def test_mp4_round_trip_and_truncation(tmp_path):
    frames = _moving_square()
    path = tmp_path / "square.mp4"
    iio.imwrite(path, frames, plugin="FFMPEG", fps=10, codec="libx264",
                output_params=["-crf", "0"])
    loaded = load_video(path)
    assert loaded.shape == frames.shape
    assert np.abs(loaded.astype(np.int16) - frames).mean() < 8  # yuv420 chroma subsampling
    data = path.read_bytes()
    cut = tmp_path / "square_cut.mp4"
    cut.write_bytes(data[:len(data) - 40])
    with pytest.raises(VideoLoadError, match=r"square_cut\.mp4: truncated"):
        load_video(cut)


def test_mp4_damaged_in_the_middle_fails_on_the_frame_count(tmp_path, clip_path):
    frames = load_video(clip_path, size=(64, 80), max_frames=60)
    path = tmp_path / "boiling.mp4"
    iio.imwrite(path, frames, plugin="FFMPEG", fps=25, codec="libx264")
    assert len(load_video(path)) == 60
    data = bytearray(path.read_bytes())
    data[len(data) // 3:len(data) // 2] = bytes(len(data) // 2 - len(data) // 3)
    damaged = tmp_path / "boiling_zeroed.mp4"
    damaged.write_bytes(bytes(data))
    with pytest.raises(VideoLoadError, match=r"boiling_zeroed\.mp4: corrupt video: decoded "
                                             r"\d+ frames, the MP4 header declares 60"):
        load_video(damaged)


def test_gif_round_trip_and_truncation(tmp_path):
    frames = _moving_square()
    path = tmp_path / "square.gif"
    images = [Image.fromarray(f) for f in frames]
    images[0].save(path, save_all=True, append_images=images[1:], duration=100, loop=0)
    loaded = load_video(path, color="gray")
    assert loaded.shape == (12, 32, 32, 1)
    expected = np.round(frames.astype(np.float64) @ [0.299, 0.587, 0.114])
    assert np.abs(loaded[..., 0] - expected).max() <= 2  # the GIF palette
    cut = tmp_path / "square_cut.gif"
    cut.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(VideoLoadError, match=r"square_cut\.gif: truncated GIF"):
        load_video(cut)


def _write_frames(folder: Path, frames: np.ndarray, suffix: str, names=None) -> None:
    folder.mkdir(parents=True)
    for t, frame in enumerate(frames):
        name = names[t] if names else f"frame{t}{suffix}"
        image = frame[..., 0] if frame.shape[-1] == 1 else frame
        Image.fromarray(image).save(folder / name)


@pytest.mark.parametrize("suffix", [".png", ".pgm", ".bmp"])
def test_frame_folder_is_read_in_natural_order_losslessly(tmp_path, suffix, rng):
    frames = rng.integers(0, 256, size=(12, 9, 7, 1), dtype=np.uint8)
    _write_frames(tmp_path / "seq", frames, suffix)  # frame0 .. frame11: frame10 < frame2 in
    np.testing.assert_array_equal(load_video(tmp_path / "seq"), frames)  # plain string order


def test_jpeg_folder_to_rgb_and_stride(tmp_path):
    frames = np.full((6, 16, 16, 1), 100, dtype=np.uint8) + np.arange(6, dtype=np.uint8)[
        :, None, None, None] * 20
    _write_frames(tmp_path / "jpg", frames, ".jpg")
    loaded = load_video(tmp_path / "jpg", color="rgb", stride=2)
    assert loaded.shape == (3, 16, 16, 3)
    assert np.abs(loaded.astype(np.int16) - frames[::2]).max() <= 2


def test_frame_folder_errors_name_the_bad_image(tmp_path, rng):
    frames = rng.integers(0, 256, size=(4, 8, 8, 1), dtype=np.uint8)
    _write_frames(tmp_path / "mixed", frames, ".png")
    Image.fromarray(np.zeros((9, 8), dtype=np.uint8)).save(tmp_path / "mixed" / "frame9.png")
    with pytest.raises(VideoLoadError, match=r"mixed: frame 4 is uint8 \(9, 8, 1\)"):
        load_video(tmp_path / "mixed")
    _write_frames(tmp_path / "cut", frames, ".png")
    data = (tmp_path / "cut" / "frame2.png").read_bytes()
    (tmp_path / "cut" / "frame2.png").write_bytes(data[:len(data) // 2])
    with pytest.raises(VideoLoadError, match=r"frame2\.png: cannot read it as an image"):
        load_video(tmp_path / "cut")


def test_ucla_layout_loads_every_sequence_in_natural_order(tmp_path, rng):
    root = tmp_path / "ucla"
    expected = {}
    for name in ("water-b", "fire-a10", "fire-a2"):
        expected[name] = rng.integers(0, 256, size=(5, 12, 10, 1), dtype=np.uint8)
        _write_frames(root / name, expected[name], ".pgm")
    loaded = load_sequences(root, size=8, crop=(0, 0, 8, 8), max_frames=4)
    assert list(loaded) == ["fire-a2", "fire-a10", "water-b"]
    for name, frames in loaded.items():
        np.testing.assert_array_equal(frames, expected[name][:4, :8, :8])


def test_numpy_sources(tmp_path, shared_data):
    coil = load_sequences(shared_data / "coil20" / "coil20_objects01-14.npz")
    raw = np.load(shared_data / "coil20" / "coil20_objects01-14.npz")["frames"]
    assert len(coil) == 14
    np.testing.assert_array_equal(list(coil.values())[3][..., 0], raw[3])
    with pytest.raises(VideoLoadError, match="holds 14 sequences"):
        load_video(shared_data / "coil20" / "coil20_objects01-14.npz")
    traffic = load_video(shared_data / "traffic48" / "traffic_a.npy", dtype="float32")
    assert traffic.shape == (48, 48, 48, 1) and traffic.max() <= 1.0

    np.save(tmp_path / "objects.npy", np.array([{"a": 1}, None], dtype=object))
    with pytest.raises(VideoLoadError, match=r"objects\.npy: cannot read.*pickle"):
        load_video(tmp_path / "objects.npy")
    np.save(tmp_path / "bright.npy", np.full((3, 4, 4), 2.0, dtype=np.float32))
    with pytest.raises(VideoLoadError, match=r"bright\.npy: frame 0: float frames must lie in"):
        load_video(tmp_path / "bright.npy")
    np.save(tmp_path / "deep.npy", np.zeros((3, 4, 4), dtype=np.uint16))
    with pytest.raises(VideoLoadError, match=r"deep\.npy: expected uint8.*got dtype uint16"):
        load_video(tmp_path / "deep.npy")
    np.savez(tmp_path / "two.npz", a=np.zeros((3, 4, 4)), b=np.zeros((3, 4, 4)))
    with pytest.raises(VideoLoadError, match=r"two\.npz: holds arrays \['a', 'b'\]"):
        load_video(tmp_path / "two.npz")
    np.save(tmp_path / "single.npy", np.zeros((1, 4, 4), dtype=np.uint8))
    with pytest.raises(VideoLoadError, match=r"single\.npy: need at least 2 frames"):
        load_video(tmp_path / "single.npy")


@settings(max_examples=25, deadline=None)
@given(t=st.integers(2, 12), h=st.integers(1, 9), w=st.integers(1, 9), c=st.sampled_from([1, 3]),
       stride=st.integers(1, 4), max_frames=st.one_of(st.none(), st.integers(1, 6)),
       seed=st.integers(0, 2**16))
def test_array_stride_and_max_frames_equal_slicing(tmp_path_factory, t, h, w, c, stride,
                                                   max_frames, seed):
    frames = np.random.default_rng(seed).integers(0, 256, size=(t, h, w, c), dtype=np.uint8)
    expected = frames[::stride][:max_frames]
    path = tmp_path_factory.mktemp("arrays") / "frames.npy"
    np.save(path, frames)
    if len(expected) < 2:
        with pytest.raises(VideoLoadError, match="need at least 2 frames"):
            load_video(path, stride=stride, max_frames=max_frames)
    else:
        np.testing.assert_array_equal(load_video(path, stride=stride, max_frames=max_frames),
                                      expected)


@settings(max_examples=200, deadline=None)
@given(height=st.integers(1, 500), width=st.integers(1, 500), out_h=st.integers(1, 64),
       out_w=st.integers(1, 64))
def test_centre_crop_fits_is_centred_and_keeps_the_output_aspect(height, width, out_h, out_w):
    top, left, crop_h, crop_w = crop_window(height, width, FrameOptions(size=(out_h, out_w)), "x")
    assert 0 <= top and 0 <= left and top + crop_h <= height and left + crop_w <= width
    assert crop_h == height or crop_w == width  # the largest such window
    assert abs((height - crop_h) - 2 * top) <= 1 and abs((width - crop_w) - 2 * left) <= 1
    # The cropped side is the exact aspect-ratio length rounded to whole pixels (at least 1).
    if width / height > out_w / out_h:  # too wide: the full height, a narrower width
        assert crop_h == height
        assert abs(crop_w - height * out_w / out_h) <= 0.5 or crop_w == 1
    else:
        assert crop_w == width
        assert abs(crop_h - width * out_h / out_w) <= 0.5 or crop_h == 1


def test_constant_frames_stay_constant_under_resize(tmp_path):
    np.save(tmp_path / "flat.npy", np.full((3, 37, 53, 3), 77, dtype=np.uint8))
    out = load_video(tmp_path / "flat.npy", size=(20, 12), crop="none")
    assert out.shape == (3, 20, 12, 3) and (out == 77).all()


@settings(max_examples=50, deadline=None)
@given(names=st.lists(st.integers(0, 10_000), min_size=1, max_size=20, unique=True))
def test_natural_key_orders_numbered_frames_numerically(names):
    files = [f"frame{n}.png" for n in names]
    ordered = sorted(files, key=natural_key)
    assert [int(f[5:-4]) for f in ordered] == sorted(names)


def test_16_bit_frames_load_as_unit_floats_and_do_not_mix_with_8_bit(tmp_path):
    deep = (np.arange(3 * 6 * 5).reshape(3, 6, 5) * 997 % 65536).astype(np.uint16)
    (tmp_path / "png16").mkdir()
    for t, frame in enumerate(deep):
        Image.fromarray(frame).save(tmp_path / "png16" / f"{t}.png")
    (tmp_path / "pgm16").mkdir()
    for t, frame in enumerate(deep):  # binary PGM with maxval 65535, big-endian samples
        (tmp_path / "pgm16" / f"{t}.pgm").write_bytes(
            b"P5\n5 6\n65535\n" + frame.astype(">u2").tobytes())
    for folder in ("png16", "pgm16"):
        frames = load_video(tmp_path / folder, dtype="float32")
        assert frames.dtype == np.float32 and frames.shape == (3, 6, 5, 1)
        np.testing.assert_allclose(frames[..., 0], deep / 65535.0, atol=1e-6)
    Image.fromarray(np.zeros((6, 5), dtype=np.uint8)).save(tmp_path / "png16" / "3.png")
    with pytest.raises(VideoLoadError, match=r"png16: frame 3 is uint8 \(6, 5, 1\), the first "
                                             r"frame float32"):
        load_video(tmp_path / "png16")
