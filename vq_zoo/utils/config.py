"""Named, frozen recipe configs, `key=value` overrides with type checks,
and value checks driven by field names and dataclass field metadata.

This module imports neither TensorFlow nor Keras: `vq-zoo` checks a whole
config before it creates a run folder or loads TensorFlow.

Value checks. A field's check comes from its metadata, else from its name:

    dataclasses.field(default=..., metadata={"check": "positive"})
    dataclasses.field(default=..., metadata={"choices": ("a", "b")})
    dataclasses.field(default=..., metadata={"range": (0.0, 1.0)})  # open

`check` is one of `CHECKS` ("positive", "non_negative", "probability",
"dropout", "any"). Without metadata, `NAME_CHECKS` decides (first match of the field
name wins): sizes, epochs, steps, layers, filters, hidden units, dims,
`num_*` counts (also `stage2_num_*`), learning rates, sample rates,
lengths, durations (`*_seconds`), downsamplings, heads, dilation cycles,
`*_every` and `history` are
positive; seeds are >= 0; `*_examples`,
`*threshold`, `*_cost`, `*variance`, `extract_*` and `num_residual_layers`
are >= 0 (0 meaning "all" or "none"); `decay` is a probability in (0, 1);
`*dropout` a rate in [0, 1);
`likelihood` is one of `LIKELIHOOD_NAMES`; `precision` one of `PRECISIONS`.
Other fields (flags, names, paths) are checked for their type only.
`None` passes for an `Optional` field.
"""

import dataclasses
import math
import re
import typing

# The decoder likelihoods `VQVAE` knows (`vq_zoo.likelihoods`; a test keeps
# the two lists equal).
LIKELIHOOD_NAMES = ("mse", "categorical", "logistic_mixture", "mu_law")

# Keras dtype policies a recipe may train under (`precision`): float32, or
# mixed precision (float32 variables, codebooks and losses; bfloat16 or
# float16 layer computations). See `vq_zoo.pipeline.pipeline.set_precision`.
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")

CHECKS = {
    "positive": (lambda v: v > 0, "a value > 0"),
    "non_negative": (lambda v: v >= 0, "a value >= 0"),
    "probability": (lambda v: 0 < v < 1, "a probability in (0, 1)"),
    "dropout": (lambda v: 0 <= v < 1, "a dropout rate in [0, 1)"),
    "any": (lambda v: True, "any value"),
}

NAME_CHECKS = (
    (r"(^|_)decay$", "probability"),
    (r"(^|_)dropout$", "dropout"),
    (r"(^|_)likelihood$", ("choices", LIKELIHOOD_NAMES)),
    (r"^precision$", ("choices", PRECISIONS)),
    (r"^num_residual_layers$", "non_negative"),
    (r"_examples$|threshold$|_cost$|variance$|^extract_", "non_negative"),
    (r"(^|_)seed$", "non_negative"),
    (r"(^|_)(size|epochs|steps_per_epoch|layers|filters|hiddens|dim|patches|"
     r"batches|samples|learning_rate|downsamples|heads|length|cycle|rate|every|"
     r"history|seconds)$|(^|_)num_", "positive"),
)


def _convert(name, text, field_type, current):
    kind = field_type if isinstance(field_type, type) else type(current)
    origin = typing.get_origin(field_type)
    if origin is typing.Union:  # Optional[X]
        args = [a for a in typing.get_args(field_type) if a is not type(None)]
        if text.lower() == "none":
            return None
        kind = args[0]
    try:
        if kind is bool:
            lowered = text.lower()
            if lowered not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError
            return lowered in ("true", "1", "yes")
        if kind is int:
            return int(text)
        if kind is float:
            return float(text)
        if kind is str:
            return text
        if kind is tuple or origin is tuple:
            return tuple(int(v) for v in text.split(",") if v)
    except ValueError:
        pass
    raise ValueError(
        f"--set {name}={text!r}: expected a value of type "
        f"{getattr(kind, '__name__', kind)} (current value {current!r})"
    )


def field_check(field):
    """The check of a dataclass field: `("choices", names)`, `("range",
    (lo, hi))` or a name in `CHECKS`; from its metadata, else its name."""
    meta = field.metadata or {}
    if "choices" in meta:
        return ("choices", tuple(meta["choices"]))
    if "range" in meta:
        return ("range", tuple(meta["range"]))
    if "check" in meta:
        if meta["check"] not in CHECKS:
            raise ValueError(
                f"field {field.name}: metadata check {meta['check']!r} is not "
                f"one of {', '.join(CHECKS)}"
            )
        return meta["check"]
    for pattern, check in NAME_CHECKS:
        if re.search(pattern, field.name):
            return check
    return "any"


def check_value(field, value):
    """None if `value` is valid for the dataclass `field`, else what was
    expected (a phrase)."""
    if value is None:
        return None
    check = field_check(field)
    if isinstance(check, tuple) and check[0] == "choices":
        return None if value in check[1] else f"one of {', '.join(map(str, check[1]))}"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None  # names, paths, flags, tuples: the type check suffices
    if isinstance(value, float) and not math.isfinite(value):
        return "a finite number"
    if isinstance(check, tuple):  # ("range", (lo, hi)), open interval
        lo, hi = check[1]
        return None if lo < value < hi else f"a value in ({lo}, {hi})"
    ok, expected = CHECKS[check]
    return None if ok(value) else expected


def validate_config(config, keys=None, prefix=""):
    """Checks the values of the dataclass `config` (all fields, or `keys`);
    raises a ValueError naming every bad field, its value and what is
    expected. Returns `config`."""
    problems = []
    for field in dataclasses.fields(config):
        if keys is not None and field.name not in keys:
            continue
        value = getattr(config, field.name)
        expected = check_value(field, value)
        if expected is not None:
            problems.append(f"{prefix}{field.name}={value!r}: expected {expected}")
    if problems:
        raise ValueError("; ".join(problems))
    return config


def apply_overrides(config, overrides):
    """Returns a copy of the frozen dataclass `config` with `key=value`
    strings applied. Unknown keys, values of the wrong type and values out
    of range (`validate_config`) raise a `ValueError` that lists the valid
    keys, names the expected type or says what range is valid."""
    fields = {f.name: f for f in dataclasses.fields(config)}
    hints = typing.get_type_hints(type(config))
    changes = {}
    for item in overrides or ():
        if "=" not in item:
            raise ValueError(f"--set expects key=value, got {item!r}")
        key, text = item.split("=", 1)
        key = key.strip()
        if key not in fields:
            raise ValueError(
                f"--set {key}: unknown key for {type(config).__name__}; valid "
                f"keys: {', '.join(sorted(fields))}"
            )
        changes[key] = _convert(key, text.strip(), hints.get(key),
                                getattr(config, key))
        expected = check_value(fields[key], changes[key])
        if expected is not None:
            raise ValueError(f"--set {key}={text.strip()}: expected {expected}")
    return dataclasses.replace(config, **changes)


def get_config(configs, name):
    """The named config from a `{name: config}` dict, with the choices listed
    on a miss."""
    if name not in configs:
        raise ValueError(
            f"Unknown config {name!r}; choose one of: {', '.join(sorted(configs))}"
        )
    return configs[name]
