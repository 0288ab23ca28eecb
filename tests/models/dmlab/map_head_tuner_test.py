"""MapHeadTuner: its frames are the chain's regression decoding, its frame
loss stage 1's MSE of those frames (a NumPy reference), the straight-through
gradient is the frame loss's gradient at the snapped vectors, training the
head alone keeps every other weight and the codes and lowers the frame loss
on the frames it trains on, `tune="stage2"` moves the encoder too, saving
round-trips, and the refusals."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from vq_zoo import presets
from vq_zoo.models.dmlab import DMLabVQVAE
from vq_zoo.models.dmlab import MapHeadTuner

GOLDENS = os.path.join(os.path.dirname(__file__), "..", "..", "goldens")


def stage1():
    """The golden VQ-VAE: 8x8x3 frames -> 4x4 maps of K=16."""
    return presets.load_preset(os.path.join(GOLDENS, "vqvae_tiny"))


def stage2(frame_vqvae, seed=3, map_head=True):
    k = frame_vqvae.quantizer.num_embeddings
    book = np.asarray(frame_vqvae.quantizer.lookup(np.arange(k, dtype="int32")), "float32")
    return DMLabVQVAE.code_map_model(
        num_embeddings=k, shape=(4, 4), embedding_dim=4, latent_num_embeddings=8,
        filters=8, num_downsamples=0, hidden_units=16, decoder_filters=8,
        decoder_layers=2, quantizer_kwargs=dict(seed=seed),
        map_codebook=book if map_head else None, map_weight=1.0 if map_head else 0.0)


def frames(n, seed=0):
    """Smooth random frames in [0, 1] (a gradient plus a blob), so that the
    golden stage 1 encodes them to varied maps."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:8, 0:8] / 7.0
    out = []
    for _ in range(n):
        a, b, c = rng.uniform(-1, 1, 3)
        base = 0.5 + 0.3 * (a * yy + b * xx) + 0.2 * c
        out.append(np.stack([base, base[::-1], base[:, ::-1]], -1))
    return np.clip(np.asarray(out) + rng.normal(0, 0.05, (n, 8, 8, 3)), 0, 1).astype("float32")


@pytest.fixture(scope="module")
def chain():
    vq1 = stage1()
    return vq1, stage2(vq1)


def regression_frames(vq1, vq2, x):
    maps = np.asarray(vq1.encode(x))
    codes = np.asarray(vq2.encode_sequence(maps))
    regressed = np.asarray(vq2.decode(codes, decoding="regression"))
    return maps, regressed, np.asarray(vq1.decode(regressed), np.float64)


def test_its_frames_are_the_chains_regression_decoding(chain):
    vq1, vq2 = chain
    x = frames(6)
    _, _, expected = regression_frames(vq1, vq2, x)
    np.testing.assert_allclose(np.asarray(MapHeadTuner(vq1, vq2)(x)), expected, atol=1e-5)


def test_frame_loss_and_map_accuracy_against_numpy(chain):
    vq1, vq2 = chain
    x = frames(6, seed=1)
    maps, regressed, decoded = regression_frames(vq1, vq2, x)
    variance = vq1.likelihood.get_config()["data_variance"]
    scalars, counts = MapHeadTuner(vq1, vq2, map_weight=0.5).compute_loss_terms(
        x, training=False)
    expected = ((decoded - x) ** 2).mean() / variance
    assert float(scalars["frame_loss"]) == pytest.approx(expected, rel=1e-4)
    assert float(scalars["map_accuracy"]) == pytest.approx((regressed == maps).mean())
    book = np.asarray(vq2.map_codebook, np.float64)
    vectors = np.asarray(vq2.map_vectors(vq2.lookup(vq2.encode_sequence(maps))), np.float64)
    map_loss = ((vectors - book[maps]) ** 2).sum(-1).mean() / book.var(0).sum()
    assert float(scalars["map_loss"]) == pytest.approx(map_loss, rel=1e-4)
    assert float(scalars["loss"]) == pytest.approx(expected + 0.5 * map_loss, rel=1e-4)
    assert counts == {}


