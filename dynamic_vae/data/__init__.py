"""Data sources and the frame-pair pipeline."""

from dynamic_vae.data.counting_mnist import counting_mnist, load_mnist_digits, parse_cycle
from dynamic_vae.data.frame_pairs import (FramePairs, from_pixel_range, make_frame_pairs,
                                          to_pixel_range, validate_frames)

__all__ = ["FramePairs", "counting_mnist", "from_pixel_range", "load_mnist_digits",
           "make_frame_pairs", "parse_cycle", "to_pixel_range", "validate_frames"]
