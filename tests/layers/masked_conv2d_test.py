import numpy as np
import keras
import pytest

from tests.harness import run_layer_test
from tests.harness import run_model_saving_test
from vq_zoo.layers.masked_conv2d import MaskedConv2D


def numpy_masked_conv(x, kernel, bias, mask_type):
    """Direct loop: output (i, j) sums only the allowed raster neighbours."""
    n, h, w, c = x.shape
    kh, kw = kernel.shape[:2]
    ch, cw = kh // 2, kw // 2
    out = np.zeros((n, h, w, kernel.shape[-1])) + bias
    for i in range(h):
        for j in range(w):
            for a in range(kh):
                for b in range(kw):
                    di, dj = a - ch, b - cw
                    if mask_type == "vertical":
                        allowed = di <= 0
                    else:
                        allowed = di < 0 or (di == 0 and (dj < 0 or (dj == 0 and mask_type == "B")))
                    ii, jj = i + di, j + dj
                    if allowed and 0 <= ii < h and 0 <= jj < w:
                        out[:, i, j] += x[:, ii, jj] @ kernel[a, b]
    return out


@pytest.mark.parametrize("mask_type,kernel_size", [("A", 3), ("B", 5), ("vertical", 3), ("A", (1, 3)), ("B", (3, 1))])
def test_matches_numpy_reference(mask_type, kernel_size):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 6, 7, 3)).astype("float32")
    layer = MaskedConv2D(4, kernel_size, mask_type, bias_initializer="random_normal")
    layer.build(x.shape)
    out = np.asarray(layer(x))
    ref = numpy_masked_conv(x, np.asarray(layer.kernel), np.asarray(layer.bias), mask_type)
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-4)


def test_mask_applied_in_every_call_and_training_keeps_masked_taps():
    layer = MaskedConv2D(2, 3, "A")
    x = np.random.default_rng(1).normal(size=(4, 5, 5, 2)).astype("float32")
    layer.build(x.shape)
    # Non-zero weights on the masked taps must not reach the output.
    layer.kernel.assign(np.ones(layer.kernel.shape, "float32"))
    base = np.asarray(layer(x))
    x2 = x.copy()
    x2[:, 2, 2] += 5.0  # the centre and everything after it in raster order
    x2[:, 3:] += 5.0
    x2[:, 2, 3:] += 5.0
    out2 = np.asarray(layer(x2))
    np.testing.assert_array_equal(out2[:, 2, 2], base[:, 2, 2])
    assert not np.allclose(out2[:, 2, 3], base[:, 2, 3])

    model = keras.Sequential([keras.Input((5, 5, 2)), layer])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    before = np.asarray(layer.kernel)
    model.fit(x, np.ones((4, 5, 5, 2), "float32"), epochs=1, verbose=0)
    after = np.asarray(layer.kernel)
    mask = layer.mask[:, :, None, None] * np.ones_like(before)
    np.testing.assert_array_equal(after[mask == 0], before[mask == 0])
    assert np.abs(after[mask == 1] - before[mask == 1]).min() > 0


def test_layer_checks_and_saving_round_trip(tmp_path):
    x = np.random.default_rng(2).normal(size=(2, 6, 6, 3)).astype("float32")
    init = dict(filters=4, kernel_size=(3, 5), mask_type="B", use_bias=False, name="mc")
    layer = run_layer_test(MaskedConv2D, init, x, expected_output_shape=(2, 6, 6, 4),
                           expected_num_trainable_weights=1,
                           expected_num_non_trainable_weights=0)
    run_model_saving_test(keras.Sequential([keras.Input((6, 6, 3)), layer]), x, tmp_path)


def test_weight_count_with_bias():
    layer = MaskedConv2D(4, 3)
    layer.build((None, 5, 5, 2))
    assert [tuple(w.shape) for w in layer.trainable_weights] == [(3, 3, 2, 4), (4,)]


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(filters=4, kernel_size=2), "kernel_size"),
        (dict(filters=4, kernel_size=3, mask_type="C"), "mask_type"),
        (dict(filters=0, kernel_size=3), "filters"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MaskedConv2D(**kwargs)


def test_bad_input_rank():
    layer = MaskedConv2D(4, 3)
    with pytest.raises(ValueError, match="batch, height, width"):
        layer(np.zeros((2, 5, 3), "float32"))
