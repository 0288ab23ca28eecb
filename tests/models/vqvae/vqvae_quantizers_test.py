"""VQVAE and VQVAE2 with every quantizer: training, codes, decoding, saving,
and a prior over the code maps (a residual quantizer's stage codes side by
side)."""

import keras
import numpy as np
import pytest

from tests.harness import run_model_saving_test
from tests.harness import run_serialization_test
from vq_zoo.layers.finite_scalar_quantizer import FiniteScalarQuantizer
from vq_zoo.layers.lookup_free_quantizer import LookupFreeQuantizer
from vq_zoo.layers.residual_vector_quantizer import ResidualVectorQuantizer
from vq_zoo.layers.vector_quantizer_ema import VectorQuantizerEMA
from vq_zoo.models.vqvae.vqvae import VQVAE
from vq_zoo.models.vqvae2.vqvae2 import VQVAE2

RNG = np.random.default_rng(26)
X = RNG.uniform(size=(16, 16, 16, 3)).astype("float32")

CHOICES = {
    "fsq": (dict(quantizer="fsq", quantizer_kwargs=dict(levels=(5, 4, 3))),
            FiniteScalarQuantizer, 60, 1),
    "lfq": (dict(quantizer="lfq", num_embeddings=64), LookupFreeQuantizer, 64, 1),
    "rvq": (dict(quantizer="rvq", quantizer_kwargs=dict(num_quantizers=3)),
            ResidualVectorQuantizer, 32, 3),
    "ema_options": (dict(quantizer="ema", quantizer_kwargs=dict(
        rotation_trick=True, use_cosine_similarity=True, codebook_dim=4)),
        VectorQuantizerEMA, 32, 1),
}


def small(**kwargs):
    args = dict(num_hiddens=16, num_residual_layers=1, num_residual_hiddens=8,
                embedding_dim=8, num_embeddings=32)
    args.update(kwargs)
    model = VQVAE.image_model(**args)
    model.build((None, 16, 16, 3))
    return model


@pytest.mark.parametrize("choice", sorted(CHOICES))
def test_vqvae_trains_encodes_and_decodes_with_each_quantizer(choice, tmp_path):
    kwargs, cls, k, n = CHOICES[choice]
    model = small(**kwargs)
    assert type(model.quantizer) is cls and model.quantizer.num_embeddings == k
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    history = model.fit(X, epochs=1, batch_size=8, verbose=0)
    assert np.isfinite(history.history["loss"][-1])
    codes = np.asarray(model.encode(X))
    assert codes.shape == (16, 4, 4 * n) and codes.min() >= 0 and codes.max() < k
    if n > 1:  # the stage codes of a position side by side
        np.testing.assert_array_equal(
            codes.reshape(16, 4, 4, n),
            model.quantizer.encode(model.encoder(X, training=False)))
    # Decoding the codes gives the reconstruction of the forward pass.
    np.testing.assert_allclose(model.decode(codes), model.predict(X, verbose=0), atol=1e-5)
    loaded = run_model_saving_test(model, X, tmp_path, atol=1e-6,
                                   compare=lambda m, x: m.predict(x, verbose=0))
    np.testing.assert_array_equal(np.asarray(loaded.encode(X)), codes)
    run_serialization_test(model)


def test_a_prior_models_the_residual_code_map():
    from vq_zoo.models.gated_pixelcnn.gated_pixelcnn_prior import GatedPixelCNNPrior

    model = small(quantizer="rvq", quantizer_kwargs=dict(num_quantizers=2))
    codes = np.asarray(model.encode(X))
    prior = GatedPixelCNNPrior(num_embeddings=32, shape=codes.shape[1:], filters=8,
                               num_layers=2)
    prior.compile(optimizer="adam")
    prior.fit(codes, epochs=1, batch_size=8, verbose=0)
    samples = np.asarray(prior.sample(2, seed=0))
    assert samples.shape == (2, 4, 8)
    assert model.decode(samples).shape == (2, 16, 16, 3)


