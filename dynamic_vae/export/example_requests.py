"""One valid request for every built-in signature, for checks that run them all.

Used to compare loading paths (TF Serving's graph-mode C++ loader against
`tf.saved_model.load`) and by the benchmark that does so on a trained export. The frames are
random, so the requests depend on nothing but the export's shapes.
"""

from __future__ import annotations

import numpy as np


def example_requests(frame_shape: tuple[int, int, int], latent_dim: int,
                     frames_dtype: str = "uint8", seed: int = 0
                     ) -> dict[str, dict[str, np.ndarray]]:
    """Inputs for generate (and serving_default), generate_from, encode, decode, metadata,
    forecast and impute: small enough for any `max_frames` >= 12.

    Args:
        frame_shape: `(H, W, C)` of the export.
        latent_dim: `n` of the export.
        frames_dtype: `uint8` or `float32`, as exported.
        seed: seed of the random frames and latents.

    Example:
    >>> requests = example_requests((32, 32, 1), latent_dim=10)
    >>> sorted(requests["forecast"])
    ['frames', 'num_samples', 'num_steps', 'seed']
    """
    rng = np.random.default_rng(seed)
    clip = rng.random((5, *frame_shape))
    clip = (np.round(clip * 255).astype(np.uint8) if frames_dtype == "uint8"
            else clip.astype(np.float32))
    generate = {"num_frames": np.int32(12), "seed": np.int64(4)}
    return {
        "generate": generate,
        "serving_default": dict(generate),
        "generate_from": {"frame_pair": clip[:2], "num_frames": np.int32(9),
                          "seed": np.int64(2)},
        "encode": {"frame_pairs": clip[:4].reshape(2, 2, *frame_shape)},
        "decode": {"latents": rng.normal(size=(3, latent_dim)).astype(np.float32)},
        "metadata": {},
        "forecast": {"frames": clip, "num_steps": np.int32(3), "num_samples": np.int32(2),
                     "seed": np.int64(1)},
        "impute": {"frames": clip, "missing": np.array([False, True, False, True, False])},
    }
