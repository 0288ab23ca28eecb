import numpy as np
import pytest
import tensorflow as tf
import keras

from tests.harness import run_model_saving_test
from tests.harness import run_serialization_test
from tests.layers.numpy_reference import quantize_reference
from vq_zoo.layers.vector_quantizer import VectorQuantizer
from vq_zoo.layers.vector_quantizer_ema import VectorQuantizerEMA

RNG = np.random.default_rng(0)


def make(cls=VectorQuantizer, d=6, k=20, **kwargs):
    layer = cls(embedding_dim=d, num_embeddings=k, **kwargs)
    layer.build((None, d))
    layer.codebook.assign(RNG.normal(size=(k, d)).astype("float32"))
    return layer


@pytest.mark.parametrize("shape", [(3, 7, 6), (2, 4, 5, 6), (2, 3, 4, 2, 6)])
@pytest.mark.parametrize("chunk", [None, 7])
def test_matches_numpy_reference_for_any_rank(shape, chunk):
    vq = make(commitment_cost=0.3, distance_chunk_size=chunk)
    x = RNG.normal(size=shape).astype("float32")
    out = vq(x, training=False)
    ref = quantize_reference(x, vq.codebook.numpy(), 0.3)
    np.testing.assert_array_equal(out["encoding_indices"], ref["encoding_indices"])
    np.testing.assert_allclose(out["quantized"], ref["quantized"], atol=1e-6)
    np.testing.assert_allclose(out["codebook_loss"], ref["codebook_loss"], rtol=1e-5)
    np.testing.assert_allclose(out["commitment_loss"], ref["commitment_loss"], rtol=1e-5)
    np.testing.assert_allclose(out["loss"], 1.3 * ref["codebook_loss"], rtol=1e-5)
    np.testing.assert_allclose(out["perplexity"], ref["perplexity"], rtol=1e-5)
    np.testing.assert_array_equal(out["code_counts"], ref["counts"])
    assert out["encoding_indices"].dtype == tf.int32


def test_encode_and_lookup_agree_with_call():
    vq = make()
    x = RNG.normal(size=(2, 5, 6)).astype("float32")
    idx = vq.encode(x)
    np.testing.assert_array_equal(idx, vq(x)["encoding_indices"])
    np.testing.assert_allclose(vq.lookup(idx), vq.codebook.numpy()[idx.numpy()])


def test_straight_through_passes_gradient_unchanged():
    vq = make()
    x = tf.constant(RNG.normal(size=(4, 6)).astype("float32"))
    w = tf.constant(RNG.normal(size=(4, 6)).astype("float32"))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.reduce_sum(vq(x, training=True)["quantized"] * w)
    np.testing.assert_allclose(tape.gradient(y, x), w)


def test_each_loss_reaches_only_its_side():
    vq = make()
    x = tf.constant(RNG.normal(size=(16, 6)).astype("float32"))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        out = vq(x, training=True)
    g_cb_code = tape.gradient(out["codebook_loss"], vq.codebook)
    g_cb_x = tape.gradient(out["codebook_loss"], x)
    g_cm_code = tape.gradient(out["commitment_loss"], vq.codebook)
    g_cm_x = tape.gradient(out["commitment_loss"], x)
    assert g_cb_x is None or np.all(np.asarray(g_cb_x) == 0)
    assert g_cm_code is None or np.all(np.asarray(tf.convert_to_tensor(g_cm_code)) == 0)
    # NumPy: d/de mean((x - e)^2) and d/dx beta * mean((x - e)^2).
    ref = quantize_reference(x.numpy(), vq.codebook.numpy(), 0.25)
    diff = x.numpy() - ref["quantized"]
    expected_code = np.zeros((20, 6))
    np.add.at(expected_code, ref["encoding_indices"], -2 * diff / diff.size)
    np.testing.assert_allclose(tf.convert_to_tensor(g_cb_code), expected_code, atol=1e-6)
    np.testing.assert_allclose(g_cm_x, 0.25 * 2 * diff / diff.size, atol=1e-6)


def test_fit_step_moves_codebook_by_gradient():
    vq = make()
    before = vq.codebook.numpy().copy()

    class Wrapper(keras.Model):
        def __init__(self):
            super().__init__()
            self.vq = vq

        def call(self, x):
            out = self.vq(x)
            self.add_loss(out["loss"])
            return out["quantized"]

    w = Wrapper()
    w.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    x = RNG.normal(size=(32, 6)).astype("float32")
    w.fit(x, x, epochs=1, verbose=0, batch_size=32)
    assert np.abs(vq.codebook.numpy() - before).max() > 1e-4


