"""Training throughput of a plain PyTorch twin of the `video` preset's fine-tuning stage,
beside this project's own training step.

The twin re-implements, in PyTorch and float32, the network and loss that
`get_preset("video").override(frame_shape=(48, 48, 1)).finetune_stage()` trains: the
residual encoder and decoder with their linear paths, the exactly stationary transition
(A = U diag(tanh r) V^T, B = U diag(sech r)), the factorised frame posterior with its KL
against the joint prior of a pair, the reconstruction and the per-step k-step prediction
terms at their optimal sigmas, and Adam at the stage's learning rate, with every weight
trainable. Before timing, the script checks that the twin has as many trainable parameters
as the Keras model and that, with the Keras weights copied in, it computes the same loss
terms (posterior means instead of samples, so both sides are deterministic).

Where the twin's step differs from the Keras one (none changes the loss of given weights):
- PyTorch's layout (N, C, H, W) and kernels; the stride-2 convolutions pad as TensorFlow's
  `same` does (bottom and right), so copied weights compute the same maps.
- A and B are computed once per step. The Keras layer recomputes them, two float64 matrix
  exponentials each time, wherever they are read: the KL's prior, the rollout (once for all
  its steps) and the logged stationarity residual.
- The KL's trace term is summed from the column norms of the prior scale's inverse; TFP
  solves the scale against the posterior's dense diagonal scale. Same value.
- Adam adds its epsilon (Keras's 1e-7) after the bias correction, Keras's Adam before it:
  the updates differ by that epsilon's scaling, not the cost.
- No Keras metric objects or callbacks; each step gathers its windows from frames held in
  memory instead of a tf.data pipeline.
- float32 only: the `auto` case computes the hidden layers in bfloat16 where the CPU has
  bfloat16 units.

It then times, in alternating rounds so that every case sees the same machine state:

- the twin: N training steps after a warm-up, in float32 on 2 threads (`--torch-threads`);
- this project's step through `bench/train_throughput.py`'s `measure`, for the cases
  `video 48x48 gray fine-tuning` (the preset's precision, `auto`) and
  `video 48x48 gray fine-tuning float32`.

All three run the same batches: 16 windows of 5 frames (the window `train_throughput` uses
for these cases, so that a step holds 64 frame pairs as in its other cases; the preset's own
window is 4), i.e. 64 pairs per step, and throughput is counted as train_throughput counts
it: steps * windows * (window - 1) pairs over the timed seconds.

Prints two tables, one for each rate: the whole run's pairs/s and its median step's (which a
stall of the machine in the middle of a run does not move); each gives the rate of every
round, their median, and the ratio of the median to the twin's. Writes
bench/results/pytorch_twin.json. Not a test: numbers depend on the machine, and another
process using the CPU distorts them.

Needs PyTorch, which the project itself does not: `pip install torch`, or
`pip install -e '.[bench]'`.

Usage:
    python bench/pytorch_twin.py [--steps 60] [--rounds 3] [--output PATH] [--torch-threads 2]
    python bench/pytorch_twin.py --smoke     # a few steps of everything, to check the script
"""

from __future__ import annotations

import argparse
import math
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

try:
    import torch
    import torch.nn.functional as F
    from torch import nn
except ImportError:
    sys.exit("bench/pytorch_twin.py needs the package 'torch' (PyTorch): "
             "pip install torch, or pip install -e '.[bench]'")

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from dynamic_vae.config import RunConfig, get_preset  # noqa: E402
from dynamic_vae.layers.skew_exponential import (MAX_SQUARINGS, SCALED_NORM,  # noqa: E402
                                                 TAYLOR_ORDER)
from dynamic_vae.models.networks import padded_size, padding_to_multiple_of_8  # noqa: E402
from dynamic_vae.models.observation_noise import MIN_LOG_SIGMA  # noqa: E402
from dynamic_vae.training import build_model  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
import train_throughput  # noqa: E402
from results_file import write_results  # noqa: E402

