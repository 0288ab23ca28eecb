import numpy as np
import keras
import pytest

from tests.harness import run_model_saving_test
from tests.harness import run_serialization_test
from tests.models.gated_pixelcnn import markov
from vq_zoo.models.gated_pixelcnn.gated_pixelcnn_prior import GatedPixelCNNPrior

K, H, W = 8, 5, 6


def small_prior(**kwargs):
    kwargs = {"filters": 8, "num_layers": 3, **kwargs}
    return GatedPixelCNNPrior(K, (H, W), **kwargs)


def random_codes(n, seed=0):
    return np.random.default_rng(seed).integers(0, K, (n, H, W)).astype("int32")


def test_causal_and_no_blind_spot():
    prior = small_prior()
    codes = random_codes(1)
    batch = np.repeat(codes, H * W, axis=0)
    for p in range(H * W):
        batch[p, p // W, p % W] = (batch[p, p // W, p % W] + 1) % K
    base = np.asarray(prior(codes)).reshape(H * W, K)
    out = np.asarray(prior(batch)).reshape(H * W, H * W, K)
    for p in range(H * W):
        # Changing the code at p leaves every output at positions <= p...
        np.testing.assert_array_equal(out[p, : p + 1], base[: p + 1])
        # ...and changes the next one (its left neighbour or, at a row end,
        # a position below).
        if p + 1 < H * W:
            assert np.abs(out[p, p + 1 :] - base[p + 1 :]).max() > 1e-6
    # No blind spot: the output at (3, 2) sees codes above and to the right.
    target = 3 * W + 2
    for i, j in [(2, 3), (2, 4), (2, 5), (1, 4), (3, 1), (3, 0)]:
        assert np.abs(out[i * W + j, target] - base[target]).max() > 1e-6, (i, j)


@pytest.mark.parametrize(
    "kwargs,condition",
    [
        (dict(num_classes=3), lambda r: r.integers(0, 3, (2,))),
        (dict(condition_dim=3), lambda r: np.eye(3, dtype="float32")[[0, 2]]),
        (
            dict(spatial_condition_shape=(H, 3), spatial_condition_classes=5),
            lambda r: r.integers(0, 5, (2, H, 3)),
        ),
        (
            dict(spatial_condition_shape=(H, W, 2)),
            lambda r: r.normal(size=(2, H, W, 2)).astype("float32"),
        ),
    ],
)
def test_conditioning_changes_output(kwargs, condition):
    prior = small_prior(**kwargs)
    rng = np.random.default_rng(1)
    codes = random_codes(2)
    key = "condition" if "spatial_condition_shape" not in kwargs else "spatial_condition"
    c1, c2 = condition(rng), condition(rng)
    if np.issubdtype(c1.dtype, np.integer):
        c2 = (c1 + 1) % (kwargs.get("num_classes") or kwargs.get("spatial_condition_classes"))
    else:
        c2 = c1[::-1].copy()
    a = np.asarray(prior({"codes": codes, key: c1}))
    b = np.asarray(prior({"codes": codes, key: c2}))
    assert np.abs(a - b).max(axis=(1, 2, 3)).min() > 1e-4
    # The first position has no codes to see: only the condition moves it.
    assert np.abs(a[:, 0, 0] - b[:, 0, 0]).max() > 1e-4


@pytest.mark.parametrize(
    "kwargs,temperature",
    [
        (dict(), 1.0),
        (dict(kernel_size=5, num_layers=2), 0.7),
        (dict(num_classes=3, spatial_condition_shape=(H, 3, 2)), 1.3),
    ],
)
def test_cached_sampler_equals_naive_and_is_reproducible(kwargs, temperature):
    prior = small_prior(**kwargs)
    # Train a few steps so the logits are far from uniform.
    rng = np.random.default_rng(2)
    inputs = {"codes": random_codes(16)}
    condition = None
    if kwargs.get("num_classes"):
        condition = {
            "condition": rng.integers(0, 3, (4,)),
            "spatial_condition": rng.normal(size=(4, H, 3, 2)).astype("float32"),
        }
        inputs["condition"] = rng.integers(0, 3, (16,))
        inputs["spatial_condition"] = rng.normal(size=(16, H, 3, 2)).astype("float32")
    prior.compile(optimizer=keras.optimizers.Adam(1e-2))
    prior.fit(inputs, epochs=3, batch_size=8, verbose=0)
    a = np.asarray(prior.sample(4, condition, temperature, seed=7))
    b = np.asarray(prior.sample(4, condition, temperature, seed=7))
    naive = np.asarray(prior.sample_naive(4, condition, temperature, seed=7))
    other = np.asarray(prior.sample(4, condition, temperature, seed=8))
    assert a.shape == (4, H, W) and a.dtype == np.int32
    assert a.min() >= 0 and a.max() < K
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, naive)
    assert (a != other).any()


