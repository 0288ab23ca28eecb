"""The speech instruments run on a speech VQ-VAE (any decoder: WaveNet or
spectrogram), on held-out sentences: intelligibility (PocketSphinx word
error rates), speaker identity (an MFCC classifier) and probes on the codes
(speaker, phoneme). The recipe's `report` stage calls `evaluate`; so can
anyone with a preset and a labelled corpus:

    from vq_zoo.recipes.vctk import evaluation
    metrics, examples = evaluation.evaluate(vqvae, splits, texts, speaker_names)

`splits`: `{"train": (audios, speakers), "test": (audios, speakers)}`
(lists of float32 16 kHz arrays, int arrays); `texts`: `{"train": [...],
"test": [...]}` the transcript of each utterance (None: no WER and no
phoneme probe).
"""

import json
import os

import numpy as np

# The targets (issue 19): what the shipped preset should reach.
TARGETS = {
    "wer_gap": 0.15,              # reconstructions / conversions vs originals
    "conversion_to_target": 0.70,
    "reconstruction_to_source": 0.85,
    "phoneme_over_chance": 3.0,
}


def wer_subset(audios, speakers, texts, num_sentences):
    """Indices of the utterances of the first `num_sentences` distinct
    texts (every speaker's reading of them), in order."""
    chosen = []
    for t in texts:
        if t not in chosen:
            chosen.append(t)
        if len(chosen) == num_sentences:
            break
    return [i for i, t in enumerate(texts) if t in chosen], chosen


def conversion_targets(speakers, sentence_index, num_speakers):
    """A target speaker for each utterance, never its own, cycling with the
    sentence so every speaker is a target about equally often."""
    speakers = np.asarray(speakers)
    if num_speakers < 2:
        return speakers.copy()
    shift = 1 + np.asarray(sentence_index) % (num_speakers - 1)
    return ((speakers + shift) % num_speakers).astype("int32")


def decode_utterances(vqvae, audios, speakers, seed=0, pitch=None):
    """Each utterance encoded and decoded with `speakers` (one clip at a
    time, so no padding between utterances), cropped to its length. `pitch`:
    each utterance's own contour `(frames, 2)`, for a decoder with
    `pitch_condition` (a conversion keeps its source's contour)."""
    from vq_zoo.models.wavenet.voice_conversion import reconstruct

    if pitch is None:
        return [reconstruct(vqvae, a[None], [s], seed=seed)[0]
                for a, s in zip(audios, np.asarray(speakers))]
    from vq_zoo.data.pitch import frames_of

    dec = vqvae.decoder
    out = []
    for a, s, p in zip(audios, np.asarray(speakers), pitch):
        x = np.pad(a, (0, -a.size % dec.hop_length))[None, :, None].astype(np.float32)
        codes = np.asarray(vqvae.encode(x))
        contour = frames_of(p, 0, codes.shape[1] * dec.frames_per_code, dec.frame_step)
        audio = np.asarray(vqvae.decode(codes, condition=np.asarray([s], "int32"),
                                        seed=seed, pitch=contour[None]))
        out.append(audio[0, :a.size, 0])
    return out


