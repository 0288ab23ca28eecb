import numpy as np
import keras
import pytest

from tests.harness import run_serialization_test
from vq_zoo.layers.gated_pixelcnn_block import GatedPixelCNNBlock

H, W, C = 7, 7, 4


def stack(num_layers=3, **kwargs):
    return [
        GatedPixelCNNBlock(C, 3, "A" if i == 0 else "B", **kwargs)
        for i in range(num_layers)
    ]


def run(blocks, x, *cond):
    v = h = x
    for b in blocks:
        v, h, _ = b(v, h, *cond)
    return np.asarray(h)


def dependency_map(blocks, i, j):
    """dep[a, b]: does output (i, j) change when input (a, b) changes?"""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1, H, W, C)).astype("float32")
    batch = np.repeat(x, H * W, axis=0)
    for p in range(H * W):
        batch[p, p // W, p % W] += rng.normal(size=C) * 3
    base = run(blocks, x)[0, i, j]
    out = run(blocks, batch)[:, i, j]
    return (np.abs(out - base).max(axis=-1) > 0).reshape(H, W)


def test_causal_and_no_blind_spot():
    blocks = stack(3)
    i, j = 4, 3
    dep = dependency_map(blocks, i, j)
    raster = np.arange(H * W).reshape(H, W)
    # Nothing at or after (i, j) in raster order reaches the output...
    assert not dep[raster >= i * W + j].any()
    # ...while the rows above, left and right of j (the original PixelCNN's
    # blind spot is above-right), and the current row's left part do.
    assert dep[i - 2 : i, j - 2 : j + 3].all()
    assert dep[i, j - 2 : j].all()
    assert dep[i - 1, j + 3]


def test_every_output_is_causal():
    blocks = stack(2)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(1, H, W, C)).astype("float32")
    base = run(blocks, x)
    for p in [0, 10, 24, 48]:
        x2 = x.copy()
        x2[0, p // W, p % W] += 10.0
        out = run(blocks, x2).reshape(H * W, C)
        np.testing.assert_array_equal(out[: p + 1], base.reshape(H * W, C)[: p + 1])
        if p + 1 < H * W:
            assert not np.allclose(out[p + 1 :], base.reshape(H * W, C)[p + 1 :])


def test_conditioning_changes_output():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, H, W, C)).astype("float32")
    block = GatedPixelCNNBlock(C, mask_type="A", condition_dim=3, spatial_condition_dim=2)
    c = rng.normal(size=(2, 3)).astype("float32")
    s = rng.normal(size=(2, H, W, 2)).astype("float32")
    base = [np.asarray(t) for t in block(x, x, c, s)]
    other_c = [np.asarray(t) for t in block(x, x, c + 1.0, s)]
    other_s = [np.asarray(t) for t in block(x, x, c, s + 1.0)]
    for a, b, d in zip(base, other_c, other_s):
        assert np.abs(a - b).min() > 0 or np.abs(a - b).mean() > 1e-3
        assert np.abs(a - d).mean() > 1e-3
    with pytest.raises(ValueError, match="condition"):
        block(x, x)


