"""Configs of the speech recipe (paper section 4.3): 16 kHz audio to one
code per 64 samples, a speaker-conditioned WaveNet decoder, and a
speaker-conditioned 1D gated prior over the codes."""

import dataclasses

DATA_SOURCES = ("corpus", "tfds")


@dataclasses.dataclass(frozen=True)
class SpeechConfig:
    """A VQ-VAE + WaveNet + prior speech run.

    Data (`data`): `"corpus"`, the offline multi-speaker corpus synthesised
    by `vq_zoo.data.speech_corpus` (espeak-ng and flite voices; split by
    sentence, every speaker in every split) into `corpus_dir` ("" = the run
    dir's `corpus/`), `num_sentences` sentences per speaker; or `"tfds"`,
    tfds `vctk` (`tfds_config` mic1 or mic2, 48 kHz, resampled to
    `sample_rate`; its one `train` split is divided by utterance: the last
    `tfds_test_percent` percent for test, the same before it for
    validation). Training draws random `crop_length`-sample crops.

    Batch sizes are global (all replicas).
    """

    data: str = dataclasses.field(default="corpus", metadata={"choices": DATA_SOURCES})
    corpus_dir: str = ""
    num_sentences: int = 48
    # Comma-separated corpus speakers ("" = all 8 of speech_corpus.SPEAKERS)
    speakers: str = ""
    tfds_config: str = dataclasses.field(default="mic1",
                                         metadata={"choices": ("mic1", "mic2")})
    tfds_test_percent: int = 5
    sample_rate: int = 16000
    crop_length: int = 4096
    # VQ-VAE: 6 strided convolutions (stride 2, window 4) to one code per
    # 64 samples, K codes of embedding_dim
    num_hiddens: int = 256
    embedding_dim: int = 64
    num_embeddings: int = 512
    num_downsamples: int = 6
    commitment_cost: float = 0.25
    decay: float = 0.99
    dead_code_threshold: float = 0.0
    # WaveNet decoder: num_cycles cycles of dilation_cycle blocks (dilations
    # 1, 2, ..., 2 ** (dilation_cycle - 1))
    wavenet_filters: int = 128
    dilation_cycle: int = 10
    num_cycles: int = 3
    speaker_dim: int = 64
    learning_rate: float = 2e-4
    batch_size: int = 16
    vqvae_epochs: int = 100
    vqvae_steps_per_epoch: int = 1000
    # Speaker-conditioned 1D gated prior over prior_length codes
    prior_length: int = 64
    prior_filters: int = 128
    prior_layers: int = 10
    prior_learning_rate: float = 3e-4
    prior_batch_size: int = 64
    prior_epochs: int = 20
    prior_steps_per_epoch: int = 500
    # Report: generated clips of eval_seconds for the speaker checks
    num_eval_clips: int = 16
    eval_seconds: float = 1.0
    seed: int = 0
    # Keras dtype policy of every model the run builds: "float32",
    # "mixed_bfloat16" or "mixed_float16" (vq_zoo.pipeline.pipeline.set_precision)
    precision: str = "float32"


CONFIGS = {
    # The paper's model (section 4.3): 16 kHz, 6 strided convolutions (64x),
    # K=512, a WaveNet of 30 layers in 3 cycles of 10 (receptive field
    # 3,070 samples, 192 ms); for a machine with a GPU and VCTK.
    "paper": SpeechConfig(data="tfds"),
    # The shipped preset: about 12 minutes on 2 shared CPU cores for the
    # whole pipeline, corpus synthesis included. A WaveNet of 16 layers
    # (2 cycles of 8: receptive field 511 samples, 32 ms) with 32 channels,
    # K=128 (the corpus has 8 speakers x 36 training sentences, about 15
    # minutes of audio: 512 codes would mostly stay unused).
    "small": SpeechConfig(
        num_sentences=48, crop_length=2048, num_hiddens=64, embedding_dim=16,
        num_embeddings=128, dead_code_threshold=0.01, wavenet_filters=32,
        dilation_cycle=8, num_cycles=2, speaker_dim=16, learning_rate=2e-3,
        batch_size=8, vqvae_epochs=4, vqvae_steps_per_epoch=100,
        prior_length=64, prior_filters=32, prior_layers=6,
        prior_learning_rate=2e-3, prior_batch_size=32, prior_epochs=4,
        prior_steps_per_epoch=100, num_eval_clips=16, eval_seconds=0.5,
    ),
    # Seconds: CI runs the whole pipeline with it (3 sentences, 2 voices).
    "smoke": SpeechConfig(
        num_sentences=3, speakers="flite_slt,espeak_us_m3_p35", crop_length=512, num_hiddens=8, embedding_dim=4,
        num_embeddings=16, wavenet_filters=8, dilation_cycle=3, num_cycles=1,
        speaker_dim=4, learning_rate=2e-3, batch_size=4, vqvae_epochs=1,
        vqvae_steps_per_epoch=3, prior_length=4, prior_filters=8,
        prior_layers=2, prior_batch_size=8, prior_epochs=1,
        prior_steps_per_epoch=2, num_eval_clips=4, eval_seconds=0.05,
    ),
}


def data_dir_use(config):
    """What `--data-dir` is to this config (None: it reads none; the offline
    corpus is synthesised into `corpus_dir`)."""
    if config.data == "tfds":
        return "the tensorflow-datasets data dir holding vctk"
    return None
