"""Writes tests/slow_tests.txt: the tests that go to the slow tier.

The default suite (`python -m pytest`, what CI runs) must stay near 10
minutes on 2 cores; every test stays runnable with `python -m pytest -m slow`
(the slow tier alone) or `python -m pytest -m ""` (everything). A test goes
to the slow tier when one measured run of the whole suite gave it at least
`THRESHOLD_S` seconds (setup, call and teardown), unless it is in `CORE`:
the end-to-end checks the default suite keeps whatever they cost. The
conftest then also moves the tests that share a module- or session-scoped
fixture with a slow test (so that the fixture's cost leaves the default
suite with it), unless a `CORE` test uses that fixture too.

Usage (after a run of every test with a JUnit report; with several reports,
a test's time is the largest it took in any of them):
    python -m pytest -m "" --junitxml=/tmp/suite.xml
    python tests/tiers.py /tmp/suite.xml [/tmp/another.xml ...]
"""

import pathlib
import sys
import xml.etree.ElementTree as ET

THRESHOLD_S = 8.0

# Kept in the default suite whatever they cost: one pipeline run end to end
# (the README's main job), the replica-equality core case and its control,
# the wheel a user installs, the numerical goldens.
CORE = {
    "tests/recipes/natural_images_test.py::test_smoke_pipeline_end_to_end_and_stage_resume",
    "tests/distribute/replica_equality_test.py::test_core_case_two_replicas_equal_one",
    "tests/distribute/replica_equality_test.py::test_core_control_without_all_reduce_diverges",
    "tests/packaging_test.py::test_wheel_builds_without_warnings_and_ships_presets_and_license",
}
CORE_PREFIXES = ("tests/goldens/",)

OUT = pathlib.Path(__file__).resolve().parent / "slow_tests.txt"


def is_core(nodeid):
    return nodeid in CORE or nodeid.startswith(CORE_PREFIXES)


def measured(junit_path):
    """`{nodeid: seconds}` from a pytest JUnit XML report."""
    times = {}
    for case in ET.parse(junit_path).getroot().iter("testcase"):
        module = case.get("classname").replace(".", "/") + ".py"
        times[f"{module}::{case.get('name')}"] = float(case.get("time") or 0.0)
    return times


def main(*junit_paths):
    times = {}
    for path in junit_paths:
        for nodeid, seconds in measured(path).items():
            times[nodeid] = max(seconds, times.get(nodeid, 0.0))
    slow = sorted((t, n) for n, t in times.items() if t >= THRESHOLD_S and not is_core(n))
    lines = [
        "# The slow tier: tests measured at >= %.0f s each in one run of the whole" % THRESHOLD_S,
        "# suite (written by `python tests/tiers.py JUNIT_XML`, see tests/tiers.py).",
        "# Run them with `python -m pytest -m slow`. Seconds, then the test.",
    ] + [f"{t:7.1f} {n}" for t, n in reversed(slow)]
    tmp = OUT.with_suffix(".tmp")
    tmp.write_text("\n".join(lines) + "\n")
    tmp.replace(OUT)
    slow_ids = {n for _, n in slow}
    kept = sum(t for n, t in times.items() if n not in slow_ids)
    print(f"{len(slow)} of {len(times)} tests to the slow tier ({sum(t for t, _ in slow):.0f} s); "
          f"the default suite keeps {kept:.0f} s before fixture moves")


if __name__ == "__main__":
    main(*sys.argv[1:])
