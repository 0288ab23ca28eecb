"""A speech encoder over log-mel frames: audio to one latent per
`frame_step * frames_per_code` samples."""

import keras
import numpy as np
from keras import ops

from vq_zoo.utils.checks import check_choice
from vq_zoo.utils.checks import check_int
from vq_zoo.utils.checks import check_real
from vq_zoo.utils.checks import check_seed

NORMALIZATIONS = ("none", "utterance", "instance")


def pad_to_multiple(audio, multiple):
    """`audio` `(batch, time, 1)` zero-padded at the end to a multiple of
    `multiple` samples (at least one multiple)."""
    time = ops.shape(audio)[1]
    padded = ops.maximum(multiple, ((time + multiple - 1) // multiple) * multiple)
    return ops.pad(audio, [[0, 0], [0, padded - time], [0, 0]])


def log_magnitude(audio, fft_length, frame_step, floor):
    """`log(|STFT| + floor)` `(batch, time // frame_step, fft_length // 2 + 1)`
    of audio `(batch, time, 1)` whose length `frame_step` divides (centred
    Hann frames of `fft_length`; the last centred frame, past the end, is
    dropped so that frames and samples line up exactly)."""
    x = ops.cast(audio[..., 0], "float32")
    real, imag = ops.stft(x, fft_length, frame_step, fft_length, window="hann",
                          center=True)
    magnitude = ops.sqrt(real * real + imag * imag)
    return ops.log(magnitude[:, :-1] + floor)


def warp_frequencies(magnitude, warp):
    """`magnitude` `(batch, frames, bins)` read at each bin times its
    clip's factor `warp` `(batch,)`: linear interpolation between the two
    nearest bins, the last bin past the top."""
    bins = magnitude.shape[-1]
    warp = ops.cast(ops.convert_to_tensor(warp), "float32")
    pos = ops.minimum(ops.arange(bins, dtype="float32")[None, :] * warp[:, None],
                      float(bins - 1))
    lo = ops.floor(pos)
    frac = (pos - lo)[..., None]
    lo = ops.cast(lo, "int32")
    hi = ops.minimum(lo + 1, bins - 1)
    # (batch, out bin, source bin): each output bin's weights on the sources.
    weights = ops.one_hot(lo, bins) * (1.0 - frac) + ops.one_hot(hi, bins) * frac
    return ops.matmul(magnitude, ops.transpose(weights, (0, 2, 1)))


def dct_matrix(size, num):
    """The orthonormal DCT-II `(size, num)`: `x @ dct_matrix(size, num)` is
    the first `num` coefficients of the DCT of `x`'s last axis."""
    n = np.arange(size)[:, None]
    k = np.arange(num)[None, :]
    basis = np.cos(np.pi * (2 * n + 1) * k / (2 * size)) * np.sqrt(2.0 / size)
    basis[:, 0] /= np.sqrt(2.0)
    return basis.astype("float32")


def instance_normalize(x, epsilon=1e-5):
    """`x` `(batch, time, channels)` with each channel of each example at
    zero mean and unit variance over time (statistics in float32)."""
    dtype = x.dtype
    x = ops.cast(x, "float32")
    mean = ops.mean(x, axis=1, keepdims=True)
    variance = ops.mean(ops.square(x - mean), axis=1, keepdims=True)
    return ops.cast((x - mean) * ops.rsqrt(variance + epsilon), dtype)


# What a mel filter of `log_magnitude`'s STFT (Hann window of 512 at 16
# kHz) sums from speech whose WORLD envelope has amplitude 1 at its centre:
# the gain that best fits `envelope_features` of WORLD's analysis to
# `features` of the same audio (`python bench/speech_envelope_gain.py
# CORPUS --per-voice 1`, one training utterance of each of the 8 corpus
# voices: mean absolute difference 0.300 nats after the utterance
# normalisation, correlation 0.94; gains 10 / 80: 0.361 / 0.320).
ENVELOPE_GAIN = 30.0


@keras.saving.register_keras_serializable(package="vq_zoo")
class SpectrogramEncoder(keras.layers.Layer):
    """Log-mel frames of the audio, convolutions over time, one strided
    convolution to one latent per `frames_per_code` frames.

    The audio is zero-padded at the end to a multiple of `hop_length`
    (`frame_step * frames_per_code` samples), framed (centred Hann windows
    of `fft_length`, every `frame_step` samples), mapped to `num_mels`
    log-mel bands and, with `normalize="utterance"`, each band's mean over
    the clip is subtracted (cepstral mean normalisation: the clip's
    long-term spectral envelope, much of what tells speakers apart, never
    reaches the codes). Then `num_layers` convolutions (window 5, ReLU) of
    `num_hiddens` channels, one convolution of stride `frames_per_code`
    and a 1x1 convolution to `embedding_dim`.

    Shape contract: float audio `(batch, time, 1)` in [-1, 1] to latents
    `(batch, ceil(time / hop_length), embedding_dim)`.

    Args:
        num_hiddens: int, channels of the convolutions.
        embedding_dim: int, channels of the latents.
        num_layers: int, convolutions before the strided one. Defaults to 3.
        frames_per_code: int, frames per latent. Defaults to 2.
        num_mels: int, mel bands. Defaults to 80.
        fft_length: int, STFT window and FFT size. Defaults to 512.
        frame_step: int, samples between frames. Defaults to 160 (10 ms at
            16 kHz).
        sample_rate: int. Defaults to 16000.
        normalize: `"utterance"` (subtract each band's mean over the clip),
            `"instance"` (that, and instance-normalised hidden layers) or
            `"none"`. Defaults to `"utterance"`.
        floor: float added to magnitudes before the log. Defaults to 1e-2.
        num_cepstra: int, 0 to read the log-mel bands; else the first
            `num_cepstra` cepstral coefficients (orthonormal DCT-II of the
            log-mel bands: MFCCs), a smooth spectral envelope without the
            harmonics of the voice's pitch. Defaults to 0.
        frequency_warp: float in [0, 0.5), vocal tract length perturbation
            in training: each clip's magnitude spectrum is read at its
            frequencies times a factor drawn uniformly from
            `[1 - frequency_warp, 1 + frequency_warp]` (the formants of a
            shorter or longer vocal tract; linear interpolation between
            bins, the top bin repeated past the Nyquist frequency) before
            the mel bands, so the codes cannot tell voices apart by their
            formant scale. The identity at inference. Defaults to 0 (off).
        seed: int or None, seed of the warp factors.
        **kwargs: base layer arguments.

    Example:
    >>> encoder = SpectrogramEncoder(num_hiddens=8, embedding_dim=4)
    >>> tuple(encoder(keras.ops.zeros((2, 700, 1))).shape)
    (2, 3, 4)

    References:
        Chorowski, Weiss, Bengio, van den Oord. Unsupervised speech
        representation learning using WaveNet autoencoders. arXiv:1901.08810.
        Jaitly, Hinton. Vocal Tract Length Perturbation (VTLP) improves
        speech recognition. ICML 2013 workshop (the frequency warp).
    """

    def __init__(self, num_hiddens, embedding_dim, num_layers=3, frames_per_code=2,
                 num_mels=80, fft_length=512, frame_step=160, sample_rate=16000,
                 normalize="utterance", floor=1e-2, num_cepstra=0, frequency_warp=0.0,
                 seed=None, **kwargs):
        super().__init__(**kwargs)
        self.num_hiddens = check_int("num_hiddens", num_hiddens, numpy=True)
        self.embedding_dim = check_int("embedding_dim", embedding_dim, numpy=True)
        self.num_layers = check_int("num_layers", num_layers, numpy=True)
        self.frames_per_code = check_int("frames_per_code", frames_per_code, numpy=True)
        self.num_mels = check_int("num_mels", num_mels, numpy=True)
        self.fft_length = check_int("fft_length", fft_length, numpy=True)
        self.frame_step = check_int("frame_step", frame_step, numpy=True)
        self.sample_rate = check_int("sample_rate", sample_rate, numpy=True)
        self.normalize = check_choice("normalize", normalize, NORMALIZATIONS)
        if not float(floor) > 0:
            raise ValueError(f"`floor` must be > 0, got {floor!r}")
        self.floor = float(floor)
        if self.num_mels > self.fft_length // 2 + 1:
            raise ValueError(f"`num_mels` ({num_mels}) must be at most fft_length // 2 + 1 "
                             f"({self.fft_length // 2 + 1})")
        from vq_zoo.utils.audio_features import mel_filterbank

        self._mel = mel_filterbank(self.num_mels, self.fft_length, self.sample_rate)
        if isinstance(num_cepstra, bool) or not isinstance(num_cepstra, (int, np.integer)) \
                or not 0 <= num_cepstra <= self.num_mels:
            raise ValueError(f"`num_cepstra` must be an integer in [0, num_mels={self.num_mels}] "
                             f"(0: log-mel bands), got {num_cepstra!r}")
        self.num_cepstra = int(num_cepstra)
        self._dct = dct_matrix(self.num_mels, self.num_cepstra) if self.num_cepstra else None
        check_real("frequency_warp", frequency_warp, lambda v: 0.0 <= v < 0.5,
                   "a number in [0, 0.5) (the largest relative change of the frequency axis)")
        check_seed(seed)
        self.frequency_warp = float(frequency_warp)
        self.seed = seed
        # Only a warping encoder holds a seed state (older saved encoders
        # have no such variable).
        self.seed_generator = (keras.random.SeedGenerator(seed) if self.frequency_warp
                               else None)
        self.convs = [
            keras.layers.Conv1D(self.num_hiddens, 5, padding="same", activation="relu",
                                dtype=self.dtype_policy, name=f"conv{i}")
            for i in range(self.num_layers)
        ]
        self.strided = keras.layers.Conv1D(
            self.num_hiddens, 2 * self.frames_per_code, strides=self.frames_per_code,
            padding="same", activation="relu", dtype=self.dtype_policy, name="strided_conv")
        self.to_latents = keras.layers.Conv1D(self.embedding_dim, 1,
                                              dtype=self.dtype_policy, name="to_latents")

    @property
    def hop_length(self):
        """Samples per latent."""
        return self.frame_step * self.frames_per_code

    @property
    def num_bins(self):
        return self.fft_length // 2 + 1

    def log_magnitude(self, audio):
        """The decoder's targets: `log(|STFT| + floor)` of the padded audio,
        `(batch, frames_per_code * codes, num_bins)`."""
        return log_magnitude(pad_to_multiple(audio, self.hop_length), self.fft_length,
                             self.frame_step, self.floor)

    def features(self, audio, warp=None):
        """Log-mel frames `(batch, frames, num_mels)` (normalised as
        configured) of audio `(batch, time, 1)`; `warp`: None, or a factor
        per clip `(batch,)` by which its frequency axis is scaled (the
        magnitude at bin `k` is read at bin `k * warp`)."""
        x = pad_to_multiple(audio, self.hop_length)
        x = ops.cast(x[..., 0], "float32")
        real, imag = ops.stft(x, self.fft_length, self.frame_step, self.fft_length,
                              window="hann", center=True)
        magnitude = ops.sqrt(real * real + imag * imag)[:, :-1]
        if warp is not None:
            magnitude = warp_frequencies(magnitude, warp)
        return self._finish(ops.log(ops.matmul(magnitude, ops.convert_to_tensor(self._mel))
                                    + self.floor))

    def envelope_features(self, bands):
        """The features `features` reads from audio, read instead from a
        spectral envelope: `bands` `(batch, frames, num_bands)` are WORLD's
        log amplitudes (`vq_zoo.data.world.features`' first `num_bands`
        columns: nats above `world.FLOOR_DB` below full scale, at
        `num_bands` mel-spaced frequencies from 0 Hz to Nyquist), e.g. a
        WORLD decoder's output. Each mel band reads the envelope at its
        centre frequency (linear interpolation), at the amplitude its
        filter sums from a spectrum of that envelope (`ENVELOPE_GAIN`),
        then the log, cepstra and normalisation of `features`."""
        from vq_zoo.data import world
        from vq_zoo.utils.audio_features import mel_edges

        num_bands = bands.shape[-1]
        if num_bands is None or num_bands < 2:
            raise ValueError(f"`bands` must be (batch, frames, num_bands >= 2), got "
                             f"{tuple(bands.shape)}")
        centres = mel_edges(self.num_mels, 0.0, self.sample_rate / 2.0)[1:-1]
        where = world.band_frequencies(num_bands, self.sample_rate)
        # (num_bands, num_mels): column m interpolates the bands at centre m.
        weights = np.stack([np.interp(centres, where, row) for row in np.eye(num_bands)])
        log_amplitude = ops.cast(bands, "float32") + float(np.log(10.0) * -world.FLOOR_DB / 20)
        amplitude = ops.exp(ops.matmul(log_amplitude, ops.convert_to_tensor(
            weights.astype("float32")))) * ENVELOPE_GAIN
        return self._finish(ops.log(amplitude + self.floor))

    def _finish(self, mel):
        if self._dct is not None:
            mel = ops.matmul(mel, ops.convert_to_tensor(self._dct))
        if self.normalize in ("utterance", "instance"):
            mel = mel - ops.mean(mel, axis=1, keepdims=True)
        return mel

    def build(self, input_shape):
        shape = tuple(input_shape)
        if len(shape) != 3 or shape[-1] != 1:
            raise ValueError(
                f"SpectrogramEncoder expects mono audio (batch, time, 1), got {shape}")
        frames = (shape[0], None, self.num_cepstra or self.num_mels)
        for conv in self.convs:
            conv.build(frames)
            frames = (shape[0], None, self.num_hiddens)
        self.strided.build(frames)
        self.to_latents.build(frames)

    def call(self, audio, training=None):
        warp = None
        if training and self.frequency_warp:
            w = self.frequency_warp
            warp = keras.random.uniform((ops.shape(audio)[0],), 1.0 - w, 1.0 + w,
                                        seed=self.seed_generator)
        return self.from_features(self.features(audio, warp))

    def from_features(self, features):
        """Latents `(batch, ceil(frames / frames_per_code), embedding_dim)`
        of features `(batch, frames, channels)` as `features` or
        `envelope_features` give them."""
        x = ops.cast(features, self.compute_dtype)
        for conv in self.convs:
            x = self._normalized(conv(x))
        return self.to_latents(self._normalized(self.strided(x)))

    def _normalized(self, x):
        if self.normalize != "instance":
            return x
        return instance_normalize(x)

    def compute_output_shape(self, input_shape):
        time = input_shape[1]
        steps = None if time is None else max(1, -(-time // self.hop_length))
        return (input_shape[0], steps, self.embedding_dim)

    def get_config(self):
        config = super().get_config()
        config.update(num_hiddens=self.num_hiddens, embedding_dim=self.embedding_dim,
                      num_layers=self.num_layers, frames_per_code=self.frames_per_code,
                      num_mels=self.num_mels, fft_length=self.fft_length,
                      frame_step=self.frame_step, sample_rate=self.sample_rate,
                      normalize=self.normalize, floor=self.floor,
                      num_cepstra=self.num_cepstra)
        if self.frequency_warp:
            config.update(frequency_warp=self.frequency_warp, seed=self.seed)
        return config


__all__ = ["ENVELOPE_GAIN", "SpectrogramEncoder", "dct_matrix", "instance_normalize",
           "log_magnitude", "pad_to_multiple", "warp_frequencies"]
