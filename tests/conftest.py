import contextlib
import fcntl
import json
import os
import pathlib
import shutil
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import pytest  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    keras.utils.set_random_seed(1234)
    keras.config.set_dtype_policy("float32")
    yield
    keras.config.set_dtype_policy("float32")
    keras.backend.clear_session()


# ------------------------------------------------- made once per session
@contextlib.contextmanager
def _locked(path):
    """An exclusive lock on `path` (a file), across the xdist workers."""
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def shared_once(tmp_path_factory, name, make):
    """`make(folder)` run once per test session, whatever the number of
    xdist workers: the first worker to ask makes it under the session's
    shared temporary folder (others wait on a lock), later ones read its
    JSON result back. `make` returns something JSON can hold."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # shared by the workers of this session
    folder = base / f"shared-{name}"
    done = base / f"shared-{name}.json"
    with _locked(str(base / f"shared-{name}.lock")):
        if not done.exists():
            if folder.exists():  # an earlier attempt failed half way
                shutil.rmtree(folder)
            folder.mkdir()
            result = make(folder)
            done.write_text(json.dumps(result))
    return json.loads(done.read_text())


def checkout_copy(dest):
    """The checkout's files (tracked and untracked, not ignored) under `dest`,
    so that a build writes nothing into the shared checkout."""
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO, check=True, capture_output=True, text=True).stdout.split("\0")
    for name in filter(None, files):
        if (REPO / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, dest / name)
    return dest


WHEEL_EXTRA_PRESET = "wheel_test_vqvae"


def _build_and_install_wheel(folder):
    src = checkout_copy(folder / "src")
    # One preset more than the checkout ships (the golden tiny VQ-VAE), for
    # the test that a wheel's presets are found by name.
    shutil.copytree(REPO / "tests" / "goldens" / "vqvae_tiny",
                    src / "pretrained" / WHEEL_EXTRA_PRESET)
    wheel_dir, target = folder / "wheel", folder / "site"
    # With build isolation, as a user's `pip install` or `pip wheel` builds:
    # the backend is what pyproject.toml's [build-system] requires. -v: pip
    # shows the backend's own output, warnings included.
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-v", "-w", str(wheel_dir),
         str(src)], capture_output=True, text=True, timeout=600)
    build_output = proc.stdout + proc.stderr
    (folder / "build-output.txt").write_text(build_output)
    if proc.returncode != 0:
        return {"returncode": proc.returncode, "output": str(folder / "build-output.txt")}
    (wheel,) = wheel_dir.glob("vq_zoo-*.whl")
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q",
                    "--target", str(target), str(wheel)], check=True, capture_output=True)
    return {"returncode": 0, "output": str(folder / "build-output.txt"), "src": str(src),
            "wheel": str(wheel), "target": str(target)}


@pytest.fixture(scope="session")
def wheel(tmp_path_factory):
    """The package's wheel, built once per session from a copy of the
    checkout (plus the preset `wheel_test_vqvae`) as pip builds it for a
    user, and installed with `pip install --no-deps --target`: a dict of
    `returncode`, `output` (the build's verbose output, a file), `src` (the
    copy built), `wheel` and `target` (the install folder), all paths.
    Shared by tests/packaging_test.py, tests/presets_test.py and
    tests/cli_test.py, which each built their own."""
    built = shared_once(tmp_path_factory, "wheel", _build_and_install_wheel)
    output = pathlib.Path(built["output"]).read_text()
    assert built["returncode"] == 0, output[-3000:]
    return {**{k: pathlib.Path(v) for k, v in built.items() if k != "returncode"},
            "returncode": built["returncode"]}


# ------------------------------------------------- order for two workers
# The default run spreads whole files over two xdist workers (`--dist
# loadfile`, pytest.ini). The files below are the default suite's most
# expensive (the wheel build, a smoke pipeline, a 1-vs-2-replica fit, many
# small fits); dealt out first, the
# cheap files fill the gaps and neither worker is left finishing one of
# them alone at the end. Most expensive first (measured with
# `pytest --durations`); a file not listed keeps its collection order after
# them. With pytest.ini's `--no-loadscope-reorder`, xdist keeps this order
# (by default it deals the files with the most tests first).
EXPENSIVE_FIRST = [
    "tests/packaging_test.py",
    "tests/recipes/natural_images_test.py",
    "tests/distribute/replica_equality_test.py",
    "tests/utils/config_test.py",
    "tests/cli_test.py",
    "tests/reliability/config_checks_test.py",
    "tests/layers/vector_quantizer_test.py",
    "tests/presets_test.py",
    "tests/models/gated_pixelcnn/gated_pixelcnn_prior_test.py",
]


# ------------------------------------------------- the slow tier
def _slow_listed():
    """The node ids of tests/slow_tests.txt (written by tests/tiers.py)."""
    path = REPO / "tests" / "slow_tests.txt"
    return {line.split(None, 1)[1].strip() for line in path.read_text().splitlines()
            if line.strip() and not line.startswith("#")}


def _shared_fixtures(item):
    """The module-, package- or session-scoped fixtures `item` uses that
    this project defines (pytest's own are left out), each as (where it is
    defined, its name): two modules' fixtures of one name are two."""
    found = set()
    for name, defs in item._fixtureinfo.name2fixturedefs.items():
        fixturedef = defs[-1]
        module = getattr(fixturedef.func, "__module__", "") or ""
        if fixturedef.scope != "function" and not module.startswith("_pytest"):
            found.add((module, name))
    return found


def _mark_slow_tier(items):
    """Marks `slow` the tests of tests/slow_tests.txt and the tests that
    share a module- or session-scoped fixture with them, unless one of
    tests/tiers.py's core tests uses that fixture (it then stays in the
    default run anyway)."""
    import pytest as _pytest

    from tests import tiers

    listed = _slow_listed()

    def nodeid(item):
        return item.nodeid.replace(os.sep, "/")

    slow = {nodeid(i) for i in items if nodeid(i) in listed or i.get_closest_marker("slow")}
    kept_fixtures = set().union(*[_shared_fixtures(i) for i in items
                                  if tiers.is_core(nodeid(i))] or [set()])
    moved_fixtures = set().union(*[_shared_fixtures(i) for i in items
                                   if nodeid(i) in slow] or [set()]) - kept_fixtures
    for item in items:
        if nodeid(item) in slow or (_shared_fixtures(item) & moved_fixtures
                                    and not tiers.is_core(nodeid(item))):
            if not item.get_closest_marker("slow"):
                item.add_marker(_pytest.mark.slow)


def pytest_collection_modifyitems(session, config, items):
    _mark_slow_tier(items)
    rank = {name: i for i, name in enumerate(EXPENSIVE_FIRST)}

    def key(item):
        path = pathlib.Path(str(item.fspath)).resolve()
        try:
            name = path.relative_to(REPO).as_posix()
        except ValueError:
            name = str(path)
        return rank.get(name, len(rank))

    items[:] = sorted(items, key=key)  # stable: a file's tests keep their order
