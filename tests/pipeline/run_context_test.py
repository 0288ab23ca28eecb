"""A recipe's run: its `RunContext`, and the run dir's one owner, the
pipeline (the lock, the recorded config, `config.json` and each
invocation)."""

import dataclasses
import json
import os
import signal

import pytest

from tests.pipeline.pipeline_test import hold_lock
from vq_zoo import cli
from vq_zoo.pipeline import Pipeline
from vq_zoo.pipeline import RunDirError
from vq_zoo.pipeline.run_context import RunContext
from vq_zoo.recipe import Recipe


@dataclasses.dataclass(frozen=True)
class ToyConfig:
    value: int = 3
    seed: int = 0
    precision: str = "float32"
    fail: bool = False


class ToyRecipe(Recipe):
    """Two stages; `fail` raises in the second, after the first finished."""

    name = "toy_run"
    configs = {"default": ToyConfig()}
    stages = ("double", "square")
    artefacts = ("metrics.json",)

    def __init__(self):
        self.seen = []

    def run(self, context):
        self.seen.append(context)
        config = context.config
        with context.open_pipeline(self.stage_names(config)) as pipe:
            double = pipe.stage("double", lambda: {"value": 2 * config.value})

            def square():
                if config.fail:
                    raise OSError(28, "No space left on device")
                return {"value": double["value"] ** 2}

            return pipe.stage("square", square, inputs=["double"])


def test_main_gives_the_recipe_its_arguments_and_reports_once(tmp_path, capsys):
    recipe = ToyRecipe()
    out = str(tmp_path / "run")
    extra = lambda stage, model: []  # noqa: E731
    metrics = recipe.main(ToyConfig(value=4), out, data_dir="data", verbose=2,
                          extra_callbacks=extra)
    assert metrics == {"value": 64}  # (2 * 4) ** 2, by the stages
    (context,) = recipe.seen
    assert (context.config, context.out_dir, context.data_dir, context.verbose) == (
        ToyConfig(value=4), out, "data", 2)
    assert context.log_dir == os.path.join(out, "logs")
    assert context.extra_callbacks is extra and context.restart is False
    # The closing message, once: the metrics, the artefacts, the logs.
    printed = capsys.readouterr().out
    assert printed.count("Artefacts in") == 1
    assert json.dumps(metrics, indent=2) in printed
    assert f"Artefacts in {out}: metrics.json\n" in printed
    assert f"Watch training with: tensorboard --logdir {os.path.join(out, 'logs')}" in printed
    # Started from Python (no command): no config.json, as before.
    assert not os.path.exists(os.path.join(out, "config.json"))
    # verbose=0: no closing message.
    assert recipe.main(ToyConfig(value=4), out, verbose=0) == metrics
    assert capsys.readouterr().out == ""


def test_the_pipeline_records_the_command_and_each_finished_invocation(tmp_path):
    recipe = ToyRecipe()
    out = str(tmp_path / "run")

    def run(config, restart=False):
        return recipe.train(RunContext(recipe, config, out, config_name="default",
                                       verbose=0, restart=restart,
                                       command="vq-zoo train toy_run"))

    run(ToyConfig())
    record = json.load(open(os.path.join(out, "config.json")))
    assert record["recipe"] == "toy_run" and record["config_name"] == "default"
    assert record["config"] == dataclasses.asdict(ToyConfig())
    assert record["command"] == "vq-zoo train toy_run"
    (invocation,) = record["invocations"]
    assert invocation["command"] == "vq-zoo train toy_run"
    assert invocation["wall_time_s"] >= 0 and "CPU cores" in invocation["hardware"]
    run(ToyConfig())  # resumed: every stage reused, one more invocation
    assert len(json.load(open(os.path.join(out, "config.json")))["invocations"]) == 2
    # Another config is refused by the pipeline, naming the key; nothing written.
    with pytest.raises(RunDirError, match="value: 3 -> 5"):
        run(ToyConfig(value=5))
    assert len(json.load(open(os.path.join(out, "config.json")))["invocations"]) == 2
    # A restart starts a new record.
    run(ToyConfig(value=5), restart=True)
    record = json.load(open(os.path.join(out, "config.json")))
    assert record["config"]["value"] == 5 and len(record["invocations"]) == 1


def test_a_failed_invocation_is_not_recorded_and_releases_the_lock(tmp_path):
    recipe = ToyRecipe()
    out = str(tmp_path / "run")
    context = RunContext(recipe, ToyConfig(fail=True), out, config_name="default",
                         verbose=0, command="vq-zoo train toy_run")
    with pytest.raises(OSError, match="No space left"):
        recipe.train(context)
    record = json.load(open(os.path.join(out, "config.json")))
    assert record["invocations"] == []
    assert os.path.exists(os.path.join(out, "stages", "double.json"))
    assert not os.path.exists(os.path.join(out, "stages", "square.json"))
    # The lock went with the error: the same process opens the run dir again.
    with Pipeline(out, config=ToyConfig(fail=True), verbose=0) as pipe:
        assert pipe.is_done("double")


def test_a_second_pipeline_on_an_open_run_dir_is_refused_in_the_same_process(tmp_path):
    """One owner: the lock is not re-entrant, so a second pipeline (a second
    training in this process) cannot write a run dir that one holds."""
    out = str(tmp_path / "run")
    with Pipeline(out, verbose=0) as pipe:
        with pytest.raises(RunDirError) as info:
            Pipeline(out, verbose=0)
        assert f"is in use by another run: pid {os.getpid()}" in str(info.value)
        pipe.stage("still_mine", lambda: {"ok": True})
    with Pipeline(out, verbose=0) as pipe:  # released on close
        assert pipe.is_done("still_mine")


def test_a_second_train_on_a_held_run_dir_is_refused_in_one_line(tmp_path, capsys):
    """`vq-zoo train` into a run dir another training holds: exit 2, one
    error line naming the holder, and nothing written into the run dir."""
    out = tmp_path / "run"
    holder = hold_lock(out)
    try:
        status = cli.main(["train", "natural_images", "--config", "smoke",
                           "--out-dir", str(out)])
        err = capsys.readouterr().err
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    lines = [line for line in err.splitlines() if line.strip()]
    assert status == 2 and len(lines) == 1, err
    assert lines[0].startswith(f"vq-zoo: error: {out} is in use by another run: "
                               f"pid {holder.pid}")
    assert sorted(os.listdir(out)) == ["run.lock"]
