"""Named, frozen recipe configs and `key=value` overrides with type checks."""

import dataclasses
import typing


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


def apply_overrides(config, overrides):
    """Returns a copy of the frozen dataclass `config` with `key=value`
    strings applied. Unknown keys and values of the wrong type raise a
    `ValueError` that lists the valid keys or names the expected type."""
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
    return dataclasses.replace(config, **changes)


def get_config(configs, name):
    """The named config from a `{name: config}` dict, with the choices listed
    on a miss."""
    if name not in configs:
        raise ValueError(
            f"Unknown config {name!r}; choose one of: {', '.join(sorted(configs))}"
        )
    return configs[name]