def test_bad_quantizer_choices_are_refused():
    with pytest.raises(ValueError, match="`quantizer` must be one of vq, ema, fsq, lfq, rvq"):
        small(quantizer="pq")
    with pytest.raises(ValueError, match="needs `levels`"):
        small(quantizer="fsq")
    with pytest.raises(ValueError, match="quantizer='fsq' has no option `kmeans_init`"):
        small(quantizer="fsq", quantizer_kwargs=dict(levels=(4, 4), kmeans_init=True))
    model = small(quantizer="rvq", quantizer_kwargs=dict(num_quantizers=3))
    with pytest.raises(ValueError, match="must be a multiple of 3"):
        model.decode(np.zeros((1, 4, 4), "int32"))


def test_default_quantizer_is_unchanged():
    # quantizer=None keeps the paper's layer and config.
    model = small()
    assert type(model.quantizer) is VectorQuantizerEMA
    config = model.quantizer.get_config()
    assert (config["rotation_trick"], config["use_cosine_similarity"],
            config["codebook_dim"]) == (False, False, None)


@pytest.mark.parametrize("quantizer, kwargs, n", [
    ("rvq", dict(num_quantizers=2), 2),
    ("fsq", dict(levels=(4, 4, 2)), 1),
])
def test_vqvae2_with_other_quantizers(quantizer, kwargs, n, tmp_path):
    model = VQVAE2(num_hiddens=16, num_residual_layers=1, num_residual_hiddens=8,
                   embedding_dim=8, num_embeddings=32, quantizer=quantizer,
                   quantizer_kwargs=kwargs)
    model.compile(optimizer="adam")
    x = RNG.uniform(size=(4, 32, 32, 3)).astype("float32")
    model.fit(x, epochs=1, verbose=0)
    codes = {k: np.asarray(v) for k, v in model.encode(x).items()}
    assert codes["top"].shape == (4, 4, 4 * n) and codes["bottom"].shape == (4, 8, 8 * n)
    np.testing.assert_allclose(model.decode(codes), model.predict(x, verbose=0), atol=1e-5)
    # Lower levels may be left out (their mean latent).
    assert model.decode({"top": codes["top"]}).shape == x.shape
    run_serialization_test(model)
    run_model_saving_test(model, x, tmp_path, atol=1e-6,
                          compare=lambda m, x: m.predict(x, verbose=0))


def test_recipe_quantizer_fields_build_each_quantizer():
    import dataclasses

    from vq_zoo.layers.quantizer_outputs import QUANTIZER_NAMES
    from vq_zoo.recipes import common
    from vq_zoo.recipes.mnist.config import CONFIGS

    assert common.QUANTIZER_CHOICES == ("paper",) + QUANTIZER_NAMES
    smoke = CONFIGS["smoke"]
    # "paper" passes exactly what the recipes passed before the choice.
    assert common.quantizer_choice(smoke) == (
        None, dict(seed=smoke.seed, dead_code_threshold=smoke.dead_code_threshold))
    for fields, cls, check in [
        (dict(quantizer="fsq", fsq_levels="2^8"), FiniteScalarQuantizer,
         lambda q: q.levels == (8, 6, 5)),
        (dict(quantizer="rvq", num_quantizers=4, quantizer_dropout=0.5),
         ResidualVectorQuantizer,
         lambda q: q.num_quantizers == 4 and q.quantizer_dropout == 0.5),
        (dict(quantizer="lfq"), LookupFreeQuantizer, lambda q: q.num_embeddings == 16),
        (dict(quantizer="ema", rotation_trick=True, codebook_dim=4), VectorQuantizerEMA,
         lambda q: q.rotation_trick and q.codebook_dim == 4),
    ]:
        config = dataclasses.replace(smoke, **fields)
        model = common.build_vqvae(config, 0.1, (28, 28, 1))
        assert type(model.quantizer) is cls and check(model.quantizer), fields
    with pytest.raises(ValueError, match="quantizer=fsq has no codebook to search: "
                                         "use_cosine_similarity"):
        common.quantizer_choice(dataclasses.replace(
            smoke, quantizer="fsq", use_cosine_similarity=True))
