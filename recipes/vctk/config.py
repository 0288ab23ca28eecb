"""Configs of the speech recipe (paper section 4.3): a speech VQ-VAE whose
decoder is conditioned on the speaker (the paper's raw-waveform WaveNet, or
a spectrogram decoder inverted by Griffin-Lim), and a speaker-conditioned
1D gated prior over the codes."""

import dataclasses

DATA_SOURCES = ("corpus", "tfds")
DECODERS = ("wavenet", "spectrogram")


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

    Decoder (`decoder`): `"wavenet"`, the paper's: 6 strided convolutions
    to one code per 64 samples and a WaveNet over 8-bit mu-law samples
    (`wavenet_*`, `dilation_cycle`, `num_cycles`); or `"spectrogram"`: an
    encoder over log-mel frames (`num_mels`, `frame_step` samples apart,
    `frames_per_code` frames per code, `encoder_layers` convolutions) and a
    residual convolutional decoder (`decoder_filters`, `decoder_blocks`)
    from the codes and the speaker to log-magnitude STFT frames, turned
    into audio by Griffin-Lim (`griffin_lim_iters`); the codes are jittered
    in time in training (`jitter`, Chorowski et al. 2019).

    Evaluation (the `report` stage): word error rates by PocketSphinx on
    `wer_sentences` test sentences read by every speaker (originals,
    reconstructions, conversions), a speaker classifier, and speaker and
    phoneme probes on the codes (phone labels by forced alignment of
    `probe_sentences` training sentences).

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
    decoder: str = dataclasses.field(default="wavenet", metadata={"choices": DECODERS})
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
    # Spectrogram decoder (decoder="spectrogram"): STFT of fft_length every
    # frame_step samples, frames_per_code frames per code
    fft_length: int = 512
    frame_step: int = 160
    frames_per_code: int = 2
    num_mels: int = 80
    # 0: the encoder reads log-mel bands; n: their first n cepstra (MFCCs)
    num_cepstra: int = dataclasses.field(default=0, metadata={"check": "non_negative"})
    encoder_layers: int = 3
    input_normalization: str = dataclasses.field(
        default="utterance", metadata={"choices": ("utterance", "instance", "none")})
    decoder_filters: int = 128
    decoder_blocks: int = 8
    jitter: float = 0.12
    # Confusion adversary on the codes (SpeakerAdversary: its weight; 0 = none)
    adversary_weight: float = 0.0
    # Vocal tract length perturbation of the encoder's input in training:
    # each clip's frequency axis scaled by a factor in [1 - w, 1 + w]
    # (SpectrogramEncoder's frequency_warp; 0 = off)
    frequency_warp: float = 0.0
    # Content cycle of conversions (SpectrogramVQVAE's cycle_weight; 0 =
    # off; needs vocoder="world"): each batch also decoded in other voices,
    # whose WORLD envelope the encoder must read back to the same latents
    cycle_weight: float = 0.0
    # False: the cycle's gradient trains the encoder only (not the decoder)
    cycle_trains_decoder: bool = True
    # Delta loss of the spectrogram decoder (SpectrogramVQVAE's
    # delta_weight; 0 = off): the L1 error of the frame-to-frame changes of
    # its predicted frames against the target's, beside the L1 of the frames
    delta_weight: float = dataclasses.field(default=0.0, metadata={"check": "non_negative"})
    # Parallel pairs (SpectrogramVQVAE's swap_weight; 0 = off; needs
    # vocoder="world" and a corpus whose sentences several voices read):
    # each clip's codes also decoded in another voice that read the same
    # sentence must give that voice's WORLD features, DTW-aligned to the
    # clip's frames (vq_zoo.data.parallel). The paper trains no conversion.
    swap_weight: float = dataclasses.field(default=0.0, metadata={"check": "non_negative"})
    # False: the swap loss's gradient trains the decoder only (not the encoder)
    swap_trains_encoder: bool = True
    # Envelope cepstra the pairs' DTW alignment reads (runs S1-S3 of the
    # README's ninth round were aligned on 24)
    swap_alignment_cepstra: int = dataclasses.field(default=8, metadata={"check": "positive"})
    # The spectrogram decoder also reads the source's pitch contour (Polyak
    # et al. 2021): per STFT frame the speaker-normalised log F0 (YIN,
    # vq_zoo.data.pitch; each training speaker's voiced-frame mean and std)
    # and a voiced flag. Reconstructions and conversions use the source's
    # contour; prior samples borrow a training clip's (the prior models no
    # pitch).
    pitch_condition: bool = False
    # How the spectrogram decoder's frames become audio: "griffin_lim" (it
    # predicts log-magnitude STFT frames) or "world" (it predicts WORLD's
    # spectral envelope at num_bands mel-spaced frequencies and the
    # periodicity at num_aperiodicity_bands; WORLD's synthesiser makes the
    # harmonics at the source's F0, tracked by Harvest: needs
    # pitch_condition=True; vq_zoo.data.world)
    vocoder: str = dataclasses.field(default="griffin_lim",
                                     metadata={"choices": ("griffin_lim", "world")})
    num_bands: int = 80
    num_aperiodicity_bands: int = 8
    # The WORLD audio's formant postfilter: each envelope band moved this
    # many times further from its 9-band moving average (0: none;
    # vq_zoo.data.world.sharpen_envelope)
    envelope_sharpening: float = dataclasses.field(default=0.0,
                                                   metadata={"check": "non_negative"})
    # WORLD synthesis frames per decoded 10 ms frame (2: 5 ms, the frames
    # interpolated; vq_zoo.data.world.synthesize's `upsample`)
    synthesis_upsample: int = dataclasses.field(default=1, metadata={"check": "positive"})
    griffin_lim_iters: int = 32
    magnitude_power: float = 1.0
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
    # Instruments: test sentences for the recogniser (each read by every
    # speaker), training sentences aligned for the phoneme probe
    wer_sentences: int = 6
    probe_sentences: int = 12
    # TensorBoard audio every this many epochs (0: at the end of a stage)
    audio_every_n_epochs: int = dataclasses.field(default=0, metadata={"check": "non_negative"})
    seed: int = 0
    # Keras dtype policy of every model the run builds: "float32",
    # "mixed_bfloat16" or "mixed_float16" (vq_zoo.pipeline.pipeline.set_precision)
    precision: str = "float32"


