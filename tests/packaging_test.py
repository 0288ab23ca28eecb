"""The wheel builds without setuptools warnings and ships what setup.py
promises: every preset file, the recipes (as `vq_zoo.recipes`), the LICENSE
its `license` names."""

import pathlib
import zipfile

REPO = pathlib.Path(__file__).resolve().parent.parent


def test_wheel_builds_without_warnings_and_ships_presets_and_license(wheel):
    """On the session's wheel (tests/conftest.py: built from a copy of the
    checkout with build isolation, as a user's `pip install` or `pip wheel`
    builds, so the backend is what pyproject.toml's [build-system] requires,
    not whatever setuptools the test's venv holds; a new Python 3.11 venv has
    65.5, which writes dist-info/LICENSE, not dist-info/licenses/LICENSE)."""
    src = wheel["src"]
    # pip -v shows the build backend's own output, warnings included.
    output = wheel["output"].read_text()
    for warning in ("absent from the `packages` configuration",
                    "SetuptoolsDeprecationWarning", "BuildBackendWarning",
                    "SetuptoolsWarning"):
        assert warning not in output, output[output.find(warning) - 1500:][:3000]

    names = set(zipfile.ZipFile(wheel["wheel"]).namelist())
    presets = [p.relative_to(src / "pretrained").as_posix()
               for p in (src / "pretrained").rglob("*")
               if p.is_file() and not p.name.startswith(".")]
    assert presets and any(p.endswith(".weights.h5") for p in presets)
    missing = [p for p in presets if f"vq_zoo/pretrained/{p}" not in names]
    assert not missing, missing
    recipes = [p.relative_to(src).as_posix() for p in (src / "recipes").rglob("*.py")]
    # Installed as vq_zoo.recipes (no top-level `recipes` package).
    assert recipes and all(f"vq_zoo/{r}" in names for r in recipes), recipes
    assert not [n for n in names if n.startswith("recipes/")]

    (license_path,) = [n for n in names if n.endswith(".dist-info/licenses/LICENSE")]
    with zipfile.ZipFile(wheel["wheel"]) as z:
        shipped = z.read(license_path).decode()
        metadata = z.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert shipped == (REPO / "LICENSE").read_text()
    assert "Apache License" in shipped and "Version 2.0, January 2004" in shipped
    assert "License: Apache-2.0" in metadata or "License-Expression: Apache-2.0" in metadata
