"""`python -m vq_zoo.recipes.video.evaluate_episodes`: bad decoding lists
are refused in one line before any episode loads (here the episode folders
do not even exist)."""

import pytest

from vq_zoo.recipes.video import evaluate_episodes


@pytest.mark.parametrize("flag, value", [
    ("--consensus", "1.5"), ("--consensus", "0"), ("--temperatures", "a"),
    ("--guidances", "-1"), ("--temperatures", ""),
])
def test_bad_decoding_lists_are_refused_before_the_episodes_load(capsys, flag, value):
    with pytest.raises(SystemExit) as info:
        evaluate_episodes.main(["no_such_dir", "0", "1", "no_such_dir", "out.json",
                                flag, value])
    assert info.value.code == 2
    (line,) = [l for l in capsys.readouterr().err.splitlines() if "error" in l]
    assert "--consensus comma-separated integers >= 1" in line and repr(value) in line
