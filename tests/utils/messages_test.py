import pytest

from vq_zoo.utils.messages import one_line


def test_a_message_over_several_lines_is_one_line():
    error = ValueError("could not load x.keras:\n  File 'a.py', line 3\n\tKeyError: 'b'  ")
    assert one_line(error) == "could not load x.keras: File 'a.py', line 3 KeyError: 'b'"


@pytest.mark.parametrize("error", [KeyError(), OSError(), ValueError("  \n ")])
def test_an_error_without_text_is_its_class(error):
    assert one_line(error) == type(error).__name__
