import numpy as np
import pytest
import tensorflow as tf
import keras

from tests.harness import run_layer_test
from tests.harness import run_serialization_test
from vq_zoo.layers.residual_stack import ResidualStack
from vq_zoo.metrics.codebook_usage import CodebookUsage
from vq_zoo.models.vqvae.vqvae import VQVAE
from vq_zoo.models.vqvae.vqvae_image_decoder import VQVAEImageDecoder
from vq_zoo.models.vqvae.vqvae_image_encoder import VQVAEImageEncoder

RNG = np.random.default_rng(2)
X = RNG.uniform(size=(16, 16, 16, 3)).astype("float32")


def small(**kwargs):
    args = dict(num_hiddens=16, num_residual_layers=1, num_residual_hiddens=8,
                embedding_dim=8, num_embeddings=32)
    args.update(kwargs)
    model = VQVAE.image_model(**args)
    model.build((None, 16, 16, 3))
    return model


def test_paper_shapes():
    enc = VQVAEImageEncoder(embedding_dim=64)
    assert enc.compute_output_shape((None, 128, 128, 3)) == (None, 32, 32, 64)
    assert enc.compute_output_shape((None, 84, 84, 3)) == (None, 21, 21, 64)
    dec = VQVAEImageDecoder(output_channels=3)
    assert dec.compute_output_shape((None, 21, 21, 64)) == (None, 84, 84, 3)
    model = small()
    assert tuple(model.encode(X[:2]).shape) == (2, 4, 4)
    assert tuple(model.decode(model.encode(X[:2])).shape) == (2, 16, 16, 3)


def test_gradient_routing():
    """Codebook loss -> codebook only; commitment -> encoder only;
    reconstruction -> decoder and (straight through) encoder, not codebook.
    Guards against the beta-on-the-wrong-term bug."""
    model = small(ema=False)
    groups = {
        "encoder": model.encoder.trainable_weights,
        "codebook": [model.quantizer.codebook],
        "decoder": model.decoder.trainable_weights,
    }
    with tf.GradientTape(persistent=True) as tape:
        vq, params = model._forward(X, training=True)
        terms = model._loss_terms(X, vq, params)
    expected = {
        "codebook_loss": {"codebook"},
        "commitment_loss": {"encoder"},
        "reconstruction_loss": {"encoder", "decoder"},
    }
    for term, reached in expected.items():
        for group, weights in groups.items():
            grads = tape.gradient(terms[term], weights)
            norm = sum(
                float(tf.reduce_sum(tf.abs(tf.convert_to_tensor(g))))
                for g in grads if g is not None
            )
            if group in reached:
                assert norm > 0, (term, group)
            else:
                assert norm == 0, (term, group)
    # The encoder receives the decoder's gradient unchanged (straight through).
    with tf.GradientTape() as tape:
        z_e = model.encoder(X)
        tape.watch(z_e)
        out = model.quantizer(z_e, training=True)
        rec = model.likelihood.loss(X, model.decoder(out["quantized"]))
    g_ze = tape.gradient(rec, z_e)
    with tf.GradientTape() as tape:
        z_q = model.quantizer.lookup(out["encoding_indices"])
        tape.watch(z_q)
        rec = model.likelihood.loss(X, model.decoder(z_q))
    np.testing.assert_allclose(g_ze, tape.gradient(rec, z_q), rtol=1e-5, atol=1e-8)


def test_metrics_against_independent_computation():
    model = small(data_variance=0.5)
    model.compile(optimizer="adam")
    logs = model.evaluate(X, batch_size=4, verbose=0, return_dict=True)
    assert set(logs) == {"loss", "reconstruction_loss", "codebook_loss",
                         "commitment_loss", "perplexity", "codebook_usage"}
    recon = model.predict(X, verbose=0)
    np.testing.assert_allclose(
        logs["reconstruction_loss"], np.mean((X - recon) ** 2) / 0.5, rtol=1e-4)
    codes = model.encode(X).numpy()
    # Usage accumulates over every batch of the epoch, not just the last.
    assert logs["codebook_usage"] == pytest.approx(len(np.unique(codes)) / 32)
    # decode(encode(x)) is the reconstruction.
    np.testing.assert_allclose(model.decode(codes), recon, atol=1e-5)
    per_batch = []
    for i in range(0, 16, 4):
        p = np.bincount(codes[i:i + 4].ravel(), minlength=32) / codes[i:i + 4].size
        per_batch.append(np.exp(-(p * np.log(p + 1e-10)).sum()))
    assert logs["perplexity"] == pytest.approx(np.mean(per_batch), rel=1e-4)


@pytest.mark.parametrize("ema", [True, False])
def test_fit_reduces_loss(ema):
    model = small(ema=ema)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    hist = model.fit(X, batch_size=8, epochs=8, verbose=0)
    assert hist.history["reconstruction_loss"][-1] < 0.7 * hist.history["reconstruction_loss"][0]


