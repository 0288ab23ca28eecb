import pytest

from vq_zoo.utils.messages import one_line


def test_a_message_over_several_lines_is_one_line():
    error = ValueError("could not load x.keras:\n  File 'a.py', line 3\n\tKeyError: 'b'  ")
    assert one_line(error) == "could not load x.keras: File 'a.py', line 3 KeyError: 'b'"


@pytest.mark.parametrize("error", [KeyError(), OSError(), ValueError("  \n ")])
def test_an_error_without_text_is_its_class(error):
    assert one_line(error) == type(error).__name__


def test_the_cli_the_families_and_the_exporters_share_it():
    from vq_zoo import cli
    from vq_zoo.export import run_presets
    from vq_zoo.models import family
    from vq_zoo.models.video import family as video_family
    from vq_zoo.models.wavenet import family as speech_family

    assert cli._one_line is one_line
    assert run_presets._one_line is one_line
    assert family._one_line is one_line
    assert video_family.one_line is one_line and speech_family.one_line is one_line
