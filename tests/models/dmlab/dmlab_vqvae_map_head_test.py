"""DMLabVQVAE's map head (`map_head`, `map_codebook`, `map_weight`): its
loss against a NumPy reference, the nearest-code decoding against brute
force, where its gradient goes, that training on it teaches the 3 codes a
map's layout (the regression decoding beats the most frequent code), saving,
and the refusals."""

import keras
import numpy as np
import pytest

from vq_zoo.models.dmlab import DMLabVQVAE

K_IN = 12
SHAPE = (6, 6)
D1 = 5


def codebook(seed=0):
    return np.random.default_rng(seed).normal(size=(K_IN, D1)).astype("float32")


def model_with(weight=1.0, book=None, seed=1):
    book = codebook() if book is None else book
    return DMLabVQVAE.code_map_model(
        num_embeddings=K_IN, shape=SHAPE, embedding_dim=4, latent_num_embeddings=8,
        filters=8, hidden_units=32, decoder_filters=8, decoder_layers=2, ema=False,
        quantizer_kwargs=dict(seed=seed), map_codebook=book, map_weight=weight)


def maps(n, seed=0):
    return np.random.default_rng(seed).integers(0, K_IN, (n,) + SHAPE).astype("int32")


def test_map_loss_is_the_normalised_squared_distance_to_the_true_vectors():
    model = model_with()
    x = maps(5)
    vq = model._quantize_latents(x, False)
    predicted = np.asarray(model.map_vectors(vq["quantized"]), np.float64)
    book = codebook().astype(np.float64)
    sq = ((predicted - book[x]) ** 2).sum(-1)
    expected = sq.mean() / book.var(0).sum()
    assert float(model.map_loss(vq["quantized"], x)) == pytest.approx(expected, rel=1e-5)
    scalars, _ = model.compute_loss_terms(x, training=False)
    assert float(scalars["map_loss"]) == pytest.approx(expected, rel=1e-5)
    total = (float(scalars["reconstruction_loss"]) + float(scalars["codebook_loss"])
             + float(scalars["commitment_loss"]) + 1.0 * expected)
    assert float(scalars["loss"]) == pytest.approx(total, rel=1e-5)


def test_nearest_codes_matches_brute_force_and_recovers_noisy_code_vectors():
    model = model_with()
    book = codebook()
    rng = np.random.default_rng(4)
    vectors = rng.normal(size=(3,) + SHAPE + (D1,)).astype("float32")
    brute = ((vectors[..., None, :] - book) ** 2).sum(-1).argmin(-1)
    np.testing.assert_array_equal(np.asarray(model.nearest_codes(vectors)), brute)
    x = maps(3, seed=2)
    # Each code's vector, moved a little less than half the way to its
    # nearest other code, still snaps back to it.
    gaps = np.sqrt(((book[:, None] - book[None]) ** 2).sum(-1) + np.eye(K_IN) * 1e9).min(1)
    noise = rng.normal(size=x.shape + (D1,))
    noise *= (0.4 * gaps[x] / np.linalg.norm(noise, axis=-1))[..., None]
    noisy = (book[x] + noise).astype("float32")
    np.testing.assert_array_equal(np.asarray(model.nearest_codes(noisy)), x)


def test_map_loss_trains_encoder_and_head_not_the_pixelcnn():
    import tensorflow as tf

    model = model_with()
    x = maps(4)
    with tf.GradientTape() as tape:
        vq = model._quantize_latents(x, True)
        loss = model.map_loss(vq["quantized"], x)
    parts = {"map_head": model.map_head, "encoder": model.encoder,
             "decoder": model.decoder}
    variables = [v for layer in parts.values() for v in layer.trainable_variables]
    grads = tape.gradient(loss, variables)
    moved = {id(v) for v, g in zip(variables, grads)
             if g is not None and float(tf.reduce_sum(tf.abs(g))) > 0}
    reached = {name for name, layer in parts.items()
               if any(id(v) in moved for v in layer.trainable_variables)}
    assert reached == {"map_head", "encoder"}, reached


def structured_maps(n, seed=0):
    """Maps fixed by 3 choices each (a background code of 4, where a column
    of code 4 is and where a row of code 8 is): 144 maps, which 3 codes of
    8 can tell apart and one most frequent code cannot."""
    rng = np.random.default_rng(seed)
    out = np.zeros((n,) + SHAPE, "int32")
    for i in range(n):
        out[i] = rng.integers(0, 4)
        out[i, :, rng.integers(0, SHAPE[1])] = 4
        out[i, rng.integers(0, SHAPE[0]), :] = 8
    return out


def test_training_on_the_head_teaches_the_codes_the_layout():
    keras.utils.set_random_seed(0)
    model = model_with(weight=3.0)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    train, test = structured_maps(512, 0), structured_maps(64, 1)
    before = float(model.compute_loss_terms(test, training=False)[0]["map_loss"])
    model.fit(train, epochs=30, batch_size=32, verbose=0)
    after = float(model.compute_loss_terms(test, training=False)[0]["map_loss"])
    decoded = np.asarray(model.decode(model.encode_sequence(test), decoding="regression"))
    accuracy = (decoded == test).mean()
    mode = np.bincount(train.ravel(), minlength=K_IN).max() / train.size
    assert after < 0.6 * before
    assert accuracy > mode + 0.2, (accuracy, mode)


def test_save_and_load_keep_the_head(tmp_path):
    model = model_with()
    x = maps(3)
    model.compute_loss_terms(x, training=False)
    codes = model.encode_sequence(x)
    path = str(tmp_path / "m.keras")
    model.save(path)
    again = keras.models.load_model(path)
    assert again.map_weight == 1.0
    np.testing.assert_array_equal(again.map_codebook, codebook())
    np.testing.assert_array_equal(np.asarray(again.decode(codes, decoding="regression")),
                                  np.asarray(model.decode(codes, decoding="regression")))
    assert "map_loss" in again.trackers


def test_refusals():
    with pytest.raises(ValueError, match="map_weight"):
        model_with(weight=0.0)
    with pytest.raises(ValueError, match="map_codebook"):
        model_with(book=np.zeros((K_IN + 1, D1), "float32"))
    with pytest.raises(ValueError, match="one vector"):
        model_with(book=np.ones((K_IN, D1), "float32"))
    with pytest.raises(ValueError, match="finite"):
        model_with(book=np.full((K_IN, D1), np.nan, "float32"))
    plain = DMLabVQVAE.code_map_model(
        num_embeddings=K_IN, shape=SHAPE, embedding_dim=4, latent_num_embeddings=8,
        filters=8, hidden_units=16, decoder_filters=8, decoder_layers=2)
    assert plain.map_head is None and "map_loss" not in plain.trackers
    with pytest.raises(ValueError, match="map_head"):
        plain.decode(plain.encode_sequence(maps(2)), decoding="regression")
    with pytest.raises(ValueError, match="map_weight"):
        DMLabVQVAE.code_map_model(num_embeddings=K_IN, shape=SHAPE, embedding_dim=4,
                                  latent_num_embeddings=8, filters=8, hidden_units=16,
                                  decoder_filters=8, decoder_layers=2, map_weight=1.0)
