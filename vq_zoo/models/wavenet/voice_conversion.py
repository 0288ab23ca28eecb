"""Voice conversion with a speech VQ-VAE: encode an utterance to codes,
decode them with another speaker."""

import numpy as np


def is_speech_vqvae(model):
    """Whether `model` is a speech VQ-VAE: its decoder is a `WaveNetDecoder`
    (the paper's) or a `SpectrogramDecoder`, conditioned on the speaker."""
    from vq_zoo.models.spectrogram.spectrogram_decoder import SpectrogramDecoder
    from vq_zoo.models.wavenet.wavenet_decoder import WaveNetDecoder

    return isinstance(getattr(model, "decoder", None), (WaveNetDecoder, SpectrogramDecoder))


def reconstruct(vqvae, audio, speakers, seed=0, temperature=1.0):
    """Decodes the codes of `audio` (float `(batch, time)` or `(batch,
    time, 1)` at the model's rate, in [-1, 1]; integer PCM, several channels
    and NaN are refused with a ValueError) with `speakers` (int `(batch,)`):
    the input's own speakers reconstruct, others convert. A length that the
    hop does not divide is zero-padded at the end for the encoder and the
    output cropped back to `time`. A decoder conditioned on the pitch
    contour reads each clip's own (`SpectrogramDecoder.contour_of`, the F0
    normalised by the clip's own statistics: its speaker may be new), so the
    output keeps the clip's intonation in the speaker's range. Returns
    float32 `(batch, time)`."""
    from vq_zoo.utils.checks import check_mono_audio

    audio = check_mono_audio(audio)
    if len(np.asarray(speakers).reshape(-1)) != audio.shape[0]:
        raise ValueError(f"`speakers` must hold one speaker per clip ({audio.shape[0]}), "
                         f"got {len(np.asarray(speakers).reshape(-1))}")
    time = audio.shape[1]
    hop = vqvae.decoder.hop_length
    padded = np.pad(audio, [(0, 0), (0, -time % hop)])[..., None]
    codes = vqvae.encode(padded)
    extra = {}
    if getattr(vqvae.decoder, "pitch_condition", False):
        extra["pitch"] = np.stack([vqvae.decoder.contour_of(clip[:, 0]) for clip in padded])
    out = np.asarray(vqvae.decode(codes, condition=np.asarray(speakers, "int32"),
                                  seed=seed, temperature=temperature, **extra))
    return out[:, :time, 0]


def convert_file(vqvae, input_path, speaker, seed=0, temperature=1.0):
    """`(audio, sample_rate)`: the utterance in `input_path` (any sample
    rate; WAV, or any format sox reads) spoken by `speaker` (a name of the
    decoder's `speaker_names`, or an index). Raises ValueError (one line)
    for a missing or non-audio file or an unknown speaker."""
    from vq_zoo.utils.audio import read_audio, resample

    if not is_speech_vqvae(vqvae):
        raise ValueError("this model is not a speech VQ-VAE (its decoder is neither a "
                         "WaveNetDecoder nor a SpectrogramDecoder)")
    index = vqvae.decoder.speaker_index(speaker)
    audio, rate = read_audio(input_path)
    if audio.size == 0:
        raise ValueError(f"{input_path} holds no samples")
    rate_out = vqvae.decoder.sample_rate
    audio = np.clip(resample(audio, rate, rate_out), -1.0, 1.0)
    out = reconstruct(vqvae, audio[None], [index], seed=seed, temperature=temperature)
    return out[0], rate_out


__all__ = ["convert_file", "is_speech_vqvae", "reconstruct"]
