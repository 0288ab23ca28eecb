import importlib
import json

import pytest
import tensorflow as tf

from vq_zoo.training.get_strategy import get_strategy

# The package exports the function under the module's name.
get_strategy_module = importlib.import_module("vq_zoo.training.get_strategy")


def test_default_strategy():
    strategy = get_strategy("default")
    assert strategy is tf.distribute.get_strategy()
    assert strategy.num_replicas_in_sync == 1


def test_mirrored_uses_the_cpu_without_gpus():
    assert not tf.config.list_physical_devices("GPU")
    strategy = get_strategy("Mirrored")
    assert isinstance(strategy, tf.distribute.MirroredStrategy)
    assert [d.rsplit("/", 1)[-1] for d in strategy.extended.worker_devices] == ["device:CPU:0"]
    assert strategy.num_replicas_in_sync == 1


@pytest.mark.parametrize("name", ["gpu", "", None, "multi-worker"])
def test_unknown_names_list_the_choices(name):
    with pytest.raises(ValueError, match="`name` must be one of default, mirrored, "
                       "multi_worker, tpu. Received: name="):
        get_strategy(name)


def test_tpu_argument_only_with_tpu():
    with pytest.raises(ValueError, match="`tpu` is only used with name='tpu'"):
        get_strategy("mirrored", tpu="my-tpu")


def test_no_tpu_fails_fast_with_a_clear_error(monkeypatch):
    for var in get_strategy_module.TPU_ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(get_strategy_module, "TPU_DEVICE_GLOBS", ("/nonexistent/accel*",))
    with pytest.raises(ValueError, match=r"get_strategy\('tpu'\) found no TPU.*TPU_NAME"):
        get_strategy("tpu")


def test_multi_worker_without_tf_config(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match="needs the `TF_CONFIG` environment variable, "
                       "which is not set. Expected JSON like"):
        get_strategy("multi_worker")


@pytest.mark.parametrize(
    "tf_config, message",
    [
        ("{not json", "`TF_CONFIG` is not valid JSON"),
        (json.dumps([1, 2]), r'`TF_CONFIG\["cluster"\]` must map "worker"'),
        (json.dumps({"cluster": {"worker": []}, "task": {"type": "worker", "index": 0}}),
         r'`TF_CONFIG\["cluster"\]` must map "worker"'),
        (json.dumps({"cluster": {"worker": ["127.0.0.1:1"]}}),
         r'`TF_CONFIG\["task"\]` must be'),
        (json.dumps({"cluster": {"worker": ["127.0.0.1:1"]},
                     "task": {"type": "ps", "index": 0}}),
         r'`TF_CONFIG\["task"\]` must be .* job of the cluster \(\[\'worker\'\]\)'),
        (json.dumps({"cluster": {"worker": ["127.0.0.1:1"]},
                     "task": {"type": "worker", "index": 1}}),
         r'`TF_CONFIG\["task"\]` must be'),
    ],
)
def test_multi_worker_with_invalid_tf_config(monkeypatch, tf_config, message):
    monkeypatch.setenv("TF_CONFIG", tf_config)
    with pytest.raises(ValueError, match=message):
        get_strategy("multi_worker")


def test_valid_tf_config_is_accepted():
    # The strategy itself is built in multi_worker_test.py, in worker processes.
    config = {"cluster": {"worker": ["127.0.0.1:1", "127.0.0.1:2"]},
              "task": {"type": "worker", "index": 1}}
    assert get_strategy_module._check_tf_config(json.dumps(config)) == config
