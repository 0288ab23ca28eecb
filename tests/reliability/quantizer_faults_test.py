"""Fault injection on one replica: NaN, Inf and empty batches never reach a
quantizer's state, `encode` refuses non-finite vectors, integer input and
bool arguments are refused with our message first.

"State" is every variable of the layer: the codebook, the EMA statistics,
the k-means flag, the dead-code statistics and the seed generator's state.
The 2-replica cases are in `replica_faults_test.py`.
"""

import numpy as np
import pytest
import tensorflow as tf
import keras

from tests.layers.numpy_reference import EMAReference
from vq_zoo.layers.base_vector_quantizer import BaseVectorQuantizer
from vq_zoo.layers.vector_quantizer import VectorQuantizer
from vq_zoo.layers.vector_quantizer_ema import VectorQuantizerEMA

D, K = 6, 16
REMEDIES = dict(kmeans_init=True, kmeans_iters=3, dead_code_threshold=0.5, seed=4)
LAYERS = {
    "ema": (VectorQuantizerEMA, {}),
    "ema_remedies": (VectorQuantizerEMA, REMEDIES),
    "vq_remedies": (VectorQuantizer, REMEDIES),
}


def batch(seed, n=32):
    return np.random.default_rng(seed).normal(size=(n // 4, 4, D)).astype("float32")


def poisoned(seed, value=np.nan):
    x = batch(seed)
    x[1, 2, 3] = value
    return x


def make(case, seed=0):
    cls, kwargs = LAYERS[case]
    layer = cls(embedding_dim=D, num_embeddings=K,
                embeddings_initializer=keras.initializers.RandomNormal(seed=seed),
                **kwargs)
    layer.build((None, 4, D))
    return layer


def state(layer):
    """Every variable (weights and the seed generator), by name."""
    values = {v.name: np.array(v.numpy()) for v in layer.variables}
    assert len(values) == len(layer.variables)
    return values


def assert_bitwise_equal(a, b):
    assert a.keys() == b.keys()
    for name in a:
        assert a[name].tobytes() == b[name].tobytes(), name


def run(layer, x, graph):
    step = tf.function(lambda x: layer(x, training=True)) if graph else (
        lambda x: layer(x, training=True))
    return step(tf.constant(x))


@pytest.mark.parametrize(
    "case, bad, graph",
    [("ema", np.nan, False), ("ema", np.inf, False), ("ema", -np.inf, False),
     ("ema_remedies", np.nan, False), ("vq_remedies", np.nan, False),
     ("vq_remedies", np.inf, False), ("ema_remedies", np.nan, True)],
    ids=["ema-nan", "ema-inf", "ema--inf", "ema_remedies-nan", "vq_remedies-nan",
         "vq_remedies-inf", "ema_remedies-nan-graph"])
def test_non_finite_batch_leaves_state_bit_for_bit(case, bad, graph):
    layer, twin = make(case), make(case)
    for seed in (1, 2):  # non-trivial state: k-means done, EMAs and usage moved
        run(layer, batch(seed), graph)
        run(twin, batch(seed), graph)
    before = state(layer)
    out = run(layer, poisoned(3, bad), graph)
    assert float(out["update_skipped"]) == 1.0
    assert_bitwise_equal(state(layer), before)
    # The layer goes on exactly as a twin that never saw the bad batch
    # (the sampling state of the remedies included).
    out = run(layer, batch(4), graph)
    run(twin, batch(4), graph)
    assert float(out["update_skipped"]) == 0.0
    assert_bitwise_equal(state(layer), state(twin))
    # ... and that step did update the state, so the equalities are not trivial.
    moved = [n for n in before if state(layer)[n].tobytes() != before[n].tobytes()]
    assert set(moved) - {"seed_generator_state"}, moved


def test_gradient_quantizer_losses_are_nan_so_the_model_step_skips():
    layer = make("vq_remedies")
    run(layer, batch(1), False)
    out = run(layer, poisoned(2), False)
    # The gradient codebook learns from these losses: non-finite, so the
    # shared training step does not apply the optimizer update.
    assert not np.isfinite(float(out["codebook_loss"]))
    assert not np.isfinite(float(out["commitment_loss"]))


def test_nan_in_the_first_batch_does_not_mark_kmeans_done():
    layer, twin = make("ema_remedies"), make("ema_remedies")
    run(layer, poisoned(1), False)
    assert float(layer.initialized.numpy()) == 0.0
    run(layer, batch(2), False)
    run(twin, batch(2), False)
    assert float(layer.initialized.numpy()) == 1.0
    assert_bitwise_equal(state(layer), state(twin))


def test_empty_batch_is_a_no_op_then_training_matches_numpy():
    layer = VectorQuantizerEMA(embedding_dim=D, num_embeddings=K, decay=0.9,
                               epsilon=1e-3)
    layer.build((None, D))
    before = state(layer)
    out = layer(np.zeros((0, D), "float32"), training=True)
    assert_bitwise_equal(state(layer), before)
    assert np.all(np.isfinite(layer.codebook.numpy()))
    assert float(out["update_skipped"]) == 0.0 and float(out["loss"]) == 0.0
    # The next batch trains as the first one of a fresh layer would (eqs.
    # 6-8 in NumPy), not collapsed onto one code.
    ref = EMAReference(before["codebook"], 0.9, 1e-3)
    x = batch(5).reshape(-1, D)
    out = layer(x, training=True)
    idx, _ = ref.step(x)
    np.testing.assert_array_equal(out["encoding_indices"], idx)
    np.testing.assert_allclose(layer.codebook.numpy(), ref.codebook, rtol=1e-4, atol=1e-5)
    assert len(np.unique(layer.encode(x))) > 1


def test_empty_batch_with_remedies_is_a_no_op():
    layer = make("ema_remedies")
    before = state(layer)
    layer(np.zeros((0, 4, D), "float32"), training=True)
    assert_bitwise_equal(state(layer), before)


# ------------------------------------------------------ negative controls
def _no_input_guard(self, flat):
    return tf.constant(True), tf.constant(False)


def _unchecked_commit(self, apply, updates):
    for variable, value in updates:
        variable.assign(value)
    return tf.constant(False)


def test_control_without_the_guards_the_codebook_goes_nan(monkeypatch):
    # Proves the tests above can fail: with both checks patched out, one NaN
    # vector and an empty first batch corrupt the EMA codebook for good.
    monkeypatch.setattr(BaseVectorQuantizer, "_update_guard", _no_input_guard)
    monkeypatch.setattr(BaseVectorQuantizer, "_commit", _unchecked_commit)
    layer = make("ema")
    run(layer, batch(1), False)
    run(layer, poisoned(2), False)
    assert not np.all(np.isfinite(layer.codebook.numpy()))
    for _ in range(3):
        run(layer, batch(3), False)
    assert not np.all(np.isfinite(layer.codebook.numpy()))  # never recovers
    fresh = make("ema")
    fresh(np.zeros((0, 4, D), "float32"), training=True)
    assert np.all(np.isnan(fresh.codebook.numpy()))


def test_the_commit_check_alone_still_protects_the_state(monkeypatch):
    # Second line of defence: without the input check, the finiteness check
    # of the new values refuses the update all the same.
    monkeypatch.setattr(BaseVectorQuantizer, "_update_guard", _no_input_guard)
    layer = make("ema")
    run(layer, batch(1), False)
    before = state(layer)
    out = run(layer, poisoned(2), False)
    assert float(out["update_skipped"]) == 1.0
    assert_bitwise_equal(state(layer), before)


# ------------------------------------------------------------- encode
@pytest.mark.parametrize("cls", [VectorQuantizer, VectorQuantizerEMA])
def test_encode_refuses_non_finite_vectors_eagerly(cls):
    layer = cls(embedding_dim=D, num_embeddings=K)
    x = batch(1)
    x[1, 2, 3] = np.nan
    x[5, 0, 0] = np.inf
    before = state(layer) if layer.built else None
    with pytest.raises(ValueError, match=(
            rf"{cls.__name__}\.encode: 2 of 32 input vectors hold non-finite "
            r"\(NaN or Inf\) values, at positions \(1, 2\), \(5, 0\)")):
        layer.encode(x)
    if before is not None:
        assert_bitwise_equal(state(layer), before)
    # Finite vectors are encoded as before (nearest code, NumPy).
    x = batch(2)
    codebook = layer.codebook.numpy()
    d = ((x[..., None, :] - codebook) ** 2).sum(-1)
    np.testing.assert_array_equal(layer.encode(x), d.argmin(-1))


def test_encode_refuses_non_finite_vectors_in_a_graph():
    layer = make("ema")
    fn = tf.function(layer.encode)
    np.testing.assert_array_equal(fn(tf.constant(batch(1))), layer.encode(batch(1)))
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"VectorQuantizerEMA\.encode: the input holds non-finite"):
        fn(tf.constant(poisoned(1)))


# ------------------------------------------------------- bad arguments
@pytest.mark.parametrize("cls", [VectorQuantizer, VectorQuantizerEMA])
def test_integer_input_gets_our_message_first(cls):
    layer = cls(embedding_dim=D, num_embeddings=K, name="q")
    for dtype in ["int32", "int64", "uint8", "bool"]:
        expected = (rf"^{cls.__name__} expects floating-point vectors \(encoder "
                    rf"outputs, last axis embedding_dim={D}\), got {dtype}\. .*lookup")
        inputs = [np.zeros((2, D), dtype), tf.zeros((2, D), dtype),
                  keras.Input((D,), dtype=dtype)]  # eager and functional
        for x in inputs:
            with pytest.raises(ValueError, match=expected):
                layer(x)
        with pytest.raises(ValueError, match=expected):
            layer.encode(np.zeros((2, D), dtype))


def test_bool_arguments_are_refused_naming_the_argument():
    args = ["embedding_dim", "num_embeddings", "commitment_cost", "kmeans_iters",
            "dead_code_threshold", "dead_code_decay", "distance_chunk_size", "seed"]
    cases = [(VectorQuantizer, arg, value) for arg in args for value in (True, False)]
    cases += [(VectorQuantizerEMA, arg, value)
              for arg in args + ["decay", "epsilon"] for value in (True, False)]
    # `kmeans_init` is a bool: an int there is refused in the same way.
    cases += [(VectorQuantizer, "kmeans_init", 1), (VectorQuantizer, "kmeans_init", 0)]
    for cls, arg, value in cases:
        kwargs = dict(embedding_dim=4, num_embeddings=8)
        kwargs[arg] = value
        with pytest.raises(ValueError, match=rf"^`{arg}` .*Received: {arg}={value!r}"):
            cls(**kwargs)
    # The same arguments as plain numbers are accepted (the check is the type).
    VectorQuantizerEMA(embedding_dim=4, num_embeddings=8, commitment_cost=1,
                       dead_code_threshold=0, dead_code_decay=0, decay=1,
                       epsilon=1, seed=0, kmeans_init=np.bool_(True))
