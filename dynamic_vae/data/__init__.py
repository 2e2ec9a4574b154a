"""Data sources and the frame-pair pipeline."""

from dynamic_vae.data.counting_mnist import counting_mnist, load_mnist_digits, parse_cycle
from dynamic_vae.data.frame_pairs import FramePairs, make_frame_pairs, validate_frames
from dynamic_vae.data.frame_options import FrameOptions
from dynamic_vae.data.video_load_error import VideoLoadError
from dynamic_vae.data.video_loader import load_sequences, load_video
# Re-exported for `from dynamic_vae.data import to_pixel_range`; they live in dynamic_vae.pixels.
from dynamic_vae.pixels import from_pixel_range, to_pixel_range

__all__ = ["FrameOptions", "FramePairs", "VideoLoadError", "counting_mnist",
           "from_pixel_range", "load_mnist_digits", "load_sequences", "load_video",
           "make_frame_pairs", "parse_cycle", "to_pixel_range", "validate_frames"]