@pytest.mark.parametrize("ema", [True, False])
def test_keras_round_trip_restores_state_and_training_continues(ema, tmp_path):
    model = VQVAE.image_model(num_hiddens=16, num_residual_layers=1,
                              num_residual_hiddens=8, embedding_dim=8,
                              num_embeddings=32, ema=ema)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.fit(X, batch_size=8, epochs=1, verbose=0, shuffle=False)  # never called
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert loaded.built and len(loaded.weights) == len(model.weights)
    for a, b in zip(model.weights + model.optimizer.variables,
                    loaded.weights + loaded.optimizer.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)
    np.testing.assert_array_equal(loaded.predict(X, verbose=0), model.predict(X, verbose=0))
    model.fit(X, batch_size=8, epochs=1, verbose=0, shuffle=False)
    loaded.fit(X, batch_size=8, epochs=1, verbose=0, shuffle=False)
    for a, b in zip(model.weights, loaded.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6, err_msg=a.path)


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_trains_under_mixed_precision(policy):
    keras.config.set_dtype_policy(policy)
    model = small()
    model.compile(optimizer="adam")
    if policy == "mixed_float16":
        assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    hist = model.fit(X, batch_size=8, epochs=2, verbose=0)
    assert all(np.isfinite(v).all() for v in hist.history.values())
    assert model.quantizer.codebook.dtype == "float32"
    assert model.quantizer.ema_dw_hidden.dtype == "float32"
    assert model.encoder.compute_dtype == policy.split("_")[1]
    assert model.predict(X[:2], verbose=0).dtype == np.float32


@pytest.mark.parametrize("ema", [True, False])
def test_jit_compiled_step_equals_plain_step(ema):
    plain = small(ema=ema)
    jit = small(ema=ema)
    jit.set_weights(plain.get_weights())
    plain.compile(optimizer=keras.optimizers.SGD(0.1), jit_compile=False)
    jit.compile(optimizer=keras.optimizers.SGD(0.1), jit_compile=True)
    plain.fit(X, batch_size=8, epochs=1, verbose=0, shuffle=False)
    jit.fit(X, batch_size=8, epochs=1, verbose=0, shuffle=False)
    for a, b in zip(plain.weights, jit.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-5, err_msg=a.path)


def test_config_round_trips():
    for obj in [small(ema=False, data_variance=0.3, commitment_cost=0.5),
                ResidualStack(8, 2, 4, rank=1), CodebookUsage(7),
                VQVAEImageEncoder(8, 1, 4, embedding_dim=3, num_downsamples=3),
                VQVAEImageDecoder(8, 1, 4, output_channels=2, num_upsamples=1)]:
        run_serialization_test(obj)


def test_encoder_and_decoder_layer_checks():
    run_layer_test(VQVAEImageEncoder, dict(num_hiddens=8, num_residual_layers=1,
                                           num_residual_hiddens=4, embedding_dim=3),
                   X[:2], expected_output_shape=(2, 4, 4, 3))
    codes = RNG.normal(size=(2, 4, 4, 3)).astype("float32")
    run_layer_test(VQVAEImageDecoder, dict(num_hiddens=8, num_residual_layers=1,
                                           num_residual_hiddens=4, output_channels=2),
                   codes, expected_output_shape=(2, 16, 16, 2))


def test_bad_input_is_refused():
    model = small()
    model.compile(optimizer="adam")
    with pytest.raises(ValueError, match="floating-point data.*int32"):
        model.fit(X.astype("int32"), epochs=1, verbose=0)
    with pytest.raises(ValueError, match="num_embeddings=32.*max 40"):
        model.decode(np.full((1, 4, 4), 40))
    with pytest.raises(ValueError, match="VectorQuantizer or VectorQuantizerEMA"):
        VQVAE(model.encoder, keras.layers.Dense(3), model.decoder)
    with pytest.raises(ValueError, match="Unknown likelihood 'gaussian'"):
        VQVAE(model.encoder, model.quantizer, model.decoder, likelihood="gaussian")
    with pytest.raises(ValueError, match="data_variance"):
        small(data_variance=0.0)


def test_data_variance_has_one_source_of_truth():
    from vq_zoo.likelihoods import MeanSquaredError

    model = VQVAE.image_model(num_hiddens=16, num_residual_layers=1,
                              num_residual_hiddens=8, embedding_dim=8,
                              num_embeddings=32, likelihood=MeanSquaredError(2.0))
    assert model.data_variance == 2.0
    assert model.get_config()["data_variance"] == 2.0
    assert VQVAE.from_config(model.get_config()).likelihood.data_variance == 2.0
    with pytest.raises(ValueError, match="disagrees"):
        VQVAE.image_model(likelihood=MeanSquaredError(2.0), data_variance=3.0)


def test_wrong_inputs_are_refused():
    model = small()
    with pytest.raises(ValueError, match=r"floating-point data .*x / 255"):
        model.encode((X * 255).astype("uint8"))
    unbuilt = VQVAE.image_model(num_hiddens=16, num_residual_layers=1,
                                num_residual_hiddens=8, embedding_dim=8,
                                num_embeddings=32, channels=1)
    unbuilt.compile(optimizer="adam")
    with pytest.raises(ValueError, match=r"reconstructs data of shape \(16, 16, 1\)"):
        unbuilt.fit(X, batch_size=8, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="empty batch"):
        model.decode(np.zeros((0, 4, 4), "int32"))


def test_calling_an_unbuilt_model_builds_it_like_build():
    """`model(x)` on a VQVAE never built (it raised "Attempt to convert a value
    (<CallSpec>)": the training step's build-on-data hook shadowed Keras'
    `_maybe_build(call_spec)`): it builds, and gives what a model built by
    `build` with the same weights gives."""
    args = dict(num_hiddens=16, num_residual_layers=1, num_residual_hiddens=8,
                embedding_dim=8, num_embeddings=32)
    keras.utils.set_random_seed(3)
    called = VQVAE.image_model(**args)
    out = np.asarray(called(X[:2]))
    assert called.built and out.shape == (2, 16, 16, 3)
    built = small()
    built.set_weights(called.get_weights())
    np.testing.assert_allclose(np.asarray(built(X[:2])), out, atol=1e-6)