CONFIGS = {
    # The paper's model (section 4.3): 16 kHz, 6 strided convolutions (64x),
    # K=512, a WaveNet of 30 layers in 3 cycles of 10 (receptive field
    # 3,070 samples, 192 ms); for a machine with a GPU and VCTK.
    "paper": SpeechConfig(data="tfds"),
    # The shipped preset (see README.md for what was tried): a decoder of
    # WORLD envelopes voiced at the source's F0, codes at 50 Hz (2 frames of 10 ms)
    # with K=32, an instance-normalised encoder, time jitter, the content
    # cycle of conversions training the encoder (cycle_weight) and the
    # decoder trained to convert on parallel pairs of the corpus (swap_weight
    # 0.5, its gradient to the decoder only); the corpus is 96 sentences x 8
    # voices (72 training sentences, about 30 minutes of audio).
    "small": SpeechConfig(
        num_sentences=96, decoder="spectrogram", crop_length=20480,
        input_normalization="instance",
        num_hiddens=128, embedding_dim=32, num_embeddings=32,
        dead_code_threshold=0.01, frames_per_code=2, decoder_filters=128,
        decoder_blocks=8, speaker_dim=64, jitter=0.12, griffin_lim_iters=64,
        pitch_condition=True, vocoder="world", envelope_sharpening=1.0,
        synthesis_upsample=2, cycle_weight=1.0, cycle_trains_decoder=False, swap_weight=0.5,
        swap_trains_encoder=False, learning_rate=1e-3,
        batch_size=16, vqvae_epochs=60, vqvae_steps_per_epoch=250,
        prior_length=64, prior_filters=64, prior_layers=8,
        prior_learning_rate=2e-3, prior_batch_size=32, prior_epochs=10,
        prior_steps_per_epoch=200, num_eval_clips=8, eval_seconds=1.28,
        wer_sentences=6, probe_sentences=12, audio_every_n_epochs=5,
    ),
    # Seconds: CI runs the whole pipeline with it (3 sentences, 2 voices).
    "smoke": SpeechConfig(
        num_sentences=3, speakers="flite_slt,espeak_us_m3_p35", decoder="spectrogram",
        crop_length=1280, num_hiddens=8, embedding_dim=4, decoder_filters=8,
        decoder_blocks=2, encoder_layers=1, num_mels=16, griffin_lim_iters=4,
        num_embeddings=16, wavenet_filters=8, dilation_cycle=3, num_cycles=1,
        speaker_dim=4, learning_rate=2e-3, batch_size=4, vqvae_epochs=1,
        vqvae_steps_per_epoch=3, prior_length=4, prior_filters=8,
        prior_layers=2, prior_batch_size=8, prior_epochs=1,
        prior_steps_per_epoch=2, num_eval_clips=4, eval_seconds=0.08,
        wer_sentences=1, probe_sentences=1,
    ),
}
# The paper's WaveNet path at smoke size (CI runs it end to end too).
CONFIGS["smoke_wavenet"] = dataclasses.replace(
    CONFIGS["smoke"], decoder="wavenet", crop_length=512, eval_seconds=0.05)


def data_dir_use(config):
    """What `--data-dir` is to this config (None: it reads none; the offline
    corpus is synthesised into `corpus_dir`)."""
    if config.data == "tfds":
        return "the tensorflow-datasets data dir holding vctk"
    return None
