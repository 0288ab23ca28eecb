import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.harness import run_model_saving_test
from tests.harness import run_serialization_test
from tests.layers.numpy_reference import nearest
from vq_zoo.layers.residual_vector_quantizer import ResidualVectorQuantizer
from vq_zoo.layers.vector_quantizer import VectorQuantizer
from vq_zoo.layers.vector_quantizer_ema import VectorQuantizerEMA

RNG = np.random.default_rng(24)


def residual_reference(x, codebooks):
    """Greedy residual encoding in float64 (SoundStream algorithm 1)."""
    residual = x.reshape(-1, x.shape[-1]).astype(np.float64)
    codes, total = [], np.zeros_like(residual)
    for codebook in codebooks:
        idx = nearest(residual, codebook.astype(np.float64))
        codes.append(idx)
        total += codebook[idx]
        residual = residual - codebook[idx]
    return np.stack(codes, -1).reshape(x.shape[:-1] + (len(codebooks),)), total.reshape(x.shape)


def make(n=3, d=4, k=8, **kwargs):
    rvq = ResidualVectorQuantizer(num_quantizers=n, embedding_dim=d, num_embeddings=k, **kwargs)
    rvq.build((None, d))
    for i, stage in enumerate(rvq.stages):
        stage.codebook.assign((RNG.normal(size=(k, d)) / (i + 1)).astype("float32"))
    return rvq


@pytest.mark.parametrize("ema", [True, False])
def test_matches_greedy_numpy_reference(ema):
    rvq = make(ema=ema)
    x = RNG.normal(size=(3, 5, 4)).astype("float32")
    out = rvq(x, training=False)
    codes, total = residual_reference(x, [s.codebook.numpy() for s in rvq.stages])
    np.testing.assert_array_equal(out["encoding_indices"], codes)
    np.testing.assert_allclose(out["quantized"], total, atol=1e-5)
    np.testing.assert_array_equal(rvq.encode(x), codes)
    np.testing.assert_allclose(rvq.lookup(codes), total, atol=1e-5)
    per_stage = np.stack([np.bincount(codes[..., i].ravel(), minlength=8) for i in range(3)])
    np.testing.assert_array_equal(out["stage_code_counts"], per_stage)
    np.testing.assert_array_equal(out["code_counts"], per_stage.sum(0))
    assert out["encoding_indices"].dtype == tf.int32


def test_each_stage_lowers_the_error():
    """After training the stages on the data (EMA, k-means start), adding
    each stage lowers the reconstruction error."""
    rvq = ResidualVectorQuantizer(num_quantizers=4, embedding_dim=6, num_embeddings=16,
                                  quantizer_kwargs=dict(kmeans_init=True), seed=0)
    x = RNG.normal(size=(1024, 6)).astype("float32")
    for _ in range(20):
        rvq(x, training=True)
    codes = rvq.encode(x).numpy()
    errors = [float(np.mean((rvq.lookup(codes[:, :n]).numpy() - x) ** 2)) for n in range(1, 5)]
    assert np.mean(x ** 2) > errors[0]
    assert all(a > b * 1.05 for a, b in zip(errors, errors[1:])), errors
    _, total = residual_reference(x, [s.codebook.numpy() for s in rvq.stages])
    np.testing.assert_allclose(errors[-1], np.mean((total - x) ** 2), rtol=1e-4)


def test_quantizer_dropout_keeps_a_prefix_of_stages():
    rvq = make(n=4, quantizer_dropout=1.0, seed=3, ema=False)
    x = RNG.normal(size=(32, 4)).astype("float32")
    codes = rvq.encode(x)
    prefixes = [rvq.lookup(codes[:, :n]).numpy() for n in range(1, 5)]
    seen = set()
    for _ in range(40):
        out = rvq(x, training=True)
        q = out["quantized"].numpy()
        match = [n for n, p in enumerate(prefixes, 1) if np.allclose(q, p, atol=1e-5)]
        assert len(match) == 1
        seen.add(match[0])
    assert seen == {1, 2, 3, 4}
    # Outside training all stages are used.
    np.testing.assert_allclose(rvq(x, training=False)["quantized"], prefixes[-1], atol=1e-5)


def test_losses_are_the_sum_of_the_stages():
    rvq = make(ema=False, commitment_cost=0.5)
    x = RNG.normal(size=(20, 4)).astype("float32")
    out = rvq(x, training=False)
    residual, cb, cm = x.astype(np.float64), 0.0, 0.0
    for stage in rvq.stages:
        e = stage.codebook.numpy()[nearest(residual, stage.codebook.numpy())]
        cb += np.mean((residual - e) ** 2)
        cm += 0.5 * np.mean((residual - e) ** 2)
        residual = residual - e
    np.testing.assert_allclose(out["codebook_loss"], cb, rtol=1e-5)
    np.testing.assert_allclose(out["commitment_loss"], cm, rtol=1e-5)


