"""Golden presets: committed files that today's code must still load and
reproduce.

What this guards: the preset format of already published checkpoints. A
renamed constructor argument or config key (the committed config.json no
longer builds), a renamed or moved layer (the committed weights no longer
find their place: a clear error), a variable renamed, reordered or dropped
within a layer (Keras restores by position, so it may load silently into
the wrong slot: caught by the per-path weight comparison), and any change to
the forward pass, `encode`, `decode`, `log_prob` or the seeded sampler.

If such a change is intended, regenerate with
`python tests/goldens/make_goldens.py` and say in the commit that old presets
need converting. The expected arrays come from that script, run once by
hand with the code of the commit that added them; the tests never write
them.
"""

import pathlib

import keras
import numpy as np
import pytest

from tests.harness import run_preset_test
from vq_zoo import GatedPixelCNNPrior
from vq_zoo import VQVAE

HERE = pathlib.Path(__file__).resolve().parent
EXPECTED = HERE / "expected"
SAMPLE_SEED = 7  # as in make_goldens.py
SAMPLE_NUM = 3


def expected(name):
    return np.load(EXPECTED / f"{name}.npy", allow_pickle=False)


def assert_weights_by_path(model, npz_name):
    with np.load(EXPECTED / npz_name, allow_pickle=False) as saved:
        saved = dict(saved)
    prefix = model.name + "/"  # present or not depending on the build scope
    loaded = {
        w.path[len(prefix):] if w.path.startswith(prefix) else w.path:
        keras.ops.convert_to_numpy(w)
        for w in model.weights
    }
    assert sorted(loaded) == sorted(saved), (
        "variable paths changed: only in the code "
        f"{sorted(set(loaded) - set(saved))}, only in the golden "
        f"{sorted(set(saved) - set(loaded))}"
    )
    for path, value in saved.items():
        np.testing.assert_array_equal(loaded[path], value, err_msg=path)


def test_vqvae_golden_preset():
    """The tiny EMA VQVAE preset loads by `from_preset`, with every weight
    (the EMA statistics included) at its saved path, and gives the saved
    codes exactly and the saved reconstructions and decodings to 1e-5."""
    # (run_preset_test also checks that an unknown name is refused and that
    # load_weights=False builds the same architecture with other values.)
    model = run_preset_test(VQVAE, str(HERE / "vqvae_tiny"), expected("inputs"),
                            expected_output=expected("vqvae_codes"), atol=0,
                            compare=lambda m, x: m.encode(x))
    assert_weights_by_path(model, "vqvae_weights.npz")
    assert float(model.quantizer.weights[-1].numpy()) > 0  # EMA state moved
    inputs = expected("inputs")
    codes = np.asarray(model.encode(inputs))
    np.testing.assert_array_equal(codes, expected("vqvae_codes"))
    assert len(np.unique(codes)) > 4  # the check is not on a constant map
    np.testing.assert_allclose(
        model(inputs, training=False), expected("vqvae_reconstructions"),
        rtol=1e-5, atol=1e-5,
    )
    np.testing.assert_allclose(
        model.decode(codes), expected("vqvae_decoded"), rtol=1e-5, atol=1e-5
    )


def test_gated_pixelcnn_prior_golden_preset():
    """The tiny GatedPixelCNNPrior preset gives the saved logits and
    log-probabilities of the golden codes, and the saved seeded sample
    exactly."""
    prior = run_preset_test(GatedPixelCNNPrior, str(HERE / "gated_pixelcnn_prior_tiny"),
                            expected("vqvae_codes"), expected_output=expected("prior_logits"),
                            atol=1e-5, compare=lambda m, x: m(x, training=False))
    assert_weights_by_path(prior, "prior_weights.npz")
    codes = expected("vqvae_codes")
    np.testing.assert_allclose(
        prior(codes, training=False), expected("prior_logits"), rtol=1e-5, atol=1e-5
    )
    np.testing.assert_allclose(
        prior.log_prob(codes), expected("prior_log_prob"), rtol=1e-5, atol=1e-4
    )
    np.testing.assert_array_equal(
        prior.sample(SAMPLE_NUM, seed=SAMPLE_SEED), expected("prior_sample")
    )


@pytest.mark.parametrize("name", ["vqvae_tiny", "gated_pixelcnn_prior_tiny"])
def test_golden_presets_are_tiny(name):
    """The goldens stay small enough to live in the repository."""
    size = sum(f.stat().st_size for f in (HERE / name).iterdir())
    assert size < 150_000, size
