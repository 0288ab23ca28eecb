"""The wheel builds without setuptools warnings and ships what setup.py
promises: every preset file, the recipes (as `vq_zoo.recipes`), the LICENSE
its `license` names."""

import pathlib
import shutil
import subprocess
import sys
import zipfile

REPO = pathlib.Path(__file__).resolve().parent.parent


def checkout_copy(dest):
    """The checkout's files (tracked and untracked, not ignored) under `dest`,
    so the build writes nothing into the shared checkout."""
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO, check=True, capture_output=True, text=True).stdout.split("\0")
    for name in filter(None, files):
        if (REPO / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, dest / name)
    return dest


def test_wheel_builds_without_warnings_and_ships_presets_and_license(tmp_path):
    src = checkout_copy(tmp_path / "src")
    wheel_dir = tmp_path / "wheel"
    # -v: pip shows the build backend's own output, warnings included. With
    # build isolation, as a user's `pip install` or `pip wheel` builds: the
    # backend is what pyproject.toml's [build-system] requires, not whatever
    # setuptools the test's venv holds (a new Python 3.11 venv has 65.5,
    # which writes dist-info/LICENSE, not dist-info/licenses/LICENSE).
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps",
         "-v", "-w", str(wheel_dir), str(src)],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    output = proc.stdout + proc.stderr
    for warning in ("absent from the `packages` configuration",
                    "SetuptoolsDeprecationWarning", "BuildBackendWarning",
                    "SetuptoolsWarning"):
        assert warning not in output, output[output.find(warning) - 1500:][:3000]

    (wheel,) = wheel_dir.glob("vq_zoo-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
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
    with zipfile.ZipFile(wheel) as z:
        shipped = z.read(license_path).decode()
        metadata = z.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert shipped == (REPO / "LICENSE").read_text()
    assert "Apache License" in shipped and "Version 2.0, January 2004" in shipped
    assert "License: Apache-2.0" in metadata or "License-Expression: Apache-2.0" in metadata