DEFAULT_CASE = "video 48x48 gray fine-tuning"
FLOAT32_CASE = "video 48x48 gray fine-tuning float32"
TWIN = "pytorch twin float32"
# PyTorch's intra-op threads by default (TensorFlow's pools take one thread per core).
TORCH_THREADS = 2
# train_throughput's `measure` warms up with 5 steps (more only with steps_per_execution > 1).
WARM_UP_STEPS = 5
# A 1-minute load average above this means another process is using the CPU.
BUSY_LOAD = 0.5
# Keras's GroupNormalization epsilon, which ChannelsLastGroupNormalization keeps.
GROUP_NORM_EPSILON = 1e-3
# Keras's Adam epsilon (PyTorch's default is 1e-8).
ADAM_EPSILON = 1e-7
# Jitter that DynamicLayer.joint_prior_scale adds to B B^T before its Cholesky factor.
PRIOR_JITTER = 1e-6
# Relative tolerance of the loss terms of the twin against the Keras model's, same weights.
CHECK_RTOL = 1e-3


def case_config(case: str) -> RunConfig:
    """The stage that `train_throughput.measure` trains for `case` (built the same way)."""
    preset, frame_shape, overrides = train_throughput.CASES[case]
    overrides = dict(overrides)
    stage = overrides.pop("stage", "first")
    config = get_preset(preset).override(frame_shape=frame_shape, jit_compile=False,
                                         filter_size=5, **overrides)
    return config.finetune_stage() if stage == "finetune" else config.first_stage()


def windows_per_batch(window: int) -> int:
    """Windows per step as `train_throughput.measure` batches them: 64 pairs per step."""
    return max(64 // (window - 1), 1)


def check_twin_scope(config: RunConfig) -> None:
    """Fails unless `config` is a model the twin implements, so a changed preset cannot be
    timed as a different network without notice."""
    model = config.model
    expected = {"architecture": "residual", "linear_path": True, "encoder_mode": "frame",
                "posterior": "factorized", "transition_form": "stationary",
                "observation_noise": "optimal", "prediction_sigma": "per_step",
                "output_activation": "linear", "prediction_noise": False,
                "prediction_shrink": 0.0, "decoder_noise": 0.0, "num_samples": 1,
                "driven_prior_weight": 0.0}
    differing = {name: getattr(model, name) for name, value in expected.items()
                 if getattr(model, name) != value}
    if config.training.trainable != "all":
        differing["trainable"] = config.training.trainable
    if differing:
        raise SystemExit(f"the PyTorch twin implements {expected} with every weight "
                         f"trainable; this configuration differs in {differing}")


# --- the network ----------------------------------------------------------------------------

def groups_for(channels: int) -> int:
    """The largest of 8, 4, 2, 1 that divides `channels` (as the residual networks pick)."""
    return next(g for g in (8, 4, 2, 1) if channels % g == 0)


def keras_initialise(module: nn.Module) -> None:
    """Glorot-uniform kernels and zero biases, Keras's defaults for Conv2D and Dense (PyTorch's
    own defaults differ); the step's cost does not depend on them, the first losses do."""
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)


class ResidualBlock(nn.Module):
    """GroupNorm -> SiLU -> Conv 3x3 -> GroupNorm -> SiLU -> Conv 3x3, plus the input (through
    a 1x1 convolution where the channels change)."""

    def __init__(self, in_channels: int, channels: int) -> None:
        super().__init__()
        self.skip = nn.Conv2d(in_channels, channels, 1) if in_channels != channels else None
        self.norm0 = nn.GroupNorm(groups_for(in_channels), in_channels, eps=GROUP_NORM_EPSILON)
        self.conv0 = nn.Conv2d(in_channels, channels, 3, padding=1)
        self.norm1 = nn.GroupNorm(groups_for(channels), channels, eps=GROUP_NORM_EPSILON)
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = x if self.skip is None else self.skip(x)
        h = self.conv0(F.silu(self.norm0(x)))
        h = self.conv1(F.silu(self.norm1(h)))
        return skip + h


def level_channels(width: int) -> list[int]:
    """Channels at 1/2, 1/4 and 1/8 of the frame size."""
    return [width, 2 * width, 4 * width]


def same_padding_stride_2(x: torch.Tensor) -> torch.Tensor:
    """TensorFlow's `padding="same"` for a 3x3 kernel at stride 2: on even sizes (which the
    padding to a multiple of 8 guarantees at every level) one row and column at the bottom
    and right only. PyTorch's symmetric `padding=1` gives the same output size but shifts
    the sampling grid, so the copied Keras weights would not compute the same maps."""
    return F.pad(x, (0, 1, 0, 1))


