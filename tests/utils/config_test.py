import dataclasses
from typing import Optional

import pytest

from vq_zoo.utils.config import apply_overrides, get_config


@dataclasses.dataclass(frozen=True)
class Cfg:
    steps: int = 3
    rate: float = 0.5
    name: str = "a"
    flag: bool = False
    limit: Optional[int] = None


def test_overrides_are_converted_to_field_types():
    cfg = apply_overrides(Cfg(), ["steps=7", "rate=1e-3", "name=b", "flag=true", "limit=5"])
    assert cfg == Cfg(7, 1e-3, "b", True, 5)
    assert apply_overrides(cfg, ["limit=none"]).limit is None
    assert Cfg().steps == 3  # frozen original untouched


@pytest.mark.parametrize("item, message", [
    ("step=3", "unknown key.*valid keys: flag, limit, name, rate, steps"),
    ("steps=3.5", "expected a value of type int"),
    ("flag=maybe", "expected a value of type bool"),
    ("steps", "expects key=value"),
])
def test_bad_overrides_are_refused(item, message):
    with pytest.raises(ValueError, match=message):
        apply_overrides(Cfg(), [item])


def test_unknown_config_lists_choices():
    with pytest.raises(ValueError, match="choose one of: a, b"):
        get_config({"a": 1, "b": 2}, "c")
