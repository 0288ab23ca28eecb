"""`vq-zoo export` of a speech run (`Recipe.export` of the vctk recipe):

    vq-zoo export runs/vctk-small --dest pretrained

writes the two presets (by default the shipped names,
`vqvae_spectrogram_small_speech_16k` and
`gated_pixelcnn_1d_small_speech_16k`; `--vqvae-preset` / `--prior-preset`
choose others) as the generic export does, then rewrites each (same
metadata, weights from the run) with a speech card and the run's
`examples/*.wav`. What the models are and how to use them is the speech
family's words (`SpeechVQVAEFamily.card_intro`, `card_usage`,
`card_commands`, `architecture`); this module adds the run's figures: data,
training, held-out metrics, targets, listening examples, limitations.
"""

import glob
import json
import os

from vq_zoo.recipes import common

VQVAE_PRESET = "vqvae_spectrogram_small_speech_16k"
PRIOR_PRESET = "gated_pixelcnn_1d_small_speech_16k"


def _fmt(v):
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def _row(label, value):
    return f"| {label} | {_fmt(value)} |"


def metrics_table(m):
    """The held-out metrics table (markdown lines) of a speech run's
    `metrics.json`."""
    lines = ["| metric | value |", "|---|---|"]
    if "test_log_magnitude_l1" in m:
        lines.append(_row("log-magnitude L1 of the decoded spectrogram (nats)",
                          m["test_log_magnitude_l1"]))
    if "test_world_feature_l1" in m:
        lines.append(_row("L1 of the decoded WORLD features (envelope in nats, periodicity)",
                          m["test_world_feature_l1"]))
    if "test_reconstruction_bits_per_sample" in m:
        lines.append(_row("reconstruction bits per sample (mu-law NLL; 8 = uniform)",
                          m["test_reconstruction_bits_per_sample"]))
    lines += [
        _row("prior bits per code", m["test_prior_bits_per_code"]),
        f"| code perplexity / codebook usage | {m['test_perplexity']:.1f} / "
        f"{m['test_codebook_usage']:.3f} |",
    ]
    if "wer_originals" in m:
        lines += [_row("word error rate: originals", m["wer_originals"]),
                  _row("word error rate: reconstructions", m["wer_reconstructions"]),
                  _row("word error rate: conversions", m["wer_conversions"])]
    if "voiced_fraction_originals" in m:
        lines.append(
            f"| voiced fraction of sounding frames (pYIN): originals / reconstructions / "
            f"conversions | {m['voiced_fraction_originals']:.2f} / "
            f"{m['voiced_fraction_reconstructions']:.2f} / "
            f"{m['voiced_fraction_conversions']:.2f} |")
    lines += [
        _row("speaker classifier on held-out originals (ceiling)",
             m["speaker_classifier_on_test_originals"]),
        _row("reconstructions classified as their source speaker",
             m["reconstructions_classified_as_source"]),
        _row("conversions classified as their target speaker",
             m["conversions_classified_as_target"]),
        _row("conversions classified as their source speaker",
             m["conversions_classified_as_source"]),
        _row("speaker probe on the codes (code histograms)", m["speaker_probe_codes"]),
        _row("speaker probe on the audio (MFCC statistics)", m["speaker_probe_audio"]),
        _row("speaker chance (1 / speakers)", m["speaker_chance"]),
    ]
    if "phoneme_probe_codes" in m:
        lines += [
            _row("phoneme probe on the codes (3 codes around each step)",
                 m["phoneme_probe_codes"]),
            _row("phoneme chance (most frequent phone) / 1 / phones",
                 f"{m['phoneme_chance_majority']:.3f} / {m['phoneme_chance_uniform']:.3f}")]
    return lines


def targets_table(m):
    lines = ["| target (issue 19) | measured | wanted | met |", "|---|---|---|---|"]
    for name, t in (m.get("targets") or {}).items():
        lines.append(f"| {name} | {t['value']:.3f} | {t['target']} | "
                     f"{'yes' if t['met'] else '**no**'} |")
    return lines


def wer_by_speaker_table(m):
    per = m.get("wer_by_speaker")
    if not per:
        return []
    by_source = per.get("conversions_by_source")
    lines = ["| voice | originals | reconstructions | conversions (to this voice) |"
             + (" conversions (from this voice) |" if by_source else ""),
             "|---|---|---|---|" + ("---|" if by_source else "")]
    for name in per["originals"]:
        lines.append(f"| {name} | {per['originals'][name]:.2f} | "
                     f"{per['reconstructions'].get(name, float('nan')):.2f} | "
                     f"{per['conversions'].get(name, float('nan')):.2f} |"
                     + (f" {by_source.get(name, float('nan')):.2f} |" if by_source else ""))
    return lines


