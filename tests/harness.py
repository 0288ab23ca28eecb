"""One helper per kind of check, in the manner of keras-hub's `TestCase`
(`run_layer_test`, `run_model_saving_test`, `run_preset_test`), as plain
functions for pytest: a test method is one call, and every class is held to
the same checks.

- `run_serialization_test(obj)`: `get_config` -> `from_config` ->
  `get_config` gives the same JSON, and so does Keras' own
  `serialize_keras_object` / `deserialize_keras_object` (which needs the
  class registered under the `vq_zoo` package); the clone is the same class.
- `run_layer_test(cls, init_kwargs, input_data, ...)`: the serialization
  test, the weight counts after `build`, the output structure and shapes of a
  symbolic and of an eager call, optionally expected values, and one `fit`
  step through a small model that moves every trainable weight.
- `run_model_saving_test(model, input_data, tmp_path)`: a `.keras` round trip
  gives the same class, every weight (and the optimizer's variables) bit for
  bit, and the same outputs.
- `run_preset_test(cls, preset, input_data, ...)`: loads by name or folder,
  an unknown name is refused naming it, `load_weights=False` gives the same
  architecture with other values, and the outputs are the expected ones.
"""

import json
import os

import keras
import numpy as np
from keras import tree


def _numpy(structure):
    return tree.map_structure(lambda x: np.asarray(keras.ops.convert_to_numpy(x)),
                              structure)


def _shapes(structure):
    return tree.map_structure(lambda x: tuple(x.shape), structure)


def assert_all_close(actual, expected, atol=1e-6, rtol=1e-6):
    """Structures (dicts, lists, tensors) equal in layout and close in value."""
    actual, expected = _numpy(actual), _numpy(expected)
    tree.assert_same_structure(actual, expected)
    for a, e in zip(tree.flatten(actual), tree.flatten(expected)):
        np.testing.assert_allclose(a, e, atol=atol, rtol=rtol)


def _config_json(obj):
    return json.dumps(obj.get_config(), sort_keys=True, default=repr)


def run_serialization_test(obj):
    """The object's config and its Keras serialization both round-trip."""
    cls = type(obj)
    registered = keras.saving.get_registered_name(cls)
    assert registered.startswith("vq_zoo>"), (
        f"{cls.__name__} is not registered with "
        f"@keras.saving.register_keras_serializable(package='vq_zoo')")
    config = _config_json(obj)
    clone = cls.from_config(obj.get_config())
    assert type(clone) is cls
    assert clone.get_config() == obj.get_config()
    serialized = json.loads(json.dumps(keras.saving.serialize_keras_object(obj)))
    revived = keras.saving.deserialize_keras_object(serialized)
    assert type(revived) is cls
    assert _config_json(revived) == config
    return clone


def _call(layer, data, **kwargs):
    return layer(data, **kwargs)


def run_layer_test(cls, init_kwargs, input_data, expected_output_shape,
                   expected_num_trainable_weights=None,
                   expected_num_non_trainable_weights=None,
                   expected_output=None, call_kwargs=None, training_output=None,
                   run_training_check=True, atol=1e-6):
    """Basic checks every layer passes (see the module docstring).

    expected_output_shape: the output's shapes, in its structure (a dict of
        shapes for a layer that returns a dict), batch axis included.
    training_output: for a layer that returns a structure, picks the tensor
        the training check fits (a key of a dict output, or a function of
        the output); None for a layer that returns one tensor.
    """
    call_kwargs = dict(call_kwargs or {})
    layer = cls(**init_kwargs)
    run_serialization_test(layer)

    # build: the weight counts.
    layer = cls(**init_kwargs)
    layer.build(_shapes(input_data))
    assert layer.built
    if expected_num_trainable_weights is not None:
        assert len(layer.trainable_weights) == expected_num_trainable_weights, (
            [w.path for w in layer.trainable_weights])
    if expected_num_non_trainable_weights is not None:
        assert len(layer.non_trainable_weights) == expected_num_non_trainable_weights, (
            [w.path for w in layer.non_trainable_weights])

    # A symbolic call (shape inference) and an eager call agree on shapes.
    symbolic_inputs = tree.map_structure(
        lambda x: keras.KerasTensor(np.shape(x), dtype=keras.backend.standardize_dtype(
            np.asarray(x).dtype)), input_data)
    symbolic = _call(cls(**init_kwargs), symbolic_inputs, **call_kwargs)
    layer = cls(**init_kwargs)
    output = _call(layer, input_data, **call_kwargs)

    def check_shapes(actual, what):
        actual = _shapes(actual)
        expected = expected_output_shape
        if isinstance(expected, dict):
            expected = {k: tuple(v) for k, v in expected.items()}
            actual = {k: actual[k] for k in expected}
        else:
            expected = tuple(expected)
        assert actual == expected, f"{what} output shapes {actual}, expected {expected}"

    check_shapes(symbolic, "symbolic")
    check_shapes(output, "eager")
    if expected_output is not None:
        got = output
        if isinstance(expected_output, dict):
            got = {k: output[k] for k in expected_output}
        assert_all_close(got, expected_output, atol=atol, rtol=atol)

    if run_training_check:
        _run_training_step(layer, input_data, call_kwargs, training_output)
    return layer


