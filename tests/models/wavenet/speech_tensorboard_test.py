"""SpeechTensorBoard: audio summaries of reconstructions, conversions and
prior samples, as a real TensorBoard shows them."""

import io
import os
import wave

import keras
import numpy as np

from tests.training.tensorboard_server import tensorboard_server
from vq_zoo.models.wavenet.speech_vqvae import speech_vqvae
from vq_zoo.training.speech_tensorboard import SpeechTensorBoard


def test_audio_summaries_in_a_real_tensorboard(tmp_path):
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    model = speech_vqvae(num_speakers=2, num_hiddens=8, embedding_dim=4, num_embeddings=8,
                         num_downsamples=2, filters=8, dilation_cycle=2, num_cycles=1,
                         crop_length=64, sample_rate=8000)
    model.compile(optimizer="adam")
    rng = np.random.default_rng(0)
    x = (0.5 * np.sin(np.arange(64) / 3.0)[None, :, None]
         * rng.uniform(0.5, 1, (4, 1, 1))).astype("float32")
    spk = np.array([0, 1, 0, 1], "int32")
    prior_audio = np.zeros((1, 32, 1), "float32")
    log_dir = tmp_path / "logs"
    board = SpeechTensorBoard(str(log_dir), x[:2], spk[:2], 1 - spk[:2],
                              sample_fn=lambda m: prior_audio, sample_rate=8000)
    model.fit(x, spk, batch_size=2, epochs=1, verbose=0, callbacks=[board])
    # The originals as written: 16-bit WAVs of the clips at 8 kHz.
    events = [os.path.join(log_dir, "audio", f) for f in os.listdir(log_dir / "audio")]
    found = {}
    for path in events:
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                found[value.tag] = tf.make_ndarray(value.tensor)
    assert {"originals", "reconstructions", "conversions", "prior_samples"} <= set(found)
    with wave.open(io.BytesIO(found["originals"][0, 0])) as w:
        assert w.getframerate() == 8000
        pcm = np.frombuffer(w.readframes(w.getnframes()), "<i2") / 32767.0
    np.testing.assert_allclose(pcm, x[0, :, 0], atol=1e-4)
    with tensorboard_server(str(log_dir)) as server:
        server.wait_for_plugins(("scalars", "audio"))
        tags = server.tags("audio", {"audio": ["originals", "reconstructions",
                                               "conversions", "prior_samples"]})
        assert {"originals", "reconstructions", "conversions", "prior_samples"} <= set(
            tags["audio"])
