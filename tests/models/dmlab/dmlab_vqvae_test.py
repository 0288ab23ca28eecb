"""DMLabVQVAE: the 3-code bottleneck (one codebook per code, 27 bits), the
PixelCNN decoder's causality and conditioning, greedy decoding, metrics
against NumPy, saving."""

import math

import keras
import numpy as np
import pytest

from tests.harness import run_model_saving_test
from tests.harness import run_serialization_test
from vq_zoo.layers.vector_quantizer_ema import VectorQuantizerEMA
from vq_zoo.models.dmlab import CodeMapEncoder
from vq_zoo.models.dmlab import DMLabVQVAE
from vq_zoo.models.gated_pixelcnn.gated_pixelcnn_prior import GatedPixelCNNPrior

K_IN = 16


def small_model(shape=(6, 6), latent_k=8, dim=4, k_in=K_IN):
    return DMLabVQVAE.code_map_model(
        num_embeddings=k_in, shape=shape, embedding_dim=dim,
        latent_num_embeddings=latent_k, filters=8, hidden_units=16,
        decoder_filters=8, decoder_layers=2, quantizer_kwargs=dict(seed=1))


def maps(n=8, shape=(6, 6), k=K_IN, seed=0):
    return np.random.default_rng(seed).integers(0, k, (n,) + shape).astype("int32")


def test_27_bit_bottleneck_round_trip():
    # The paper's sizes: 21x21 maps of K=512 codes -> 3 codes, K=512 each.
    model = DMLabVQVAE.code_map_model(
        num_embeddings=512, shape=(21, 21), embedding_dim=8, latent_num_embeddings=512,
        filters=8, hidden_units=16, decoder_filters=8, decoder_layers=1)
    assert model.level_names == ("code1", "code2", "code3")
    assert model.bits_per_example == 27.0 == 3 * math.log2(512)
    x = maps(5, (21, 21), 512)
    levels = model.encode(x)
    assert list(levels) == ["code1", "code2", "code3"]
    for codes in levels.values():
        assert tuple(codes.shape) == (5,) and codes.dtype == "int32"
    seq = np.asarray(model.encode_sequence(x))
    assert seq.shape == (5, 3) and seq.dtype == np.int32
    assert seq.min() >= 0 and seq.max() < 512
    # Each code is the nearest entry of its own codebook to its own latent
    # vector (NumPy nearest neighbour on the encoder's output).
    z = np.asarray(model.encoder(x), np.float64)
    assert z.shape == (5, 3, 8)
    for i, q in enumerate(model.quantizers):
        book = np.asarray(q.codebook, np.float64)
        d = ((z[:, i, None, :] - book[None]) ** 2).sum(-1)
        np.testing.assert_array_equal(seq[:, i], d.argmin(-1))
        np.testing.assert_array_equal(seq[:, i], np.asarray(levels[f"code{i + 1}"]))
    # Three distinct codebooks (not one shared), looked up per position.
    books = [np.asarray(q.codebook) for q in model.quantizers]
    assert not np.allclose(books[0], books[1]) and not np.allclose(books[1], books[2])
    vectors = np.asarray(model.lookup(seq))
    for i in range(3):
        np.testing.assert_array_equal(vectors[:, i], books[i][seq[:, i]])
    # The dict, list and array forms of the codes are the same codes.
    np.testing.assert_array_equal(np.asarray(model.lookup(levels)), vectors)
    np.testing.assert_array_equal(
        np.asarray(model.lookup([levels["code1"], levels["code2"], levels["code3"]])),
        vectors)
    with pytest.raises(ValueError, match=r"in \[0, 512\)"):
        model.lookup(np.full((2, 3), 512, np.int32))
    with pytest.raises(ValueError, match=r"\(batch, 3\)"):
        model.lookup(np.zeros((2, 4), np.int32))