class ResidualEncoder(nn.Module):
    """The residual encoder with its linear path: frames `(N, C, H, W)` -> posterior mean and
    log-variance `(N, n)`. Module names are the Keras layers' names."""

    def __init__(self, frame_shape: tuple[int, int, int], latent_dim: int, width: int,
                 depth: int) -> None:
        super().__init__()
        height, frame_width, channels = frame_shape
        (top, bottom), (left, right) = padding_to_multiple_of_8(frame_shape)
        self.padding = (left, right, top, bottom)
        self.stem = nn.Conv2d(channels, width, 3, padding=1)
        self.levels: list[tuple[str, list[str]]] = []
        previous = width
        for level, level_width in enumerate(level_channels(width)):
            self.add_module(f"down{level}", nn.Conv2d(previous, level_width, 3, stride=2))
            blocks = [f"down{level}_block{block}" for block in range(depth)]
            for name in blocks:
                self.add_module(name, ResidualBlock(level_width, level_width))
            self.levels.append((f"down{level}", blocks))
            previous = level_width
        self.head_norm = nn.GroupNorm(groups_for(previous), previous, eps=GROUP_NORM_EPSILON)
        features = previous * (padded_size(height) // 8) * (padded_size(frame_width) // 8)
        self.mean = nn.Linear(features, latent_dim)
        self.log_variance = nn.Linear(features, latent_dim)
        self.linear_mean = nn.Linear(height * frame_width * channels, latent_dim)

    def forward(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = F.pad(frames, self.padding) if any(self.padding) else frames
        x = self.stem(x)
        for down, blocks in self.levels:
            x = getattr(self, down)(same_padding_stride_2(x))
            for name in blocks:
                x = getattr(self, name)(x)
        x = torch.flatten(F.silu(self.head_norm(x)), 1)
        mean = self.mean(x) + self.linear_mean(torch.flatten(frames, 1))
        return mean, self.log_variance(x)


class ResidualDecoder(nn.Module):
    """The residual decoder with its linear observation map: states `(N, n)` -> frames
    `(N, C, H, W)`. Module names are the Keras layers' names."""

    def __init__(self, frame_shape: tuple[int, int, int], latent_dim: int, width: int,
                 depth: int) -> None:
        super().__init__()
        height, frame_width, channels = frame_shape
        self.frame_shape = frame_shape
        self.crop = padding_to_multiple_of_8(frame_shape)
        widths = level_channels(width)
        self.coarse = (widths[-1], padded_size(height) // 8, padded_size(frame_width) // 8)
        self.dense = nn.Linear(latent_dim, math.prod(self.coarse))
        upsampled = [*reversed(widths[:-1]), width]
        self.levels: list[tuple[list[str], str]] = []
        for level, level_width in enumerate(reversed(widths)):
            blocks = [f"up{level}_block{block}" for block in range(depth)]
            for name in blocks:
                self.add_module(name, ResidualBlock(level_width, level_width))
            self.add_module(f"up{level}", nn.Conv2d(level_width, upsampled[level], 3,
                                                    padding=1))
            self.levels.append((blocks, f"up{level}"))
        self.out_norm = nn.GroupNorm(groups_for(width), width, eps=GROUP_NORM_EPSILON)
        self.output = nn.Conv2d(width, channels, 3, padding=1)
        self.linear_observation = nn.Linear(latent_dim, height * frame_width * channels)

    def forward(self, states: torch.Tensor) -> torch.Tensor:
        height, frame_width, channels = self.frame_shape
        x = self.dense(states).view(-1, *self.coarse)
        for blocks, up in self.levels:
            for name in blocks:
                x = getattr(self, name)(x)
            x = getattr(self, up)(F.interpolate(x, scale_factor=2, mode="nearest"))
        x = self.output(F.silu(self.out_norm(x)))
        (top, bottom), (left, right) = self.crop
        x = x[:, :, top:x.shape[2] - bottom, left:x.shape[3] - right]
        linear = self.linear_observation(states).view(-1, channels, height, frame_width)
        # The output activation is linear.
        return x + linear


def skew_exponential(skew: torch.Tensor) -> torch.Tensor:
    """expm(S) by `dynamic_vae.layers.skew_exponential`'s fixed scheme (Taylor polynomial on
    the scaled generator, then every one of the squarings computed and the first s kept), in
    float64, so the twin runs the same operations as the Keras layer."""
    dtype = skew.dtype
    skew = skew.double()
    identity = torch.eye(skew.shape[-1], dtype=skew.dtype)
    # No gradient flows through the (piecewise constant) number of squarings.
    with torch.no_grad():
        norm = skew.abs().sum(dim=-2).max()
        squarings = torch.clamp(torch.ceil(torch.log2(norm / SCALED_NORM)), 0.0,
                                float(MAX_SQUARINGS))
    scaled = skew * torch.pow(2.0, -squarings)
    exponential = identity
    for k in range(TAYLOR_ORDER, 0, -1):
        exponential = identity + scaled @ exponential / k
    for step in range(MAX_SQUARINGS):
        exponential = torch.where(step < squarings, exponential @ exponential, exponential)
    return exponential.to(dtype)


class StationaryTransition(nn.Module):
    """A = U diag(tanh r) V^T and B = U diag(sech r) with U = U_0 expm(K_u - K_u^T),
    V = V_0 expm(K_v - K_v^T): A A^T + B B^T = I for every parameter value."""

    def __init__(self, latent_dim: int, initial_scale: float) -> None:
        super().__init__()
        self.register_buffer("left_basis", torch.eye(latent_dim))
        self.register_buffer("right_basis", torch.eye(latent_dim))
        self.left_generator = nn.Parameter(torch.zeros(latent_dim, latent_dim))
        self.right_generator = nn.Parameter(torch.zeros(latent_dim, latent_dim))
        self.singular_logits = nn.Parameter(
            torch.full((latent_dim,), float(np.arctanh(initial_scale))))

    def forward(self) -> tuple[torch.Tensor, torch.Tensor]:
        left = self.left_basis @ skew_exponential(self.left_generator
                                                  - self.left_generator.T)
        right = self.right_basis @ skew_exponential(self.right_generator
                                                    - self.right_generator.T)
        transition = (left * torch.tanh(self.singular_logits)) @ right.T
        noise = left / torch.cosh(self.singular_logits)
        return transition, noise


def optimal_log_sigma(targets: torch.Tensor, predictions: torch.Tensor,
                      channel_axis: int) -> torch.Tensor:
    """Per channel, 0.5 log(mean squared error) over the batch, floored, not differentiated
    (`dynamic_vae.models.observation_noise.optimal_log_sigma`). Shaped to broadcast."""
    with torch.no_grad():
        squared = (targets - predictions).square()
        axes = [axis for axis in range(squared.dim()) if axis != channel_axis]
        mse = squared.mean(dim=axes, keepdim=True)
        return torch.clamp(0.5 * torch.log(mse + 1e-12), min=MIN_LOG_SIGMA)


def gaussian_negative_log_likelihood(targets: torch.Tensor, predictions: torch.Tensor,
                                     log_sigma: torch.Tensor) -> torch.Tensor:
    """Per example (first axis): sum over the rest of (y - y_hat)^2 / (2 sigma^2) + log sigma."""
    per_pixel = (targets - predictions).square() * 0.5 * torch.exp(-2.0 * log_sigma) + log_sigma
    return per_pixel.flatten(1).sum(dim=1)


class DynamicVAETwin(nn.Module):
    """The model and loss of the configuration `check_twin_scope` accepts, in PyTorch."""

    def __init__(self, config: RunConfig) -> None:
        super().__init__()
        model = config.model
        self.frame_shape = model.frame_shape
        self.latent_dim = model.latent_dim
        self.kl_weight = model.kl_weight
        self.prediction_weight = model.prediction_weight
        self.encoder = ResidualEncoder(model.frame_shape, model.latent_dim, model.width,
                                       model.depth)
        self.decoder = ResidualDecoder(model.frame_shape, model.latent_dim, model.width,
                                       model.depth)
        # The Keras layer starts A at 0.70711 I (`dynamic_layer.INITIAL_SCALE`).
        self.dynamic_layer = StationaryTransition(model.latent_dim, 0.70711)
        keras_initialise(self)

    def kl_divergence(self, mean: torch.Tensor, log_variance: torch.Tensor,
                      transition: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """KL(N(mean, diag(exp(log_variance))) || N(0, S S^T)) per pair, S the joint prior's
        scale [[I, 0], [A, chol(B B^T + jitter I)]] (`DynamicLayer.joint_prior_scale`).

        TFP solves S against the posterior's dense diagonal scale; the trace term here is
        the same sum, sigma_j^2 times the squared norm of column j of S^-1."""
        n = self.latent_dim
        eye = torch.eye(n, dtype=mean.dtype)
        noise_scale = torch.linalg.cholesky(noise @ noise.T + PRIOR_JITTER * eye)
        scale = torch.cat([torch.cat([eye, torch.zeros_like(eye)], dim=1),
                           torch.cat([transition, noise_scale], dim=1)], dim=0)
        inverse = torch.linalg.solve_triangular(scale, torch.eye(2 * n, dtype=mean.dtype),
                                                upper=False)
        trace = (log_variance.exp() * inverse.square().sum(dim=0)).sum(dim=1)
        mahalanobis = (mean @ inverse.T).square().sum(dim=1)
        log_det_prior = 2.0 * torch.log(torch.diagonal(noise_scale)).sum()
        return 0.5 * (trace + mahalanobis - 2 * n + log_det_prior - log_variance.sum(dim=1))

    def loss_terms(self, windows: torch.Tensor, sample: bool = True) -> dict[str, torch.Tensor]:
        """`DynamicVAE._loss_terms` for windows `(batch, L, C, H, W)`: the ELBO over every
        consecutive pair, plus the k-step prediction from each window's first state with one
        optimal sigma per step. `sample=False` decodes the posterior means (as Keras does
        outside training), which makes the terms deterministic."""
        batch, length = windows.shape[:2]
        n = self.latent_dim
        frame = windows.shape[2:]
        # A and B once per step; the Keras layer recomputes them wherever they are read.
        transition, noise = self.dynamic_layer()
        frame_mean, frame_log_variance = self.encoder(windows.reshape(-1, *frame))

        def pair_up(per_frame: torch.Tensor) -> torch.Tensor:
            per_frame = per_frame.view(batch, length, n)
            return torch.cat([per_frame[:, :-1], per_frame[:, 1:]], dim=-1).reshape(-1, 2 * n)

        mean, log_variance = pair_up(frame_mean), pair_up(frame_log_variance)
        kl = self.kl_weight * self.kl_divergence(mean, log_variance, transition, noise).mean()
        latent_pairs = mean
        if sample:
            latent_pairs = mean + torch.exp(0.5 * log_variance) * torch.randn_like(mean)
        reconstructions = self.decoder(latent_pairs.reshape(-1, n)).view(-1, 2, *frame)
        targets = torch.stack([windows[:, :-1], windows[:, 1:]], dim=2).reshape(-1, 2, *frame)
        # (pairs, 2, C, H, W): the channel axis is 2.
        log_sigma = optimal_log_sigma(targets, reconstructions, channel_axis=2)
        reconstruction = gaussian_negative_log_likelihood(targets, reconstructions,
                                                          log_sigma).mean()

        # The noise-free rollout A^k mu_0, k = 1 .. L - 1, decoded against frame k.
        state = frame_mean.view(batch, length, n)[:, 0]
        rollout = []
        for _ in range(length - 1):
            state = state @ transition.T
            rollout.append(state)
        predicted = self.decoder(torch.stack(rollout, dim=1).reshape(-1, n))
        predicted = predicted.view(batch, length - 1, *frame)
        steps = length - 1
        prediction = sum(
            gaussian_negative_log_likelihood(
                windows[:, k + 1], predicted[:, k],
                optimal_log_sigma(windows[:, k + 1], predicted[:, k], channel_axis=1)).mean()
            for k in range(steps)) / steps

        total = reconstruction + kl + self.prediction_weight * prediction
        with torch.no_grad():
            # What the Keras step logs besides the loss: the mean sigma of the reconstructions
            # and ||A A^T + B B^T - I||_F (the stationarity penalty itself is zero).
            sigma = log_sigma.exp().mean()
            gap = transition @ transition.T + noise @ noise.T - torch.eye(n)
            stationarity_residual = gap.square().sum().sqrt()
        return {"loss": total, "reconstruction": reconstruction, "kl": kl,
                "prediction": prediction, "sigma": sigma,
                "stationarity_residual": stationarity_residual}


# --- parameters and the check against the Keras model -------------------------------------

def hwc_to_chw(height: int, width: int, channels: int) -> np.ndarray:
    """Indices that reorder a flattened (H, W, C) vector (Keras's Flatten and Reshape) into
    the flattened (C, H, W) order of the twin's tensors."""
    return np.arange(height * width * channels).reshape(height, width, channels).transpose(
        2, 0, 1).ravel()


def twin_module_path(keras_layer: str) -> str:
    """The twin's module path of a Keras layer name: `down0_block0_conv1` ->
    `down0_block0.conv1`, other names unchanged."""
    return re.sub(r"^(.*_block\d+)_(\w+)$", r"\1.\2", keras_layer)


def copy_keras_weights(model: keras.Model, twin: DynamicVAETwin) -> None:
    """Sets every twin weight to the Keras model's: kernels transposed to PyTorch's layout,
    and the dense layers beside a Flatten or Reshape permuted from (H, W, C) to (C, H, W)."""
    height, width, channels = twin.frame_shape
    coarse_channels, coarse_h, coarse_w = twin.decoder.coarse
    frame_order = hwc_to_chw(height, width, channels)
    coarse_order = hwc_to_chw(coarse_h, coarse_w, coarse_channels)
    # Which side of each dense layer's kernel (inputs or outputs) is a flattened map.
    permuted_inputs = {"mean": coarse_order, "log_variance": coarse_order,
                       "linear_mean": frame_order}
    permuted_outputs = {"dense": coarse_order, "linear_observation": frame_order}
    with torch.no_grad():
        for keras_network, network in ((model.encoder, twin.encoder),
                                       (model.decoder, twin.decoder)):
            for layer in keras_network.layers:
                if not layer.weights:
                    continue
                module = network.get_submodule(twin_module_path(layer.name))
                values = {w.name: keras.ops.convert_to_numpy(w) for w in layer.weights}
                if isinstance(module, nn.GroupNorm):
                    module.weight.copy_(torch.from_numpy(values["gamma"]))
                    module.bias.copy_(torch.from_numpy(values["beta"]))
                    continue
                kernel, bias = values["kernel"], values["bias"]
                if isinstance(module, nn.Conv2d):
                    kernel = kernel.transpose(3, 2, 0, 1)
                else:
                    kernel = kernel.T
                    if layer.name in permuted_inputs:
                        kernel = kernel[:, permuted_inputs[layer.name]]
                    if layer.name in permuted_outputs:
                        kernel = kernel[permuted_outputs[layer.name]]
                        bias = bias[permuted_outputs[layer.name]]
                module.weight.copy_(torch.from_numpy(np.ascontiguousarray(kernel)))
                module.bias.copy_(torch.from_numpy(np.ascontiguousarray(bias)))
        for name in ("left_basis", "right_basis", "left_generator", "right_generator",
                     "singular_logits"):
            value = keras.ops.convert_to_numpy(getattr(model.dynamic_layer, name))
            getattr(twin.dynamic_layer, name).copy_(torch.from_numpy(value))


def parameter_counts(model: keras.Model, twin: DynamicVAETwin) -> dict[str, Any]:
    """Both models' parameter counts; raises AssertionError unless they agree.

    The trainable parameters must be equal. `model.count_params()` also counts the Keras
    model's non-trainable weights: the fixed bases U_0 and V_0 of the transition (buffers
    in the twin), the KL weight's schedule (a constant 1 here, not in the twin) and the
    residual texture (fitted in closed form after training and used only in synthesis, so
    not in the twin); those are listed and must make up the difference exactly."""
    keras_trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    twin_trainable = sum(p.numel() for p in twin.parameters() if p.requires_grad)
    twin_buffers = sum(b.numel() for b in twin.buffers())
    not_in_twin = {w.path: int(np.prod(w.shape)) for w in model.non_trainable_weights
                   if not w.path.endswith(("left_basis", "right_basis"))}
    counts = {"keras_count_params": int(model.count_params()),
              "keras_trainable": keras_trainable, "twin_trainable": twin_trainable,
              "twin_buffers": twin_buffers, "keras_weights_not_in_twin": not_in_twin}
    assert twin_trainable == keras_trainable, counts
    assert keras_trainable + twin_buffers + sum(not_in_twin.values()) == \
        model.count_params(), counts
    return counts


def random_windows(rng: np.random.Generator, batch: int, window: int,
                   frame_shape: tuple[int, int, int]) -> np.ndarray:
    """`(batch, window, H, W, C)` float32 frames in [0, 1], as 8-bit pixels would give."""
    pixels = rng.integers(0, 256, size=(batch, window, *frame_shape), dtype=np.uint8)
    return pixels.astype(np.float32) / 255.0


def check_against_keras(config: RunConfig, twin: DynamicVAETwin, batch: int,
                        window: int) -> dict[str, Any]:
    """Builds the Keras model of `config`, checks the parameter counts, copies its weights
    (after setting the transition's generators and singular values to random values, so A is
    no multiple of I) into `twin`, and compares the loss terms on one batch of windows with
    the posterior means decoded. Raises AssertionError on a mismatch."""
    keras.utils.set_random_seed(0)
    model = build_model(config)
    counts = parameter_counts(model, twin)
    rng = np.random.default_rng(1)
    layer = model.dynamic_layer
    n = config.model.latent_dim
    layer.left_generator.assign(0.3 * rng.standard_normal((n, n)).astype(np.float32))
    layer.right_generator.assign(0.3 * rng.standard_normal((n, n)).astype(np.float32))
    layer.singular_logits.assign(rng.uniform(-2.0, 2.0, n).astype(np.float32))
    copy_keras_weights(model, twin)
    windows = random_windows(rng, batch, window, config.model.frame_shape)
    # `evaluate` runs the model's test step: the same loss terms, with the posterior means.
    keras_terms = model.evaluate(windows, batch_size=batch, verbose=0, return_dict=True)
    with torch.no_grad():
        twin_terms = twin.loss_terms(torch.from_numpy(windows).permute(0, 1, 4, 2, 3),
                                     sample=False)
    compared = {}
    for name in ("loss", "reconstruction", "kl", "prediction", "sigma",
                 "stationarity_residual"):
        ours, theirs = float(twin_terms[name]), float(keras_terms[name])
        compared[name] = {"keras": theirs, "twin": ours}
        # An absolute floor for the residual, which is zero to rounding on both sides.
        assert math.isclose(ours, theirs, rel_tol=CHECK_RTOL, abs_tol=1e-4), (name, compared)
    return {"parameters": counts, "loss_terms": compared}


# --- timing ---------------------------------------------------------------------------------

def time_twin(config: RunConfig, steps: int, warm_up: int, seed: int) -> dict[str, Any]:
    """Pairs/s of the twin's training step over `steps` steps after `warm_up` steps."""
    window = config.training.window
    batch = windows_per_batch(window)
    torch.manual_seed(seed)
    twin = DynamicVAETwin(config)
    optimizer = torch.optim.Adam(twin.parameters(), lr=config.training.learning_rate,
                                 eps=ADAM_EPSILON)
    # Random frames of the right shape, as train_throughput uses (throughput does not depend
    # on the pixels), held in memory in the pixel range; each step gathers a batch of
    # windows at random starts, as the Keras side's dataset does.
    rng = np.random.default_rng(seed)
    frames = torch.from_numpy(random_windows(rng, 1, 64 * (steps + warm_up) + 16,
                                             config.model.frame_shape)[0]).permute(0, 3, 1, 2)
    frames = frames.contiguous()
    offsets = torch.arange(window)
    generator = torch.Generator().manual_seed(seed)

    def step() -> None:
        starts = torch.randint(0, frames.shape[0] - window + 1, (batch,), generator=generator)
        windows = frames[starts[:, None] + offsets]
        optimizer.zero_grad(set_to_none=True)
        twin.loss_terms(windows, sample=True)["loss"].backward()
        optimizer.step()

    for _ in range(warm_up):
        step()
    step_seconds = []
    start = time.perf_counter()
    for _ in range(steps):
        step_start = time.perf_counter()
        step()
        step_seconds.append(time.perf_counter() - step_start)
    seconds = time.perf_counter() - start
    return {"pairs_per_second": steps * batch * (window - 1) / seconds, "seconds": seconds,
            "median_step_pairs_per_second": batch * (window - 1) / median(step_seconds),
            "steps": steps, "window": window, "windows_per_batch": batch,
            "mixed_precision": "off", "threads": torch.get_num_threads()}


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def print_table(results: dict[str, dict[str, Any]], key: str) -> None:
    """Case, precision, `key` of each round, median, and the median over the twin's."""
    twin_median = results[TWIN][f"median_{key}"]
    rounds = len(results[TWIN][key])
    header = " ".join(f"{f'round {r + 1}':>8}" for r in range(rounds))
    print(f"{key}:")
    print(f"{'case':38} {'precision':>9} {header} {'median':>8} {'/ twin':>7}")
    for name, result in results.items():
        per_round = " ".join(f"{value:8.0f}" for value in result[key])
        print(f"{name:38} {result['mixed_precision']:>9} {per_round} "
              f"{result[f'median_{key}']:8.0f} {result[f'median_{key}'] / twin_median:7.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=60,
                        help="timed training steps per case and round (default 60)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds of all cases, alternating (default 3)")
    parser.add_argument("--output", help="the JSON file (default "
                        "bench/results/pytorch_twin.json; with --smoke, a temporary file)")
    parser.add_argument("--smoke", action="store_true",
                        help="2 timed steps, 1 round: checks that the script runs")
    parser.add_argument("--torch-threads", type=int, default=TORCH_THREADS,
                        help=f"PyTorch's intra-op threads (default {TORCH_THREADS})")
    args = parser.parse_args()
    if args.smoke:
        args.steps, args.rounds = 2, 1
    if args.steps < 1 or args.rounds < 1 or args.torch_threads < 1:
        parser.error("--steps, --rounds and --torch-threads must be >= 1")
    if args.output is None:
        # A smoke run's numbers are not results: keep them out of bench/results.
        args.output = (Path(tempfile.gettempdir()) / "pytorch_twin.smoke.json" if args.smoke
                       else Path(__file__).parent / "results" / "pytorch_twin.json")
    torch.set_num_threads(args.torch_threads)
    load = os.getloadavg()[0]
    if load > BUSY_LOAD:
        # PyTorch's OpenMP threads wait for each other at every operation: when another
        # process holds a core, 2 threads have run a step several times slower than 1.
        print(f"warning: load average {load:.2f}: another process is using the CPU, so the "
              "numbers will not be the machine's", flush=True)

    config = case_config(FLOAT32_CASE)
    check_twin_scope(config)
    check_twin_scope(case_config(DEFAULT_CASE))
    window = config.training.window
    batch = windows_per_batch(window)
    torch.manual_seed(0)
    check = check_against_keras(config, DynamicVAETwin(config), batch, window)
    counts = check["parameters"]
    print(f"parameters: Keras count_params {counts['keras_count_params']}, Keras trainable "
          f"{counts['keras_trainable']}, twin trainable {counts['twin_trainable']} "
          f"(+ {counts['twin_buffers']} in buffers: U_0, V_0)")
    print(f"  Keras weights the twin has no use for: {counts['keras_weights_not_in_twin']}")
    print("loss terms, same weights and windows, posterior means (Keras / twin):")
    for name, values in check["loss_terms"].items():
        print(f"  {name:22} {values['keras']:14.6g} {values['twin']:14.6g}")
    print(f"{batch} windows of {window} frames per step: {batch * (window - 1)} pairs; "
          f"{args.steps} timed steps per case, {args.rounds} round(s); torch "
          f"{torch.__version__} on {torch.get_num_threads()} threads", flush=True)

    results: dict[str, dict[str, Any]] = {TWIN: {"rounds": []}, DEFAULT_CASE: {"rounds": []},
                                           FLOAT32_CASE: {"rounds": []}}
    for round_index in range(args.rounds):
        # A smoke run's twin needs no full warm-up (measure's TensorFlow side keeps its own).
        results[TWIN]["rounds"].append(time_twin(config, args.steps,
                                                 1 if args.smoke else WARM_UP_STEPS,
                                                 seed=round_index))
        for case in (DEFAULT_CASE, FLOAT32_CASE):
            results[case]["rounds"].append(train_throughput.measure(
                *train_throughput.CASES[case], steps=args.steps, jit=False))
        print(f"round {round_index + 1}: " + ", ".join(
            f"{name} {result['rounds'][-1]['pairs_per_second']:.0f} pairs/s"
            for name, result in results.items()), flush=True)
    # Two rates per round: the whole run's, and its median step's, which a stall of the
    # machine in the middle of a run does not move.
    keys = ("pairs_per_second", "median_step_pairs_per_second")
    for result in results.values():
        for key in keys:
            result[key] = [r[key] for r in result["rounds"]]
            result[f"median_{key}"] = median(result[key])
        result["mixed_precision"] = result["rounds"][0]["mixed_precision"]
    for result in results.values():
        result["ratio_to_twin"] = (result["median_pairs_per_second"]
                                   / results[TWIN]["median_pairs_per_second"])
        result["median_step_ratio_to_twin"] = (
            result["median_median_step_pairs_per_second"]
            / results[TWIN]["median_median_step_pairs_per_second"])
    for key in keys:
        print_table(results, key)

    report = {"tensorflow": tf.__version__, "keras": keras.__version__,
              "torch": torch.__version__, "torch_threads": args.torch_threads,
              "load_average_at_start": load,
              "smoke": args.smoke, "steps": args.steps, "rounds": args.rounds,
              "warm_up_steps": WARM_UP_STEPS, "window": window, "windows_per_batch": batch,
              "pairs_per_step": batch * (window - 1), "check": check, "results": results}
    write_results(args.output, report)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
