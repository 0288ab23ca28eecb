"""The private Keras hooks vq_zoo relies on exist and behave as we use them,
so a Keras upgrade (setup.py pins `keras>=3.15,<3.16`) fails here, not in a
user's run:

- `keras.src.backend.tensorflow.trainer.reduce_per_replica`, patched by
  `get_strategy("multi_worker")` (vq_zoo/training/get_strategy.py);
- `Model._initial_epoch`, set in `on_train_begin` by
  `ResumableBackupAndRestore` to resume at an epoch, and `train_function`,
  which it swaps to skip the batches already trained;
- `keras.src.saving.serialization_lib.SafeModeScope`, which vq_zoo/presets.py
  wraps preset loading in (nested deserialisation stays in safe mode);
- `tf.distribute` strategies' `extended._in_multi_worker_mode()`, read by
  vq_zoo/training/_cluster.py;
- `keras.src.saving.object_registration.get_registered_object`, which
  vq_zoo/utils/quiet_tensorflow.py wraps (when Keras was first imported
  inside a vq_zoo import) to register vq_zoo's classes on the first lookup
  of an unknown `vq_zoo>` name.

The last test lists every `keras.src` import in the package: a new one must
get a test here.
"""

import ast
import inspect
import pathlib

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras.src.backend.tensorflow import trainer as tf_trainer

from vq_zoo.training.get_strategy import _fix_keras_multi_worker_metric_mean

PACKAGE = pathlib.Path(__file__).resolve().parents[2] / "vq_zoo"
# Every `from keras.src... import name` in vq_zoo/, and the test below that
# covers it.
PRIVATE_IMPORTS = {
    ("keras.src.backend.tensorflow", "trainer"): "test_fit_reduces_through_the_module_reduce_per_replica",
    ("keras.src", "tree"): "test_multi_worker_patch_means_scalars_and_passes_the_rest_on",
    ("keras.src.saving.serialization_lib", "SafeModeScope"): "test_safe_mode_scope_is_enforced_in_nested_deserialization",
    ("keras.src.saving", "serialization_lib"): "test_serialization_lib_deserialize_is_the_public_one",
    ("keras.src.saving", "object_registration"): "test_deserialization_looks_classes_up_through_the_module_function",
}


def tiny_model():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    return model


def data(n=8):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 3)).astype("float32"), rng.normal(size=(n, 1)).astype("float32")


# -------------------------------------------------------- reduce_per_replica
def test_fit_reduces_through_the_module_reduce_per_replica(monkeypatch):
    # get_strategy's patch replaces the module attribute: fit must look it
    # up there at trace time, with the arguments the patch expects.
    assert list(inspect.signature(tf_trainer.reduce_per_replica).parameters) == [
        "values", "strategy", "reduction"]
    original, calls = tf_trainer.reduce_per_replica, []

    def recording(values, strategy, reduction):
        calls.append(reduction)
        return original(values, strategy, reduction)

    monkeypatch.setattr(tf_trainer, "reduce_per_replica", recording)
    x, y = data()
    tiny_model().fit(x, y, batch_size=4, epochs=1, verbose=0)
    assert calls and set(calls) == {"auto"}


def test_multi_worker_test_is_false_off_a_cluster():
    # The patch leaves every strategy but MultiWorkerMirroredStrategy in a
    # cluster to Keras, through this private predicate.
    for strategy in (tf.distribute.get_strategy(),
                     tf.distribute.MirroredStrategy(["/cpu:0"])):
        assert tf_trainer._collective_all_reduce_multi_worker(strategy) is False


def test_multi_worker_patch_means_scalars_and_passes_the_rest_on(monkeypatch):
    monkeypatch.setattr(tf_trainer, "reduce_per_replica", tf_trainer.reduce_per_replica)
    original = tf_trainer.reduce_per_replica
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    values = strategy.run(lambda: {"loss": tf.constant(2.5),
                                   "per_example": tf.constant([1.0, 4.0])})
    # Keras' multi-worker branch, forced on: its axis-0 mean fails on a
    # scalar log. (If a Keras release passes here, the patch may go.)
    monkeypatch.setattr(tf_trainer, "_collective_all_reduce_multi_worker", lambda s: True)
    with pytest.raises(ValueError, match="Invalid reduction dimension 0"):
        original(values, strategy, "auto")

    _fix_keras_multi_worker_metric_mean()
    patched = tf_trainer.reduce_per_replica
    assert patched is not original and patched._vq_zoo_scalar_mean
    _fix_keras_multi_worker_metric_mean()  # idempotent
    assert tf_trainer.reduce_per_replica is patched
    out = patched(values, strategy, "auto")
    assert float(out["loss"]) == 2.5
    # A batched value is reduced as Keras does it (axis 0).
    assert float(out["per_example"]) == float(
        strategy.reduce("MEAN", values["per_example"], axis=0))
    # Off a cluster, everything goes to Keras' own function unchanged.
    monkeypatch.setattr(tf_trainer, "_collective_all_reduce_multi_worker", lambda s: False)
    for reduction in ("auto", "first", "sum", "concat"):
        expected = original(values, strategy, reduction)
        got = patched(values, strategy, reduction)
        for key in expected:
            np.testing.assert_array_equal(np.asarray(got[key]), np.asarray(expected[key]))


