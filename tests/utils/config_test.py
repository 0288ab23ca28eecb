import dataclasses
from typing import Optional

import pytest

from vq_zoo.utils.config import LIKELIHOOD_NAMES, PRECISIONS, apply_overrides, get_config, validate_config


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


@dataclasses.dataclass(frozen=True)
class Recipe:
    batch_size: int = 8
    prior_epochs: int = 2
    decay: float = 0.99
    likelihood: str = "mse"
    train_examples: int = 0  # 0 = all
    learning_rate: float = 1e-3
    seed: int = 0
    steps_per_epoch: Optional[int] = None
    odd: float = dataclasses.field(default=0.5, metadata={"range": (0.0, 2.0)})
    mode: str = dataclasses.field(default="a", metadata={"choices": ("a", "b")})
    precision: str = "float32"


@pytest.mark.parametrize("item, message", [
    ("batch_size=0", r"--set batch_size=0: expected a value > 0"),
    ("prior_epochs=-1", r"--set prior_epochs=-1: expected a value > 0"),
    ("decay=1.5", r"--set decay=1.5: expected a probability in \(0, 1\)"),
    ("decay=1", r"--set decay=1: expected a probability in \(0, 1\)"),
    ("decay=nan", r"--set decay=nan: expected a finite number"),
    ("likelihood=foo", r"--set likelihood=foo: expected one of mse, categorical, "
                       r"logistic_mixture"),
    ("train_examples=-3", r"expected a value >= 0"),
    ("learning_rate=0", r"expected a value > 0"),
    ("steps_per_epoch=0", r"expected a value > 0"),
    ("seed=-7", r"--set seed=-7: expected a value >= 0"),  # NumPy refuses it at start
    ("odd=2.0", r"--set odd=2.0: expected a value in \(0.0, 2.0\)"),  # metadata
    ("mode=c", r"--set mode=c: expected one of a, b"),  # metadata
    ("precision=bf16", r"--set precision=bf16: expected one of float32, "
                       r"mixed_bfloat16, mixed_float16"),
])
def test_values_out_of_range_are_refused(item, message):
    with pytest.raises(ValueError, match=message):
        apply_overrides(Recipe(), [item])


def test_values_in_range_pass():
    cfg = apply_overrides(Recipe(), ["batch_size=1", "decay=0.5", "likelihood=categorical",
                                     "train_examples=0", "seed=0", "steps_per_epoch=none",
                                     "odd=1.9", "mode=b", "precision=mixed_bfloat16"])
    assert validate_config(cfg) is cfg
    bad = dataclasses.replace(Recipe(), batch_size=0, decay=2.0)
    with pytest.raises(ValueError, match=r"batch_size=0: expected a value > 0; "
                                         r"decay=2.0: expected a probability"):
        validate_config(bad)


def test_the_likelihood_names_are_those_of_the_models():
    from vq_zoo.likelihoods import likelihood

    assert sorted(LIKELIHOOD_NAMES) == sorted(likelihood._REGISTRY)


def test_the_precisions_are_keras_dtype_policies():
    import keras

    for name in PRECISIONS:
        policy = keras.mixed_precision.Policy(name)
        assert policy.variable_dtype == "float32"
        assert policy.compute_dtype == {"float32": "float32", "mixed_bfloat16": "bfloat16",
                                        "mixed_float16": "float16"}[name]


def test_every_shipped_recipe_config_is_valid():
    from recipes import RECIPES, get_configs

    for recipe in RECIPES:
        for name, config in get_configs(recipe).items():
            validate_config(config)  # raises on a bad default
            # Every recipe can train in mixed precision (`--set precision=...`).
            assert config.precision == "float32", (recipe, name)