def test_straight_through_gradient():
    rvq = make()
    x = tf.constant(RNG.normal(size=(6, 4)).astype("float32"))
    w = tf.constant(RNG.normal(size=(6, 4)).astype("float32"))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.reduce_sum(rvq(x, training=True)["quantized"] * w)
    np.testing.assert_allclose(tape.gradient(y, x), w)


def test_float32_stages_under_mixed_bfloat16():
    x = RNG.normal(size=(256, 4)).astype("float32")
    ref = make(k=32, seed=1)
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        rvq = make(k=32, seed=1)
    finally:
        keras.config.set_dtype_policy("float32")
    for a, b in zip(ref.stages, rvq.stages):
        b.codebook.assign(a.codebook.numpy())
    x_low = keras.ops.cast(x, "bfloat16")
    out = rvq(x_low, training=True)
    ref_out = ref(keras.ops.cast(x_low, "float32"), training=True)
    assert out["quantized"].dtype == "bfloat16"
    assert all(s.compute_dtype == "float32" for s in rvq.stages)
    np.testing.assert_array_equal(out["encoding_indices"], ref_out["encoding_indices"])
    for a, b in zip(ref.stages, rvq.stages):
        np.testing.assert_allclose(a.codebook.numpy(), b.codebook.numpy(), rtol=1e-6)


def test_weights_and_fit_step():
    ema = make()
    assert (len(ema.trainable_weights), len(ema.non_trainable_weights)) == (0, 12)
    vq = make(ema=False, quantizer_kwargs=dict(dead_code_threshold=0.5))
    assert (len(vq.trainable_weights), len(vq.non_trainable_weights)) == (3, 6)

    class Wrapper(keras.Model):
        def __init__(self):
            super().__init__()
            self.rvq = vq

        def call(self, x, training=None):
            out = self.rvq(x, training=training)
            self.add_loss(out["loss"])
            return out["quantized"]

    model = Wrapper()
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    before = [s.codebook.numpy().copy() for s in vq.stages]
    x = RNG.normal(size=(32, 4)).astype("float32")
    model.fit(x, x, epochs=1, batch_size=32, verbose=0)
    assert all(np.abs(b - s.codebook.numpy()).max() > 1e-5 for b, s in zip(before, vq.stages))


def test_config_round_trip():
    rvq = ResidualVectorQuantizer(
        num_quantizers=2, embedding_dim=4, num_embeddings=8, commitment_cost=0.5,
        ema=False, decay=0.9, quantizer_dropout=0.25, seed=4,
        quantizer_kwargs=dict(use_cosine_similarity=True, codebook_dim=3), name="q")
    clone = run_serialization_test(rvq)
    assert isinstance(clone.stages[0], VectorQuantizer) and clone.stages[1].codebook_dim == 3
    assert isinstance(make().stages[0], VectorQuantizerEMA)


def test_keras_file_round_trip(tmp_path):
    inputs = keras.Input((5, 4))
    rvq = ResidualVectorQuantizer(num_quantizers=3, embedding_dim=4, num_embeddings=8)
    model = keras.Model(inputs, rvq(inputs)["quantized"])
    x = RNG.normal(size=(3, 5, 4)).astype("float32")
    rvq(x, training=True)  # move the EMA state off its initial value
    run_model_saving_test(model, x, tmp_path)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(num_quantizers=0), "num_quantizers` must be an integer >= 1"),
        (dict(quantizer_dropout=1.5), r"quantizer_dropout` must be in \[0, 1\]"),
        (dict(quantizer_kwargs=dict(rotation_trick=True)), "does not take `rotation_trick`"),
        (dict(quantizer_kwargs=dict(decay=0.5)), "must not hold `decay`"),
    ],
)
def test_bad_arguments_are_refused(kwargs, message):
    args = dict(num_quantizers=2, embedding_dim=4, num_embeddings=8)
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        ResidualVectorQuantizer(**args)


def test_bad_inputs_are_refused():
    rvq = make()
    with pytest.raises(ValueError, match="embedding_dim`=4.*last axis 5"):
        rvq(np.zeros((2, 5), "float32"))
    with pytest.raises(ValueError, match="last axis of 1 to num_quantizers=3"):
        rvq.lookup(np.zeros((2, 4), "int32"))
    with pytest.raises(ValueError, match=r"\[0, num_embeddings=8\).*max 8"):
        rvq.lookup(np.array([[0, 8]]))
