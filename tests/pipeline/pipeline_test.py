"""The run dir of a pipeline: one writer, one config, stages whose inputs
belong together; checked against what another process, or the files on
disk, show."""

import dataclasses
import json
import os
import signal
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from vq_zoo.data.codes import codebook_digest
from vq_zoo.pipeline import Pipeline
from vq_zoo.pipeline import RunDirError
from vq_zoo.pipeline import run_dir as run_dir_lib

RUN_DIR_PY = run_dir_lib.__file__
# Holds the lock of argv[1] until killed, loading run_dir.py by path (no
# TensorFlow: it starts in a fraction of a second).
HOLDER = (
    "import importlib.util, sys, time\n"
    f"spec = importlib.util.spec_from_file_location('run_dir', {RUN_DIR_PY!r})\n"
    "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
    "lock = m.RunLock(sys.argv[1])\n"
    "print('held', flush=True)\n"
    "time.sleep(600)\n"
)


def hold_lock(out_dir):
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(out_dir), "--tag"],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_held_run_dir_is_refused_naming_the_holder_and_freed_by_its_death(tmp_path):
    proc = hold_lock(tmp_path)
    try:
        with pytest.raises(RunDirError) as info:
            Pipeline(str(tmp_path), verbose=0)
        message = str(info.value)
        assert f"pid {proc.pid}" in message and "--tag" in message
        assert "since 20" in message and "another --out-dir" in message
        # Nothing was written by the refused pipeline.
        assert not os.path.exists(tmp_path / "stages")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    # SIGKILL leaves no stale lock: the kernel dropped it with the process.
    with Pipeline(str(tmp_path), verbose=0) as pipe:
        assert pipe.is_done("anything") is False
    # Released on close: another process can take it.
    proc = hold_lock(tmp_path)
    proc.kill()
    proc.wait()


def test_another_config_is_refused_naming_the_keys_unless_restarted(tmp_path):
    out = str(tmp_path)
    old = {"batch_size": 32, "seed": 0, "likelihood": "mse"}
    with Pipeline(out, config=old, verbose=0) as pipe:
        pipe.stage("report", lambda: {"value": 1})
    new = dict(old, batch_size=64, likelihood="categorical")
    with pytest.raises(RunDirError) as info:
        Pipeline(out, config=new, verbose=0)
    message = str(info.value)
    assert "batch_size: 32 -> 64" in message
    assert "likelihood: 'mse' -> 'categorical'" in message
    assert "seed" not in message and "--restart" in message
    # The refused run changed nothing.
    assert json.load(open(tmp_path / "stages" / "run.json"))["config"] == old
    assert os.path.exists(tmp_path / "stages" / "report.json")
    # The same config reuses the finished stage; a restart wipes it.
    with Pipeline(out, config=old, verbose=0) as pipe:
        assert pipe.stage("report", lambda: {"value": 2}) == {"value": 1}
    with Pipeline(out, config=new, verbose=0, restart=True) as pipe:
        assert not pipe.is_done("report")
        assert pipe.stage("report", lambda: {"value": 3}) == {"value": 3}
    assert json.load(open(tmp_path / "stages" / "run.json"))["config"] == new


@dataclasses.dataclass(frozen=True)
class OldConfig:
    batch_size: int = 32


@dataclasses.dataclass(frozen=True)
class NewConfig:  # OldConfig after a release added a field
    batch_size: int = 32
    precision: str = "float32"


def test_a_run_recorded_before_a_field_existed_resumes_with_its_default(tmp_path):
    out = str(tmp_path)
    with Pipeline(out, config=OldConfig(), verbose=0) as pipe:
        pipe.stage("report", lambda: {"value": 1})
    # The new field at its default: the same run, its stage reused.
    with Pipeline(out, config=NewConfig(), verbose=0) as pipe:
        assert pipe.stage("report", lambda: {"value": 2}) == {"value": 1}
    assert json.load(open(tmp_path / "stages" / "run.json"))["config"] == {
        "batch_size": 32, "precision": "float32"}
    # Another value of it is another config.
    with pytest.raises(RunDirError, match="precision: 'float32' -> 'mixed_bfloat16'"):
        Pipeline(out, config=NewConfig(precision="mixed_bfloat16"), verbose=0)