def code_chunks(audios, speakers, length, max_per_utterance=8):
    """Non-overlapping `length`-sample chunks of each utterance (at most
    `max_per_utterance`; an utterance shorter than a chunk is zero-padded
    to one)."""
    xs, ys = [], []
    for a, s in zip(audios, speakers):
        a = np.pad(a, (0, max(0, length - a.size)))
        for i in range(min(max_per_utterance, a.size // length)):
            xs.append(a[i * length:(i + 1) * length])
            ys.append(s)
    return xs, np.asarray(ys, "int32")


def encode_batches(vqvae, clips, batch=32):
    out = []
    for i in range(0, len(clips), batch):
        x = np.stack(clips[i:i + batch])[..., None].astype(np.float32)
        out.append(np.asarray(vqvae.encode(x)))
    return np.concatenate(out)


def _encode_one(vqvae, audio):
    hop = vqvae.decoder.hop_length
    x = np.pad(audio, (0, -audio.size % hop))[None, :, None].astype(np.float32)
    return np.asarray(vqvae.encode(x))[0]


def alignments(recognizer, audios, texts, rate, cache_path=None, verbose=False):
    """Forced alignments (see `Recognizer.align`) of each utterance, cached
    in `cache_path` (a JSON list keyed by the text and length)."""
    from vq_zoo.utils.io import write_atomic

    cache = {}
    if cache_path and os.path.exists(cache_path):
        with open(cache_path) as f:
            cache = json.load(f)
    out, changed = [], False
    for i, (a, t) in enumerate(zip(audios, texts)):
        key = f"{t}|{a.size}|{float(np.abs(a).sum()):.3f}"
        if key not in cache:
            cache[key] = recognizer.align(a, rate, t)
            changed = True
            if verbose and (i + 1) % 16 == 0:
                print(f"  aligned {i + 1}/{len(audios)}", flush=True)
        out.append(cache[key])
    if cache_path and changed:
        write_atomic(cache_path, json.dumps(cache).encode())
    return out


def _labels_at_codes(segments, num_codes, code_seconds, phones):
    from vq_zoo.metrics.speech_intelligibility import frame_labels

    return frame_labels(segments or [], num_codes, code_seconds, phones)


def evaluate(vqvae, splits, texts, speaker_names, wer_sentences=6, probe_sentences=12,
             probe_seconds=1.0, seed=0, alignment_cache=None, verbose=False, pitch=None):
    """`(metrics, examples)`: the held-out measurements (a flat JSON-able
    dict, see the module docstring) and listening examples `{file name:
    audio}` (original, reconstruction and conversions to two other speakers
    for two test sentences). `pitch`: `{"test": [contour of each test
    utterance]}` for a pitch-conditioned decoder (reconstructions and
    conversions read their source's contour)."""
    from vq_zoo.metrics import code_probes
    from vq_zoo.metrics.speaker_id import SpeakerClassifier

    rate = vqvae.decoder.sample_rate
    hop = vqvae.decoder.hop_length
    n = len(speaker_names)
    train_audio, train_spk = splits["train"]
    test_audio, test_spk = splits["test"]
    test_spk = np.asarray(test_spk, "int32")
    metrics = {"num_speakers": n, "speaker_chance": 1.0 / n,
               "code_rate_hz": rate / hop, "sample_rate": rate}
    log = (lambda m: print(m, flush=True)) if verbose else (lambda m: None)

    # Held-out utterances decoded with their own and with another speaker.
    test_texts = (texts or {}).get("test")
    if test_texts is not None:
        idx, chosen = wer_subset(test_audio, test_spk, test_texts, wer_sentences)
    else:
        idx, chosen = list(range(min(len(test_audio), wer_sentences * n))), []
    sentence_of = [chosen.index(test_texts[i]) if chosen else i for i in idx]
    src = test_spk[idx]
    tgt = conversion_targets(src, sentence_of, n)
    originals = [test_audio[i] for i in idx]
    contours = None if pitch is None else [pitch["test"][i] for i in idx]
    if getattr(vqvae.decoder, "pitch_condition", False) and contours is None:
        raise ValueError("this model's decoder is conditioned on the pitch contour: "
                         "pass `pitch` ({'test': [contour of each test utterance]})")
    if contours is not None:
        metrics["pitch_condition"] = True
    log(f"  decoding {len(idx)} held-out utterances (reconstructions, conversions)")
    recon = decode_utterances(vqvae, originals, src, seed, contours)
    conv = decode_utterances(vqvae, originals, tgt, seed, contours)
    metrics["eval_utterances"] = len(idx)
    metrics["eval_seconds"] = float(sum(a.size for a in originals) / rate)

    # Voicing (a pitch tracker): speech without voiced frames is noise.
    try:
        from vq_zoo.metrics.pitch import voiced_fraction

        for kind, audios in (("originals", originals), ("reconstructions", recon),
                             ("conversions", conv)):
            metrics[f"voiced_fraction_{kind}"] = float(np.mean(
                [voiced_fraction(a, rate) for a in audios]))
    except ImportError:  # librosa (the WaveNet path needs none otherwise)
        pass

    # Speaker identity: a classifier on the training originals.
    clf = SpeakerClassifier(rate, seed).fit(train_audio, train_spk)
    metrics["speaker_classifier_on_test_originals"] = clf.accuracy(test_audio, test_spk)
    recon_pred, conv_pred = clf.predict(recon), clf.predict(conv)
    metrics["reconstructions_classified_as_source"] = float(np.mean(recon_pred == src))
    metrics["conversions_classified_as_target"] = float(np.mean(conv_pred == tgt))
    metrics["conversions_classified_as_source"] = float(np.mean(conv_pred == src))

    # Intelligibility.
    recognizer = None
    if test_texts is not None:
        from vq_zoo.metrics.speech_intelligibility import Recognizer
        from vq_zoo.metrics.speech_intelligibility import word_edits

        try:
            recognizer = Recognizer()
        except ImportError as e:  # the optional extra: say so, measure the rest
            metrics["instruments_skipped"] = f"word error rates, phoneme probe: {e}"
            log(f"  skipping the word error rates and the phoneme probe: {e}")
    if recognizer is not None:
        refs = [test_texts[i] for i in idx]
        per = {}
        for kind, audios, who in (("originals", originals, src),
                                  ("reconstructions", recon, src),
                                  ("conversions", conv, tgt)):
            log(f"  recognising {len(audios)} {kind}")
            counts = np.array([word_edits(ref, recognizer.transcribe(a, rate))
                               for ref, a in zip(refs, audios)], float).reshape(-1, 2)
            metrics[f"wer_{kind}"] = float(counts[:, 0].sum() / counts[:, 1].sum())
            per[kind] = _rate_by(counts, who, speaker_names)
            if kind == "conversions":
                per["conversions_by_source"] = _rate_by(counts, src, speaker_names)
        # conversions: by target speaker; conversions_by_source: by source
        metrics["wer_by_speaker"] = per

    # Probes on the codes alone.
    length = max(hop, int(round(probe_seconds * rate / hop)) * hop)
    px, py = code_chunks(train_audio, train_spk, length)
    qx, qy = code_chunks(test_audio, test_spk, length)
    k = vqvae.quantizer.num_embeddings
    train_codes, test_codes = encode_batches(vqvae, px), encode_batches(vqvae, qx)
    sp = code_probes.speaker_probe(train_codes, py, test_codes, qy, k, seed)
    audio_probe = code_probes.probe_accuracy(clf.features(px), py, clf.features(qx), qy,
                                             seed)
    metrics.update(speaker_probe_codes=sp["accuracy"],
                   speaker_probe_audio=audio_probe["accuracy"],
                   speaker_probe_chunks_seconds=length / rate,
                   speaker_probe_test_chunks=sp["test"])
    counts = np.bincount(test_codes.ravel(), minlength=k)
    p = counts[counts > 0] / counts.sum()
    metrics["test_perplexity"] = float(np.exp(-(p * np.log(p)).sum()))
    metrics["test_codebook_usage"] = float((counts > 0).mean())

    train_texts = (texts or {}).get("train")
    if recognizer is not None and train_texts is not None:
        t_idx, _ = wer_subset(train_audio, train_spk, train_texts, probe_sentences)
        log(f"  aligning {len(t_idx) + len(idx)} originals for the phoneme probe")
        t_al = alignments(recognizer, [train_audio[i] for i in t_idx],
                          [train_texts[i] for i in t_idx], rate, alignment_cache, verbose)
        q_al = alignments(recognizer, originals, [test_texts[i] for i in idx], rate,
                          alignment_cache, verbose)
        phones = sorted({p for al in t_al + q_al if al for p, _, _ in al})
        code_s = hop / rate

        def labelled(audios, als):
            cs, ls = [], []
            for a, al in zip(audios, als):
                if not al:
                    continue
                c = _encode_one(vqvae, a)
                cs.append(c)
                ls.append(_labels_at_codes(al, c.size, code_s, phones))
            return cs, ls

        tc, tl = labelled([train_audio[i] for i in t_idx], t_al)
        qc, ql = labelled(originals, q_al)
        if tc and qc:
            ph = code_probes.phoneme_probe(tc, tl, qc, ql, k, context=1, seed=seed)
            metrics.update(phoneme_probe_codes=ph["accuracy"],
                           phoneme_chance_majority=ph["chance_majority"],
                           phoneme_chance_uniform=ph["chance_uniform"],
                           phoneme_classes=len(phones), phoneme_probe_test_steps=ph["test"],
                           aligned_utterances=len(tc) + len(qc))
    metrics["targets"] = check_targets(metrics)

    # Listening examples: two sentences, two sources, two targets each.
    examples = {}
    picks = []
    for s, sentence in ((0, 0), (n // 2, min(1, max(0, len(chosen) - 1)))):
        match = [j for j in range(len(idx)) if src[j] == s and sentence_of[j] == sentence]
        if match and match[0] not in picks:
            picks.append(match[0])
    for j in picks[:2]:
        s = int(src[j])
        a = speaker_names[s]
        examples[f"original_{a}.wav"] = originals[j]
        examples[f"reconstruction_{a}.wav"] = recon[j]
        others = []
        for t in ((s + n // 2 + 1) % n, (s + 2) % n, (s + 1) % n):
            if t != s and t not in others:
                others.append(t)
        for t in others[:2]:
            out = decode_utterances(vqvae, [originals[j]], [t], seed,
                                    None if contours is None else [contours[j]])[0]
            examples[f"conversion_{a}_to_{speaker_names[t]}.wav"] = out
    return metrics, examples


def _rate_by(counts, groups, names):
    """`{name: edits / words}` over the utterances of each group (an index
    into `names` per row of `counts`, `(edits, words)`) that has words."""
    edits = np.bincount(groups, counts[:, 0], minlength=len(names))
    words = np.bincount(groups, counts[:, 1], minlength=len(names))
    return {names[s]: float(edits[s] / words[s]) for s in range(len(names)) if words[s]}


def check_targets(m):
    """Each issue-19 target: `{name: {"value", "target", "met"}}` (those
    whose measurements exist)."""
    out = {}

    def add(name, value, target, met):
        out[name] = {"value": float(value), "target": target, "met": bool(met)}

    if "wer_originals" in m:
        for kind in ("reconstructions", "conversions"):
            gap = m[f"wer_{kind}"] - m["wer_originals"]
            add(f"wer_{kind}_minus_originals", gap, f"<= {TARGETS['wer_gap']}",
                gap <= TARGETS["wer_gap"])
    add("conversions_classified_as_target", m["conversions_classified_as_target"],
        f">= {TARGETS['conversion_to_target']}",
        m["conversions_classified_as_target"] >= TARGETS["conversion_to_target"])
    add("reconstructions_classified_as_source", m["reconstructions_classified_as_source"],
        f">= {TARGETS['reconstruction_to_source']}",
        m["reconstructions_classified_as_source"] >= TARGETS["reconstruction_to_source"])
    halfway = (m["speaker_probe_audio"] + m["speaker_chance"]) / 2
    add("speaker_probe_codes", m["speaker_probe_codes"], f"<= {halfway:.3f} (halfway from "
        "the audio probe to chance)", m["speaker_probe_codes"] <= halfway)
    if "phoneme_probe_codes" in m:
        ratio = m["phoneme_probe_codes"] / max(m["phoneme_chance_majority"], 1e-9)
        add("phoneme_probe_over_chance", ratio, f">= {TARGETS['phoneme_over_chance']}x",
            ratio >= TARGETS["phoneme_over_chance"])
    return out


def pitch_ablation(vqvae, audios, speakers, contours, length, batch=16, seed=0):
    """What a pitch-conditioned decoder takes from the contour: the mean
    log-magnitude L1 (nats) of `length`-sample chunks of the utterances
    decoded with their true contour, with the voicing kept but log F0 flat
    at the speaker's mean, with every frame unvoiced, and with the contour
    of another chunk (shuffled with `seed`). `{name: L1}`."""
    from vq_zoo.recipes.vctk.recipe import chunks

    frame_step = vqvae.decoder.frame_step
    x, y, p = chunks(audios, speakers, length, max_per_utterance=4, pitch=contours,
                     frame_step=frame_step)
    flat = p.copy()
    flat[..., 0] = 0.0
    variants = {"true": p, "flat_log_f0": flat, "unvoiced": np.zeros_like(p),
                "another_chunk": p[np.random.default_rng(seed).permutation(len(p))]}
    out = {}
    for name, q in variants.items():
        total = 0.0
        for i in range(0, len(x), batch):
            terms = vqvae.compute_loss_terms((x[i:i + batch], y[i:i + batch],
                                              q[i:i + batch]), training=False)[0]
            total += float(terms["reconstruction_loss"]) * len(x[i:i + batch])
        out[name] = total / len(x)
    return out


def pitch_following(originals, decoded):
    """How the pitch of decoded utterances follows their originals' (YIN,
    `vq_zoo.data.pitch.yin`): `{"voiced": mean voiced share of the decoded,
    "correlation": mean over utterances of the correlation of log F0 over
    the frames voiced in both, "spread_ratio": mean ratio of the decoded's
    standard deviation of log F0 there to the original's (about 0: a
    monotone), "utterances": how many had at least 10 such frames}`."""
    from vq_zoo.data.pitch import yin

    corr, ratio, voiced = [], [], []
    for a, b in zip(originals, decoded):
        fa, va, _ = yin(a)
        fb, vb, _ = yin(np.asarray(b, np.float32))
        n = min(va.size, vb.size)
        voiced.append(float(vb.mean()))
        both = va[:n] & vb[:n]
        if both.sum() < 10:
            continue
        la, lb = np.log(fa[:n][both]), np.log(fb[:n][both])
        if la.std() > 0 and lb.std() > 0:
            corr.append(float(np.corrcoef(la, lb)[0, 1]))
        else:
            corr.append(0.0)
        ratio.append(float(lb.std() / max(la.std(), 1e-9)))
    nan = float("nan")
    return {"voiced": float(np.mean(voiced)) if voiced else nan,
            "correlation": float(np.mean(corr)) if corr else nan,
            "spread_ratio": float(np.mean(ratio)) if ratio else nan,
            "utterances": len(corr)}


def load_world_run(run_dir, split="test", sentences=6):
    """A finished `vq-zoo train vctk` run with `vocoder="world"` and the
    report's utterances of `split` (the first `sentences` sentences read
    by every voice), for the measuring scripts of `bench/`: a namespace of
    `vqvae`, `config` (the recorded dict), the split's `audios`,
    `speakers`, `texts`, the chosen utterances' indices `idx` and
    sentences `chosen`, and `analysis` (WORLD's features of every
    utterance of the split, cached in the run dir). A run with another
    vocoder: `ValueError`."""
    import types

    import keras

    from vq_zoo.data import speech_corpus, world

    with open(os.path.join(run_dir, "config.json")) as f:
        config = json.load(f)["config"]
    if config.get("vocoder") != "world":
        raise ValueError(f"{run_dir} was not trained with vocoder=world "
                         f"(its vocoder: {config.get('vocoder')!r})")
    vqvae = keras.models.load_model(os.path.join(run_dir, "vqvae.keras"))
    corpus = config["corpus_dir"] or os.path.join(run_dir, "corpus")
    audios, speakers, sentence_ids = speech_corpus.load_split(corpus, split)
    texts = speech_corpus.sentence_texts(corpus, sentence_ids)
    idx, chosen = wer_subset(audios, speakers, texts, sentences)
    analysis = world.corpus_analysis(
        audios, os.path.join(run_dir, f"world_{split}.npz"),
        sample_rate=config["sample_rate"], frame_step=config["frame_step"],
        num_bands=config["num_bands"], num_aperiodicity_bands=config["num_aperiodicity_bands"])
    return types.SimpleNamespace(vqvae=vqvae, config=config, audios=audios,
                                 speakers=speakers, texts=texts, idx=idx, chosen=chosen,
                                 analysis=analysis)


def main(argv=None):
    """`python -m vq_zoo.recipes.vctk.evaluation RUN [--compare RUN]`:
    `pitch_ablation` on the test split of a pitch-conditioned run of the
    corpus (its contours from the run's `pitch_test.npz`), and
    `pitch_following` of its reconstructions of the report's utterances
    (those of `wer_sentences` test sentences), beside those of `--compare`
    (a run without the pitch condition, on the same corpus)."""
    import argparse

    import keras

    from vq_zoo.data import pitch
    from vq_zoo.data import speech_corpus

    parser = argparse.ArgumentParser(prog="python -m vq_zoo.recipes.vctk.evaluation",
                                     description=main.__doc__)
    parser.add_argument("run_dir")
    parser.add_argument("--compare", help="a run dir without the pitch condition")
    args = parser.parse_args(argv)
    with open(os.path.join(args.run_dir, "config.json")) as f:
        config = json.load(f)["config"]
    if not config.get("pitch_condition"):
        parser.error(f"{args.run_dir} was not trained with pitch_condition=True")
    vqvae = keras.saving.load_model(os.path.join(args.run_dir, "vqvae.keras"))
    corpus = config["corpus_dir"] or os.path.join(args.run_dir, "corpus")
    audios, speakers, _ = speech_corpus.load_split(corpus, "test")
    raw = pitch.corpus_contours(audios, os.path.join(args.run_dir, "pitch_test.npz"),
                                sample_rate=config["sample_rate"],
                                frame_step=config["frame_step"])
    contours = [vqvae.decoder.pitch_features(f0, v, s) for (f0, v), s in zip(raw, speakers)]
    found = pitch_ablation(vqvae, audios, speakers, contours, config["crop_length"])
    for name, value in found.items():
        print(f"{name:14s} log-magnitude L1 {value:.4f}")
    texts = speech_corpus.sentence_texts(corpus, speech_corpus.load_split(corpus, "test")[2])
    idx, _ = wer_subset(audios, speakers, texts, config["wer_sentences"])
    originals = [audios[i] for i in idx]
    src = np.asarray(speakers)[idx]
    runs = [(args.run_dir, vqvae, [contours[i] for i in idx])]
    if args.compare:
        runs.append((args.compare, keras.saving.load_model(
            os.path.join(args.compare, "vqvae.keras")), None))
    for name, model, pitch_in in runs:
        decoded = decode_utterances(model, originals, src, config["seed"], pitch_in)
        f = pitch_following(originals, decoded)
        print(f"{name}: reconstructions of {len(idx)} test utterances: voiced (YIN) "
              f"{f['voiced']:.3f}, log-F0 correlation with the original {f['correlation']:.3f}, "
              f"spread ratio {f['spread_ratio']:.3f} ({f['utterances']} utterances)")
    f = pitch_following(originals, originals)
    print(f"originals: voiced (YIN) {f['voiced']:.3f}")


__all__ = ["TARGETS", "check_targets", "conversion_targets", "evaluate", "pitch_ablation",
           "pitch_following", "wer_subset"]


if __name__ == "__main__":
    main()
