"""LatentMapDecoder: the spatial condition of the DeepMind Lab stage-2
decoder, from a few vectors to a feature map."""

import keras
import numpy as np
import pytest

from tests.harness import run_layer_test
from tests.harness import run_model_saving_test
from vq_zoo.models.dmlab.latent_map_decoder import LatentMapDecoder


def test_shapes_cropping_and_a_numpy_reference_of_the_first_layers():
    vectors = np.random.default_rng(0).normal(size=(2, 3, 4)).astype("float32")
    for shape, upsample in [((21, 21), 3), ((8, 8), 3), ((5, 7), 2), ((4, 4), 1)]:
        layer = LatentMapDecoder(shape, channels=5, hidden_units=6, upsample=upsample)
        out = np.asarray(layer(vectors))
        assert out.shape == (2,) + shape + (5,)
        assert layer.grid == tuple(-(-d // upsample) for d in shape)
    # The coarse grid is relu(relu(flat @ W1 + b1) @ W2 + b2), reshaped.
    layer = LatentMapDecoder((21, 21), channels=5, hidden_units=6)
    layer(vectors)
    w1, b1 = (np.asarray(w, np.float64) for w in layer.hidden.weights)
    w2, b2 = (np.asarray(w, np.float64) for w in layer.to_grid.weights)
    flat = vectors.reshape(2, -1).astype(np.float64)
    grid = np.maximum(np.maximum(flat @ w1 + b1, 0) @ w2 + b2, 0).reshape(2, 7, 7, 5)
    got = np.asarray(layer.to_grid(layer.hidden(flat.astype("float32"))))
    np.testing.assert_allclose(got.reshape(2, 7, 7, 5), grid, rtol=1e-5, atol=1e-6)


def test_every_output_position_depends_on_every_vector():
    layer = LatentMapDecoder((6, 6), channels=3, hidden_units=8, upsample=3)
    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(1, 3, 4)).astype("float32")
    base = np.asarray(layer(vectors))
    for i in range(3):
        other = vectors.copy()
        other[0, i] += 1.0
        changed = np.abs(np.asarray(layer(other)) - base).max(-1)
        assert changed.shape == (1, 6, 6)
        # A dense layer mixes every vector into the whole coarse grid.
        assert (changed > 0).mean() > 0.5


def test_layer_checks_and_keras_round_trip(tmp_path):
    x = np.random.default_rng(2).normal(size=(2, 3, 4)).astype("float32")
    init = dict(shape=(8, 8), channels=3, hidden_units=8, name="cond")
    layer = run_layer_test(LatentMapDecoder, init, x, expected_output_shape=(2, 8, 8, 3),
                           expected_num_trainable_weights=8,
                           expected_num_non_trainable_weights=0)
    inputs = keras.Input((3, 4))
    run_model_saving_test(keras.Model(inputs, layer(inputs)), x, tmp_path)


def test_refusals():
    with pytest.raises(ValueError, match="`shape` must be a pair"):
        LatentMapDecoder((8,), channels=3)
    with pytest.raises(ValueError, match="`channels` must be an integer >= 1"):
        LatentMapDecoder((8, 8), channels=0)
    with pytest.raises(ValueError, match="`upsample` must be an integer >= 1"):
        LatentMapDecoder((8, 8), channels=2, upsample=0)
    with pytest.raises(ValueError, match=r"\(batch, num_latents, embedding_dim\)"):
        LatentMapDecoder((8, 8), channels=2)(np.zeros((2, 12), "float32"))