def _run_training_step(layer, input_data, call_kwargs, training_output):
    """One `fit` step on a regression target: every trainable weight of the
    layer that the picked output depends on moves."""

    class Wrapper(keras.Model):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def call(self, x, training=False):
            out = self.inner(x, training=training, **call_kwargs)
            if training_output is None:
                return out
            if callable(training_output):
                return training_output(out)
            return out[training_output]

    model = Wrapper(layer)
    before = [np.array(w.numpy()) for w in layer.trainable_weights]
    target = _numpy(model(input_data))
    target = np.asarray(target, np.float32) + 1.0  # a target the layer misses
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    model.fit(input_data, target, batch_size=len(target), epochs=1, verbose=0)
    moved = [not np.array_equal(b, np.asarray(w.numpy()))
             for b, w in zip(before, layer.trainable_weights)]
    assert any(moved) or not before, "no trainable weight moved in one fit step"


def run_model_saving_test(model, input_data, tmp_path, atol=0.0, rtol=0.0, compare=None):
    """A `.keras` round trip gives the model back: same class, every weight
    and optimizer variable bit for bit, the same outputs (exactly, unless
    `atol` / `rtol` say otherwise).

    compare: how to get comparable outputs from a model (default: calling it
        on `input_data`); e.g. `lambda m, x: m.encode(x)`.
    """
    compare = compare or (lambda m, x: m(x))
    path = os.path.join(str(tmp_path), f"{type(model).__name__}.keras")
    model.save(path)
    restored = keras.models.load_model(path)
    assert type(restored) is type(model)
    # (Paths may differ: auto-generated layer names count up per process.)
    assert [tuple(w.shape) for w in restored.weights] == [tuple(w.shape) for w in model.weights]
    for a, b in zip(model.weights, restored.weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=a.path)
    if getattr(model, "optimizer", None) is not None and model.optimizer.built:
        old, new = model.optimizer.variables, restored.optimizer.variables
        assert len(old) == len(new)
        for a, b in zip(old, new):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=a.path)
    assert_all_close(compare(restored, input_data), compare(model, input_data),
                     atol=atol, rtol=rtol)
    return restored


def run_preset_test(cls, preset, input_data, expected_output=None,
                    expected_output_shape=None, compare=None, atol=1e-6):
    """A preset loads (by name or folder) into `cls` and gives the expected
    outputs; an unknown name is refused naming it; `load_weights=False`
    gives the same architecture with fresh values."""
    import pytest

    compare = compare or (lambda m, x: m(x))
    with pytest.raises(ValueError, match="no_such_preset_clowntown"):
        cls.from_preset("no_such_preset_clowntown")
    model = cls.from_preset(preset)
    assert isinstance(model, cls)
    output = compare(model, input_data)
    if expected_output is not None:
        assert_all_close(output, expected_output, atol=atol, rtol=atol)
    if expected_output_shape is not None:
        assert _shapes(_numpy(output)) == expected_output_shape
    blank = cls.from_preset(preset, load_weights=False)
    assert _config_json(blank) == _config_json(model)
    assert [tuple(w.shape) for w in blank.weights] == [tuple(w.shape) for w in model.weights]
    assert any(not np.array_equal(np.asarray(a), np.asarray(b))
               for a, b in zip(blank.weights, model.weights)), (
        "load_weights=False gave the preset's weights")
    return model
