"""A training step that raises leaves every variable as it was (issue 23.2).

Each model family is trained one good step (so that it is built and its
optimizer holds state), then given a batch whose condition or inputs are out
of range. The step must raise, and every weight, codebook, EMA statistic and
optimizer slot must be bit-for-bit what it was before: an EMA codebook that
moves in the quantizer before the decoder's condition check fails would
corrupt the model a user goes on training.
"""

import keras
import numpy as np
import pytest

from tests.models.spectrogram.spectrogram_vqvae_test import small_model as speech_model
from tests.models.vqvae.autoregressive_decoder_test import audio_model
from tests.models.vqvae.autoregressive_decoder_test import code_map_model
from vq_zoo.models.gated_pixelcnn.gated_pixelcnn_prior import GatedPixelCNNPrior


def _everything(model):
    values = [np.array(v.numpy(), copy=True) for v in model.variables]
    values += [np.array(v.numpy(), copy=True) for v in model.optimizer.variables]
    return values


def _args(batch):
    return batch if isinstance(batch, tuple) else (batch,)


def _speech():
    rng = np.random.default_rng(0)
    model = speech_model()
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    audio = rng.uniform(-0.5, 0.5, (4, 1280, 1)).astype("float32")
    good = (audio, np.array([0, 1, 2, 1], "int32"))
    bad = (audio, np.array([0, 1, 5, 1], "int32"))  # 3 speakers
    return model, good, bad, r"< 3|\[0, 3\)"


def _vqvae_speaker():
    rng = np.random.default_rng(1)
    model = audio_model()
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    audio = rng.uniform(-0.5, 0.5, (4, 32, 1)).astype("float32")
    good = (audio, np.array([0, 1, 2, 0], "int32"))
    bad = (audio, np.array([0, 7, 2, 0], "int32"))  # 3 speakers
    return model, good, bad, r"< 3|\[0, 3\)"


def _vqvae_integer_inputs():
    rng = np.random.default_rng(2)
    model = code_map_model()
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    good = rng.integers(0, 16, (4, 6, 6)).astype("int32")
    bad = good.copy()
    bad[2, 3, 3] = 99  # 16 input classes
    return model, good, bad, r"< 16|\[0, 16\)"


def _prior_label():
    # Arrays are checked eagerly in `fit`; a dataset reaches the compiled step.
    import tensorflow as tf

    rng = np.random.default_rng(3)
    keras.utils.set_random_seed(3)
    model = GatedPixelCNNPrior(num_embeddings=8, shape=(4, 4), filters=8, num_layers=2,
                               num_classes=3)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    codes = rng.integers(0, 8, (4, 4, 4)).astype("int32")

    def batches(labels):
        return (tf.data.Dataset.from_tensors(
            {"codes": codes, "condition": np.array(labels, "int32")}),)

    return model, batches([0, 1, 2, 0]), batches([0, 1, 3, 0]), r"< 3|\[0, 3\)"


@pytest.mark.parametrize("make", [_speech, _vqvae_speaker, _vqvae_integer_inputs,
                                  _prior_label],
                         ids=["spectrogram_vqvae_speaker", "vqvae_wavenet_speaker",
                              "vqvae_integer_inputs", "prior_label"])
def test_a_step_that_raises_changes_no_variable(make):
    model, good, bad, message = make()
    model.fit(*_args(good), epochs=1, verbose=0)
    before = _everything(model)
    with pytest.raises(Exception, match=message):
        model.fit(*_args(bad), epochs=1, verbose=0)
    after = _everything(model)
    assert len(before) == len(after)
    changed = [v.path for v, b, a in zip(model.variables + model.optimizer.variables,
                                          before, after) if not np.array_equal(b, a)]
    assert not changed, f"a failed step changed {changed}"
