"""What the machine can do fast: CPU features that change which precision
pays off."""

import functools
import warnings

# CPU features (Linux /proc/cpuinfo flag names) with bfloat16 arithmetic in
# hardware; without one, oneDNN emulates bfloat16 in float32 with a
# conversion on every load and store.
BFLOAT16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


class SlowPrecisionWarning(UserWarning):
    """A dtype policy that this machine runs slower than float32."""


@functools.lru_cache(maxsize=None)
def cpu_flags():
    """The CPU's feature flags (a frozenset), or None where /proc/cpuinfo
    cannot tell (another OS)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return None


def cpu_model():
    """The CPU's model name, or "unknown CPU"."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


_warned = set()


def warn_if_slow_precision(precision, accelerators=0):
    """Warns once per process when `precision` is "mixed_bfloat16", no GPU or
    TPU will run it (`accelerators`: how many there are), and the CPU has no
    bfloat16 arithmetic (none of `BFLOAT16_CPU_FLAGS`): there bfloat16 is
    emulated and runs several times slower than float32, where a CPU with
    those flags runs it faster (bench/RESULTS.md, "mixed_bfloat16 by CPU").
    Returns whether it warned."""
    flags = cpu_flags()
    if (precision != "mixed_bfloat16" or accelerators or flags is None
            or any(f in flags for f in BFLOAT16_CPU_FLAGS)
            or precision in _warned):
        return False
    _warned.add(precision)
    warnings.warn(
        f"precision={precision}: this CPU ({cpu_model()}) has no bfloat16 "
        f"arithmetic (none of the CPU flags {', '.join(BFLOAT16_CPU_FLAGS)}), so "
        "bfloat16 is emulated and training runs several times slower than in "
        "float32 (about 7x on an AMD EPYC Zen 3). Use precision=float32 here.",
        SlowPrecisionWarning, stacklevel=3)
    return True