def test_decoder_is_causal_and_depends_on_the_codes():
    model = small_model()
    x = maps(4)
    codes = np.asarray(model.encode_sequence(x))
    condition = np.asarray(model.lookup(codes)).reshape(4, -1)

    def logits(m, c):
        return np.asarray(model.decoder({"codes": m, "condition": c}))

    base = logits(x, condition)
    assert base.shape == (4, 6, 6, K_IN)
    # The full model's teacher-forced logits are the decoder's given the
    # quantised latents of the same maps.
    np.testing.assert_allclose(np.asarray(model(x)), base, rtol=1e-5, atol=1e-5)
    flat = base.reshape(4, 36, K_IN)
    for p in (0, 7, 20, 35):
        changed = x.copy().reshape(4, 36)
        changed[:, p] = (changed[:, p] + 1) % K_IN
        out = logits(changed.reshape(4, 6, 6), condition).reshape(4, 36, K_IN)
        # Positions up to p (raster order) do not see the code at p ...
        np.testing.assert_allclose(out[:, :p + 1], flat[:, :p + 1], rtol=1e-5, atol=1e-6)
        # ... the next one does.
        if p + 1 < 36:
            assert np.abs(out[:, p + 1] - flat[:, p + 1]).max() > 1e-6
    # Another code in any one of the three slots changes every position's
    # logits, the first included.
    for i in range(3):
        other = codes.copy()
        other[:, i] = (other[:, i] + 1) % 8
        out = logits(x, np.asarray(model.lookup(other)).reshape(4, -1)).reshape(4, 36, K_IN)
        assert (np.abs(out - flat).max(-1) > 1e-6).all()


def test_losses_and_per_codebook_metrics_match_numpy():
    model = small_model()
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    x = maps(16)
    logs = model.evaluate(x, batch_size=16, verbose=0, return_dict=True)
    logits = np.asarray(model(x), np.float64)
    logp = logits - logits.max(-1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(-1, keepdims=True))
    nll = -np.take_along_axis(logp, x[..., None], -1).mean()
    assert logs["reconstruction_loss"] == pytest.approx(nll, rel=1e-5)
    seq = np.asarray(model.encode_sequence(x))
    z = np.asarray(model.encoder(x), np.float64)
    commitment = 0.0
    for i, q in enumerate(model.quantizers):
        counts = np.bincount(seq[:, i], minlength=8)
        p = counts / counts.sum()
        entropy = -(p[p > 0] * np.log(p[p > 0])).sum()
        assert logs[f"perplexity_code{i + 1}"] == pytest.approx(np.exp(entropy), rel=1e-5)
        assert logs[f"codebook_usage_code{i + 1}"] == pytest.approx((counts > 0).mean())
        book = np.asarray(q.codebook, np.float64)
        commitment += 0.25 * ((z[:, i] - book[seq[:, i]]) ** 2).mean()
    # The commitment terms of the three codebooks are summed.
    assert logs["commitment_loss"] == pytest.approx(commitment, rel=1e-4)
    before = logs["reconstruction_loss"]
    model.fit(x, batch_size=8, epochs=4, verbose=0)
    after = model.evaluate(x, batch_size=16, verbose=0, return_dict=True)
    assert after["reconstruction_loss"] < before


def test_greedy_decoding_is_a_fixed_point_of_the_argmax_and_saving_keeps_it(tmp_path):
    model = small_model()
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    x = maps(8)
    model.fit(x, batch_size=8, epochs=2, verbose=0)
    codes = np.asarray(model.encode_sequence(x[:4]))
    greedy = np.asarray(model.decode(codes, greedy=True))
    assert greedy.shape == (4, 6, 6) and greedy.dtype == np.int32
    # Greedy decoding takes the argmax at each position given the codes
    # chosen before it: the teacher-forced argmax of its own output is itself.
    condition = np.asarray(model.lookup(codes)).reshape(4, -1)
    forced = np.asarray(model.decoder({"codes": greedy, "condition": condition}))
    np.testing.assert_array_equal(forced.argmax(-1), greedy)
    # (Sampled decoding runs in tests/recipes/dmlab_test.py's chain.)
    loaded = run_model_saving_test(model, x, tmp_path, rtol=1e-6)
    assert loaded.level_names == model.level_names
    np.testing.assert_array_equal(np.asarray(loaded.encode_sequence(x)),
                                  np.asarray(model.encode_sequence(x)))
    again = run_serialization_test(model)
    assert [tuple(w.shape) for w in again.weights] == [tuple(w.shape) for w in model.weights]