def test_the_object_loss_is_stage1s_loss_over_the_object_pixels(chain):
    vq1, vq2 = chain
    x = frames(6, seed=6)
    _, _, decoded = regression_frames(vq1, vq2, x)
    variance = vq1.likelihood.get_config()["data_variance"]
    objects = np.zeros(x.shape[:3], "float32")
    objects[1, 2:4, 3:6] = 1.0
    objects[4, 0, :2] = 1.0
    per_pixel = ((decoded - x) ** 2).mean(-1) / variance
    object_loss = per_pixel[objects > 0].mean()
    tuner = MapHeadTuner(vq1, vq2, map_weight=0.0, object_weight=2.0)
    scalars, _ = tuner.compute_loss_terms((x, objects), training=False)
    assert float(scalars["frame_loss"]) == pytest.approx(per_pixel.mean(), rel=1e-4)
    assert float(scalars["object_loss"]) == pytest.approx(object_loss, rel=1e-4)
    assert float(scalars["weighted_frame_loss"]) == pytest.approx(
        per_pixel.mean() + 2.0 * object_loss, rel=1e-4)
    assert float(scalars["loss"]) == pytest.approx(float(scalars["weighted_frame_loss"]))
    # A batch without objects: the object term is 0, not a division by 0.
    empty, _ = tuner.compute_loss_terms((x, np.zeros_like(objects)), training=False)
    assert float(empty["object_loss"]) == 0.0
    # Fitting on (frames, objects) pairs logs the object terms.
    tuner.compile(optimizer=keras.optimizers.Adam(1e-3))
    logs = tuner.fit(tf.data.Dataset.from_tensor_slices((x, objects)).batch(3),
                     epochs=1, verbose=0).history
    assert {"object_loss", "weighted_frame_loss", "frame_loss"} <= set(logs)
    with pytest.raises(ValueError, match="objects"):
        tuner.compute_loss_terms(x, training=False)
    with pytest.raises(ValueError, match="objects"):
        tuner.compute_loss_terms((x, objects[:, :4, :4]), training=False)
    with pytest.raises(ValueError, match="object_weight"):
        MapHeadTuner(vq1, vq2, object_weight=-1.0)


def test_the_straight_through_gradient_is_the_frame_gradient_at_the_snapped_vectors(chain):
    vq1, vq2 = chain
    tuner = MapHeadTuner(vq1, vq2)
    x = frames(3, seed=2)
    vectors = tf.Variable(np.random.default_rng(0).normal(0, 1, (3, 4, 4, vq2.map_codebook
                                                                   .shape[1])).astype("float32"))
    with tf.GradientTape() as tape:
        params, codes = tuner.frames(vectors)
        loss = vq1.likelihood.loss(x, params)
    through = tape.gradient(loss, vectors)
    snapped = tf.Variable(np.asarray(vq2.map_codebook)[np.asarray(codes)])
    with tf.GradientTape() as tape:
        loss_at = vq1.likelihood.loss(x, vq1.decoder(snapped, training=False))
    np.testing.assert_allclose(np.asarray(through), np.asarray(tape.gradient(loss_at, snapped)),
                               rtol=1e-5, atol=1e-8)
    assert float(loss) == pytest.approx(float(loss_at), rel=1e-6)


def _weights(model):
    return {v.path: np.array(v.numpy()) for v in model.weights}


def test_training_the_head_keeps_everything_else_and_lowers_the_frame_loss():
    vq1 = stage1()
    vq2 = stage2(vq1)
    x = frames(32, seed=3)
    # The frame loss alone (map_weight 0): the head may pick any codes.
    tuner = MapHeadTuner(vq1, vq2, map_weight=0.0)
    tuner.compile(optimizer=keras.optimizers.Adam(1e-2))
    codes_before = np.asarray(vq2.encode_sequence(np.asarray(vq1.encode(x))))
    before = tuner.evaluate(x, batch_size=32, verbose=0, return_dict=True)
    head = {v.path for v in vq2.map_head.weights}
    w1, w2 = _weights(vq1), _weights(vq2)
    tuner.fit(x, batch_size=8, epochs=30, verbose=0, shuffle=False)
    after = tuner.evaluate(x, batch_size=32, verbose=0, return_dict=True)
    # (0.273 -> 0.240 when written)
    assert after["frame_loss"] < 0.92 * before["frame_loss"]
    for path, value in _weights(vq1).items():
        np.testing.assert_array_equal(value, w1[path])
    moved = {p for p, value in _weights(vq2).items() if not np.array_equal(value, w2[p])}
    assert moved and moved <= head
    np.testing.assert_array_equal(
        np.asarray(vq2.encode_sequence(np.asarray(vq1.encode(x)))), codes_before)