def test_log_prob_is_the_sum_of_log_softmax():
    prior = small_prior(num_classes=2)
    codes = random_codes(3)
    labels = np.array([0, 1, 1])
    logits = np.asarray(prior({"codes": codes, "condition": labels}), "float64")
    logits -= logits.max(-1, keepdims=True)
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    ref = np.take_along_axis(logp, codes[..., None], -1).sum(axis=(1, 2, 3))
    got = np.asarray(prior.log_prob({"codes": codes, "condition": labels}))
    np.testing.assert_allclose(got, ref, rtol=1e-5)


def test_learns_the_entropy_of_a_markov_chain():
    # Each row of an 8x8 map is a Markov chain over 4 codes: the best
    # possible per-code NLL is known exactly, far below ln 4 = 1.386.
    rng = np.random.default_rng(0)
    train = markov.chains(4096 * 8, 8, rng).reshape(-1, 8, 8)
    test = markov.chains(1024 * 8, 8, rng).reshape(-1, 8, 8)
    target = markov.entropy_per_code(8)
    prior = GatedPixelCNNPrior(markov.K, (8, 8), filters=16, num_layers=2)
    prior.compile(optimizer=keras.optimizers.Adam(3e-3))
    prior.fit(train, batch_size=128, epochs=4, verbose=0)
    logs = prior.evaluate(test, batch_size=512, verbose=0, return_dict=True)
    assert abs(logs["nats_per_code"] - target) < 0.05, (logs, target)
    assert logs["bits_per_code"] == pytest.approx(logs["nats_per_code"] / np.log(2), rel=1e-5)
    # The cached sampler draws from the learnt chain.
    samples = np.asarray(prior.sample(64, seed=0))
    freq = markov.empirical_transitions(samples)
    np.testing.assert_allclose(freq, markov.TRANSITIONS, atol=0.05)


def test_saving_round_trip(tmp_path):
    prior = small_prior(num_classes=3, spatial_condition_shape=(H, 3), spatial_condition_classes=4)
    rng = np.random.default_rng(3)
    inputs = {
        "codes": random_codes(8),
        "condition": rng.integers(0, 3, (8,)),
        "spatial_condition": rng.integers(0, 4, (8, H, 3)),
    }
    prior.compile(optimizer="adam")
    prior.fit(inputs, epochs=1, verbose=0)  # never called directly
    run_serialization_test(prior)
    restored = run_model_saving_test(prior, inputs, tmp_path)
    condition = {k: v[:2] for k, v in inputs.items() if k != "codes"}
    np.testing.assert_array_equal(
        np.asarray(restored.sample(2, condition, seed=1)),
        np.asarray(prior.sample(2, condition, seed=1)),
    )
    # The optimizer state came back too.
    assert int(restored.optimizer.iterations) == int(prior.optimizer.iterations) == 1


def test_bad_codes_raise_value_error():
    prior = small_prior()
    prior.compile(optimizer="adam")
    bad = random_codes(2)
    bad[0, 1, 1] = K
    with pytest.raises(ValueError, match=r"`codes` must be integers in \[0, 8\)"):
        prior(bad)
    with pytest.raises(ValueError, match=r"`codes` must be integers in \[0, 8\)"):
        prior.fit(bad, verbose=0)
    with pytest.raises(ValueError, match=r"`codes` must be integers in \[0, 8\)"):
        prior.log_prob(-random_codes(2) - 1)
    with pytest.raises(ValueError, match="dtype float32"):
        prior(random_codes(2).astype("float32"))
    with pytest.raises(ValueError, match=r"`codes` must have shape \(batch, 5, 6\)"):
        prior(np.zeros((2, 6, 5), "int32"))


