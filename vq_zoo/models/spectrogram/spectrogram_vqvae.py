"""A speech VQ-VAE over spectrograms: log-mel encoder, vector quantiser,
speaker-conditioned decoder of log magnitudes (Griffin-Lim to audio) or of
WORLD envelopes (WORLD to audio, at a pitch contour's F0)."""

import keras
import numpy as np
from keras import ops

from vq_zoo.models.quantized_model import LOSS_NAMES
from vq_zoo.models.quantized_model import QuantizedModel


@keras.saving.register_keras_serializable(package="vq_zoo")
class SpectrogramVQVAE(QuantizedModel):
    """Speech VQ-VAE whose decoder predicts spectrogram frames.

    `audio -> SpectrogramEncoder -> quantiser -> SpectrogramDecoder(codes,
    speaker) -> log|STFT|`; the reconstruction loss is the mean absolute
    error of the log magnitudes (`reconstruction_loss`, in nats), plus the
    quantiser's codebook and commitment terms. `decode` inverts the
    predicted magnitudes to audio by Griffin-Lim, so the model runs much
    faster than real time on a CPU, and its audio is as intelligible as the
    predicted spectrogram (no autoregressive decoder to learn the fine
    waveform, which the paper's WaveNet needs far more compute for).

    `fit((audio, speakers))` with audio `(batch, time, 1)` float in [-1, 1]
    and int speakers `(batch,)`; `encode(audio)` gives int32 codes
    `(batch, ceil(time / hop_length))`; `decode(codes, condition=speakers)`
    gives audio `(batch, codes * hop_length, 1)`; the speaker of `decode`
    need not be the input's (voice conversion). A decoder with
    `pitch_condition=True` also reads the source's pitch contour: batches
    are `(audio, speakers, pitch)` with pitch float `(batch, frames, 2)`
    (one row per STFT frame, `vq_zoo.data.pitch.normalized_contour`), and
    `decode(codes, condition=speakers, pitch=pitch)`. A decoder with
    `vocoder="world"` predicts WORLD's envelope and periodicity bands
    instead of log magnitudes: batches are `(audio, speakers, pitch,
    features)` with the features `(batch, frames, num_bins)` of
    `vq_zoo.data.world.features` (the loss is their mean absolute error),
    and `decode` voices the predicted frames with WORLD at the contour's F0
    in the decoding speaker's range.

    Args:
        encoder: a `SpectrogramEncoder`.
        quantizer: a `VectorQuantizer` or `VectorQuantizerEMA`.
        decoder: a `SpectrogramDecoder` with the encoder's STFT settings.
        adversary: None, or a `SpeakerAdversary` on the quantised latents.
        cycle_weight: float >= 0, weight of `cycle_loss` (logged as
            `cycle_loss`; needs `vocoder="world"`): each batch is also
            decoded in other voices and the encoder must read the same
            latents back from them, which trains conversions (the codes
            decoded with another speaker) and not only reconstructions.
            Defaults to 0 (off).
        cycle_trains_decoder: bool, whether `cycle_loss`'s gradient also
            reaches the decoder (else the encoder only). Defaults to True.
        delta_weight: float >= 0, weight of `delta_loss` (logged as
            `delta_loss`): the mean absolute error of the frames' changes
            from one frame to the next (`frames[t + 1] - frames[t]` against
            the target's), the delta features of statistical parametric
            synthesis as a loss: an L1 regression alone averages what it
            cannot place exactly in time and comes out smoother than speech.
            Defaults to 0 (off).
        swap_weight: float >= 0, weight of `swap_loss` (logged as
            `swap_loss`; needs `vocoder="world"`): batches may carry a
            fifth and sixth element, another speaker `(batch,)` and that
            speaker's WORLD features of the same sentence aligned to the
            clip's frames `(batch, frames, bins)` (a parallel corpus:
            `vq_zoo.data.parallel`); the clip's codes decoded in that voice
            (at the clip's contour) must give them (mean absolute error).
            A conversion is then trained as a reconstruction is; the paper
            trains none (its corpus is not parallel). With `cycle_weight`
            the cycle reads back this conversion (no third decoding).
            Batches without the pair log no `swap_loss` (the report's test
            evaluation). Defaults to 0 (off).
        swap_trains_encoder: bool, whether `swap_loss`'s gradient also
            reaches the encoder (else the decoder only: the codes are not
            asked to help the decoder predict the other voice, which can
            reward codes that tell it who the source is). Defaults to True.
        seed: int or None, seed of the other voices of `cycle_loss`.
        **kwargs: base `keras.Model` arguments.

    Example:
    >>> model = SpectrogramVQVAE.speech_model(num_speakers=2, num_hiddens=8,
    ...     embedding_dim=4, num_embeddings=8, filters=8, num_blocks=2,
    ...     crop_length=640)
    >>> tuple(model.encode(keras.ops.zeros((1, 640, 1))).shape)
    (1, 2)

    References:
        van den Oord, Vinyals, Kavukcuoglu. Neural Discrete Representation
        Learning. arXiv:1711.00937.
        Chorowski et al. Unsupervised speech representation learning using
        WaveNet autoencoders. arXiv:1901.08810.
        Zhu, Park, Isola, Efros. Unpaired image-to-image translation using
        cycle-consistent adversarial networks. arXiv:1703.10593 (a cycle
        back to the source's content, here in the encoder's latent space).
    """

    conditional = True
    autoregressive = False

    def __init__(self, encoder, quantizer, decoder, adversary=None, cycle_weight=0.0,
                 cycle_trains_decoder=True, seed=None, delta_weight=0.0, swap_weight=0.0,
                 swap_trains_encoder=True, **kwargs):
        super().__init__(**kwargs)
        from vq_zoo.utils.checks import check_bool
        from vq_zoo.utils.checks import check_real
        from vq_zoo.utils.checks import check_seed

        check_real("cycle_weight", cycle_weight, lambda v: v >= 0.0, "a number >= 0")
        check_real("delta_weight", delta_weight, lambda v: v >= 0.0, "a number >= 0")
        self.delta_weight = float(delta_weight)
        check_real("swap_weight", swap_weight, lambda v: v >= 0.0, "a number >= 0")
        self.swap_weight = float(swap_weight)
        check_bool("swap_trains_encoder", swap_trains_encoder)
        self.swap_trains_encoder = bool(swap_trains_encoder)
        if self.swap_weight and decoder.vocoder != "world":
            raise ValueError(f"swap_weight={swap_weight} compares WORLD features of another "
                             f"voice: it needs vocoder='world', got {decoder.vocoder!r}")
        check_seed(seed)
        self.cycle_weight = float(cycle_weight)
        check_bool("cycle_trains_decoder", cycle_trains_decoder)
        self.cycle_trains_decoder = bool(cycle_trains_decoder)
        self.seed = seed
        if self.cycle_weight and decoder.vocoder != "world":
            raise ValueError(f"cycle_weight={cycle_weight} re-encodes the decoder's WORLD "
                             f"envelope: it needs vocoder='world', got {decoder.vocoder!r}")
        if self.cycle_weight and decoder.num_speakers < 2:
            raise ValueError(f"cycle_weight={cycle_weight} converts each clip to another "
                             f"voice: it needs at least 2 speakers, got "
                             f"{decoder.num_speakers}")
        # Only a cycle-trained model holds a seed state (older saved models
        # have no such variable).
        self.seed_generator = (keras.random.SeedGenerator(seed) if self.cycle_weight
                               else None)
        for name in ("frame_step", "fft_length", "frames_per_code", "floor"):
            if getattr(encoder, name) != getattr(decoder, name):
                raise ValueError(
                    f"The encoder's `{name}` ({getattr(encoder, name)}) and the decoder's "
                    f"({getattr(decoder, name)}) must be equal")
        if encoder.sample_rate != decoder.sample_rate:
            raise ValueError(f"The encoder's `sample_rate` ({encoder.sample_rate}) and the "
                             f"decoder's ({decoder.sample_rate}) must be equal")
        if quantizer.embedding_dim != encoder.embedding_dim:
            raise ValueError(f"The quantizer's `embedding_dim` ({quantizer.embedding_dim}) "
                             f"must equal the encoder's ({encoder.embedding_dim})")
        if adversary is not None and adversary.num_speakers != decoder.num_speakers:
            raise ValueError(f"The adversary's `num_speakers` ({adversary.num_speakers}) "
                             f"must equal the decoder's ({decoder.num_speakers})")
        self.encoder = encoder
        self.quantizer = quantizer
        self.decoder = decoder
        self.adversary = adversary
        self._init_levels(("codes",), [quantizer])
        extras = (("speaker_adversary_loss",) if adversary is not None else ()) + (
            ("cycle_loss",) if self.cycle_weight else ()) + (
            ("delta_loss",) if self.delta_weight else ()) + (
            ("swap_loss",) if self.swap_weight else ())
        if extras:
            self._init_trackers(LOSS_NAMES + extras + ("perplexity",),
                                {"codebook_usage": quantizer.num_embeddings})

    @classmethod
    def speech_model(cls, num_speakers, num_hiddens=128, embedding_dim=32,
                     num_embeddings=64, encoder_layers=3, frames_per_code=2, num_mels=80,
                     fft_length=512, frame_step=160, sample_rate=16000,
                     normalize="utterance", filters=128, num_blocks=8, dilation_cycle=4,
                     speaker_dim=64, speaker_names=None, jitter=0.12,
                     griffin_lim_iters=32, magnitude_power=1.0, commitment_cost=0.25,
                     ema=True, decay=0.99, crop_length=None, quantizer_kwargs=None,
                     seed=None, adversary_weight=0.0, adversary_hidden=128, num_cepstra=0,
                     pitch_condition=False, pitch_statistics=None, vocoder="griffin_lim",
                     num_bands=80, num_aperiodicity_bands=8, sample_contours=None,
                     envelope_sharpening=0.0, frequency_warp=0.0, cycle_weight=0.0,
                     cycle_trains_decoder=True, synthesis_upsample=1, delta_weight=0.0,
                     swap_weight=0.0, swap_trains_encoder=True):
        """The model from its sizes, built for `crop_length` samples
        (default one code); uncompiled."""
        from vq_zoo.layers.vector_quantizer import VectorQuantizer
        from vq_zoo.layers.vector_quantizer_ema import VectorQuantizerEMA
        from vq_zoo.models.spectrogram.spectrogram_decoder import SpectrogramDecoder
        from vq_zoo.models.spectrogram.spectrogram_encoder import SpectrogramEncoder
        from vq_zoo.models.spectrogram.speaker_adversary import SpeakerAdversary

        quantizer_kwargs = dict(quantizer_kwargs or {})
        if ema:
            quantizer = VectorQuantizerEMA(embedding_dim, num_embeddings,
                                           commitment_cost=commitment_cost, decay=decay,
                                           name="quantizer", **quantizer_kwargs)
        else:
            quantizer = VectorQuantizer(embedding_dim, num_embeddings,
                                        commitment_cost=commitment_cost, name="quantizer",
                                        **quantizer_kwargs)
        model = cls(
            SpectrogramEncoder(num_hiddens, embedding_dim, encoder_layers, frames_per_code,
                               num_mels, fft_length, frame_step, sample_rate, normalize,
                               num_cepstra=num_cepstra, frequency_warp=frequency_warp,
                               seed=seed, name="encoder"),
            quantizer,
            SpectrogramDecoder(num_speakers, filters, num_blocks, dilation_cycle,
                               frames_per_code=frames_per_code, fft_length=fft_length,
                               frame_step=frame_step, sample_rate=sample_rate,
                               speaker_dim=speaker_dim, speaker_names=speaker_names,
                               jitter=jitter, griffin_lim_iters=griffin_lim_iters,
                               magnitude_power=magnitude_power, seed=seed,
                               pitch_condition=pitch_condition,
                               pitch_statistics=pitch_statistics, vocoder=vocoder,
                               num_bands=num_bands,
                               num_aperiodicity_bands=num_aperiodicity_bands,
                               sample_contours=sample_contours,
                               envelope_sharpening=envelope_sharpening,
                               synthesis_upsample=synthesis_upsample, name="decoder"),
            adversary=SpeakerAdversary(num_speakers, adversary_hidden, adversary_weight,
                                       name="adversary") if adversary_weight > 0 else None,
            cycle_weight=cycle_weight, cycle_trains_decoder=cycle_trains_decoder, seed=seed,
            delta_weight=delta_weight, swap_weight=swap_weight,
            swap_trains_encoder=swap_trains_encoder)
        model.build((None, crop_length or frame_step * frames_per_code, 1))
        return model

    @property
    def quantizers(self):
        return [self.quantizer]

    @property
    def hop_length(self):
        return self.decoder.hop_length

    # ------------------------------------------------------------- build
    def build(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) != 3 or input_shape[1] is None or input_shape[2] != 1:
            raise ValueError(f"SpectrogramVQVAE.build needs (batch, time, 1), got "
                             f"{input_shape}")
        x = ops.zeros((1,) + input_shape[1:])
        vq = self.quantizer(self.encoder(x), training=False)
        pitch = None
        if self.decoder.pitch_condition:
            frames = vq["quantized"].shape[1] * self.decoder.frames_per_code
            pitch = ops.zeros((1, frames, 2))
        self.decoder(vq["quantized"], ops.zeros((1,), "int32"), pitch=pitch, training=False)
        if self.adversary is not None:
            self.adversary(vq["quantized"])

    def _build_from_data(self, data):
        if not self.built:
            import tensorflow as tf

            x = self._unpack(data)[0]
            with tf.init_scope():
                self.build(tuple(x.shape))

    # ------------------------------------------------------------- inputs
    def _check_audio(self, x, where):
        x = ops.convert_to_tensor(x)
        dtype = keras.backend.standardize_dtype(x.dtype)
        if not dtype.startswith(("float", "bfloat")) or len(x.shape) != 3 or x.shape[2] != 1:
            raise ValueError(f"SpectrogramVQVAE.{where} expects float audio (batch, time, 1) "
                             f"in [-1, 1], got dtype {dtype} shape {tuple(x.shape)}")
        return x

    @staticmethod
    def _flat(data):
        # Keras hands `fit(x)` a tuple batch as `(batch,)`.
        if isinstance(data, (tuple, list)) and len(data) == 1 and isinstance(
                data[0], (tuple, list)):
            return data[0]
        return data

    def _unpack(self, data):
        data = self._flat(data)
        if not isinstance(data, (tuple, list)) or len(data) < 2:
            raise ValueError("SpectrogramVQVAE trains on (audio, speakers) batches: the "
                             "decoder is conditioned on the speaker")
        pitch = data[2] if len(data) > 2 else None
        if self.decoder.pitch_condition and pitch is None:
            raise ValueError("this SpectrogramVQVAE's decoder is conditioned on the pitch "
                             "(pitch_condition=True): batches must be (audio, speakers, "
                             "pitch (batch, frames, 2))")
        if not self.decoder.pitch_condition:
            pitch = None  # a sample weight, as Keras passes a third element
        target = None
        if self.decoder.vocoder == "world":
            if len(data) < 4:
                raise ValueError(
                    "this SpectrogramVQVAE predicts WORLD features (vocoder='world'): "
                    "batches must be (audio, speakers, pitch (batch, frames, 2), features "
                    f"(batch, frames, {self.decoder.num_bins})) (vq_zoo.data.world)")
            target = data[3]
        return self._check_audio(data[0], "fit"), data[1], pitch, target

    def _given_pair(self, data):
        """The batch's parallel pair `(speakers, features)` as given (its 5th
        and 6th elements), or None where it carries none or `swap_weight`
        is 0."""
        data = self._flat(data)
        if not self.swap_weight or len(data) < 6 or data[4] is None:
            return None
        return data[4], data[5]

    def _swap_pair(self, data, frames):
        """`(speakers, features)` of a batch's parallel pair (`swap_weight`),
        or None where the batch carries none."""
        pair = self._given_pair(data)
        if pair is None:
            return None
        features = ops.cast(ops.convert_to_tensor(pair[1]), "float32")
        if tuple(features.shape[1:]) != tuple(frames.shape[1:]):
            raise ValueError(f"the parallel pair's WORLD features (the batch's sixth element) "
                             f"must be (batch, {frames.shape[1]}, {frames.shape[2]}) (the "
                             f"other voice aligned to the clip's frames), got "
                             f"{tuple(features.shape)}")
        return ops.cast(ops.convert_to_tensor(pair[0]), "int32"), features

    def _batch_ranges(self, data):
        speakers = ops.convert_to_tensor(self._unpack(data)[1])
        ranges = [(speakers, self.decoder.num_speakers, "speakers")]
        pair = self._given_pair(data)
        if pair is not None:
            ranges.append((ops.convert_to_tensor(pair[0]), self.decoder.num_speakers,
                           "swap pair speakers (the fifth batch element)"))
        return ranges

    def _batch_assertions(self, data):
        from vq_zoo.utils.checks import audio_peak_assertions

        return super()._batch_assertions(data) + audio_peak_assertions(self._unpack(data)[0])

    # ------------------------------------------------------------- forward
    def _forward(self, x, speakers, training, pitch=None):
        vq = self.quantizer(self.encoder(x, training=training), training=training)
        if pitch is not None:
            pitch = ops.convert_to_tensor(pitch)
        frames = self.decoder(vq["quantized"], speakers, pitch=pitch, training=training)
        return vq, frames

    def compute_loss_terms(self, data, training):
        x, speakers, pitch, target = self._unpack(data)
        vq, frames = self._forward(x, speakers, training, pitch)
        if target is None:
            target = self.encoder.log_magnitude(x)
        else:
            target = ops.cast(ops.convert_to_tensor(target), "float32")
            if tuple(target.shape[1:]) != tuple(frames.shape[1:]):
                raise ValueError(f"the WORLD features of a batch must be (batch, "
                                 f"{frames.shape[1]}, {frames.shape[2]}) (one row per STFT "
                                 f"frame), got {tuple(target.shape)}")
        frames = ops.cast(frames, "float32")
        reconstruction = ops.mean(ops.abs(frames - target))
        scalars, counts = self._vq_scalars(reconstruction, [vq])
        if self.delta_weight:
            delta = ops.mean(ops.abs((frames[:, 1:] - frames[:, :-1])
                                     - (target[:, 1:] - target[:, :-1])))
            scalars["delta_loss"] = delta
            scalars["loss"] = scalars["loss"] + self.delta_weight * delta
        if self.adversary is not None:
            classifier, confusion = self.adversary.losses_of(vq["quantized"], speakers)
            scalars["speaker_adversary_loss"] = classifier
            scalars["loss"] = scalars["loss"] + classifier + confusion
        pair = self._swap_pair(data, frames)
        converted = None
        if pair is not None:
            latents = vq["quantized"]
            if not self.swap_trains_encoder:
                latents = ops.stop_gradient(latents)
            converted = self.decoder(latents, pair[0], pitch=pitch, training=training)
            swap = ops.mean(ops.abs(ops.cast(converted, "float32") - pair[1]))
            scalars["swap_loss"] = swap
            scalars["loss"] = scalars["loss"] + self.swap_weight * swap
        if self.cycle_weight:
            cycle = self.cycle_loss(vq["quantized"], speakers, pitch, training,
                                    converted=converted)
            scalars["cycle_loss"] = cycle
            scalars["loss"] = scalars["loss"] + self.cycle_weight * cycle
        return scalars, counts

    def other_speakers(self, speakers):
        """For each speaker of `speakers` `(batch,)` another, uniformly
        among the other `num_speakers - 1` (drawn from the model's seed)."""
        n = self.decoder.num_speakers
        speakers = ops.cast(ops.convert_to_tensor(speakers), "int32")
        shift = keras.random.randint(ops.shape(speakers), 1, n, dtype="int32",
                                     seed=self.seed_generator)
        return (speakers + shift) % n

    def cycle_loss(self, quantized, speakers, pitch, training=False, converted=None):
        """The content cycle of a conversion: the quantised latents
        `(batch, codes, D)` decoded in another voice (`other_speakers`, at
        the source's pitch contour), that voice's WORLD envelope read back
        by the encoder (`SpectrogramEncoder.envelope_features`), and the
        mean squared distance of its latents from the source's quantised
        ones (held fixed). Its gradient reaches the encoder (a voice must
        not change the latents), never the codebook, and, with
        `cycle_trains_decoder`, the decoder (a conversion must keep what
        the codes say; it also rewards a decoder that keeps the source's
        voice in its conversions, recipes/vctk/README.md). `converted`: the
        conversion's decoded frames where the caller has them (the parallel
        pair of `swap_weight`), else the other voices are drawn here."""
        if converted is None:
            converted = self.decoder(quantized, self.other_speakers(speakers), pitch=pitch,
                                     training=training)
        bands = ops.cast(converted, "float32")[..., :self.decoder.num_bands]
        if not self.cycle_trains_decoder:
            bands = ops.stop_gradient(bands)
        latents = self.encoder.from_features(self.encoder.envelope_features(bands))
        target = ops.stop_gradient(ops.cast(quantized, "float32"))
        return ops.mean(ops.square(ops.cast(latents, "float32") - target))

    def call(self, inputs, training=None):
        """Predicted log magnitudes `(batch, frames, bins)` of `(audio,
        speakers)`."""
        x, speakers, pitch, _ = self._unpack(inputs)
        return self._forward(x, speakers, training, pitch)[1]

    def predict_step(self, data):
        x, speakers, pitch, _ = self._unpack(data)
        return self._forward(x, speakers, False, pitch)[1]

    # ------------------------------------------------------------- codes
    def encode_levels(self, x):
        x = self._check_audio(x, "encode")
        return {"codes": self.quantizer.encode(self.encoder(x, training=False))}

    def _speakers(self, condition, num):
        if condition is None:
            raise ValueError("SpectrogramVQVAE.decode needs `condition`: the speaker of "
                             "each clip (int (batch,))")
        speakers = np.asarray(condition).reshape(-1).astype("int32")
        if speakers.shape[0] != num:
            raise ValueError(f"`condition` must hold one speaker per clip ({num}), got "
                             f"{speakers.shape[0]}")
        bad = speakers[(speakers < 0) | (speakers >= self.decoder.num_speakers)]
        if bad.size:
            raise ValueError(f"speaker {int(bad[0])} out of range: this model has "
                             f"{self.decoder.num_speakers} speakers")
        return speakers

    def decode_frames(self, indices, condition=None, pitch=None):
        """Predicted log magnitudes `(batch, codes * frames_per_code, bins)`
        of int codes `(batch, codes)` spoken by `condition` (with the pitch
        contour `pitch` `(batch, codes * frames_per_code, 2)` of the source
        where the decoder is pitch-conditioned)."""
        (indices,) = self._codes_by_level(indices)
        indices = np.asarray(indices)
        if indices.ndim != 2 or indices.shape[0] == 0 or indices.shape[1] == 0:
            raise ValueError(f"`codes` must be int (batch, steps) with batch, steps >= 1, "
                             f"got shape {indices.shape}")
        speakers = self._speakers(condition, indices.shape[0])
        frames = indices.shape[1] * self.decoder.frames_per_code
        if self.decoder.pitch_condition:
            if pitch is None:
                raise ValueError(
                    "this decoder is pitch-conditioned (pitch_condition=True): pass "
                    f"`pitch`, float ({indices.shape[0]}, {frames}, 2) = (batch, frames, "
                    "2), the source's contour (`decoder.pitch_features`: normalised "
                    "log-F0, voiced flag) for each STFT frame of the codes")
            pitch = np.asarray(pitch, np.float32)
            if pitch.shape != (indices.shape[0], frames, 2):
                raise ValueError(f"`pitch` must be ({indices.shape[0]}, {frames}, 2) (one "
                                 f"row per STFT frame of the codes), got {pitch.shape}")
            pitch = ops.convert_to_tensor(pitch)
        elif pitch is not None:
            raise ValueError("this model's decoder has pitch_condition=False: pass no "
                             "`pitch`")
        vectors = self.quantizer.lookup(ops.convert_to_tensor(indices.astype("int32")))
        return ops.convert_to_numpy(self.decoder(vectors, ops.convert_to_tensor(speakers),
                                                 pitch=pitch, training=False))

    def decode(self, indices, condition=None, seed=0, temperature=1.0, pitch=None):
        """Audio `(batch, codes * hop_length, 1)` of the codes spoken by
        `condition` (Griffin-Lim from the decoded spectrogram, seeded by
        `seed`; `temperature` is unused: nothing is sampled); `pitch`: the
        source's contour, for a pitch-conditioned decoder only."""
        frames = self.decode_frames(indices, condition, pitch)
        f0 = None
        if self.decoder.vocoder == "world":
            f0 = self.decoder.f0_of(pitch, self._speakers(condition, frames.shape[0]))
        return self.decoder.to_audio(frames, seed=seed, f0=f0)[..., None]

    # ------------------------------------------------------------ config
    def get_config(self):
        config = super().get_config()
        config.update({key: keras.saving.serialize_keras_object(getattr(self, key))
                       for key in ("encoder", "quantizer", "decoder")})
        if self.adversary is not None:
            config["adversary"] = keras.saving.serialize_keras_object(self.adversary)
        if self.cycle_weight:
            config.update(cycle_weight=self.cycle_weight, seed=self.seed,
                          cycle_trains_decoder=self.cycle_trains_decoder)
        if self.delta_weight:
            config["delta_weight"] = self.delta_weight
        if self.swap_weight:
            config.update(swap_weight=self.swap_weight,
                          swap_trains_encoder=self.swap_trains_encoder)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("encoder", "quantizer", "decoder", "adversary"):
            if config.get(key) is not None:
                config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)


__all__ = ["SpectrogramVQVAE"]