# ----------------------------------------------------------- _initial_epoch
class RecordEpochs(keras.callbacks.Callback):
    def __init__(self, resume_at=None):
        super().__init__()
        self.resume_at, self.epochs = resume_at, []

    def on_train_begin(self, logs=None):
        if self.resume_at is not None:
            self.model._initial_epoch = self.resume_at

    def on_epoch_begin(self, epoch, logs=None):
        self.epochs.append(epoch)


def test_initial_epoch_set_in_on_train_begin_is_honoured():
    model = tiny_model()
    assert model._initial_epoch is None
    x, y = data()
    record = RecordEpochs(resume_at=2)
    history = model.fit(x, y, batch_size=4, epochs=4, verbose=0, callbacks=[record])
    assert record.epochs == [2, 3] and history.epoch == [2, 3]
    # Reset (as ResumableBackupAndRestore does at the end), fit starts at 0.
    model._initial_epoch = None
    record = RecordEpochs()
    model.fit(x, y, batch_size=4, epochs=2, verbose=0, callbacks=[record])
    assert record.epochs == [0, 1]


def test_train_function_swapped_in_on_train_begin_runs_every_step():
    # ResumableBackupAndRestore replaces `model.train_function` in
    # on_train_begin; fit must call that attribute once per step, and
    # `get_metrics_result()` must give the logs a skipped step returns.
    calls = []

    class Swap(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            train_function = self.model.train_function
            assert callable(train_function)

            def counted(iterator):
                calls.append(1)
                if len(calls) == 1:  # skip the first batch: read, do not train
                    next(iterator)
                    return self.model.get_metrics_result()
                return train_function(iterator)

            self.model.train_function = counted

    model, reference = tiny_model(), tiny_model()
    initial = model.get_weights()
    reference.set_weights(initial)
    x, y = data(12)
    history = model.fit(x, y, batch_size=4, epochs=1, verbose=0, shuffle=False,
                        callbacks=[Swap()])
    assert len(calls) == 3 and "loss" in history.history
    # As if trained on the last two batches only (plain SGD: no state).
    reference.fit(x[4:], y[4:], batch_size=4, epochs=1, verbose=0, shuffle=False)
    for a, b in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(model.get_weights()[0], initial[0])  # it trained


# ------------------------------------------------------------ SafeModeScope
def test_safe_mode_scope_is_enforced_in_nested_deserialization():
    from keras.src.saving import serialization_lib
    from keras.src.saving.serialization_lib import SafeModeScope

    with pytest.warns(UserWarning, match="lambda"):
        config = serialization_lib.serialize_keras_object(lambda v: v + 1)
    assert config["class_name"] == "__lambda__"
    outside = serialization_lib.in_safe_mode()
    # Unsafe loading executes the lambda's code: the config is loadable.
    assert serialization_lib.deserialize_keras_object(config, safe_mode=False)(1) == 2
    with SafeModeScope(True):
        assert serialization_lib.in_safe_mode() is True
        # A nested call asking for unsafe loading is refused all the same.
        with pytest.raises(ValueError, match="safe_mode"):
            serialization_lib.deserialize_keras_object(config, safe_mode=False)
        with pytest.raises(ValueError, match="safe_mode"):
            keras.saving.deserialize_keras_object(config, safe_mode=False)
    assert serialization_lib.in_safe_mode() == outside


def test_serialization_lib_deserialize_is_the_public_one():
    from keras.src.saving import serialization_lib

    assert serialization_lib.deserialize_keras_object is keras.saving.deserialize_keras_object


def test_deserialization_looks_classes_up_through_the_module_function(monkeypatch):
    # Deserialising a registered class asks the module attribute at call time
    # (so a wrapper set on the module sees the lookup), by the registered name,
    # with the keyword arguments the wrapper passes on.
    from keras.src.saving import object_registration

    @keras.saving.register_keras_serializable(package="hooks_test")
    class Probe(keras.layers.Layer):
        pass

    lookup = object_registration.get_registered_object
    asked = []

    def recording(name, custom_objects=None, module_objects=None):
        asked.append(name)
        return lookup(name, custom_objects=custom_objects, module_objects=module_objects)

    monkeypatch.setattr(object_registration, "get_registered_object", recording)
    layer = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(Probe()))
    assert type(layer) is Probe
    assert "hooks_test>Probe" in asked


# --------------------------------------------------------- tf.distribute
def test_in_multi_worker_mode_off_a_cluster():
    for strategy in (tf.distribute.get_strategy(),
                     tf.distribute.MirroredStrategy(["/cpu:0"])):
        assert strategy.extended._in_multi_worker_mode() is False


# ---------------------------------------------------------------- coverage
def private_keras_imports():
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("keras.src"):
                for alias in node.names:
                    found.setdefault((node.module, alias.name), []).append(
                        str(path.relative_to(PACKAGE.parent)))
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("keras.src"):
                        found.setdefault((alias.name, None), []).append(str(path))
    return found


def test_every_private_keras_import_is_tested_here():
    found = private_keras_imports()
    untested = {k: v for k, v in found.items() if k not in PRIVATE_IMPORTS}
    assert not untested, (
        f"keras.src imports without a test in {__file__}: {untested}")
    assert all(callable(globals().get(test)) for test in PRIVATE_IMPORTS.values())
    # Where SafeModeScope comes from for preset loading (presets.py).
    assert "vq_zoo/presets.py" in found[("keras.src.saving.serialization_lib", "SafeModeScope")]