def _limitations(m, vqvae):
    """Data-driven lines: every missed target by how much, voicing, and a
    prior worse than uniform on held-out codes."""
    import math

    lines = []
    for name, t in (m.get("targets") or {}).items():
        if not t["met"]:
            lines.append(f"- Target missed: `{name}` = {t['value']:.3f}, wanted {t['target']} "
                         "(what was tried: `recipes/vctk/README.md`).")
    lines += _unread_voices_lines(m)
    if "voiced_fraction_reconstructions" in m:
        recon, orig = m["voiced_fraction_reconstructions"], m["voiced_fraction_originals"]
        said = (f"- Voicing: {recon:.0%} of the sounding frames of reconstructions are voiced "
                f"(pYIN) against {orig:.0%} of the originals'")
        if recon < orig - 0.05:
            lines.append(said + ": some reconstructions, above all of the low espeak-ng "
                                "voices, come out partly whispered.")
        elif recon > orig + 0.05:
            lines.append(said + ": the vocoder voices every frame the source's pitch "
                                "tracker calls voiced, so some consonants and pauses that "
                                "pYIN hears as unvoiced in the original come out buzzed.")
    bits = m.get("test_prior_bits_per_code")
    k = vqvae.quantizer.num_embeddings
    if bits is not None and bits > math.log2(k):
        lines.append(
            f"- The prior overfits: {bits:.2f} bits per held-out code, worse than uniform "
            f"({math.log2(k):.0f} bits); its validation loss was lowest after the first "
            "epochs. Its samples are babble in the right voice, not sentences.")
    return lines


def _unread_voices_lines(m, unread=0.9):
    """The word error rates pool the voices: where the recogniser reads
    little of some voices even in their originals (WER >= `unread`), a line
    naming them and giving the others' figures alone (the mean of their
    per-voice rates)."""
    per = m.get("wer_by_speaker") or {}
    orig, recon, conv = (per.get(k) or {} for k in ("originals", "reconstructions",
                                                     "conversions"))
    deaf = [v for v, w in orig.items() if w >= unread]
    read = [v for v in orig if v not in deaf and v in recon and v in conv]
    if not deaf or not read:
        return []

    def mean(rates):
        return sum(rates[v] for v in read) / len(read)

    return [f"- The word error rates pool {len(orig)} voices, and the recogniser reads little "
            f"of {len(deaf)} of them even in the originals (WER >= {unread:g}: "
            f"{', '.join(deaf)}): there every figure sits near 1.0 whatever the model does. "
            f"On the other {len(read)} alone (the mean of their rates by voice): originals "
            f"{mean(orig):.2f}, reconstructions {mean(recon):.2f}, conversions to them "
            f"{mean(conv):.2f}."]


def _synthesis_words(decoder):
    upsample = getattr(decoder, "synthesis_upsample", 1)
    ms = 1000.0 * decoder.frame_step / decoder.sample_rate / upsample
    return (f" Synthesis: formant postfilter `envelope_sharpening={decoder.envelope_sharpening:g}`"
            f", WORLD frames of {ms:g} ms (`synthesis_upsample={upsample}`"
            + (", the decoded frames interpolated" if upsample > 1 else "") + ").")


def _vocoder_line(decoder):
    if getattr(decoder, "vocoder", "griffin_lim") == "world":
        return ("- WORLD vocoder: a smooth envelope voiced by a pulse train and noise gives a "
                "synthetic, slightly buzzy timbre; the pitch is the source's contour (Harvest), "
                "so a tracking error in the source is heard as a jump or a whisper. Speech "
                "without a source (prior samples, `vq-zoo sample`) borrows the contour of one "
                "training utterance of its voice." + _synthesis_words(decoder))
    return ("- Griffin-Lim phases: the audio has the buzz of phase reconstruction; it is "
            "meant to be understood, not to sound natural.")


def _best_epoch_clause(best, c):
    if not best:
        return ""
    logs = best.get("final_logs") or {}
    tail = ""
    if "bits_per_code" in logs and "val_bits_per_code" in logs:
        tail = (f"; by epoch {c['prior_epochs']} it had memorised the training sentences: "
                f"{logs['bits_per_code']:.2f} training against {logs['val_bits_per_code']:.2f} "
                "validation bits per code")
    return (f", keeping the weights of its best validation epoch, {best['epoch']} of "
            f"{c['prior_epochs']} (`Pipeline.train(keep_best=\"val_loss\")`{tail})")


