"""Decoding video files (.avi, .mp4, .mov, .mkv, .webm, .mpg via ffmpeg; .gif via Pillow).

ffmpeg decodes what it can of a damaged file and stays silent about the rest, so a truncated
download would train on a prefix of the clip. Before decoding we therefore check the container
(RIFF size for AVI, box sizes for MP4/MOV, the trailer of a GIF); ffmpeg stops at the first
damaged packet, and afterwards the number of decoded frames is compared with the number the
AVI or MP4/MOV header declares. (MKV, WebM and MPEG files declare no count: damage in their
middle shortens them silently.)
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from dynamic_vae.data.video_load_error import VideoLoadError

FFMPEG_SUFFIXES = (".avi", ".mp4", ".m4v", ".mov", ".mkv", ".webm", ".mpg", ".mpeg")
GIF_SUFFIXES = (".gif",)
VIDEO_SUFFIXES = FFMPEG_SUFFIXES + GIF_SUFFIXES
_MP4_SUFFIXES = (".mp4", ".m4v", ".mov")


def avi_declared_frames(path: Path) -> int:
    """Checks an AVI's RIFF header and returns the frame count its main header declares.

    Raises:
        VideoLoadError: when the file is not a RIFF/AVI file or is shorter than it declares.
    """
    size = path.stat().st_size
    with open(path, "rb") as handle:
        head = handle.read(8192)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"AVI ":
        raise VideoLoadError(f"{path}: not an AVI file (no RIFF/AVI header)")
    declared = struct.unpack("<I", head[4:8])[0] + 8
    if declared > size:
        raise VideoLoadError(f"{path}: truncated: the RIFF header declares {declared} bytes, "
                             f"the file has {size}")
    at = head.find(b"avih")
    if at < 0 or at + 28 > len(head):
        raise VideoLoadError(f"{path}: corrupt AVI: no main header ('avih') in the first "
                             f"{len(head)} bytes")
    # MainAVIHeader: MicroSecPerFrame, MaxBytesPerSec, PaddingGranularity, Flags, TotalFrames.
    return int(struct.unpack("<I", head[at + 24:at + 28])[0])


def _boxes(data: bytes):
    """(type, payload) of the boxes one after another in `data` (stops at a malformed one)."""
    offset = 0
    while offset + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[offset:offset + 8])
        header = 8
        if size == 1 and offset + 16 <= len(data):
            size, header = struct.unpack(">Q", data[offset + 8:offset + 16])[0], 16
        elif size == 0:
            size = len(data) - offset
        if size < header or offset + size > len(data):
            return
        yield kind, data[offset + header:offset + size]
        offset += size


def mp4_video_samples(moov: bytes) -> int | None:
    """Samples (frames) of the first video track of a 'moov' payload, from its 'stsz' box;
    None when the box structure does not say."""
    for kind, trak in _boxes(moov):
        if kind != b"trak":
            continue
        mdia = dict(_boxes(trak)).get(b"mdia")
        if mdia is None:
            continue
        mdia_boxes = dict(_boxes(mdia))
        handler = mdia_boxes.get(b"hdlr", b"")
        if handler[8:12] != b"vide":  # version/flags, pre_defined, then the handler type
            continue
        stbl = dict(_boxes(dict(_boxes(mdia_boxes.get(b"minf", b""))).get(b"stbl", b"")))
        stsz = stbl.get(b"stsz") or stbl.get(b"stz2")
        if stsz is not None and len(stsz) >= 12:
            return int(struct.unpack(">I", stsz[8:12])[0])
    return None


def check_mp4_boxes(path: Path) -> int | None:
    """Walks the top-level boxes of an MP4/MOV file and returns the frame count its video
    track declares (None if it does not say).

    Raises:
        VideoLoadError: when a box runs past the end of the file (truncated) or there is no
            'moov' box (the index a recorder writes last).
    """
    size = path.stat().st_size
    offset, kinds, declared = 0, [], None
    with open(path, "rb") as handle:
        while offset < size:
            handle.seek(offset)
            header = handle.read(16)
            if len(header) < 8:
                raise VideoLoadError(f"{path}: truncated: {size - offset} stray bytes at offset "
                                     f"{offset} where a box header should start")
            box_size, kind = struct.unpack(">I4s", header[:8])
            if box_size == 1:
                if len(header) < 16:
                    raise VideoLoadError(f"{path}: truncated box header at offset {offset}")
                box_size = struct.unpack(">Q", header[8:16])[0]
            elif box_size == 0:  # the last box runs to the end of the file
                box_size = size - offset
            if box_size < 8:
                raise VideoLoadError(f"{path}: corrupt MP4: box {kind!r} at offset {offset} "
                                     f"declares {box_size} bytes")
            if offset + box_size > size:
                raise VideoLoadError(f"{path}: truncated: box {kind.decode('latin-1')!r} at "
                                     f"offset {offset} declares {box_size} bytes, only "
                                     f"{size - offset} remain")
            kinds.append(kind)
            if kind == b"moov":
                handle.seek(offset + (16 if struct.unpack(">I", header[:4])[0] == 1 else 8))
                declared = mp4_video_samples(handle.read(box_size - 8))
            offset += box_size
    if b"moov" not in kinds:
        raise VideoLoadError(f"{path}: incomplete MP4: no 'moov' box (boxes found: "
                             f"{[k.decode('latin-1') for k in kinds]})")
    return declared


def _ffmpeg_message(error: Exception) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    if not lines:
        return type(error).__name__
    # imageio puts its own summary first and ffmpeg's last complaint at the end.
    return lines[0] if len(lines) == 1 else f"{lines[0]}; ffmpeg: {lines[-1]}"


def iter_ffmpeg_frames(path: Path) -> Iterator[np.ndarray]:
    """Frames `(H, W, 3)` uint8 of a video decoded by imageio-ffmpeg, one at a time."""
    import imageio.v3 as iio

    try:
        # -xerror: ffmpeg stops at the first damaged packet instead of concealing it, so a
        # corrupt file decodes fewer frames than its header declares (checked by the caller).
        reader = iio.imiter(path, plugin="FFMPEG", output_params=["-xerror"])
        for frame in reader:
            yield np.asarray(frame)
    except (OSError, RuntimeError, ValueError, IndexError) as error:
        raise VideoLoadError(f"{path}: cannot decode the video "
                             f"({_ffmpeg_message(error)})") from None


def iter_gif_frames(path: Path) -> Iterator[np.ndarray]:
    """Frames of an animated GIF, composited by Pillow, as `(H, W, 3)` uint8."""
    from PIL import Image, ImageSequence

    with open(path, "rb") as handle:
        handle.seek(0)
        magic = handle.read(6)
        handle.seek(-1, 2)
        last = handle.read(1)
    if magic not in (b"GIF87a", b"GIF89a"):
        raise VideoLoadError(f"{path}: not a GIF file (header {magic!r})")
    if last != b"\x3b":
        raise VideoLoadError(f"{path}: truncated GIF: no trailer byte at the end")
    try:
        with Image.open(path) as image:
            for frame in ImageSequence.Iterator(image):
                yield np.asarray(frame.convert("RGB"))
    except (OSError, EOFError, ValueError, SyntaxError) as error:
        raise VideoLoadError(f"{path}: cannot decode the GIF ({error})") from None


def iter_video_frames(path: Path, check_count: bool = True) -> Iterator[np.ndarray]:
    """Checks the container, then yields the decoded frames `(H, W, 3)` uint8.

    Args:
        path: a video file (see VIDEO_SUFFIXES).
        check_count: for AVI/MP4/MOV, fail when fewer frames decode than the header declares
            (only meaningful when the caller reads to the end).

    Raises:
        VideoLoadError: naming the file, when it is empty, truncated, corrupt or unsupported.
    """
    suffix = path.suffix.lower()
    if suffix not in VIDEO_SUFFIXES:
        raise VideoLoadError(f"{path}: unsupported video type '{suffix or '(none)'}'; "
                             f"expected one of {', '.join(VIDEO_SUFFIXES)}")
    if path.stat().st_size == 0:
        raise VideoLoadError(f"{path}: empty file (0 bytes)")
    if suffix in GIF_SUFFIXES:
        yield from iter_gif_frames(path)
        return
    declared = None
    if suffix == ".avi":
        declared = avi_declared_frames(path)
    elif suffix in _MP4_SUFFIXES:
        declared = check_mp4_boxes(path)
    decoded = 0
    for frame in iter_ffmpeg_frames(path):
        decoded += 1
        yield frame
    if decoded == 0:
        raise VideoLoadError(f"{path}: no frame could be decoded")
    if check_count and declared is not None and decoded < declared:
        raise VideoLoadError(f"{path}: corrupt video: decoded {decoded} frames, the "
                             f"{suffix[1:].upper()} header declares {declared}")
