"""The speech Python API refuses what it would silently get wrong (issue
23.8): integer PCM given as if it were float audio, a second channel it would
drop, `True` as a speaker; a NaN sample in a training batch is skipped like
an Inf (before: an InvalidArgumentError about codes), and audio far outside
[-1, 1] is refused by the training step instead of training silently."""

import keras
import numpy as np
import pytest

from tests.models.spectrogram.spectrogram_vqvae_test import small_model
from tests.models.vqvae.autoregressive_decoder_test import audio_model
from vq_zoo.models.wavenet.voice_conversion import reconstruct


@pytest.fixture(scope="module")
def speech():
    return small_model()


def test_reconstruct_refuses_integer_pcm_and_stereo(speech):
    pcm = (np.random.default_rng(0).uniform(-0.5, 0.5, (1, 1280)) * 32767).astype("int16")
    pcm[0, 7] = -16383  # the peak the message must name
    with pytest.raises(ValueError, match=r"float audio in \[-1, 1\], got dtype int16 "
                                         r"\(16-bit PCM: audio / 32768\)"):
        reconstruct(speech, pcm, [0])
    with pytest.raises(ValueError, match=r"peak is 16383"):
        reconstruct(speech, pcm.astype("float32"), [0])
    stereo = np.zeros((1, 1280, 2), "float32")
    with pytest.raises(ValueError, match="must be mono.*got 2 channels"):
        reconstruct(speech, stereo, [0])
    with pytest.raises(ValueError, match="NaN or infinite"):
        reconstruct(speech, np.full((1, 1280), np.nan, "float32"), [0])
    # What is accepted still works: float mono, (batch, time, 1).
    out = reconstruct(speech, (pcm / 32768.0)[..., None].astype("float32"), [1])
    assert out.shape == (1, 1280) and np.all(np.isfinite(out))


@pytest.mark.parametrize("speaker", [True, False, 1.5, "1.0", None])
def test_speaker_index_refuses_what_is_not_a_speaker(speech, speaker):
    with pytest.raises(ValueError, match="unknown speaker .*known speakers: a, b, c"):
        speech.decoder.speaker_index(speaker)


def test_speaker_index_takes_names_and_indices(speech):
    assert [speech.decoder.speaker_index(s) for s in ("b", 2, np.int64(0), "1", 2.0)] \
        == [1, 2, 0, 1, 2]


@pytest.mark.parametrize("make,length", [(small_model, 1280), (audio_model, 32)],
                         ids=["spectrogram", "wavenet"])
def test_a_nan_sample_is_skipped_like_an_inf(make, length):
    model = make()
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    rng = np.random.default_rng(0)
    x = rng.uniform(-0.5, 0.5, (4, length, 1)).astype("float32")
    speakers = np.array([0, 1, 2, 1], "int32")
    for bad in (np.inf, np.nan):
        y = x.copy()
        y[1, 5, 0] = bad
        history = model.fit(y, speakers, batch_size=4, epochs=1, verbose=0)
        assert history.history["skipped_updates"] == [1.0], bad


@pytest.mark.parametrize("make,length", [(small_model, 1280), (audio_model, 32)],
                         ids=["spectrogram", "wavenet"])
def test_training_on_unscaled_pcm_is_refused(make, length):
    model = make()
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    x = np.random.default_rng(0).uniform(-0.5, 0.5, (4, length, 1)).astype("float32")
    with pytest.raises(Exception, match=r"must be float audio in \[-1, 1\]"):
        model.fit(x * 32767, np.array([0, 1, 2, 1], "int32"), batch_size=4, epochs=1,
                  verbose=0)
