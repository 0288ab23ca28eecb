import numpy as np
import keras
import pytest

from tests.harness import run_serialization_test
from vq_zoo.layers.causal_gated_block import CausalGatedBlock

T, F = 12, 4


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def numpy_block(block, x, c=None):
    k, d = block.kernel_size, block.dilation_rate
    kernel = np.asarray(block.causal_conv.kernel)
    pre = np.zeros(x.shape[:2] + (2 * F,)) + np.asarray(block.causal_conv.bias)
    for t in range(x.shape[1]):
        for m in range(k):
            s = t - (k - 1 - m) * d
            if s >= 0:
                pre[:, t] += x[:, s] @ kernel[m]
    if c is not None:
        pre += (c @ np.asarray(block.global_condition.kernel))[:, None]
    z = np.tanh(pre[..., :F]) * sigmoid(pre[..., F:])

    def dense(layer, v):
        return v @ np.asarray(layer.kernel) + np.asarray(layer.bias)

    return x + dense(block.residual_output, z), dense(block.skip_output, z)


@pytest.mark.parametrize("kernel_size,dilation", [(2, 1), (2, 4), (3, 2)])
def test_matches_numpy_reference(kernel_size, dilation):
    rng = np.random.default_rng(0)
    block = CausalGatedBlock(F, kernel_size, dilation, condition_dim=3)
    x = rng.normal(size=(2, T, F)).astype("float32")
    c = rng.normal(size=(2, 3)).astype("float32")
    out, skip = block(x, c)
    ref_out, ref_skip = numpy_block(block, x, c)
    np.testing.assert_allclose(np.asarray(out), ref_out, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.asarray(skip), ref_skip, rtol=1e-4, atol=1e-5)


def test_causal_with_dilated_receptive_field():
    block = CausalGatedBlock(F, 2, 3)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(1, T, F)).astype("float32")
    base = np.asarray(block(x)[0])[0]
    p = 5
    x2 = x.copy()
    x2[0, p] += 3.0
    out = np.asarray(block(x2)[0])[0]
    changed = np.abs(out - base).max(axis=-1) > 0
    # Input p reaches outputs p and p + dilation only.
    assert changed.nonzero()[0].tolist() == [p, p + 3]
    assert block.receptive_field == 4


def test_conditioning_changes_output():
    block = CausalGatedBlock(F, condition_dim=2, local_condition_dim=3)
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, T, F)).astype("float32")
    c = rng.normal(size=(2, 2)).astype("float32")
    lc = rng.normal(size=(2, T, 3)).astype("float32")
    base = np.asarray(block(x, c, lc)[1])
    assert np.abs(np.asarray(block(x, c + 1, lc)[1]) - base).mean() > 1e-3
    assert np.abs(np.asarray(block(x, c, lc + 1)[1]) - base).mean() > 1e-3
    with pytest.raises(ValueError, match="local_condition"):
        block(x, c)


def test_weights_config_and_saving(tmp_path):
    block = CausalGatedBlock(F, 3, 2, local_condition_dim=2, name="cb")
    run_serialization_test(block)
    x_in, l_in = keras.Input((T, F)), keras.Input((T, 2))
    out, skip = block(x_in, None, l_in)
    assert len(block.trainable_weights) == 7 and not block.non_trainable_weights
    model = keras.Model([x_in, l_in], out + skip)
    rng = np.random.default_rng(3)
    xs = [rng.normal(size=(2, T, F)).astype("float32"), rng.normal(size=(2, T, 2)).astype("float32")]
    model.compile(optimizer="sgd", loss="mse")
    model.fit(xs, np.zeros((2, T, F), "float32"), epochs=1, verbose=0)
    path = str(tmp_path / "cb.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    np.testing.assert_array_equal(np.asarray(restored(xs)), np.asarray(model(xs)))


def test_bad_arguments_and_inputs():
    with pytest.raises(ValueError, match="dilation_rate"):
        CausalGatedBlock(F, dilation_rate=0)
    with pytest.raises(ValueError, match=r"\(batch, time, 4\)"):
        CausalGatedBlock(F)(np.zeros((1, T, 3), "float32"))


@pytest.mark.parametrize(
    "policy,tol", [("float32", 1e-5), ("mixed_bfloat16", 5e-2)]
)
def test_stepping_with_queues_equals_the_full_pass(policy, tol):
    # A WaveNet stack: global (speaker) and local (per-step) conditions.
    rng = np.random.default_rng(5)
    blocks = [
        CausalGatedBlock(F, k, d, condition_dim=2, local_condition_dim=3, dtype=policy)
        for k, d in [(2, 1), (2, 2), (3, 4), (1, 1)]
    ]
    x = rng.normal(size=(2, T, F)).astype("float32")
    c = rng.normal(size=(2, 2)).astype("float32")
    lc = rng.normal(size=(2, T, 3)).astype("float32")
    y, skip = x, 0.0
    for b in blocks:
        y, s = b(y, c, lc)
        skip = skip + np.asarray(s, "float32")
    states = [b.initial_state(2, c) for b in blocks]
    # One queue per layer, as long as its dilation * (kernel_size - 1).
    assert [tuple(s["queue"].shape) for s in states] == [
        (2, 1, F), (2, 2, F), (2, 8, F), (2, 0, F)
    ]
    stepped, stepped_skip = [], []
    for t in range(T):
        out, total = x[:, t], 0.0
        for l, b in enumerate(blocks):
            (out, s), states[l] = b.step(out, states[l], t, lc[:, t])
            total = total + np.asarray(s, "float32")
        stepped.append(np.asarray(out, "float32"))
        stepped_skip.append(total)
    np.testing.assert_allclose(np.stack(stepped, 1), np.asarray(y, "float32"), rtol=tol, atol=tol)
    np.testing.assert_allclose(np.stack(stepped_skip, 1), skip, rtol=tol, atol=tol)
    if policy == "mixed_bfloat16":
        assert keras.backend.standardize_dtype(out.dtype) == "bfloat16"


def test_step_needs_its_conditions():
    block = CausalGatedBlock(F, condition_dim=2, local_condition_dim=3)
    block.build((None, T, F))
    with pytest.raises(ValueError, match="pass `condition`"):
        block.initial_state(1)
    state = block.initial_state(1, np.zeros((1, 2), "float32"))
    with pytest.raises(ValueError, match="pass `local_condition`"):
        block.step(np.zeros((1, F), "float32"), state, 0)
