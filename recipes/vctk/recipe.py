"""Speech (paper section 4.3): a 64x VQ-VAE with a speaker-conditioned
WaveNet decoder, voice conversion, and a speaker-conditioned prior.

    vq-zoo train vctk --config small      # the offline corpus (espeak-ng, flite)
    vq-zoo train vctk --config paper      # tfds vctk (prepared in --data-dir)

Stages (each resumes on its own): `corpus` (synthesise the offline corpus,
or nothing for tfds), `vqvae` (the VQ-VAE, teacher-forced on random crops
with their speakers), `codes` (codes of fixed-length chunks of every
utterance, with the speaker), `prior` (a `GatedPixelCNN1DPrior` over
`prior_length` codes, conditioned on the speaker), `sample` (prior samples
decoded to WAVs), `report` (held-out metrics and the listening examples).

Held-out metrics (`metrics.json`, test split: sentences never trained on):
reconstruction bits per sample (the WaveNet's teacher-forced mu-law NLL
given the codes and the speaker), prior bits per code, and what the codes
carry: (a) a speaker classifier (logistic regression on log-mel statistics,
trained on the training audio) applied to reconstructions (decoded with the
clip's own speaker) and to conversions (decoded with another speaker); (b)
a speaker probe on the codes alone (code histograms) vs the same probe on
the input audio's log-mel statistics, with chance.
"""

import json
import math
import os

import numpy as np

from vq_zoo.recipe import Recipe
from vq_zoo.recipe import register_recipe
from vq_zoo.recipes.vctk.config import CONFIGS
from vq_zoo.recipes.vctk.config import data_dir_use

STAGES = ("corpus", "vqvae", "codes", "prior", "sample", "report")


def describe_data(config=None):
    data = (config or {}).get("data", "corpus") if isinstance(config, dict) else \
        getattr(config, "data", "corpus")
    if data == "tfds":
        return dict(dataset="VCTK 0.92 (tfds vctk)",
                    data="CSTR VCTK: 110 English speakers, about 44 hours, 48 kHz "
                         "resampled to 16 kHz; tfds' one split divided by utterance.",
                    license="Open Data Commons Attribution License (ODC-By) v1.0")
    return dict(
        dataset="offline speech corpus (espeak-ng + flite voices)",
        data="Synthetic multi-speaker speech made by vq_zoo.data.speech_corpus: "
             "sentences generated from a small word grammar written in that file, "
             "read by 8 speakers (flite awb, rms, slt, kal16; 4 espeak-ng voice "
             "variants with their own pitch and speed), 16 kHz; split by sentence "
             "(validation and test sentences unheard in training), speakers shared.",
        license="Generated data (espeak-ng GPL-3, flite BSD-like voices; the texts "
                "are the project's)")


# ---------------------------------------------------------------- data
def _corpus_speakers(config):
    from vq_zoo.data.speech_corpus import SPEAKERS

    if not config.speakers:
        return SPEAKERS
    names = [s.strip() for s in config.speakers.split(",") if s.strip()]
    known = {s[0]: s for s in SPEAKERS}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"`speakers`: unknown {unknown}; known: {', '.join(known)}")
    return tuple(known[n] for n in names)


def _load_data(pipe, config, data_dir):
    """`({split: (audios, speakers)}, speaker names, {split: texts or
    None})`, in memory. Any source that returns these three plugs in."""
    if config.data == "tfds":
        from vq_zoo.data import vctk

        pipe.stage("corpus", lambda: {"source": "tfds vctk"}, what="data: tfds vctk")
        splits = {s: vctk.utterances(s, config.tfds_config, data_dir, config.sample_rate,
                                     max_utterances=None if s == "train" else 512,
                                     test_percent=config.tfds_test_percent)
                  for s in ("train", "validation", "test")}
        return splits, vctk.speaker_names(config.tfds_config, data_dir), None
    from vq_zoo.data import speech_corpus

    corpus_dir = config.corpus_dir or pipe.path("corpus")
    speakers = _corpus_speakers(config)
    try:
        # Before anything is written: never into someone's folder of WAVs.
        speech_corpus.check_corpus_dir(corpus_dir)
    except ValueError as e:
        from vq_zoo.pipeline.run_dir import RunDirError

        raise RunDirError(str(e)) from None

    def build():
        manifest = speech_corpus.build_corpus(corpus_dir, config.num_sentences,
                                              config.seed, speakers,
                                              verbose=bool(pipe.verbose))
        return {"speakers": manifest["speakers"],
                "utterances": len(manifest["utterances"]),
                "seconds": sum(u["samples"] for u in manifest["utterances"])
                / speech_corpus.SAMPLE_RATE}

    info = pipe.stage("corpus", build, what="synthesise the speech corpus")
    # A corpus folder removed since is made again (same settings, same audio).
    speech_corpus.build_corpus(corpus_dir, config.num_sentences, config.seed, speakers,
                               verbose=False)
    splits, texts = {}, {}
    for split in ("train", "validation", "test"):
        audios, spk, sentences = speech_corpus.load_split(corpus_dir, split)
        splits[split] = (audios, spk)
        texts[split] = speech_corpus.sentence_texts(corpus_dir, sentences)
    return splits, info["speakers"], texts