def test_refusals():
    encoder = CodeMapEncoder(K_IN, 3, 4, 8, hidden_units=8)
    quantizers = [VectorQuantizerEMA(4, 8, name=f"q{i}") for i in range(3)]
    with pytest.raises(ValueError, match="condition_dim"):
        DMLabVQVAE(encoder, quantizers,
                   GatedPixelCNNPrior(K_IN, (6, 6), filters=8, num_layers=1, condition_dim=8))
    with pytest.raises(ValueError, match="embedding_dim"):
        DMLabVQVAE(encoder, quantizers[:2] + [VectorQuantizerEMA(5, 8)],
                   GatedPixelCNNPrior(K_IN, (6, 6), filters=8, num_layers=1,
                                      condition_dim=12))
    with pytest.raises(ValueError, match="latent_conditioning"):
        DMLabVQVAE(encoder, quantizers,
                   GatedPixelCNNPrior(K_IN, (6, 6), filters=8, num_layers=1,
                                      condition_dim=12), latent_conditioning="local")
    model = small_model()
    with pytest.raises(ValueError, match=r"integer inputs in \[0, 16\)"):
        model.encode(maps(2).astype("float32"))


def spatial_model(shape=(4, 5)):
    return DMLabVQVAE.code_map_model(
        num_embeddings=K_IN, shape=shape, embedding_dim=4, latent_num_embeddings=8,
        filters=8, hidden_units=16, decoder_filters=8, decoder_layers=2,
        spatial_channels=4, conditioning_layers=1, quantizer_kwargs=dict(seed=1))


def test_spatial_condition_keeps_causality_and_greedy_equals_naive_argmax(tmp_path):
    model = spatial_model()
    assert model.decoder.spatial_condition_shape == (4, 5, 4)
    assert not model.conditional  # the spatial map comes from the codes
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    x = maps(8, (4, 5))
    model.fit(x, batch_size=8, epochs=2, verbose=0)
    codes = np.asarray(model.encode_sequence(x[:3]))
    inputs = model._decoder_inputs(model.lookup(codes), None)
    assert tuple(inputs["spatial_condition"].shape) == (3, 4, 5, 4)

    def logits(m):
        return np.asarray(model.decoder({**inputs, "codes": m})).reshape(3, 20, K_IN)

    base = logits(x[:3])
    for p in (0, 6, 19):
        changed = x[:3].copy().reshape(3, 20)
        changed[:, p] = (changed[:, p] + 1) % K_IN
        out = logits(changed.reshape(3, 4, 5))
        np.testing.assert_allclose(out[:, :p + 1], base[:, :p + 1], rtol=1e-5, atol=1e-6)
    # Greedy decoding (the cached sampler with zero noise) against a naive
    # loop: at each raster position the full forward pass's argmax given the
    # positions chosen before.
    naive = np.zeros((3, 20), np.int32)
    for p in range(20):
        naive[:, p] = logits(naive.reshape(3, 4, 5))[:, p].argmax(-1)
    greedy = np.asarray(model.decode(codes, greedy=True))
    np.testing.assert_array_equal(greedy, naive.reshape(3, 4, 5))
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert loaded.condition_decoder is not None
    np.testing.assert_array_equal(np.asarray(loaded.decode(codes, greedy=True)), greedy)
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(model(x)), rtol=1e-6)


def test_spatial_refusals():
    from vq_zoo.models.dmlab.latent_map_decoder import LatentMapDecoder

    encoder = CodeMapEncoder(K_IN, 3, 4, 8, hidden_units=8)
    quantizers = [VectorQuantizerEMA(4, 8, name=f"q{i}") for i in range(3)]
    decoder = GatedPixelCNNPrior(K_IN, (6, 6), filters=8, num_layers=1, condition_dim=12,
                                 spatial_condition_shape=(6, 6, 4))
    with pytest.raises(ValueError, match="condition_decoder"):
        DMLabVQVAE(encoder, quantizers, decoder)
    with pytest.raises(ValueError, match=r"\(6, 6, 3\)"):
        DMLabVQVAE(encoder, quantizers, decoder,
                   condition_decoder=LatentMapDecoder((6, 6), channels=3))
    with pytest.raises(ValueError, match="`spatial_channels` must be an integer >= 0"):
        DMLabVQVAE.code_map_model(num_embeddings=K_IN, shape=(6, 6), spatial_channels=-1)
