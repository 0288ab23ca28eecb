import warnings

import pytest

from vq_zoo.utils import hardware


@pytest.fixture
def fresh(monkeypatch):
    monkeypatch.setattr(hardware, "_warned", set())
    return monkeypatch


def caught(precision, accelerators=0):
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        hardware.warn_if_slow_precision(precision, accelerators)
    return [w for w in seen if issubclass(w.category, hardware.SlowPrecisionWarning)]


def test_warns_once_for_bfloat16_on_a_cpu_without_bfloat16(fresh):
    fresh.setattr(hardware, "cpu_flags", lambda: frozenset({"avx2", "fma", "avx512f"}))
    (warning,) = caught("mixed_bfloat16")
    assert "avx512_bf16" in str(warning.message) and "float32" in str(warning.message)
    assert caught("mixed_bfloat16") == []  # once per process


@pytest.mark.parametrize("flags, precision, accelerators", [
    ({"avx2", "avx512_bf16"}, "mixed_bfloat16", 0),   # native bfloat16
    ({"avx2", "amx_bf16"}, "mixed_bfloat16", 0),
    ({"avx2"}, "mixed_bfloat16", 1),                 # a GPU runs it
    ({"avx2"}, "float32", 0),
    ({"avx2"}, "mixed_float16", 0),
    (None, "mixed_bfloat16", 0),                     # the OS does not tell
])
def test_silent_where_bfloat16_is_not_emulated_on_this_cpu(fresh, flags, precision,
                                                            accelerators):
    fresh.setattr(hardware, "cpu_flags",
                  lambda: None if flags is None else frozenset(flags))
    assert caught(precision, accelerators) == []


def test_reads_this_machines_flags():
    flags = hardware.cpu_flags()
    assert flags is None or ("fpu" in flags or "sse2" in flags or "asimd" in flags
                             or "fp" in flags)