def test_weights_config_and_saving(tmp_path):
    block = GatedPixelCNNBlock(C, 3, "B", condition_dim=3, name="blk")
    run_serialization_test(block)
    v_in = keras.Input((H, W, C))
    h_in = keras.Input((H, W, C))
    c_in = keras.Input((3,))
    v, h, s = block(v_in, h_in, c_in)
    # 2 masked convs and 3 1x1 layers with biases, 2 condition projections.
    assert len(block.trainable_weights) == 12 and not block.non_trainable_weights
    model = keras.Model([v_in, h_in, c_in], v + h + s)
    rng = np.random.default_rng(3)
    xs = [rng.normal(size=(2, H, W, C)).astype("float32") for _ in range(2)]
    xs.append(rng.normal(size=(2, 3)).astype("float32"))
    model.compile(optimizer="sgd", loss="mse")
    before = [np.asarray(w) for w in block.trainable_weights]
    model.fit(xs, np.zeros((2, H, W, C), "float32"), epochs=1, verbose=0)
    assert all(
        not np.array_equal(b, np.asarray(w))
        for b, w in zip(before, block.trainable_weights)
    )
    path = str(tmp_path / "block.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    np.testing.assert_array_equal(np.asarray(restored(xs)), np.asarray(model(xs)))


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(filters=4, kernel_size=4), "kernel_size"),
        (dict(filters=4, mask_type="vertical"), "mask_type"),
        (dict(filters=4, condition_dim=0), "condition_dim"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GatedPixelCNNBlock(**kwargs)


def test_residual_block_needs_matching_channels():
    block = GatedPixelCNNBlock(8, mask_type="B")
    x = np.zeros((1, 4, 4, 3), "float32")
    with pytest.raises(ValueError, match="expects 8 input channels"):
        block(x, x)


def test_last_block_without_vertical_output():
    block = GatedPixelCNNBlock(C, condition_dim=3, spatial_condition_dim=2, vertical_output=False)
    x = np.zeros((1, H, W, C), "float32")
    v, h, s = block(x, x, np.zeros((1, 3), "float32"), np.zeros((1, H, W, 2), "float32"))
    assert v is None and tuple(h.shape) == (1, H, W, C)
    names = sorted(w.path.split("/")[-2] for w in block.trainable_weights)
    assert "vertical_condition" not in names and "vertical_spatial" not in names
    assert "horizontal_condition" in names and len(block.trainable_weights) == 12


def step_stack(blocks, x, condition=None, spatial=None):
    """Runs `blocks` position by position with their caches: each row's
    vertical inputs once the row is complete (`step_row`), then the
    horizontal stacks in raster order (`step`)."""
    n = x.shape[0]
    states = [b.initial_state(n, W, condition, spatial) for b in blocks]
    h_out = np.zeros(x.shape[:3] + (C,), "float32")
    skip_out = np.zeros_like(h_out)
    for p in range(H * W):
        i, j = divmod(p, W)
        if j == 0 and i > 0:
            v = x[:, i - 1]
            for l, b in enumerate(blocks):
                v, states[l] = b.step_row(v, states[l], i - 1)
        # The type-A first block takes the input at the previous position.
        h = x.reshape(n, H * W, -1)[:, max(p - 1, 0)]
        skip = 0.0
        for l, b in enumerate(blocks):
            (h, s), states[l] = b.step(h, states[l], p)
            skip = skip + np.asarray(s, "float32")
        h_out[:, i, j], skip_out[:, i, j] = np.asarray(h, "float32"), skip
    return h_out, skip_out


@pytest.mark.parametrize(
    "policy,kernel_size,conditioned,tol",
    [
        ("float32", 3, False, 1e-5),
        ("float32", 5, True, 1e-5),
        ("mixed_bfloat16", 3, True, 5e-2),
    ],
)
def test_stepping_with_caches_equals_the_full_pass(policy, kernel_size, conditioned, tol):
    rng = np.random.default_rng(4)
    kwargs = dict(condition_dim=3, spatial_condition_dim=2) if conditioned else {}
    blocks = [
        GatedPixelCNNBlock(
            C, kernel_size, "A" if i == 0 else "B", vertical_output=i < 2,
            dtype=policy, **kwargs,
        )
        for i in range(3)
    ]
    x = rng.normal(size=(2, H, W, C)).astype("float32")
    cond = (
        (rng.normal(size=(2, 3)).astype("float32"), rng.normal(size=(2, H, W, 2)).astype("float32"))
        if conditioned
        else ()
    )
    v = h = x
    skip = 0.0
    for b in blocks:
        v, h, s = b(v, h, *cond)
        skip = skip + np.asarray(s, "float32")
    h_step, skip_step = step_stack(blocks, x, *cond)
    np.testing.assert_allclose(h_step, np.asarray(h, "float32"), rtol=tol, atol=tol)
    np.testing.assert_allclose(skip_step, skip, rtol=tol, atol=tol)
    state = blocks[0].initial_state(2, W, *cond)
    if policy == "mixed_bfloat16":
        assert all(
            keras.backend.standardize_dtype(t.dtype) == "bfloat16"
            for t in keras.tree.flatten(state)
        )


def test_initial_state_needs_a_built_block():
    with pytest.raises(ValueError, match="needs a built block"):
        GatedPixelCNNBlock(C).initial_state(1, W)