def test_precision_is_the_dtype_policy_while_open_and_restored_on_close(tmp_path):
    assert keras.mixed_precision.global_policy().name == "float32"
    with Pipeline(str(tmp_path / "a"), verbose=0, precision="mixed_bfloat16"):
        assert keras.mixed_precision.global_policy().name == "mixed_bfloat16"
        model = tiny_vqvae()
        x = np.random.default_rng(0).random((2, 8, 8, 1), dtype=np.float32)
        hidden = model.encoder(x)
        assert hidden.dtype == tf.bfloat16  # the layers compute in bfloat16
        assert all(v.dtype == "float32" for v in model.weights)
        assert model.quantizer.encode(hidden).dtype == tf.int32
    assert keras.mixed_precision.global_policy().name == "float32"
    # A bad value is refused before the run dir is made.
    with pytest.raises(ValueError, match="precision='bf16': expected one of float32, "
                                         "mixed_bfloat16, mixed_float16"):
        Pipeline(str(tmp_path / "b"), verbose=0, precision="bf16")
    assert not os.path.exists(tmp_path / "b")
    assert keras.mixed_precision.global_policy().name == "float32"


def test_a_stage_made_from_other_inputs_is_refused(tmp_path, capsys):
    out = str(tmp_path)
    stages = ["codes", "prior"]
    with Pipeline(out, verbose=1, stages=stages) as pipe:
        pipe.stage("codes", lambda: {"codes": [1, 2]}, what="extract codes")
        pipe.stage("prior", lambda: {"nll": 1.0}, inputs=["codes"])
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["stage 1/2: extract codes", "stage 2/2: prior"]
    with Pipeline(out, verbose=1, stages=stages) as pipe:
        pipe.stage("codes", lambda: {"codes": [1, 2]}, what="extract codes")
        assert pipe.stage("prior", lambda: {}, inputs=["codes"]) == {"nll": 1.0}
    assert "stage 2/2: prior (finished earlier: reusing stages/prior.json)" in (
        capsys.readouterr().out)
    # The codes are made again, differently: the prior no longer belongs.
    os.remove(tmp_path / "stages" / "codes.json")
    with Pipeline(out, verbose=0, stages=stages) as pipe:
        pipe.stage("codes", lambda: {"codes": [3]})
        with pytest.raises(RunDirError, match="was made from stage 'codes'"):
            pipe.stage("prior", lambda: {}, inputs=["codes"])


def tiny_vqvae():
    from vq_zoo.models.vqvae.vqvae import VQVAE

    model = VQVAE.image_model(num_hiddens=8, num_residual_layers=1,
                              num_residual_hiddens=4, embedding_dim=4,
                              num_embeddings=16, channels=1)
    model.build((None, 8, 8, 1))
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    return model


def test_codes_of_another_codebook_and_a_swapped_model_are_refused(tmp_path):
    """A VQ-VAE trained again after its codes were extracted: reusing those
    codes is refused (the manifest's codebook digest is not the model's);
    a model file replaced behind the pipeline's back is refused too."""
    out = str(tmp_path)
    x = np.random.default_rng(0).uniform(size=(16, 8, 8, 1)).astype("float32")
    data = tf.data.Dataset.from_tensor_slices(x).batch(8)
    with Pipeline(out, verbose=0, seed=0) as pipe:
        vqvae = pipe.train("vqvae", tiny_vqvae, data, epochs=1)
        manifests = pipe.extract("codes", vqvae, {"train": data})
        assert pipe.stage_info("codes")["inputs"] == {
            "vqvae": pipe.stage_info("vqvae")["digest"]}
        # The codes on disk are this model's codes.
        codes = next(iter(pipe.code_data("train", 16)))
        np.testing.assert_array_equal(codes, vqvae.encode(x))
        assert manifests["train"]["codebook_sha256"] == codebook_digest(vqvae)
    os.remove(tmp_path / "stages" / "vqvae.json")
    with Pipeline(out, verbose=0, seed=1) as pipe:
        other = pipe.train("vqvae", tiny_vqvae, data, epochs=1)
        assert codebook_digest(other) != manifests["train"]["codebook_sha256"]
        with pytest.raises(RunDirError, match="extracted by another codebook"):
            pipe.extract("codes", other, {"train": data})
    keras.models.load_model(tmp_path / "vqvae.keras").save(tmp_path / "swap.keras")
    os.replace(tmp_path / "swap.keras", tmp_path / "vqvae.keras")
    with Pipeline(out, verbose=0) as pipe:
        with pytest.raises(RunDirError, match="is not the model stage 'vqvae' saved"):
            pipe.train("vqvae", tiny_vqvae, data, epochs=1)
