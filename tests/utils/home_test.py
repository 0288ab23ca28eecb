"""One home for every file vq_zoo keeps (issue 18.4): the user's presets,
rendered episodes and downloaded photos all live under `$VQ_ZOO_HOME`, with
one default (before: `~/.vq_zoo` for presets, `~/.cache/vq_zoo` for the
rest)."""

import os
import pathlib

import pytest

from vq_zoo import presets
from vq_zoo.data import photos_64
from vq_zoo.recipes import common
from vq_zoo.recipes.dmlab.config import CONFIGS


def _folders():
    return [pathlib.Path(presets.user_presets_dir()),
            pathlib.Path(photos_64.opencv_cache_dir()),
            pathlib.Path(common.default_episode_dir(CONFIGS["smoke"]))]


@pytest.mark.parametrize("home", [None, "~/elsewhere", "/tmp/vq home"])
def test_every_folder_is_under_one_home(home, monkeypatch):
    if home is None:
        monkeypatch.delenv("VQ_ZOO_HOME", raising=False)
        expected = pathlib.Path(os.path.expanduser("~")) / ".cache" / "vq_zoo"
    else:
        monkeypatch.setenv("VQ_ZOO_HOME", home)
        expected = pathlib.Path(os.path.expanduser(home))
    folders = _folders()
    assert [f.parts[:len(expected.parts)] for f in folders] == [expected.parts] * 3
    assert [f.relative_to(expected).parts[0] for f in folders] == [
        "presets", "opencv_photos", "memory_maze"]
