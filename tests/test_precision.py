import pytest

from dynamic_vae import precision
from dynamic_vae.config import ModelConfig, get_preset

CPUINFO = """processor\t: 0
vendor_id\t: GenuineIntel
flags\t\t: fpu sse2 avx2 avx512f {extra}
bogomips\t: 4800.00

processor\t: 1
flags\t\t: fpu sse2 avx2 avx512f {extra}
"""


def test_cpu_flags_reads_the_first_cpu(tmp_path):
    path = tmp_path / "cpuinfo"
    path.write_text(CPUINFO.format(extra="avx512_bf16 amx_tile"))
    assert precision.cpu_flags(path) == {"fpu", "sse2", "avx2", "avx512f", "avx512_bf16",
                                         "amx_tile"}
    assert precision.cpu_flags(tmp_path / "missing") == set()


@pytest.mark.parametrize("native,expected", [(True, "bfloat16"), (False, "off")])
def test_auto_follows_the_hardware_and_explicit_values_stay(monkeypatch, native, expected):
    monkeypatch.setattr(precision, "native_bfloat16", lambda: native)
    assert precision.resolve_mixed_precision("auto") == expected
    assert precision.resolve_mixed_precision("off") == "off"
    assert precision.resolve_mixed_precision("bfloat16") == "bfloat16"
    # The config records the choice, so a saved run says what it trained in.
    assert ModelConfig(mixed_precision="auto").mixed_precision == expected
    assert get_preset("video").model.mixed_precision == expected
    assert get_preset("counting-mnist").model.mixed_precision == "off"


def test_native_bfloat16_on_this_cpu_matches_its_flags():
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        pytest.skip("a GPU decides instead of the CPU flags")
    flags = precision.cpu_flags()
    assert precision.native_bfloat16() == bool(
        flags & set(precision.CPU_BFLOAT16_FLAGS))
