"""VQ-VAEs whose decoder is an autoregressive prior: integer inputs with the
latents as a global condition (DeepMind Lab's stage 2), and audio with the
latents as a local condition and a speaker (the speech model)."""

import keras
import numpy as np
import pytest

from vq_zoo.layers.vector_quantizer_ema import VectorQuantizerEMA
from vq_zoo.likelihoods.mu_law import MuLaw
from vq_zoo.models.gated_pixelcnn.gated_pixelcnn_1d_prior import GatedPixelCNN1DPrior
from vq_zoo.models.gated_pixelcnn.gated_pixelcnn_prior import GatedPixelCNNPrior
from vq_zoo.models.vqvae.vqvae import VQVAE

K_IN, D = 16, 4


def code_map_model():
    """6x6 maps of K_IN codes -> 3 latent vectors -> PixelCNN over the map."""
    encoder = keras.Sequential([
        keras.layers.Embedding(K_IN, 8),
        keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu"),
        keras.layers.Flatten(),
        keras.layers.Dense(3 * D),
        keras.layers.Reshape((3, D)),
    ], name="encoder")
    decoder = GatedPixelCNNPrior(num_embeddings=K_IN, shape=(6, 6), filters=8,
                                 num_layers=2, condition_dim=3 * D, name="decoder")
    model = VQVAE(encoder, VectorQuantizerEMA(D, 8, name="quantizer"), decoder,
                  likelihood="categorical", input_classes=K_IN,
                  latent_conditioning="global")
    model.build((None, 6, 6))
    return model


def test_integer_inputs_global_latents_train_and_sample(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, K_IN, size=(16, 6, 6)).astype("int32")
    model = code_map_model()
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    logs = model.evaluate(x, batch_size=16, verbose=0, return_dict=True)
    # The reconstruction loss is the decoder's K-way cross-entropy of x
    # given the quantised latents (NumPy on the decoder's own logits).
    zq = np.asarray(model.quantizer.lookup(model.encode(x)))
    logits = np.asarray(model.decoder({"codes": x, "condition": zq.reshape(16, -1)}),
                        dtype="float64")
    logp = logits - logits.max(-1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(-1, keepdims=True))
    nll = -np.take_along_axis(logp, x[..., None], -1).mean()
    assert logs["reconstruction_loss"] == pytest.approx(nll, rel=1e-5)
    hist = model.fit(x, batch_size=8, epochs=3, verbose=0)
    assert hist.history["reconstruction_loss"][-1] < hist.history["reconstruction_loss"][0]
    codes = model.encode(x[:4])
    assert tuple(codes.shape) == (4, 3) and codes.dtype == "int32"
    sample = np.asarray(model.decode(codes, seed=3))
    assert sample.shape == (4, 6, 6) and sample.min() >= 0 and sample.max() < K_IN
    np.testing.assert_array_equal(sample, np.asarray(model.decode(codes, seed=3)))
    # The sample depends on the codes (the decoder is conditioned on them).
    # (At a low temperature, so that the logits, not the noise, decide.)
    cold = np.asarray(model.decode(codes, seed=3, temperature=0.05))
    other = np.asarray(model.decode((np.asarray(codes) + 1) % 8, seed=3, temperature=0.05))
    assert not np.array_equal(cold, other)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(np.asarray(loaded.decode(codes, seed=3)), sample)
    with pytest.raises(ValueError, match=r"integer inputs in \[0, 16\)"):
        model.encode(x.astype("float32"))


def audio_model():
    T, hop, speakers = 32, 4, 3
    encoder = keras.Sequential([
        keras.layers.Conv1D(8, 4, strides=2, padding="same", activation="relu"),
        keras.layers.Conv1D(D, 4, strides=2, padding="same"),
    ], name="encoder")
    decoder = GatedPixelCNN1DPrior(
        num_embeddings=256, length=T, filters=8, dilation_rates=(1, 2, 4),
        num_classes=speakers, spatial_condition_shape=(T // hop, D), name="decoder")
    model = VQVAE(encoder, VectorQuantizerEMA(D, 8, name="quantizer"), decoder,
                  likelihood=MuLaw())
    model.build((None, T, 1))
    return model


def test_audio_with_local_latents_and_a_speaker():
    rng = np.random.default_rng(1)
    t = np.arange(32) / 32.0
    x = (0.5 * np.sin(2 * np.pi * rng.uniform(1, 4, (12, 1)) * t))[..., None].astype("float32")
    speakers = rng.integers(0, 3, 12).astype("int32")
    model = audio_model()
    assert model.conditional
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    hist = model.fit(x, speakers, batch_size=6, epochs=2, verbose=0)
    assert np.isfinite(hist.history["loss"]).all()
    with pytest.raises(ValueError, match=r"\(x, condition\)"):
        model.fit(x, batch_size=6, epochs=1, verbose=0)
    codes = model.encode(x[:2])
    assert tuple(codes.shape) == (2, 8)
    a = np.asarray(model.decode(codes, condition=np.array([0, 0]), seed=1))
    assert a.shape == (2, 32, 1) and np.abs(a).max() <= 1.0
    np.testing.assert_array_equal(
        a, np.asarray(model.decode(codes, condition=np.array([0, 0]), seed=1)))
    # The speaker reaches the decoder: teacher-forced logits change with it.
    l0 = np.asarray(model((x[:2], np.array([0, 0]))))
    l2 = np.asarray(model((x[:2], np.array([2, 2]))))
    assert l0.shape == (2, 32, 256) and np.abs(l0 - l2).max() > 1e-4
