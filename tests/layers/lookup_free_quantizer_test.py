import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.harness import run_model_saving_test
from tests.harness import run_serialization_test
from vq_zoo.layers.lookup_free_quantizer import LookupFreeQuantizer

RNG = np.random.default_rng(23)


def codes_reference(bits):
    """Every code of {-1, 1}^bits in index order: the binary number of the
    bits `q > 0`, first channel most significant (itertools.product varies
    its last factor fastest)."""
    return np.asarray(list(itertools.product([-1.0, 1.0], repeat=bits)))


def entropy_reference(z, temperature):
    """MAGVIT-v2's two entropies from distances to every code, float64."""
    flat = z.reshape(-1, z.shape[-1]).astype(np.float64)
    codes = codes_reference(flat.shape[1])
    d = ((flat[:, None] - codes[None]) ** 2).sum(-1)
    logits = -d / temperature
    logits -= logits.max(1, keepdims=True)
    p = np.exp(logits)
    p /= p.sum(1, keepdims=True)
    per_sample = -(p * np.log(np.maximum(p, 1e-300))).sum(1).mean()
    avg = p.mean(0)
    return per_sample, -(avg * np.log(avg + 1e-10)).sum()


def test_codes_and_values_match_numpy():
    lfq = LookupFreeQuantizer(num_embeddings=64)
    z = RNG.normal(size=(3, 5, 6)).astype("float32")
    out = lfq(z)
    codes = codes_reference(6)
    flat = z.reshape(-1, 6)
    idx = ((flat[:, None] - codes[None]) ** 2).sum(-1).argmin(1)  # nearest code
    np.testing.assert_array_equal(out["encoding_indices"], idx.reshape(3, 5))
    np.testing.assert_array_equal(out["quantized"], codes[idx].reshape(z.shape))
    np.testing.assert_array_equal(lfq.encode(z), idx.reshape(3, 5))
    np.testing.assert_array_equal(lfq.lookup(idx), codes[idx])
    np.testing.assert_allclose(
        out["commitment_loss"], 0.25 * ((flat - codes[idx]) ** 2).mean(), rtol=1e-5)
    np.testing.assert_array_equal(out["code_counts"], np.bincount(idx, minlength=64))


