"""Data sources and the frame-pair pipeline."""

from dynamic_vae.data.counting_mnist import counting_mnist, load_mnist_digits, parse_cycle
from dynamic_vae.data.frame_pairs import (FramePairs, from_pixel_range, make_frame_pairs,
                                          to_pixel_range, validate_frames)
from dynamic_vae.data.frame_options import FrameOptions
from dynamic_vae.data.video_load_error import VideoLoadError
from dynamic_vae.data.video_loader import load_sequences, load_video

__all__ = ["FrameOptions", "FramePairs", "VideoLoadError", "counting_mnist",
           "from_pixel_range", "load_mnist_digits", "load_sequences", "load_video",
           "make_frame_pairs", "parse_cycle", "to_pixel_range", "validate_frames"]
