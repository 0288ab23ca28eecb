"""TimeJitter: identity at inference; in training each step is itself or a
neighbour, with the configured frequencies."""

import keras
import numpy as np
import pytest

from tests.harness import run_layer_test
from vq_zoo.models.spectrogram.time_jitter import TimeJitter


def test_identity_at_inference_and_with_probability_zero():
    x = np.random.default_rng(0).normal(size=(2, 7, 3)).astype("float32")
    np.testing.assert_array_equal(np.asarray(TimeJitter(0.5, seed=0)(x)), x)
    np.testing.assert_array_equal(np.asarray(TimeJitter(0.0, seed=0)(x, training=True)), x)


def test_each_step_comes_from_itself_or_a_neighbour_at_the_configured_rates():
    steps, batch, p = 50, 400, 0.3
    # Each step's value is its index: the output says where it was copied from.
    x = np.broadcast_to(np.arange(steps, dtype="float32")[None, :, None],
                        (batch, steps, 2)).copy()
    y = np.asarray(TimeJitter(p, seed=1)(x, training=True))
    np.testing.assert_array_equal(y[..., 0], y[..., 1])  # one shift per step
    shift = y[..., 0] - np.arange(steps)[None]
    assert set(np.unique(shift)) <= {-1.0, 0.0, 1.0}
    inner = shift[:, 1:-1]  # the edges cannot move outwards
    n = inner.size
    # Binomial frequencies: p / 2 left, p / 2 right (5 standard deviations).
    for value, rate in ((-1, p / 2), (1, p / 2), (0, 1 - p)):
        tol = 5 * np.sqrt(rate * (1 - rate) / n)
        assert abs(np.mean(inner == value) - rate) < tol
    assert np.all(shift[:, 0] >= 0) and np.all(shift[:, -1] <= 0)


def test_gradient_reaches_the_copied_steps():
    import tensorflow as tf

    # y_t = w * x_src(t) with x_t = t: d(sum y)/dw = sum_t src(t) = sum(y) / w.
    dense = keras.layers.Dense(1, use_bias=False, kernel_initializer="ones")
    x = np.arange(8, dtype="float32")[None, :, None]
    layer = TimeJitter(1.0, seed=3)
    with tf.GradientTape() as tape:
        y = layer(dense(x), training=True)
        total = tf.reduce_sum(y)
    grad = tape.gradient(total, dense.kernel)
    assert grad is not None
    np.testing.assert_allclose(float(np.asarray(grad).ravel()[0]), float(total))
    assert not np.array_equal(np.asarray(y)[0, :, 0], x[0, :, 0])  # it did move


def test_layer_checks_and_bad_arguments():
    x = np.random.default_rng(0).normal(size=(2, 7, 3)).astype("float32")
    # No weights; its random state is a variable, not a weight. No training
    # check: nothing to train (the gradient test above covers the copies).
    layer = run_layer_test(TimeJitter, dict(probability=0.2, seed=4), x,
                           expected_output_shape=(2, 7, 3), expected_output=x,
                           expected_num_trainable_weights=0,
                           expected_num_non_trainable_weights=0, run_training_check=False)
    again = TimeJitter.from_config(layer.get_config())
    assert again.probability == 0.2 and again.seed == 4
    with pytest.raises(ValueError, match="`probability` must be a number in \\[0, 1\\]"):
        TimeJitter(1.5)
    with pytest.raises(ValueError, match="expects \\(batch, time, channels\\)"):
        TimeJitter(0.1)(keras.ops.zeros((2, 3)))