def export_command(meta):
    """The `vq-zoo export` command of the run `meta` records (preset names
    only where they are not the shipped ones)."""
    names = [f"--{kind}-preset {meta[f'{kind}_preset']}"
             for kind, default in (("vqvae", VQVAE_PRESET), ("prior", PRIOR_PRESET))
             if meta.get(f"{kind}_preset", default) != default]
    return " ".join([f"vq-zoo export {meta['run_dir_name']} --dest pretrained", *names])


def speech_card(name, kind, meta, vqvae, prior, wavs, notes=""):
    m = meta["metrics"]
    c = meta["config"]
    inv = (meta.get("training_invocations") or [{}])[-1]
    total_minutes = sum(i.get("wall_time_s", 0)
                        for i in meta.get("training_invocations") or []) / 60
    from vq_zoo.models.family import card_family
    from vq_zoo.models.family import describe_member

    model = vqvae if kind == "vqvae" else prior
    family = card_family(model, meta)
    facts, members = describe_member(model), {"vqvae": vqvae, "prior": prior}
    lines = [f"# {name}", "", family.card_intro(name, facts, meta, members), "",
             "```python", *family.card_usage(name, facts, meta, members), "```", "",
             "```bash", *family.card_commands(name, facts, meta, members), "```", ""]
    lines += [
        "## Architecture",
        "",
        family(vqvae, prior).architecture(),
        "",
        "## Data",
        "",
        meta["data"],
        "",
        f"Texts: generated by `vq_zoo.data.speech_corpus.generate_sentences` "
        f"({c['num_sentences']} sentences, seed {c['seed']}); data license: "
        f"{meta['data_license']}.",
        "",
        "## Training",
        "",
        "```bash",
        "apt-get update && apt-get install -y espeak-ng flite sox",
        "pip install 'vq_zoo[speech,speech-eval]'",
        meta["command"],
        export_command(meta),
        "```",
        "",
        f"Hardware (measured): {inv.get('hardware', '?')}. Wall time of the recorded "
        f"invocations of the training command: {total_minutes:.1f} min (stages finished "
        "by an earlier, interrupted invocation are reused and not counted here; the "
        "recipe README gives the whole run's stage times), on a machine shared with "
        f"other jobs. VQ-VAE: {c['vqvae_epochs'] * c['vqvae_steps_per_epoch']} steps of "
        f"{c['batch_size']} random {c['crop_length']}-sample crops; prior: "
        f"{c['prior_epochs'] * c['prior_steps_per_epoch']} steps of {c['prior_batch_size']}"
        + _best_epoch_clause(meta.get("prior_best_epoch"), c) + ".",
        "",
        "## Held-out metrics",
        "",
        f"Measured by the run's `report` stage (`metrics.json`; "
        "`vq_zoo.recipes.vctk.evaluation`) on sentences never heard in training, "
        f"read by the same {m['num_speakers']} voices: {m.get('eval_utterances', '?')} "
        f"utterances ({m.get('eval_seconds', 0):.0f} s). Word error rates: PocketSphinx "
        "(PyPI `pocketsphinx`, its stock US-English models, nothing tuned here) on whole "
        "utterances. Speaker identity: a logistic regression on MFCC statistics trained "
        "on the training originals. Conversions: each utterance to another voice, every "
        "voice a target about equally often. Probes: logistic regressions on the codes "
        f"alone; the speaker probe on histograms of {m['speaker_probe_chunks_seconds']:.2f} s "
        "chunks, the phoneme probe on the codes around each step with phone labels "
        "from PocketSphinx's forced alignment of the originals.",
        "",
        *metrics_table(m),
        "",
        *targets_table(m),
        "",
        "Word error rate by voice (the recogniser's own ceiling differs by voice: it "
        "knows the flite voices far better than the espeak-ng ones):",
        "",
        *wer_by_speaker_table(m),
        "",
        "## Listening examples",
        "",
    ]
    voicing = meta.get("voiced_fraction_of_examples") or {}
    heard = meta.get("transcripts_of_examples") or {}
    lines += [f"- [`{w}`]({w})" + (f": {voicing[w]:.0%} of its sounding frames voiced (pYIN)"
                                   if w in voicing else "")
              + (f"; PocketSphinx hears \"{heard[w]}\"" if w in heard else "") for w in wavs]
    if any(w.startswith("prior_sample") for w in wavs):
        lines += ["", "`prior_sample_*`: 1.28 s of codes drawn from the prior for one voice "
                  "and decoded (64 codes, a few syllables; the voicing above is measured, no "
                  "recogniser was run on them)."]
    if notes.strip():
        lines += ["", "## Notes", "", notes.strip()]
    lines += [
        "",
        "## Limitations (read this)",
        "",
        *_limitations(m, vqvae),
        _vocoder_line(vqvae.decoder),
        "- Synthetic voices only (espeak-ng, flite) and a 100-word grammar: expect "
        "little on real recordings or on words outside the grammar.",
        "- Measured once, on one held-out split (no error bars)"
        + ("; see the targets table for the ones missed." if any(
            not t["met"] for t in (m.get("targets") or {}).values()) else "."),
    ]
    return common.close_card(lines, meta)