def test_bad_condition_raises_value_error():
    prior = small_prior(condition_dim=3)
    codes = random_codes(2)
    with pytest.raises(ValueError, match=r"`condition` must have shape \(2, 3\)"):
        prior({"codes": codes, "condition": np.zeros((2, 4), "float32")})
    with pytest.raises(ValueError, match=r"`condition` must have shape \(4, 3\)"):
        prior.sample(4, np.zeros((2, 3), "float32"))
    with pytest.raises(ValueError, match="conditional"):
        prior.sample(2)
    with pytest.raises(ValueError, match="temperature"):
        prior.sample(2, np.zeros((2, 3), "float32"), temperature=0.0)
    spatial = small_prior(spatial_condition_shape=(H, 3, 2))
    with pytest.raises(ValueError, match=r"`spatial_condition` must have shape \(2, 5, 3, 2\)"):
        spatial({"codes": codes, "spatial_condition": np.zeros((2, H, W, 2), "float32")})
    with pytest.raises(ValueError, match="no global condition"):
        spatial({"codes": codes, "condition": np.zeros((2, 3)), "spatial_condition": np.zeros((2, H, 3, 2))})
    labels = small_prior(num_classes=3)
    with pytest.raises(ValueError, match=r"`condition` must be integers in \[0, 3\)"):
        labels({"codes": codes, "condition": np.array([0, 3])})


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(kernel_size=4), "kernel_size"),
        (dict(num_layers=0), "num_layers"),
        (dict(spatial_condition_shape=(2, 3, 1)), "divide"),
        (dict(spatial_condition_shape=(H, W)), "spatial_condition_shape"),
        (dict(spatial_condition_classes=3), "spatial_condition_shape"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        small_prior(**kwargs)


def attention_prior(**kwargs):
    return small_prior(attention_every=1, num_heads=2, dropout=0.2, **kwargs)


def test_attention_prior_is_causal_and_has_no_blind_spot():
    # VQ-VAE-2's top prior: self-attention after every gated block.
    prior = attention_prior()
    codes = random_codes(1, seed=5)
    batch = np.repeat(codes, H * W, axis=0)
    for p in range(H * W):
        batch[p, p // W, p % W] = (batch[p, p // W, p % W] + 1) % K
    base = np.asarray(prior(codes)).reshape(H * W, K)
    out = np.asarray(prior(batch)).reshape(H * W, H * W, K)
    for p in range(H * W):
        # Changing the code at p changes no logit at or before p...
        np.testing.assert_array_equal(out[p, : p + 1], base[: p + 1])
        # ...and every earlier code reaches the last position's logits.
        if p < H * W - 1:
            assert np.abs(out[p, -1] - base[-1]).max() > 1e-6, p


def test_attention_prior_trains_saves_and_samples(tmp_path):
    prior = small_prior(attention_every=2, num_heads=2, dropout=0.2, num_classes=3)
    assert len(prior.attention_layers) == 1
    rng = np.random.default_rng(6)
    inputs = {"codes": random_codes(8), "condition": rng.integers(0, 3, (8,))}
    prior.compile(optimizer="adam")
    prior.fit(inputs, epochs=1, verbose=0)
    config = prior.get_config()
    assert config["attention_every"] == 2 and config["dropout"] == 0.2
    run_serialization_test(prior)
    restored = run_model_saving_test(prior, inputs, tmp_path)
    labels = np.array([0, 2])
    np.testing.assert_array_equal(
        np.asarray(restored.sample(2, labels, seed=3)),
        np.asarray(prior.sample_naive(2, labels, seed=3)),
    )


def test_options_off_keep_the_variables_of_existing_configs():
    plain = small_prior(num_classes=3)
    explicit = small_prior(
        num_classes=3, attention_every=None, conditioning_layers=None, dropout=0.0
    )
    def paths(model):
        return [w.path.split("/", 1)[1] for w in model.weights]

    assert paths(explicit) == paths(plain)
    assert not any("attention" in p or "conditioning" in p for p in paths(plain))
    # The new layers come after the existing ones.
    assert paths(attention_prior(num_classes=3))[: len(paths(plain))] == paths(plain)


def test_bottom_prior_depends_on_the_top_codes_through_the_conditioning_stack():
    # VQ-VAE-2's bottom prior: the top codes (a coarser map) go through a
    # residual stack before the 1x1 into each block. Seeded: with another
    # initialisation a ReLU of the stack can sit at zero for one position.
    keras.utils.set_random_seed(3)
    prior = small_prior(
        spatial_condition_shape=(H, 3), spatial_condition_classes=5, conditioning_layers=2
    )
    assert prior.conditioning_stack is not None
    assert len(prior.conditioning_stack.trainable_weights) == 8
    rng = np.random.default_rng(7)
    codes = random_codes(2)
    top = rng.integers(0, 5, (2, H, 3))
    base = np.asarray(prior({"codes": codes, "spatial_condition": top}))
    # One top code covers two bottom columns; the 3x3 stack spreads it to
    # neighbours: changing it moves the logits at and around them.
    top2 = top.copy()
    top2[:, 2, 1] = (top2[:, 2, 1] + 1) % 5
    moved = np.abs(np.asarray(prior({"codes": codes, "spatial_condition": top2})) - base)
    moved = moved.max(axis=(0, -1))
    assert moved[2, 2:4].min() > 1e-5 and moved[1, 1:5].min() > 1e-5
    sample = np.asarray(prior.sample(2, top, seed=0))
    np.testing.assert_array_equal(sample, np.asarray(prior.sample_naive(2, top, seed=0)))
    with pytest.raises(ValueError, match="needs a spatial condition"):
        small_prior(conditioning_layers=1)


def test_sample_arguments():
    prior = small_prior()
    assert np.asarray(prior.sample(np.int64(2), seed=0)).shape == (2, H, W)
    for bad in [True, 0, 2.0, "2"]:
        with pytest.raises(ValueError, match="`num` must be an integer >= 1"):
            prior.sample(bad)
    with pytest.raises(ValueError, match=r"This prior is unconditional .* `condition` was given"):
        prior.sample(2, condition=np.zeros((2, 3), "float32"))
    with pytest.raises(ValueError, match=r"This prior is unconditional .* `condition` was given"):
        prior.initial_state(2, np.zeros((2, 3), "float32"))
