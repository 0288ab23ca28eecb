"""A speaker-conditioned decoder from code latents to log-magnitude STFT
frames, turned into audio by Griffin-Lim (librosa)."""

import keras
import numpy as np
from keras import ops

from vq_zoo.utils.checks import check_int
from vq_zoo.models.spectrogram.time_jitter import TimeJitter

LIBROSA_INSTALL = "pip install 'vq_zoo[speech]' (librosa)"
VOCODERS = ("griffin_lim", "world")


@keras.saving.register_keras_serializable(package="vq_zoo")
class SpectrogramDecoder(keras.layers.Layer):
    """Code latents and a speaker to log-magnitude spectrogram frames.

    The latents (in training, jittered in time by `TimeJitter(jitter)`) go
    through a convolution (window 3), are repeated `frames_per_code` times
    (one latent per `frames_per_code` STFT frames) and pass `num_blocks`
    non-causal residual blocks (`relu -> dilated conv (window
    kernel_size) -> relu -> 1x1 conv`, dilations `1, 2, ...,
    2 ** (dilation_cycle - 1)` repeated), each block adding a projection of
    the speaker embedding to its input; a 1x1 convolution gives
    `fft_length // 2 + 1` log magnitudes per frame. With
    `pitch_condition=True` the decoder also reads the pitch contour of the
    source audio (Polyak et al. 2021), two features per STFT frame (the
    source speaker's normalised log-F0, 0 where unvoiced, and the voiced
    flag; `vq_zoo.data.pitch.normalized_contour`): they are concatenated to
    the repeated code vectors, i.e. a convolution (window 3) of them is
    added to the residual stream before the first block, so the decoder need
    not invent the prosody the codes do not carry; the speaker embedding
    renders the contour in the (target) speaker's range. The speaker is a
    condition, so the codes need not carry it: swapping it converts the
    voice. `to_audio` inverts magnitudes by Griffin-Lim (`librosa.
    griffinlim`, its fast momentum variant) with the encoder's STFT
    settings.

    Shape contract: `call(latents, speakers, pitch=None)`: float `(batch,
    codes, latent_dim)`, int `(batch,)` and (only with `pitch_condition`)
    float `(batch, codes * frames_per_code, 2)` to `(batch, codes *
    frames_per_code, fft_length // 2 + 1)`.

    Args:
        num_speakers: int, speakers of the embedding.
        filters: int, channels of the residual stream. Defaults to 128.
        num_blocks: int, residual blocks. Defaults to 8.
        dilation_cycle: int, blocks per cycle of doubling dilations.
            Defaults to 4.
        kernel_size: int, window of the dilated convolutions. Defaults to 3.
        frames_per_code: int, STFT frames per code. Defaults to 2.
        fft_length: int, the encoder's FFT size. Defaults to 512.
        frame_step: int, the encoder's samples between frames. Defaults to 160.
        sample_rate: int. Defaults to 16000.
        speaker_dim: int, size of the speaker embedding. Defaults to 64.
        speaker_names: `num_speakers` distinct names or None (`vq-zoo
            convert --speaker NAME`).
        jitter: float in [0, 1], `TimeJitter` probability in training.
            Defaults to 0.12.
        floor: float, the encoder's floor added before the log. Defaults
            to 1e-2.
        griffin_lim_iters: int, Griffin-Lim iterations. Defaults to 32.
        magnitude_power: float, magnitudes are raised to this power before
            Griffin-Lim (above 1 sharpens harmonics against the smoothing of
            a regression decoder). Defaults to 1.0.
        pitch_condition: bool, whether the decoder reads a pitch contour.
            Defaults to False.
        pitch_statistics: None, or `num_speakers` pairs `(mean, std)` of
            each training speaker's log F0 over its voiced frames (what
            `pitch_features` normalises a source's contour with).
        vocoder: "griffin_lim" (the frames are log magnitudes of the STFT,
            inverted by Griffin-Lim) or "world" (the frames are WORLD's
            envelope at `num_bands` mel-spaced frequencies and periodicity
            at `num_aperiodicity_bands`, `vq_zoo.data.world`; WORLD's
            synthesiser voices them at the contour's F0 in the target
            speaker's range: needs `pitch_condition`). Defaults to
            "griffin_lim".
        num_bands: int, envelope bands (vocoder="world"). Defaults to 80.
        num_aperiodicity_bands: int, periodicity bands (vocoder="world").
            Defaults to 8.
        envelope_sharpening: float >= 0, the formant postfilter of the
            WORLD audio (`vq_zoo.data.world.sharpen_envelope`; 0: none).
            Defaults to 0.
        synthesis_upsample: int, WORLD synthesis frames per decoded frame
            (`vq_zoo.data.world.synthesize`'s `upsample`: the frames
            interpolated to 5 ms at 2; vocoder="world"). Defaults to 1.
        sample_contours: None, or one contour `(frames, 2)` per speaker:
            what `sample_contour` gives speech without a source (prior
            samples).
        **kwargs: base layer arguments.

    Example:
    >>> decoder = SpectrogramDecoder(num_speakers=2, filters=8, num_blocks=2)
    >>> frames = decoder(keras.ops.zeros((1, 3, 4)), keras.ops.array([1]))
    >>> tuple(frames.shape)
    (1, 6, 257)

    References:
        Griffin, Lim. Signal estimation from modified short-time Fourier
        transform. IEEE TASSP 1984.
        Perraudin, Balazs, Sondergaard. A fast Griffin-Lim algorithm.
        WASPAA 2013.
        Polyak et al. Speech Resynthesis from Discrete Disentangled
        Self-Supervised Representations. arXiv:2104.00355.
    """

    def __init__(self, num_speakers, filters=128, num_blocks=8, dilation_cycle=4,
                 kernel_size=3, frames_per_code=2, fft_length=512, frame_step=160,
                 sample_rate=16000, speaker_dim=64, speaker_names=None, jitter=0.12,
                 floor=1e-2, griffin_lim_iters=32, magnitude_power=1.0, seed=None,
                 pitch_condition=False, pitch_statistics=None, vocoder="griffin_lim",
                 num_bands=80, num_aperiodicity_bands=8, sample_contours=None,
                 envelope_sharpening=0.0, synthesis_upsample=1, **kwargs):
        super().__init__(**kwargs)
        if vocoder not in VOCODERS:
            raise ValueError(f"`vocoder` must be one of {VOCODERS}, got {vocoder!r}")
        self.vocoder = vocoder
        self.num_bands = check_int("num_bands", num_bands, numpy=True)
        self.num_aperiodicity_bands = check_int("num_aperiodicity_bands",
                                                num_aperiodicity_bands, numpy=True)
        if not float(envelope_sharpening) >= 0:
            raise ValueError(f"`envelope_sharpening` must be >= 0, got {envelope_sharpening!r}")
        if envelope_sharpening and vocoder != "world":
            raise ValueError("`envelope_sharpening` is for vocoder='world' only")
        self.envelope_sharpening = float(envelope_sharpening)
        from vq_zoo.data.world import check_upsample

        self.synthesis_upsample = check_upsample(synthesis_upsample, frame_step,
                                                 "synthesis_upsample")
        if self.synthesis_upsample != 1 and vocoder != "world":
            raise ValueError("`synthesis_upsample` is for vocoder='world' only")
        if vocoder == "world" and not pitch_condition:
            raise ValueError("vocoder='world' needs pitch_condition=True: the vocoder makes "
                             "its harmonics at the source contour's F0")
        self.num_speakers = check_int("num_speakers", num_speakers, numpy=True)
        self.filters = check_int("filters", filters, numpy=True)
        self.num_blocks = check_int("num_blocks", num_blocks, numpy=True)
        self.dilation_cycle = check_int("dilation_cycle", dilation_cycle, numpy=True)
        self.kernel_size = check_int("kernel_size", kernel_size, numpy=True)
        self.frames_per_code = check_int("frames_per_code", frames_per_code, numpy=True)
        self.fft_length = check_int("fft_length", fft_length, numpy=True)
        self.frame_step = check_int("frame_step", frame_step, numpy=True)
        self.sample_rate = check_int("sample_rate", sample_rate, numpy=True)
        self.speaker_dim = check_int("speaker_dim", speaker_dim, numpy=True)
        self.griffin_lim_iters = check_int("griffin_lim_iters", griffin_lim_iters, numpy=True)
        if not float(magnitude_power) > 0:
            raise ValueError(f"`magnitude_power` must be > 0, got {magnitude_power!r}")
        self.magnitude_power = float(magnitude_power)
        if not float(floor) > 0:
            raise ValueError(f"`floor` must be > 0, got {floor!r}")
        self.floor = float(floor)
        if speaker_names is not None:
            speaker_names = tuple(str(s) for s in speaker_names)
            if len(speaker_names) != self.num_speakers or \
                    len(set(speaker_names)) != self.num_speakers:
                raise ValueError(
                    f"`speaker_names` must be {self.num_speakers} distinct names (one per "
                    f"speaker of `num_speakers`), got {len(speaker_names)}")
        self.speaker_names = speaker_names
        self.seed = seed
        if not isinstance(pitch_condition, (bool, np.bool_)):
            raise ValueError(f"`pitch_condition` must be a bool, got {pitch_condition!r}")
        self.pitch_condition = bool(pitch_condition)
        if pitch_statistics is not None:
            stats = np.asarray(pitch_statistics, np.float64)
            if stats.shape != (self.num_speakers, 2) or not np.all(np.isfinite(stats)) \
                    or not np.all(stats[:, 1] > 0):
                raise ValueError(
                    f"`pitch_statistics` must be {self.num_speakers} pairs (mean, std > 0) "
                    f"of log F0, one per speaker, got shape {stats.shape}")
            if not self.pitch_condition:
                raise ValueError("`pitch_statistics` is only for a decoder with "
                                 "pitch_condition=True")
            pitch_statistics = tuple((float(m), float(d)) for m, d in stats)
        self.pitch_statistics = pitch_statistics
        if sample_contours is not None:
            if not self.pitch_condition or len(sample_contours) != self.num_speakers:
                raise ValueError(f"`sample_contours` must be {self.num_speakers} contours (one "
                                 "per speaker) of a decoder with pitch_condition=True")
            checked = []
            for c in sample_contours:
                c = np.asarray(c, np.float32)
                if c.ndim != 2 or c.shape[1] != 2 or len(c) == 0 or not np.all(np.isfinite(c)):
                    raise ValueError(f"each of `sample_contours` must be (frames >= 1, 2) "
                                     f"finite, got shape {c.shape}")
                checked.append(c)
            sample_contours = checked
        self.sample_contours = sample_contours
        self.pitch_conv = keras.layers.Conv1D(
            self.filters, 3, padding="same", dtype=self.dtype_policy,
            name="pitch_conv") if self.pitch_condition else None
        self.jitter = TimeJitter(jitter, seed=seed, dtype=self.dtype_policy, name="jitter")
        self.dilation_rates = tuple(2 ** (i % self.dilation_cycle)
                                    for i in range(self.num_blocks))
        self.speaker_embedding = keras.layers.Embedding(
            self.num_speakers, self.speaker_dim, dtype=self.dtype_policy,
            name="speaker_embedding")
        self.input_conv = keras.layers.Conv1D(self.filters, 3, padding="same",
                                              dtype=self.dtype_policy, name="input_conv")
        self.speaker_projections = [
            keras.layers.Dense(self.filters, dtype=self.dtype_policy, name=f"speaker{i}")
            for i in range(self.num_blocks)]
        self.dilated_convs = [
            keras.layers.Conv1D(self.filters, self.kernel_size, padding="same",
                                dilation_rate=d, dtype=self.dtype_policy, name=f"conv{i}")
            for i, d in enumerate(self.dilation_rates)]
        self.mix_convs = [
            keras.layers.Conv1D(self.filters, 1, dtype=self.dtype_policy, name=f"mix{i}")
            for i in range(self.num_blocks)]
        self.output_conv = keras.layers.Conv1D(self.num_bins, 1, dtype=self.dtype_policy,
                                               name="output_conv")

    # ---------------------------------------------------------- facts
    @property
    def num_bins(self):
        """Values per output frame: log magnitudes of the STFT bins
        (Griffin-Lim), or WORLD's envelope and periodicity bands."""
        if self.vocoder == "world":
            return self.num_bands + self.num_aperiodicity_bands
        return self.fft_length // 2 + 1

    @property
    def tracker(self):
        """The pitch tracker of this decoder's contours (`vq_zoo.data.pitch.
        track`): WORLD's Harvest for vocoder="world", YIN otherwise."""
        return "harvest" if self.vocoder == "world" else "yin"

    @property
    def hop_length(self):
        """Samples per code."""
        return self.frame_step * self.frames_per_code

    @property
    def num_classes(self):
        return self.num_speakers

    @property
    def receptive_field_frames(self):
        """STFT frames each output frame depends on (the jitter aside)."""
        return 1 + 2 * self.frames_per_code + sum(
            (self.kernel_size - 1) * d for d in self.dilation_rates)

    def speaker_index(self, speaker):
        """The index of `speaker` (a name of `speaker_names` or an index); a
        ValueError listing the known speakers otherwise."""
        from vq_zoo.utils.checks import speaker_index

        return speaker_index(speaker, self.speaker_names, self.num_speakers)

    # ---------------------------------------------------------- forward
    def pitch_features(self, f0, voiced, source_speaker):
        """The pitch condition `(frames, 2)` of one source clip: its F0
        `(frames,)` in Hz and voiced flags, normalised with the statistics
        of `source_speaker` (an index or a name; `pitch_statistics`)."""
        from vq_zoo.data.pitch import normalized_contour

        if not self.pitch_condition or self.pitch_statistics is None:
            raise ValueError("this decoder has no pitch statistics (pitch_condition="
                             f"{self.pitch_condition}, pitch_statistics=None)")
        mean, std = self.pitch_statistics[self.speaker_index(source_speaker)]
        return normalized_contour(f0, voiced, mean, std)

    def contour_of(self, audio, source_speaker=None):
        """The pitch condition `(frames, 2)` of one clip `(samples,)` whose
        length is a multiple of `hop_length` (one row per STFT frame): its F0
        by this decoder's tracker (Harvest for vocoder="world", YIN
        otherwise), normalised by `source_speaker`'s statistics (a name or an
        index), or by the clip's own voiced log-F0 mean and spread where
        `source_speaker` is None (a voice from outside the training set)."""
        from vq_zoo.data import pitch as pitch_lib

        audio = np.asarray(audio, np.float64).reshape(-1)
        f0, voiced = pitch_lib.track(audio, self.sample_rate, self.frame_step, self.tracker)
        frames = audio.size // self.frame_step
        f0, voiced = f0[:frames], voiced[:frames]
        if source_speaker is not None:
            return self.pitch_features(f0, voiced, source_speaker)
        logs = np.log(f0[voiced])
        mean, std = (logs.mean(), max(logs.std(), 1e-3)) if logs.size > 1 else (0.0, 1.0)
        return pitch_lib.normalized_contour(f0, voiced, mean, std)

    def sample_contour(self, speaker, frames):
        """A contour `(frames, 2)` for speech of `speaker` that has no source
        (prior samples: the prior models no pitch): the speaker's stored
        contour (`sample_contours`, a training utterance's), repeated to
        `frames`."""
        if self.sample_contours is None:
            raise ValueError("this decoder stores no sample contours: speech without a "
                             "source needs one (pass `pitch`)")
        c = self.sample_contours[self.speaker_index(speaker)]
        return np.resize(c, (frames, 2)) if len(c) < frames else c[:frames].copy()

    def sample_pitch(self, speakers, num_codes):
        """The pitch conditions `(len(speakers), num_codes * frames_per_code,
        2)` of source-free speech by `speakers` (`sample_contour` of each)."""
        frames = num_codes * self.frames_per_code
        return np.stack([self.sample_contour(s, frames) for s in speakers])

    def f0_of(self, pitch, speakers):
        """F0 in Hz `(batch, frames)` (0 where unvoiced) of pitch conditions
        `(batch, frames, 2)` spoken by `speakers` (int `(batch,)`): each
        normalised log F0 rendered in its speaker's range (`pitch_statistics`),
        so a conversion speaks the source's intonation at the target's pitch."""
        if self.pitch_statistics is None:
            raise ValueError("this decoder has no pitch statistics (pitch_statistics=None): "
                             "it cannot turn a contour into F0")
        pitch = np.asarray(pitch, np.float64)
        stats = np.asarray(self.pitch_statistics)[np.asarray(speakers, "int64").reshape(-1)]
        f0 = np.exp(stats[:, :1] + stats[:, 1:] * pitch[..., 0])
        return np.where(pitch[..., 1] > 0.5, f0, 0.0)

    def _check_pitch(self, pitch, frames):
        if not self.pitch_condition:
            if pitch is not None:
                raise ValueError("this SpectrogramDecoder has pitch_condition=False: "
                                 "pass no `pitch`")
            return None
        if pitch is None:
            raise ValueError(
                "this SpectrogramDecoder is conditioned on the source's pitch contour "
                "(pitch_condition=True): pass `pitch` (batch, frames, 2)")
        if len(pitch.shape) != 3 or pitch.shape[2] != 2 or (
                frames is not None and pitch.shape[1] is not None
                and pitch.shape[1] != frames):
            raise ValueError(f"`pitch` must be (batch, {frames}, 2) (normalised log F0, "
                             f"voiced: one row per STFT frame), got {tuple(pitch.shape)}")
        return pitch

    def build(self, latents_shape, speakers_shape=None, pitch_shape=None):
        latent_shape = tuple(latents_shape)
        if len(latent_shape) != 3:
            raise ValueError(f"SpectrogramDecoder expects latents (batch, codes, dim), got "
                             f"{latent_shape}")
        self.jitter.build(latent_shape)
        self.speaker_embedding.build((None,))
        self.input_conv.build(latent_shape)
        frames = (None, None, self.filters)
        for proj, conv, mix in zip(self.speaker_projections, self.dilated_convs,
                                   self.mix_convs):
            proj.build((None, self.speaker_dim))
            conv.build(frames)
            mix.build(frames)
        self.output_conv.build(frames)
        if self.pitch_conv is not None:
            self.pitch_conv.build((None, None, 2))

    def call(self, latents, speakers, pitch=None, training=None):
        codes = latents.shape[1]
        pitch = self._check_pitch(
            pitch, None if codes is None else codes * self.frames_per_code)
        x = self.jitter(latents, training=training)
        x = self.input_conv(x)
        if self.frames_per_code > 1:
            x = ops.repeat(x, self.frames_per_code, axis=1)
        if pitch is not None:
            # Concatenating the contour to the code vectors before a linear
            # map is adding a linear map of it.
            x = x + self.pitch_conv(ops.cast(pitch, x.dtype))
        speaker = self.speaker_embedding(ops.cast(speakers, "int32"))
        for proj, conv, mix in zip(self.speaker_projections, self.dilated_convs,
                                   self.mix_convs):
            h = ops.relu(x + proj(speaker)[:, None, :])
            x = x + mix(ops.relu(conv(h)))
        return self.output_conv(ops.relu(x))

    def compute_output_shape(self, latents_shape, speakers_shape=None, pitch_shape=None):
        latent_shape = latents_shape
        codes = latent_shape[1]
        frames = None if codes is None else codes * self.frames_per_code
        return (latent_shape[0], frames, self.num_bins)

    # ---------------------------------------------------------- audio
    def to_audio(self, log_magnitudes, seed=0, f0=None):
        """Float32 audio `(batch, frames * frame_step)` from the decoder's
        frames `(batch, frames, num_bins)`: log magnitudes by Griffin-Lim, or
        (vocoder="world") WORLD features by WORLD's synthesiser at `f0`
        (Hz `(batch, frames)`, 0 where unvoiced: `f0_of`)."""
        if self.vocoder == "world":
            return self._world_audio(log_magnitudes, f0)
        try:
            import librosa
        except ImportError:
            raise ImportError(f"decoding spectrograms to audio needs librosa: "
                              f"{LIBROSA_INSTALL}") from None
        frames = np.asarray(log_magnitudes, np.float64)
        if frames.ndim != 3 or frames.shape[2] != self.num_bins:
            raise ValueError(f"`log_magnitudes` must be (batch, frames, {self.num_bins}), got "
                             f"{frames.shape}")
        magnitude = np.maximum(np.exp(frames) - self.floor, 0.0) ** self.magnitude_power
        out = []
        for i, m in enumerate(magnitude):
            # The encoder's last centred frame was dropped: add it back (a
            # copy) so the centred inverse spans every sample.
            m = np.concatenate([m, m[-1:]], axis=0).T
            audio = librosa.griffinlim(
                m, n_iter=self.griffin_lim_iters, hop_length=self.frame_step,
                win_length=self.fft_length, n_fft=self.fft_length, window="hann",
                center=True, length=frames.shape[1] * self.frame_step,
                random_state=np.random.RandomState(None if seed is None else seed + i))
            out.append(audio)
        return _limit_peaks(np.stack(out).astype(np.float32))

    def _world_audio(self, frames, f0):
        from vq_zoo.data import world

        frames = np.asarray(frames, np.float64)
        if frames.ndim != 3 or frames.shape[2] != self.num_bins:
            raise ValueError(f"`log_magnitudes` must be (batch, frames, {self.num_bins}), got "
                             f"{frames.shape}")
        if f0 is None or np.shape(f0) != frames.shape[:2]:
            raise ValueError(f"the WORLD vocoder needs `f0` {frames.shape[:2]} (Hz per frame), "
                             f"got {None if f0 is None else np.shape(f0)}")
        out = np.stack([world.synthesize(
            world.sharpen_envelope(x, self.num_bands, self.envelope_sharpening), f,
            self.sample_rate, self.frame_step, self.num_bands, self.synthesis_upsample)
            for x, f in zip(frames, f0)])
        return _limit_peaks(out)

    def get_config(self):
        config = super().get_config()
        config.update(
            num_speakers=self.num_speakers, filters=self.filters, num_blocks=self.num_blocks,
            dilation_cycle=self.dilation_cycle, kernel_size=self.kernel_size,
            frames_per_code=self.frames_per_code, fft_length=self.fft_length,
            frame_step=self.frame_step, sample_rate=self.sample_rate,
            speaker_dim=self.speaker_dim, speaker_names=self.speaker_names,
            jitter=self.jitter.probability, floor=self.floor,
            griffin_lim_iters=self.griffin_lim_iters,
            magnitude_power=self.magnitude_power, seed=self.seed)
        if self.pitch_condition:  # absent otherwise: older configs stay as they were
            config.update(pitch_condition=True, pitch_statistics=self.pitch_statistics)
        if self.sample_contours is not None:
            config.update(sample_contours=[np.round(c, 4).tolist()
                                           for c in self.sample_contours])
        if self.vocoder != "griffin_lim":
            config.update(vocoder=self.vocoder, num_bands=self.num_bands,
                          num_aperiodicity_bands=self.num_aperiodicity_bands,
                          envelope_sharpening=self.envelope_sharpening)
            if self.synthesis_upsample != 1:  # absent otherwise: older configs stay
                config.update(synthesis_upsample=self.synthesis_upsample)
        return config


def _limit_peaks(audio):
    """Clips `(batch, time)` with peaks above 0.99 scaled down to 0.99 (the
    rest as they are): clipping is worse than a quieter file."""
    peak = np.abs(audio).max(axis=1, keepdims=True)
    return audio * np.minimum(1.0, 0.99 / np.maximum(peak, 1e-9))


__all__ = ["SpectrogramDecoder"]