def _measured_extras(run_dir, wav_paths):
    """What the card states beyond `metrics.json`: the prior's best epoch
    (its stage record), the voiced fraction of every shipped WAV and, with
    `.[speech-eval]` installed, what PocketSphinx hears of each example
    that has a source (not the prior samples)."""
    import importlib.util

    from vq_zoo.metrics.pitch import voiced_fraction
    from vq_zoo.metrics.speech_intelligibility import Recognizer
    from vq_zoo.utils.audio import read_audio

    extra = {}
    record = os.path.join(run_dir, "stages", "prior.json")
    if os.path.exists(record):
        with open(record) as f:
            stage = json.load(f)
        if stage.get("best_epoch"):
            extra["prior_best_epoch"] = dict(stage["best_epoch"],
                                             final_logs=stage.get("final_logs") or {})
    # What the recogniser hears of each example, where `.[speech-eval]` is in.
    hears = importlib.util.find_spec("pocketsphinx") is not None
    voicing, heard = {}, {}
    for path in wav_paths:
        audio, rate = read_audio(path)
        name = os.path.basename(path)
        voicing[name] = round(float(voiced_fraction(audio, rate)), 3)
        if hears and not name.startswith("prior_sample"):
            # A fresh recogniser each: PocketSphinx adapts its cepstral mean
            # from one utterance to the next, so what it hears would depend
            # on the examples heard before.
            heard[name] = Recognizer().transcribe(audio, rate)
    extra["voiced_fraction_of_examples"] = voicing
    if heard:
        extra["transcripts_of_examples"] = heard
    return extra


def export(recipe, run_dir, request):
    """`vq-zoo export RUN_DIR` of a speech run: the generic presets (named
    by `--vqvae-preset` / `--prior-preset`, by default the shipped names),
    then each rewritten with a speech card and the run's listening examples
    (`rewrite`); `--notes FILE` (what the run dir does not record) becomes
    the cards' "Notes" section."""
    import copy

    from vq_zoo import presets
    from vq_zoo.export.run_presets import export_run_presets
    from vq_zoo.export.run_presets import read_notes

    notes = read_notes(request)  # read first: a missing file writes nothing
    request = copy.copy(request)
    request.notes = None  # the generic cards carry none; the speech cards do
    request.vqvae_preset = request.vqvae_preset or VQVAE_PRESET
    request.prior_preset = request.prior_preset or PRIOR_PRESET
    export_run_presets(run_dir, request, recipe)
    return rewrite(run_dir, request.dest or str(presets.user_presets_dir()),
                   request.vqvae_preset, request.prior_preset, notes)


def rewrite(run_dir, dest, vqvae_preset=VQVAE_PRESET, prior_preset=PRIOR_PRESET, notes=""):
    """Rewrites the two presets `vq-zoo export` wrote under `dest` from the
    speech run in `run_dir` with speech cards (with `notes`, Markdown, as
    their "Notes" section) and its `examples/*.wav`."""
    from vq_zoo import presets
    from vq_zoo.presets import RESERVED_METADATA

    vqvae, prior = common.load_run_models(run_dir, "vqvae", "prior")
    wav_paths = sorted(glob.glob(os.path.join(run_dir, "examples", "*.wav")))
    wavs = {os.path.basename(p): p for p in wav_paths}
    extra = _measured_extras(run_dir, wav_paths)
    for kind, name, model in (("vqvae", vqvae_preset, vqvae), ("prior", prior_preset, prior)):
        folder = os.path.join(dest, name)
        with open(os.path.join(folder, "metadata.json")) as f:
            meta = json.load(f)
        meta.update(extra)
        card = speech_card(name, kind, meta, vqvae, prior,
                           list(wavs) if kind == "vqvae" else
                           [w for w in wavs if w.startswith("prior_sample")], notes)
        keep = {k: v for k, v in meta.items()
                if k not in RESERVED_METADATA and k not in ("files", "extra_files", "date")}
        files = wavs if kind == "vqvae" else {
            k: v for k, v in wavs.items() if k.startswith("prior_sample")}
        presets.save_to_preset(model, folder, keep, files=files, model_card=card)
        print(f"Rewrote {folder} with a speech card and {len(files)} WAVs")
    return 0