def test_weight_counts():
    assert (len(make().trainable_weights), len(make().non_trainable_weights)) == (1, 0)
    ema = make(VectorQuantizerEMA)
    assert (len(ema.trainable_weights), len(ema.non_trainable_weights)) == (0, 4)
    both = make(VectorQuantizerEMA, kmeans_init=True, dead_code_threshold=1.0)
    # + initialized, code_usage_hidden and code_usage_count; the seed generator's state is a variable
    # but not a weight.
    assert (len(both.trainable_weights), len(both.non_trainable_weights)) == (0, 7)
    assert len(both.variables) == 8


@pytest.mark.parametrize("cls", [VectorQuantizer, VectorQuantizerEMA])
def test_config_round_trip(cls):
    layer = cls(embedding_dim=4, num_embeddings=9, commitment_cost=0.5,
                kmeans_init=True, kmeans_iters=3, dead_code_threshold=0.2,
                dead_code_decay=0.9, distance_chunk_size=4, seed=3, name="q")
    run_serialization_test(layer)


@pytest.mark.parametrize("cls", [VectorQuantizer, VectorQuantizerEMA])
def test_keras_file_round_trip(cls, tmp_path):
    inputs = keras.Input((5, 6))
    vq = cls(embedding_dim=6, num_embeddings=11)
    model = keras.Model(inputs, vq(inputs)["quantized"])
    x = RNG.normal(size=(3, 5, 6)).astype("float32")
    vq(x, training=True)  # move the EMA state off its initial value
    run_model_saving_test(model, x, tmp_path)


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize("cls", [VectorQuantizer, VectorQuantizerEMA])
def test_wrong_last_dimension_names_embedding_dim(cls):
    with pytest.raises(ValueError, match="embedding_dim`=6.*last axis 5"):
        cls(embedding_dim=6, num_embeddings=4)(np.zeros((2, 3, 5), "float32"))


def test_rank_below_two_is_refused():
    with pytest.raises(ValueError, match="rank >= 2"):
        VectorQuantizer(embedding_dim=6, num_embeddings=4)(np.zeros((6,), "float32"))


def test_integer_input_is_refused():
    vq = make()
    # Our message first, not under Keras' "Exception encountered ..." line.
    with pytest.raises(ValueError, match="^VectorQuantizer expects floating-point.*got int32.*lookup"):
        vq(np.zeros((2, 6), "int32"))


def test_out_of_range_indices_are_refused():
    vq = make()
    with pytest.raises(ValueError, match=r"\[0, num_embeddings=20\).*max 20"):
        vq.lookup(np.array([[0, 20]]))
    with pytest.raises(ValueError, match="min -1"):
        vq.lookup(np.array([-1, 3]))
    with pytest.raises(ValueError, match="must be integers"):
        vq.lookup(np.array([0.0, 1.0]))


def test_out_of_range_indices_are_caught_in_a_graph():
    vq = make()
    fn = tf.function(vq.lookup)
    with pytest.raises(tf.errors.InvalidArgumentError, match="out of range"):
        fn(tf.constant([0, 25]))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(num_embeddings=0), "num_embeddings` must be an integer >= 1"),
        (dict(embedding_dim=0), "embedding_dim` must be an integer >= 1"),
        (dict(commitment_cost=-1.0), "commitment_cost` must be >= 0"),
        (dict(distance_chunk_size=0), "distance_chunk_size"),
        (dict(dead_code_threshold=-1.0), "dead_code_threshold"),
        (dict(dead_code_decay=1.0), "dead_code_decay"),
    ],
)
def test_bad_arguments_are_refused(kwargs, message):
    args = dict(embedding_dim=4, num_embeddings=8)
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        VectorQuantizer(**args)


@pytest.mark.parametrize("decay", [-0.1, 1.5])
def test_decay_outside_unit_interval_is_refused(decay):
    with pytest.raises(ValueError, match=r"`decay` must be in \[0, 1\]"):
        VectorQuantizerEMA(embedding_dim=4, num_embeddings=8, decay=decay)
