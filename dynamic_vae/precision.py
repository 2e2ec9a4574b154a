"""Whether this machine computes bfloat16 natively, for `mixed_precision="auto"`.

bfloat16 halves the bytes every hidden activation moves and runs on dedicated units where
they exist: GPUs from compute capability 8.0 (Ampere) on, and x86 CPUs with AVX512-BF16 or
AMX-BF16. Elsewhere TensorFlow emulates it in float32 and it only costs time, so `auto`
picks `bfloat16` on the first kind of machine and `off` on the second.
"""

from __future__ import annotations

import functools
from pathlib import Path

# /proc/cpuinfo flags of x86 CPUs with bfloat16 arithmetic.
CPU_BFLOAT16_FLAGS = ("avx512_bf16", "amx_bf16")

# The first GPU compute capability with bfloat16 tensor cores (Ampere).
GPU_BFLOAT16_CAPABILITY = (8, 0)


def cpu_flags(cpuinfo: str | Path = "/proc/cpuinfo") -> set[str]:
    """The feature flags of the first CPU listed in `cpuinfo` (empty where it cannot be read,
    as on systems other than Linux)."""
    try:
        text = Path(cpuinfo).read_text(errors="replace")
    except OSError:
        return set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            return set(value.split())
    return set()


@functools.lru_cache(maxsize=1)
def native_bfloat16() -> bool:
    """True when training would run on a device with bfloat16 units: a GPU of compute
    capability 8.0 or more if TensorFlow sees a GPU, else a CPU with `CPU_BFLOAT16_FLAGS`."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        capability = tf.config.experimental.get_device_details(gpus[0]).get(
            "compute_capability")
        return capability is not None and tuple(capability) >= GPU_BFLOAT16_CAPABILITY
    return bool(cpu_flags() & set(CPU_BFLOAT16_FLAGS))


def resolve_mixed_precision(value: str) -> str:
    """`off` or `bfloat16`: `value` itself, or for `auto` whichever this machine computes
    faster (`native_bfloat16`)."""
    if value != "auto":
        return value
    return "bfloat16" if native_bfloat16() else "off"