def test_tuning_all_of_stage2_moves_its_encoder_and_keeps_stage1():
    vq1 = stage1()
    vq2 = stage2(vq1)
    tuner = MapHeadTuner(vq1, vq2, tune="stage2")
    tuner.compile(optimizer=keras.optimizers.Adam(1e-2))
    encoder = {v.path: np.array(v.numpy()) for v in vq2.encoder.weights}
    w1 = _weights(vq1)
    logs = tuner.fit(frames(16, seed=4), batch_size=8, epochs=1, verbose=0).history
    assert {"reconstruction_loss", "commitment_loss", "frame_loss"} <= set(logs)
    assert any(not np.array_equal(v.numpy(), encoder[v.path]) for v in vq2.encoder.weights)
    for path, value in _weights(vq1).items():
        np.testing.assert_array_equal(value, w1[path])


def test_saving_round_trips(tmp_path):
    vq1 = stage1()
    tuner = MapHeadTuner(vq1, stage2(vq1), map_weight=0.25, tune="stage2",
                         object_weight=1.5)
    tuner.compile(optimizer=keras.optimizers.Adam(1e-3))
    x = frames(4, seed=5)
    tuner.fit(tf.data.Dataset.from_tensor_slices((x, np.ones(x.shape[:3], "float32")))
              .batch(4), epochs=1, verbose=0)
    path = str(tmp_path / "tuner.keras")
    tuner.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded.code_vqvae, DMLabVQVAE)
    assert (loaded.map_weight, loaded.tune, loaded.object_weight) == (0.25, "stage2", 1.5)
    np.testing.assert_array_equal(np.asarray(loaded(x)), np.asarray(tuner(x)))


def test_refusals():
    vq1 = stage1()
    with pytest.raises(ValueError, match="map head"):
        MapHeadTuner(vq1, stage2(vq1, map_head=False))
    with pytest.raises(ValueError, match="stage 1"):
        MapHeadTuner(stage2(vq1), stage2(vq1))
    with pytest.raises(ValueError, match="`tune`"):
        MapHeadTuner(vq1, stage2(vq1), tune="encoder")
    with pytest.raises(ValueError, match="map_weight"):
        MapHeadTuner(vq1, stage2(vq1), map_weight=-1.0)
    other = DMLabVQVAE.code_map_model(
        num_embeddings=8, shape=(4, 4), embedding_dim=4, latent_num_embeddings=8,
        filters=8, num_downsamples=0, hidden_units=16, decoder_filters=8, decoder_layers=2,
        map_codebook=np.eye(8, 3, dtype="float32"), map_weight=1.0)
    with pytest.raises(ValueError, match="not one chain"):
        MapHeadTuner(vq1, other)


def test_the_recipes_tensorboard_shows_the_frames_stage1_and_the_tuned_regression(tmp_path):
    """`recipes.dmlab.recipe.head_tensorboard`: one image per call, rows of
    the frames, stage 1's reconstructions and the 27-bit reconstructions
    by the map head of the model being trained (changed by training)."""
    from tests.training.events import read_run
    from vq_zoo.recipes.dmlab.recipe import head_tensorboard

    vq1 = stage1()
    vq2 = stage2(vq1)
    x = frames(4, seed=6)
    tuner = MapHeadTuner(vq1, vq2, map_weight=0.0)
    tuner.compile(optimizer=keras.optimizers.Adam(3e-2))
    board = head_tensorboard(str(tmp_path), vq1, x)
    board.set_model(tuner)
    board.write_summaries(0)
    tuner.fit(frames(16, seed=7), batch_size=8, epochs=3, verbose=0)
    board.write_summaries(3)
    images = read_run(str(tmp_path / "images"))[0]["reconstructions"]
    assert sorted(images) == [0, 3]
    # 3 rows of 4 tiles of 8x8, 1 pixel of padding around every tile.
    assert images[0].shape == (3 * 8 + 4, 4 * 8 + 5, 3)
    tile = (slice(1, 9), slice(1, 9))
    np.testing.assert_allclose(images[3][tile] / 255.0, x[0], atol=1 / 255 + 1e-6)
    _, _, decoded = regression_frames(vq1, vq2, x)
    row3 = (slice(19, 27), slice(1, 9))
    np.testing.assert_allclose(images[3][row3] / 255.0, np.clip(decoded[0], 0, 1),
                               atol=1 / 255 + 1e-6)
    assert not np.array_equal(images[0][19:], images[3][19:])  # the head moved
    np.testing.assert_array_equal(images[0][:19], images[3][:19])  # the rest did not
