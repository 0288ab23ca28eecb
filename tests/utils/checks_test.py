"""The argument checks of `vq_zoo.utils.checks` that the models, layers and
data builders share: what each accepts, and the one-line message (naming the
argument, what was expected and what was given) that each refusal is."""

import subprocess
import sys

import numpy as np
import pytest

from vq_zoo.utils.checks import check_choice
from vq_zoo.utils.checks import check_int
from vq_zoo.utils.checks import check_integer


@pytest.mark.parametrize("value", [0, -3, True, False, 2.0, "3", None, np.int64(3)])
def test_check_int_refuses_what_is_not_an_int_of_the_range(value):
    with pytest.raises(ValueError) as info:
        check_int("filters", value)
    assert str(info.value) == f"`filters` must be an integer >= 1, got {value!r}"


def test_check_int_takes_ints_from_the_minimum():
    assert check_int("filters", 1) == 1 and check_int("num_downsamples", 0, 0) == 0
    with pytest.raises(ValueError, match="^`resolution` must be an integer >= 16, got 15$"):
        check_int("resolution", 15, 16)
    # NumPy integers where asked, returned as Python ints; NumPy bools never.
    value = check_int("num_classes", np.int64(256), 2, numpy=True)
    assert value == 256 and type(value) is int
    with pytest.raises(ValueError, match="got np.True_|got True"):
        check_int("num_classes", np.bool_(True), numpy=True)


def test_check_choice_names_the_choices():
    assert check_choice("split", "test", ("train", "test")) == "test"
    with pytest.raises(ValueError) as info:
        check_choice("split", "dev", ("train", "validation", "test"))
    assert str(info.value) == ("`split` must be one of ('train', 'validation', 'test'), "
                               "got 'dev'")


def test_check_integer_says_a_bool_is_not_an_integer():
    check_integer("num_levels", 2, 2)
    with pytest.raises(ValueError) as info:
        check_integer("num_levels", True, 1)
    assert str(info.value) == ("`num_levels` must be an integer >= 1. Received: "
                               "num_levels=True (a bool is not accepted as an integer)")
    with pytest.raises(ValueError, match="^`num_levels` must be an integer >= 2. "
                                         "Received: num_levels=1$"):
        check_integer("num_levels", 1, 2)


def test_the_data_builders_import_the_checks_without_tensorflow():
    """The data builders check their arguments with this module: importing
    them (and it) loads neither Keras nor TensorFlow."""
    code = ("import sys, vq_zoo.utils.checks, vq_zoo.data.video, vq_zoo.data.memory_maze, "
            "vq_zoo.data.dmlab, vq_zoo.data.photos_64; "
            "print(sorted(m for m in ('keras', 'tensorflow') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