@pytest.mark.parametrize("temperature", [0.5, 1.0, 4.0])
def test_entropy_terms_match_numpy(temperature):
    lfq = LookupFreeQuantizer(num_embeddings=256, entropy_temperature=temperature,
                              entropy_loss_weight=0.3, diversity_gamma=0.7)
    z = (0.5 * RNG.normal(size=(4, 9, 8))).astype("float32")
    out = lfq(z, training=True)
    per_sample, codebook = entropy_reference(z, temperature)
    np.testing.assert_allclose(out["per_sample_entropy"], per_sample, rtol=1e-4)
    np.testing.assert_allclose(out["codebook_entropy"], codebook, rtol=1e-4)
    np.testing.assert_allclose(out["codebook_loss"], 0.3 * (per_sample - 0.7 * codebook),
                               rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(out["loss"], out["codebook_loss"] + out["commitment_loss"],
                               rtol=1e-6)


def test_entropy_gradient_matches_finite_differences():
    lfq = LookupFreeQuantizer(num_embeddings=16, entropy_temperature=1.0,
                              commitment_cost=0.0, entropy_loss_weight=1.0)
    z = (0.5 * RNG.normal(size=(6, 4))).astype("float32")
    zt = tf.constant(z)
    with tf.GradientTape() as tape:
        tape.watch(zt)
        loss = lfq(zt, training=True)["codebook_loss"]
    grad = tape.gradient(loss, zt).numpy()

    def f(v):
        a, b = entropy_reference(v, 1.0)
        return a - b

    z64, h = z.astype(np.float64), 1e-5
    numeric = np.zeros_like(z64)
    for i in np.ndindex(*z.shape):
        e = np.zeros_like(z64)
        e[i] = h
        numeric[i] = (f(z64 + e) - f(z64 - e)) / (2 * h)
    np.testing.assert_allclose(grad, numeric, rtol=2e-3, atol=2e-5)


def test_quantized_has_straight_through_gradient():
    lfq = LookupFreeQuantizer(num_embeddings=32)
    z = tf.constant(RNG.normal(size=(7, 5)).astype("float32"))
    w = tf.constant(RNG.normal(size=(7, 5)).astype("float32"))
    with tf.GradientTape() as tape:
        tape.watch(z)
        y = tf.reduce_sum(lfq(z, training=True)["quantized"] * w)
    np.testing.assert_allclose(tape.gradient(y, z), w)


def test_float32_quantisation_under_mixed_bfloat16():
    x = RNG.normal(size=(64, 10)).astype("float32")
    ref = LookupFreeQuantizer(num_embeddings=1024, embedding_dim=10)
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        lfq = LookupFreeQuantizer(num_embeddings=1024, embedding_dim=12)
        x12 = RNG.normal(size=(64, 12)).astype("float32")
        x_low = keras.ops.cast(x12, "bfloat16")
        out = lfq(x_low, training=True)
    finally:
        keras.config.set_dtype_policy("float32")
    assert out["quantized"].dtype == "bfloat16"
    assert lfq.project_in.kernel.dtype == "float32" and lfq.project_in.compute_dtype == "float32"
    w, b = [v.numpy() for v in lfq.project_in.weights]
    projected = np.asarray(keras.ops.cast(x_low, "float32")) @ w + b
    bits = (projected > 0).astype(int)
    np.testing.assert_array_equal(out["encoding_indices"], bits @ (2 ** np.arange(9, -1, -1)))
    per_sample, codebook = entropy_reference(projected, 0.01)
    np.testing.assert_allclose(out["codebook_entropy"], codebook, rtol=1e-3)
    assert ref(x)["quantized"].dtype == "float32"


def test_weights_and_fit_step():
    lfq = LookupFreeQuantizer(num_embeddings=16, embedding_dim=6)

    class Wrapper(keras.Model):
        def __init__(self):
            super().__init__()
            self.lfq = lfq

        def call(self, x, training=None):
            out = self.lfq(x, training=training)
            self.add_loss(out["loss"])
            return out["quantized"]

    model = Wrapper()
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    x = RNG.normal(size=(16, 3, 6)).astype("float32")
    model(x)
    assert (len(lfq.trainable_weights), len(lfq.non_trainable_weights)) == (4, 0)
    before = lfq.project_in.kernel.numpy().copy()
    model.fit(x, x, epochs=1, batch_size=16, verbose=0)
    assert np.abs(lfq.project_in.kernel.numpy() - before).max() > 1e-5


def test_config_and_keras_file_round_trip(tmp_path):
    lfq = LookupFreeQuantizer(num_embeddings=32, embedding_dim=7, commitment_cost=0.5,
                              entropy_loss_weight=0.2, diversity_gamma=0.5,
                              entropy_temperature=0.1, name="q")
    run_serialization_test(lfq)
    inputs = keras.Input((4, 7))
    model = keras.Model(inputs, lfq(inputs)["quantized"])
    x = RNG.normal(size=(2, 4, 7)).astype("float32")
    run_model_saving_test(model, x, tmp_path)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(num_embeddings=1000), "power of 2"),
        (dict(num_embeddings=1), "power of 2"),
        (dict(num_embeddings=16, entropy_temperature=0.0), "entropy_temperature` must be > 0"),
        (dict(num_embeddings=16, diversity_gamma=-1.0), "diversity_gamma` must be >= 0"),
    ],
)
def test_bad_arguments_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LookupFreeQuantizer(**kwargs)


def test_bad_inputs_are_refused():
    lfq = LookupFreeQuantizer(num_embeddings=16)
    with pytest.raises(ValueError, match="embedding_dim`=4.*last axis 5"):
        lfq(np.zeros((2, 5), "float32"))
    with pytest.raises(ValueError, match=r"\[0, num_embeddings=16\).*max 16"):
        lfq.lookup(np.array([3, 16]))
