"""The speech family: a speech VQ-VAE (a `SpectrogramVQVAE`, or a `VQVAE`
with a `WaveNetDecoder`) and a speaker-conditional `GatedPixelCNN1DPrior`
over its codes (arXiv:1711.00937, section 4.3)."""

import numpy as np

from vq_zoo.models.family import ConditionError
from vq_zoo.models.family import FamilyError
from vq_zoo.models.family import ModelFamily
from vq_zoo.models.family import Samples
from vq_zoo.models.family import register_family
from vq_zoo.utils.messages import one_line


@register_family("speech")
class SpeechVQVAEFamily(ModelFamily):
    """Speech from codes drawn by the prior for a speaker, decoded by the
    speech VQ-VAE with that speaker.

    Shape contract: `sample(num, speaker=...)` returns `Samples` with
    `audio` float32 `(num, T)` in [-1, 1] at `sample_rate` and `codes` int32
    `(num, prior length)`.

    Conditions:
        speaker: a name of the decoder's `speaker_names` or an index, for
            every sample (default: the speakers in turn); `label` is taken
            as the speaker too.

    Args:
        vqvae: a speech VQ-VAE (its decoder a `WaveNetDecoder` or a
            `SpectrogramDecoder`).
        prior: a `GatedPixelCNN1DPrior` over its codes, conditioned on the
            speaker.

    Example:
    >>> family = SpeechVQVAEFamily.from_preset("vqvae_spectrogram_small_speech_16k")
    >>> samples = family.sample(2, seed=0, speaker="flite_rms")
    >>> samples.audio.shape, samples.sample_rate    # ((2, 1280), 16000)
    """

    members = ("vqvae", "prior")
    conditions = ("speaker", "label")
    output = "audio"
    autoencoders = ("SpectrogramVQVAE", "VQVAE")
    saved_model_refusal = ("the speech family has no SavedModel export (its decoder is "
                           "conditioned on the speaker and decodes audio); use the "
                           "presets (vq-zoo export RUN) or vq-zoo convert")

    def __init__(self, vqvae, prior):
        from vq_zoo.models.wavenet.voice_conversion import is_speech_vqvae

        if not is_speech_vqvae(vqvae):
            raise FamilyError("SpeechVQVAEFamily needs a speech VQ-VAE (its decoder a "
                              f"WaveNetDecoder or a SpectrogramDecoder), got a "
                              f"{type(vqvae).__name__}")
        self.vqvae = vqvae
        self.prior = prior

    @property
    def sample_rate(self):
        return int(self.vqvae.decoder.sample_rate)

    @property
    def speaker_names(self):
        """The speakers' names (their indices as text where none are
        recorded)."""
        return list(self.vqvae.decoder.speaker_names
                    or [str(i) for i in range(self.prior.num_classes)])

    def sample(self, num, seed=0, temperature=1.0, speaker=None, label=None, **conditions):
        """`num` utterances (see the class docstring); the codes and the
        decoder draw with `seed`."""
        num = self._check_num(num)
        self._refuse("a speech model", conditions)
        temperature = self._temperature(temperature)
        decoder = self.vqvae.decoder
        if speaker is not None or label is not None:
            try:
                chosen = decoder.speaker_index(speaker if speaker is not None else label)
            except ValueError as e:
                raise ConditionError(str(e)) from None
            speakers = np.full((num,), chosen, "int32")
        else:
            speakers = np.arange(num, dtype="int32") % self.prior.num_classes
        codes = self.prior.sample(num, condition=speakers, temperature=temperature,
                                  seed=seed)
        extra = {}
        if getattr(decoder, "pitch_condition", False):
            # The prior models no pitch: each sample is voiced with its
            # speaker's stored contour (a training utterance's).
            try:
                extra["pitch"] = decoder.sample_pitch(speakers, np.asarray(codes).shape[1])
            except ValueError as e:
                raise FamilyError(one_line(e)) from None
        audio = np.asarray(self.vqvae.decode(codes, condition=speakers, seed=seed, **extra))
        names = self.speaker_names
        return Samples(audio=audio[:, :, 0], sample_rate=self.sample_rate,
                       codes=np.asarray(codes),
                       what=f"{num} samples ({audio.shape[1] / self.sample_rate:.2f} s "
                            f"each; speakers {', '.join(names[s] for s in speakers)})")

    def architecture(self):
        """The architecture paragraph of the speech cards: the encoder, the
        quantiser, the decoder, the speakers and the prior."""
        from vq_zoo.models.spectrogram.spectrogram_decoder import SpectrogramDecoder

        vqvae, prior = self.vqvae, self.prior
        dec, enc, q = vqvae.decoder, vqvae.encoder, vqvae.quantizer
        speakers = ", ".join(dec.speaker_names or ())
        tail = (f"Speakers ({dec.num_classes}): {speakers}. VQ-VAE parameters: "
                f"{vqvae.count_params():,}; prior parameters: {prior.count_params():,}. "
                f"Prior: {len(prior.blocks)} gated causal blocks, {prior.filters} "
                f"channels, dilations {list(prior.dilation_rates)}.")
        if isinstance(dec, SpectrogramDecoder):
            frames = f"log-mel frames ({enc.num_mels} bands"
            if enc.num_cepstra:
                frames = (f"the first {enc.num_cepstra} cepstra of log-mel frames "
                          f"({enc.num_mels} bands")
            removed = {"none": "nothing removed",
                       "utterance": "each band's mean over the clip removed",
                       "instance": "each band's mean over the clip removed, every hidden "
                                   "layer instance-normalised over the clip"}[enc.normalize]
            pitch = ""
            if dec.pitch_condition:
                tracker = {"harvest": "Harvest", "yin": "YIN"}[dec.tracker]
                pitch = ("the source's pitch contour (its F0 by " + tracker + ", normalised "
                         "by the speaker's log-F0 mean and spread, and a voiced flag) added "
                         "through a convolution, ")
            if dec.vocoder == "world":
                out = (f"to WORLD's spectral envelope at {dec.num_bands} mel-spaced "
                       f"frequencies and its periodicity at {dec.num_aperiodicity_bands}; "
                       "audio by WORLD's synthesiser (`pyworld`) at the contour's F0 "
                       "rendered in the target speaker's range. ")
            else:
                out = (f"to {dec.num_bins} log magnitudes per frame; audio by Griffin-Lim "
                       f"(`librosa.griffinlim`, {dec.griffin_lim_iters} iterations). ")
            return (
                f"Encoder: {frames}, {enc.fft_length}-sample "
                f"Hann windows every {enc.frame_step} samples, {removed}: "
                f"`normalize=\"{enc.normalize}\"`), {enc.num_layers} "
                f"convolutions of {enc.num_hiddens} channels, one of stride "
                f"{enc.frames_per_code} and a 1x1 to D={q.embedding_dim}; "
                f"`VectorQuantizerEMA` with K={q.num_embeddings}. Decoder: "
                f"`SpectrogramDecoder`: the codes jittered in time in training "
                f"(`TimeJitter`, p={dec.jitter.probability}), {dec.num_blocks} residual "
                f"blocks of {dec.filters} channels (dilations {list(dec.dilation_rates)}), "
                f"the speaker embedding ({dec.speaker_dim}) added to every block, "
                + pitch + out + tail)
        return (
            f"Encoder: {enc.num_downsamples} strided convolutions (stride 2, window 4, "
            f"{enc.num_hiddens} channels, ReLU) and a 1x1 convolution to D="
            f"{q.embedding_dim}; `VectorQuantizerEMA` with K={q.num_embeddings}. Decoder: "
            f"`WaveNetDecoder`, {len(dec.blocks)} gated causal blocks ({dec.num_cycles} "
            f"cycles of dilations 1..{2 ** (dec.dilation_cycle - 1)}, {dec.filters} "
            f"channels, receptive field {dec.receptive_field} samples), local "
            f"conditioning on the codes repeated {dec.hop_length}x, a speaker embedding "
            f"of {dec.block_condition_dim}, a 256-way softmax over 8-bit mu-law samples. "
            + tail)

    # ------------------------------------------------------------ the card
    # The speech cards say what the VQ-VAE and the prior are in audio terms
    # (sample rate, samples per code, seconds per prior sequence), read
    # from the models: with `members` (the recipe's exporter holds both).
    # The generic writer, which holds one, words them as the base family.
    @classmethod
    def _speech_role(cls, facts):
        """"vqvae" for the speech VQ-VAE, "prior" for the other member."""
        return "vqvae" if facts["class_name"] in cls.autoencoders else "prior"

    @classmethod
    def card_intro(cls, name, facts, metadata, members=None):
        role, other = cls._speech_role(facts), metadata.get("companion_preset")
        if not members:
            return super().card_intro(name, facts, metadata)
        decoder = members["vqvae"].decoder
        if role == "vqvae":
            return (
                "A speech VQ-VAE (arXiv:1711.00937, section 4.3, at the scale 2 CPU cores "
                f"train): {decoder.sample_rate / 1000:g} kHz audio to one code per "
                f"{decoder.hop_length} samples "
                f"({decoder.sample_rate / decoder.hop_length:.0f} codes/s, "
                f"K={facts['num_embeddings']}), decoded with the speaker as a condition of "
                "the decoder: swapping the speaker converts the voice."
                + (f" Its prior over the codes is the preset `{other}`." if other else ""))
        length = members["prior"].length
        return (f"A speaker-conditioned 1D gated prior (`{facts['class_name']}`) over "
                f"sequences of {length} codes "
                f"({length * decoder.hop_length / decoder.sample_rate:.2f} s) of the speech "
                f"VQ-VAE `{other}`.")

    @classmethod
    def _card_vqvae_preset(cls, name, facts, metadata):
        return name if cls._speech_role(facts) == "vqvae" else metadata.get("companion_preset")

    @classmethod
    def card_usage(cls, name, facts, metadata, members=None):
        vqvae = cls._card_vqvae_preset(name, facts, metadata)
        if not members or not vqvae:
            return super().card_usage(name, facts, metadata)
        rate = members["vqvae"].decoder.sample_rate
        return ["import vq_zoo",
                f'vqvae = vq_zoo.load_preset("{vqvae}")',
                f"codes = vqvae.encode(audio)            # float (n, time, 1) in [-1, 1], "
                f"{rate / 1000:g} kHz",
                "speech = vqvae.decode(codes, condition=speakers)"]

    @classmethod
    def card_commands(cls, name, facts, metadata, members=None):
        """Voice conversion and sampling with `vq-zoo` (a speaker of the
        decoder's: flite_slt where it has that voice)."""
        vqvae = cls._card_vqvae_preset(name, facts, metadata)
        if not members or not vqvae:
            return super().card_commands(name, facts, metadata)
        speakers = list(members["vqvae"].decoder.speaker_names or ["0"])
        speaker = "flite_slt" if "flite_slt" in speakers else speakers[0]
        return [f"vq-zoo convert {vqvae} --input in.wav --speaker {speaker} --output out.wav",
                f"vq-zoo sample {vqvae} --num 4 --out samples.wav"]

    @classmethod
    def convert_speech(cls, vqvae, source, path, speaker, seed=0, temperature=1.0):
        """`(audio, sample_rate)`: the utterance in `path` (any rate; WAV or
        what sox reads) spoken by `speaker` (a name of the decoder's
        `speaker_names` or an index): `voice_conversion.convert_file`."""
        from vq_zoo.models.wavenet.voice_conversion import convert_file
        from vq_zoo.models.wavenet.voice_conversion import is_speech_vqvae

        if not is_speech_vqvae(vqvae):
            return super().convert_speech(vqvae, source, path, speaker, seed, temperature)
        try:
            return convert_file(vqvae, path, speaker, seed=seed, temperature=temperature)
        except (ValueError, ImportError) as e:  # ImportError: Griffin-Lim needs librosa
            raise FamilyError(one_line(e)) from None

    @classmethod
    def describers(cls):
        from vq_zoo.models.spectrogram.spectrogram_vqvae import SpectrogramVQVAE
        from vq_zoo.models.vqvae.family import describe_autoencoder

        return {SpectrogramVQVAE: describe_autoencoder}


__all__ = ["SpeechVQVAEFamily"]