def random_crops(audios, speakers, length, num, rng, pitch=None, frame_step=160, swap=None):
    """`num` random `length`-sample crops `(num, length, 1)` and their
    speakers; an utterance shorter than a crop is zero-padded. With `pitch`
    (each utterance's contour, `(frames, 2)` per `frame_step` samples) the
    crops start at multiples of `frame_step` and their contours `(num,
    length // frame_step, 2)` come third. With `swap` (a
    `vq_zoo.data.parallel.ParallelPairs`, and `pitch`) each crop's parallel
    pair comes last: another speaker `(num,)` and its aligned frames `(num,
    length // frame_step, bins)`."""
    picks = rng.integers(0, len(audios), num)
    out = np.zeros((num, length, 1), np.float32)
    contours, pairs = [], []
    for i, u in enumerate(picks):
        a = audios[u]
        start = rng.integers(0, max(1, a.size - length + 1))
        if pitch is not None:
            from vq_zoo.data.pitch import frames_of

            start -= start % frame_step
            contours.append(frames_of(pitch[u], start, length // frame_step, frame_step))
            if swap is not None:
                pairs.append(swap.pair(u, start // frame_step, length // frame_step, rng))
        piece = a[start:start + length]
        out[i, :piece.size, 0] = piece
    speakers = np.asarray(speakers)[picks].astype("int32")
    if pitch is None:
        return out, speakers
    if swap is None:
        return out, speakers, np.stack(contours)
    return (out, speakers, np.stack(contours), np.asarray([p[0] for p in pairs], "int32"),
            np.stack([p[1] for p in pairs]))


def chunks(audios, speakers, length, max_per_utterance=None, pitch=None, frame_step=160):
    """Non-overlapping `length`-sample chunks of every utterance (the last
    partial chunk dropped; an utterance shorter than a chunk is padded);
    with `pitch` (see `random_crops`) their contours come third."""
    xs, ys, ps = [], [], []
    for j, (a, s) in enumerate(zip(audios, speakers)):
        n = max(1, a.size // length)
        if max_per_utterance:
            n = min(n, max_per_utterance)
        padded = np.pad(a, (0, max(0, n * length - a.size)))
        for i in range(n):
            xs.append(padded[i * length:(i + 1) * length])
            ys.append(s)
            if pitch is not None:
                from vq_zoo.data.pitch import frames_of

                ps.append(frames_of(pitch[j], i * length, length // frame_step, frame_step))
    out = np.stack(xs)[..., None].astype(np.float32), np.asarray(ys, "int32")
    return out if pitch is None else out + (np.stack(ps),)


def pitch_contours(pipe, config, splits, num_speakers):
    """`({split: [contour (frames, 2) of each utterance]}, statistics)`:
    the YIN contours of every utterance (cached in the run dir's
    `pitch_<split>.npz`), normalised with its speaker's log-F0 mean and
    standard deviation over the voiced frames of the training split
    (`statistics`, `(num_speakers, 2)`). With `vocoder="world"` the
    contours are Harvest's and each row also holds the utterance's WORLD
    features (`(frames, 2 + bands)`, cached in `world_<split>.npz`; the
    decoder's targets: `split_frames` parts them)."""
    from vq_zoo.data import pitch

    settings = dict(sample_rate=config.sample_rate, frame_step=config.frame_step)
    targets = None
    if config.vocoder == "world":
        from vq_zoo.data import world

        analysis = {split: world.corpus_analysis(
            splits[split][0], pipe.path(f"world_{split}.npz"), verbose=bool(pipe.verbose),
            num_bands=config.num_bands, num_aperiodicity_bands=config.num_aperiodicity_bands,
            **settings) for split in ("train", "validation", "test")}
        raw = {split: [(f0, f0 > 0) for f0, _ in a] for split, a in analysis.items()}
        targets = {split: [x for _, x in a] for split, a in analysis.items()}
    else:
        raw = {split: pitch.corpus_contours(splits[split][0], pipe.path(f"pitch_{split}.npz"),
                                            verbose=bool(pipe.verbose), **settings)
               for split in ("train", "validation", "test")}
    stats = pitch.speaker_statistics(raw["train"], splits["train"][1], num_speakers)
    out = {split: [pitch.normalized_contour(f0, v, *stats[s])
                   for (f0, v), s in zip(raw[split], splits[split][1])]
           for split in raw}
    if targets is not None:
        out = {split: [np.concatenate([c, t], axis=1) for c, t in zip(out[split], targets[split])]
               for split in out}
    return out, stats


def split_frames(batch):
    """A batch `(audio, speakers, frames, ...)` whose frames hold the
    contour and the WORLD features (`pitch_contours`) as `(audio, speakers,
    contour, features, ...)`; any other batch as it is."""
    if len(batch) >= 3 and batch[2].shape[-1] > 2:
        return tuple(batch[:2]) + (batch[2][..., :2], batch[2][..., 2:]) + tuple(batch[3:])
    return batch


def parallel_pairs(config, splits, texts, pitch, split, verbose=False):
    """The `ParallelPairs` of `split` (`swap_weight`): its utterances'
    WORLD features (`pitch_contours`' rows past the contour) paired by
    sentence text, or None where `swap_weight` is 0."""
    if not config.swap_weight:
        return None
    from vq_zoo.data.parallel import ParallelPairs

    if texts is None or texts.get(split) is None:
        raise ValueError(f"swap_weight={config.swap_weight} pairs utterances of the same "
                         "sentence: it needs the offline corpus (data=corpus), whose every "
                         "sentence all voices read; this data has no sentence texts")
    return ParallelPairs([f[:, 2:] for f in pitch[split]], texts[split], splits[split][1],
                         config.num_bands, config.swap_alignment_cepstra, verbose=verbose)


def contours_only(frames):
    """Each utterance's contour `(frames, 2)` of `pitch_contours`' rows."""
    return None if frames is None else [f[:, :2] for f in frames]


def _train_crops(config, splits, seed, pitch=None, swap=None):
    import tensorflow as tf

    audios, speakers = splits["train"]
    length, batch = config.crop_length, config.batch_size

    def gen():
        rng = np.random.default_rng(seed)
        while True:
            yield split_frames(random_crops(audios, speakers, length, batch, rng, pitch,
                                            config.frame_step, swap))

    signature = (tf.TensorSpec((batch, length, 1), tf.float32),
                 tf.TensorSpec((batch,), tf.int32))
    if pitch is not None:
        frames = length // config.frame_step
        signature += (tf.TensorSpec((batch, frames, 2), tf.float32),)
        if pitch[0].shape[1] > 2:
            signature += (tf.TensorSpec((batch, frames, pitch[0].shape[1] - 2), tf.float32),)
        if swap is not None:
            signature += (tf.TensorSpec((batch,), tf.int32),
                          tf.TensorSpec((batch, frames, pitch[0].shape[1] - 2), tf.float32))
    return tf.data.Dataset.from_generator(gen, output_signature=signature).prefetch(2)


def _batches(data, batch_size):
    from vq_zoo.recipes.common import in_memory_batches

    return in_memory_batches(data, batch_size)


def eval_clips(config, audios, speakers, num_speakers):
    """`num_eval_clips` clips of `eval_seconds` (a multiple of 64 samples)
    from the test utterances, speakers in turn, 0.25 s into each utterance;
    and target speakers for conversion (half the speakers away)."""
    hop = hop_length(config)
    length = max(hop, int(round(config.eval_seconds * config.sample_rate / hop)) * hop)
    by_speaker = {s: [a for a, t in zip(audios, speakers) if t == s]
                  for s in range(num_speakers)}
    clips, src = [], []
    offset = config.sample_rate // 4
    for i in range(config.num_eval_clips):
        s = i % num_speakers
        pool = by_speaker[s] or audios
        a = pool[(i // num_speakers) % len(pool)]
        start = min(offset, max(0, a.size - length))
        piece = np.pad(a[start:start + length], (0, max(0, length - a[start:].size)))
        clips.append(piece[:length])
        src.append(s)
    src = np.asarray(src, "int32")
    target = (src + max(1, num_speakers // 2)) % num_speakers
    return np.stack(clips)[..., None].astype(np.float32), src, target.astype("int32")


# --------------------------------------------------------------- models
def hop_length(config):
    """Samples per code."""
    if config.decoder == "spectrogram":
        return config.frame_step * config.frames_per_code
    return 2 ** config.num_downsamples


def build_vqvae(config, speaker_names, pitch_statistics=None, sample_contours=None):
    import keras

    if config.pitch_condition and config.decoder != "spectrogram":
        raise ValueError(f"pitch_condition=True needs decoder='spectrogram' (the WaveNet "
                         f"decoder reads no pitch), got decoder={config.decoder!r}")
    if config.vocoder == "world" and not (config.decoder == "spectrogram"
                                          and config.pitch_condition):
        raise ValueError(f"vocoder='world' needs decoder='spectrogram' and "
                         f"pitch_condition=True (WORLD makes the harmonics at the source "
                         f"contour's F0), got decoder={config.decoder!r}, "
                         f"pitch_condition={config.pitch_condition}")

    quantizer_kwargs = dict(dead_code_threshold=config.dead_code_threshold,
                            seed=config.seed)
    if config.decoder == "spectrogram":
        from vq_zoo.models.spectrogram.spectrogram_vqvae import SpectrogramVQVAE

        model = SpectrogramVQVAE.speech_model(
            num_speakers=len(speaker_names), num_hiddens=config.num_hiddens,
            embedding_dim=config.embedding_dim, num_embeddings=config.num_embeddings,
            encoder_layers=config.encoder_layers, frames_per_code=config.frames_per_code,
            num_mels=config.num_mels, num_cepstra=config.num_cepstra,
            fft_length=config.fft_length, frame_step=config.frame_step, sample_rate=config.sample_rate,
            normalize=config.input_normalization, filters=config.decoder_filters,
            num_blocks=config.decoder_blocks, speaker_dim=config.speaker_dim,
            speaker_names=speaker_names, jitter=config.jitter,
            griffin_lim_iters=config.griffin_lim_iters,
            magnitude_power=config.magnitude_power,
            adversary_weight=config.adversary_weight,
            frequency_warp=config.frequency_warp, cycle_weight=config.cycle_weight,
            swap_weight=config.swap_weight, swap_trains_encoder=config.swap_trains_encoder,
            cycle_trains_decoder=config.cycle_trains_decoder, delta_weight=config.delta_weight,
            pitch_condition=config.pitch_condition, pitch_statistics=pitch_statistics,
            vocoder=config.vocoder, num_bands=config.num_bands,
            num_aperiodicity_bands=config.num_aperiodicity_bands,
            sample_contours=sample_contours, envelope_sharpening=config.envelope_sharpening,
            synthesis_upsample=config.synthesis_upsample,
            commitment_cost=config.commitment_cost, decay=config.decay,
            crop_length=config.crop_length, quantizer_kwargs=quantizer_kwargs,
            seed=config.seed)
    else:
        from vq_zoo.models.wavenet.speech_vqvae import speech_vqvae

        model = speech_vqvae(
            num_speakers=len(speaker_names), num_hiddens=config.num_hiddens,
            embedding_dim=config.embedding_dim, num_embeddings=config.num_embeddings,
            num_downsamples=config.num_downsamples, filters=config.wavenet_filters,
            dilation_cycle=config.dilation_cycle, num_cycles=config.num_cycles,
            speaker_dim=config.speaker_dim, speaker_names=speaker_names,
            sample_rate=config.sample_rate, commitment_cost=config.commitment_cost,
            decay=config.decay, crop_length=config.crop_length,
            quantizer_kwargs=quantizer_kwargs)
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate))
    return model


def prior_dilations(config):
    return tuple(2 ** (i % max(1, int(math.log2(config.prior_length)) + 1))
                 for i in range(config.prior_layers))


def build_prior(config, num_speakers):
    import keras

    from vq_zoo.models.gated_pixelcnn.gated_pixelcnn_1d_prior import GatedPixelCNN1DPrior

    prior = GatedPixelCNN1DPrior(
        num_embeddings=config.num_embeddings, length=config.prior_length,
        filters=config.prior_filters, dilation_rates=prior_dilations(config),
        num_classes=num_speakers)
    prior.compile(optimizer=keras.optimizers.Adam(config.prior_learning_rate))
    return prior


def check_config(config, data_dir=None):
    """Builds the run's models from `config` and runs them on one blank
    batch, without data and before any run dir exists: a config whose
    fields pass their own checks but cannot work together (a crop shorter
    than one code, unknown corpus speakers) raises a `ValueError` here
    instead of after minutes of training."""
    del data_dir  # the data are checked when they are read
    if config.data == "corpus":
        names = [s[0] for s in _corpus_speakers(config)]
    else:  # the data's own speakers, known once it is read: two stand-ins
        names = ["speaker_a", "speaker_b"]
    hop = hop_length(config)
    if config.crop_length < hop or config.crop_length % hop:
        raise ValueError(f"crop_length={config.crop_length} must be a positive multiple of "
                         f"the samples per code, {hop}")
    if config.frequency_warp and config.decoder != "spectrogram":
        raise ValueError(f"frequency_warp={config.frequency_warp} perturbs the spectrogram "
                         f"encoder's input; decoder={config.decoder!r} has none (set "
                         "decoder=spectrogram or frequency_warp=0)")
    if config.cycle_weight and (config.decoder != "spectrogram" or config.vocoder != "world"):
        raise ValueError(f"cycle_weight={config.cycle_weight} re-encodes the decoder's WORLD "
                         f"envelope: it needs decoder=spectrogram and vocoder=world, got "
                         f"decoder={config.decoder!r}, vocoder={config.vocoder!r} (or set "
                         f"cycle_weight=0)")
    if config.swap_weight and (config.decoder != "spectrogram" or config.vocoder != "world"
                               or config.data != "corpus"):
        raise ValueError(f"swap_weight={config.swap_weight} trains conversions on parallel "
                         f"pairs of WORLD features: it needs decoder=spectrogram, "
                         f"vocoder=world and data=corpus (every sentence read by all "
                         f"voices), got decoder={config.decoder!r}, "
                         f"vocoder={config.vocoder!r}, data={config.data!r} (or set "
                         f"swap_weight=0)")
    if config.swap_weight and config.swap_alignment_cepstra >= config.num_bands:
        raise ValueError(f"swap_alignment_cepstra={config.swap_alignment_cepstra} must be "
                         f"fewer than the envelope's num_bands ({config.num_bands}): the "
                         f"alignment reads that many cepstra of the envelope")
    if config.delta_weight and config.decoder != "spectrogram":
        raise ValueError(f"delta_weight={config.delta_weight} weighs the spectrogram "
                         f"decoder's frame-to-frame changes; decoder={config.decoder!r} has "
                         "none (set decoder=spectrogram or delta_weight=0)")
    vqvae = build_vqvae(config, names)
    audio = np.zeros((len(names), config.crop_length, 1), "float32")
    speakers = np.arange(len(names), dtype="int32")
    batch = (audio, speakers)
    if config.pitch_condition:
        batch += (np.zeros((len(names), config.crop_length // config.frame_step, 2),
                           "float32"),)
    if config.vocoder == "world":
        batch += (np.zeros((len(names), config.crop_length // config.frame_step,
                            vqvae.decoder.num_bins), "float32"),)
    vqvae.compute_loss_terms(batch, training=False)
    prior = build_prior(config, len(names))
    prior({"codes": np.zeros((1, config.prior_length), "int32"),
           "condition": np.zeros((1,), "int32")})


# ----------------------------------------------------------------- main
@register_recipe
class SpeechRecipe(Recipe):
    name = "vctk"
    family = "speech"
    summary = ("Paper section 4.3: speech to one code per 64 samples (K=512), "
               "speaker-conditioned WaveNet decoder, voice conversion, speaker-"
               "conditioned 1D prior (offline espeak-ng/flite corpus, or tfds vctk)")
    configs = CONFIGS
    stages = STAGES
    artefacts = ("vqvae.keras", "prior.keras", "metrics.json", "examples/*.wav")
    data_dir_use = staticmethod(data_dir_use)

    def data_card(self, config=None):
        return describe_data(config)

    def check_config(self, config, data_dir=None):
        check_config(config, data_dir)

    def load_data(self, pipe, config, data_dir):
        """`({split: (audios, speakers)}, speaker names, texts or None)`:
        the offline corpus or tfds vctk (the audio recipe reads a folder)."""
        return _load_data(pipe, config, data_dir)

    def export(self, run_dir, request):
        """The generic export, then the speech cards and listening examples
        (`recipes/vctk/export_presets.py`)."""
        from vq_zoo.recipes.vctk import export_presets

        return export_presets.export(self, run_dir, request)

    def run(self, context):
        return run_speech(context, self.load_data)


main = SpeechRecipe().main  # `main(config, out_dir, ...)`, as before


def run_speech(context, load_data):
    """The stages of a speech run; `load_data(pipe, config, data_dir)` reads
    the data (`SpeechRecipe.load_data`; the audio recipe reads a folder)."""
    from vq_zoo.training.speech_tensorboard import SpeechTensorBoard

    config = context.config
    with context.open_pipeline(STAGES) as pipe:
        splits, speaker_names, texts = load_data(pipe, config, context.data_dir)
        num_speakers = len(speaker_names)
        rate = config.sample_rate
        clips, src, target = eval_clips(config, *splits["test"], num_speakers)
        board_clips = min(4, len(clips))
        pitch, pitch_stats, firsts = None, None, None
        if config.pitch_condition:
            pitch, pitch_stats = pitch_contours(pipe, config, splits, num_speakers)
            firsts = first_contours(splits["train"][1], pitch["train"], num_speakers)
        swap = {split: parallel_pairs(config, splits, texts, pitch, split,
                                      verbose=bool(pipe.verbose))
                for split in ("train", "validation")}
        valid = split_frames(random_crops(
            *splits["validation"], config.crop_length,
            max(config.batch_size, 8 * config.batch_size // 2),
            np.random.default_rng(config.seed + 1),
            None if pitch is None else pitch["validation"], config.frame_step,
            swap["validation"]))
        board = lambda d: SpeechTensorBoard(  # noqa: E731
            d, clips[:board_clips], src[:board_clips], target[:board_clips],
            sample_rate=rate, every_n_epochs=config.audio_every_n_epochs or config.vqvae_epochs,
            seed=config.seed)
        vqvae = pipe.train(
            "vqvae", lambda: build_vqvae(config, speaker_names, pitch_stats, firsts),
            _train_crops(config, splits, config.seed, None if pitch is None else pitch["train"],
                         swap["train"]),
            epochs=config.vqvae_epochs, steps_per_epoch=config.vqvae_steps_per_epoch,
            validation_data=_batches(valid, config.batch_size), tensorboard=board)

        chunk = config.prior_length * vqvae.decoder.hop_length

        def code_split(split, per_utterance=None):
            x, y = chunks(*splits[split], chunk, per_utterance)
            import tensorflow as tf

            return tf.data.Dataset.from_tensor_slices(
                {"audio": x, "speakers": y}).batch(64)

        pipe.extract("codes", vqvae, {"train": code_split("train"),
                                      "validation": code_split("validation"),
                                      "test": code_split("test")},
                     input_key="audio", what="extract the codes of every split")
        keys = {"codes": "codes", "condition": "speakers"}

        def prior_samples(prior, num, seed):
            speakers = np.arange(num, dtype="int32") % num_speakers
            codes = prior.sample(num, condition=speakers, seed=seed)
            extra = {}
            if pitch is not None:
                # The prior models no pitch: each sample borrows the contour
                # of its speaker's first training utterance.
                extra["pitch"] = vqvae.decoder.sample_pitch(speakers,
                                                            np.asarray(codes).shape[1])
            audio = np.asarray(vqvae.decode(codes, condition=speakers, seed=seed, **extra))
            return audio, np.asarray(codes), speakers

        prior = pipe.train(
            "prior", lambda: build_prior(config, num_speakers),
            pipe.code_data("train", config.prior_batch_size, shuffle=True,
                           seed=config.seed, repeat=True, keys=keys, drop_remainder=True),
            epochs=config.prior_epochs, steps_per_epoch=config.prior_steps_per_epoch,
            validation_data=pipe.code_data("validation", 64, keys=keys),
            inputs=["codes"],
            # The epoch best on unheard sentences: with 72 training sentences
            # the prior memorises them within a few epochs.
            keep_best="val_loss",
            tensorboard=lambda d: SpeechTensorBoard(
                d, sample_fn=lambda model: prior_samples(model, 2, config.seed)[0],
                sample_rate=rate, every_n_epochs=config.prior_epochs))

        def sample():
            from vq_zoo.utils.audio import write_wav

            audio, codes, speakers = prior_samples(prior, min(4, num_speakers),
                                                   config.seed)
            os.makedirs(pipe.path("examples"), exist_ok=True)
            files = []
            for a, s in zip(audio, speakers):
                name = f"examples/prior_sample_{speaker_names[s]}.wav"
                write_wav(pipe.path(name), a[:, 0], rate)
                files.append(name)
            np.save(pipe.path("sample_codes.npy"), codes)
            return {"files": files}

        pipe.stage("sample", sample, inputs=["vqvae", "prior"],
                   what="sample the prior, decode to WAVs")
        metrics = pipe.stage(
            "report", lambda: report(pipe, config, vqvae, prior, splits, speaker_names,
                                     texts, pitch),
            inputs=["vqvae", "prior"], what="held-out metrics and listening examples")
        from vq_zoo.utils.io import write_atomic

        write_atomic(pipe.path("metrics.json"), json.dumps(metrics, indent=2).encode())
    return metrics


# --------------------------------------------------------------- report
def first_contours(train_speakers, train_pitch, num_speakers):
    """Each speaker's contour of its first training utterance (`(frames,
    2)`; the decoder's `sample_contours`, what prior samples are voiced
    with: the prior models no pitch)."""
    train_speakers = list(np.asarray(train_speakers))
    return [train_pitch[train_speakers.index(s)][:, :2] for s in range(num_speakers)]


def report(pipe, config, vqvae, prior, splits, speaker_names, texts, pitch=None):
    """Held-out metrics (`evaluation.evaluate` plus the models' own test
    losses), the listening examples in `examples/`, and the metrics as
    TensorBoard scalars (`logs/report`). `pitch`: each split's contours,
    for a pitch-conditioned decoder (reconstructions and conversions read
    their source's)."""
    from vq_zoo.recipes.vctk import evaluation
    from vq_zoo.utils.audio import write_wav

    rate = config.sample_rate
    if pitch is None:
        tx, ty = chunks(*splits["test"], config.crop_length, max_per_utterance=4)
        logs = vqvae.evaluate(tx, ty, batch_size=config.batch_size, verbose=0,
                              return_dict=True)
    else:
        test = split_frames(chunks(*splits["test"], config.crop_length, max_per_utterance=4,
                                   pitch=pitch["test"], frame_step=config.frame_step))
        logs = vqvae.evaluate(_batches(test, config.batch_size), verbose=0,
                              return_dict=True)
    if not getattr(prior, "compiled", False):
        prior.compile()
    keys = {"codes": "codes", "condition": "speakers"}
    prior_logs = prior.evaluate(pipe.code_data("test", 64, keys=keys), verbose=0,
                                return_dict=True)
    metrics = {}
    if config.decoder == "wavenet":
        metrics["test_reconstruction_bits_per_sample"] = float(
            logs["reconstruction_loss"] / math.log(2.0))
    elif config.vocoder == "world":
        metrics["test_world_feature_l1"] = float(logs["reconstruction_loss"])
    else:
        metrics["test_log_magnitude_l1"] = float(logs["reconstruction_loss"])
    metrics["test_prior_bits_per_code"] = float(prior_logs["bits_per_code"])
    found, examples = evaluation.evaluate(
        vqvae, {"train": splits["train"], "test": splits["test"]}, texts, speaker_names,
        wer_sentences=config.wer_sentences, probe_sentences=config.probe_sentences,
        probe_seconds=max(1.0, config.eval_seconds), seed=config.seed,
        alignment_cache=pipe.path("alignments.json"), verbose=bool(pipe.verbose),
        pitch=None if pitch is None else {"test": contours_only(pitch["test"])})
    metrics.update(found)
    os.makedirs(pipe.path("examples"), exist_ok=True)
    for name, audio in examples.items():
        write_wav(pipe.path("examples", name), audio, rate)
    _board_scalars(pipe.path("logs", "report"), metrics)
    return metrics


def _board_scalars(log_dir, metrics):
    import tensorflow as tf

    writer = tf.summary.create_file_writer(log_dir)
    with writer.as_default():
        for key, value in metrics.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                tf.summary.scalar(f"report/{key}", float(value), step=0)
    writer.flush()
    writer.close()
