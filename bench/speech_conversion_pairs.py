"""Where a WORLD speech run's conversions lose their words: every held-out
utterance of the report's sentences decoded in *every* voice (its own: the
reconstruction; the 7 others: conversions), each recognised by PocketSphinx,
word error rates by source and target voice beside the originals'.

The report converts each utterance to one other voice and compares the
conversions' WER with the originals' overall. Half the corpus voices are
espeak-ng voices the recogniser cannot read even as originals (WER near 1),
so a conversion *to* one of them, or *from* one (its articulation and
timing are the source's), reads near 1 however good the conversion is.
This table separates those cases from the pairs where the recogniser reads
both voices' originals.

    python bench/speech_conversion_pairs.py RUN [--split test] [--sentences 6]

RUN: a run dir of `vq-zoo train vctk` with `vocoder=world` (its
`vqvae.keras`, `corpus/` and `world_<split>.npz`). Prints markdown tables;
`--json PATH` also writes the counts.
"""

import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))


def family(name):
    """The synthesiser a corpus voice comes from: "flite" or "espeak"."""
    return name.split("_")[0]


def rates(edits, words, src, names):
    """`(by_pair, by_family)`: WER of the decodings of utterances from
    source voice s in target voice t, `by_pair[s][t]` (names), and summed
    over family pairs, `by_family["flite->espeak"]` etc. `edits`, `words`:
    `(utterances, voices)` counts; `src`: each utterance's voice index."""
    n = len(names)
    e = np.zeros((n, n))
    w = np.zeros((n, n))
    for row, s in enumerate(src):
        e[s] += edits[row]
        w[s] += words[row]
    by_pair = {names[s]: {names[t]: float(e[s, t] / w[s, t]) for t in range(n) if w[s, t]}
               for s in range(n)}
    fams = sorted({family(v) for v in names})
    by_family = {}
    for a in fams:
        for b in fams:
            for kind, keep in (("conversions", lambda s, t: s != t),
                               ("reconstructions", lambda s, t: s == t)):
                cells = [(s, t) for s in range(n) for t in range(n)
                         if family(names[s]) == a and family(names[t]) == b and keep(s, t)]
                if cells:
                    ee = sum(e[c] for c in cells)
                    ww = sum(w[c] for c in cells)
                    by_family[f"{kind} {a}->{b}"] = float(ee / ww) if ww else None
    return by_pair, by_family


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir")
    parser.add_argument("--split", default="test")
    parser.add_argument("--sentences", type=int, default=6)
    parser.add_argument("--json", default=None, help="also write the figures here")
    args = parser.parse_args(argv)

    from vq_zoo.metrics.speech_intelligibility import Recognizer, word_edits
    from vq_zoo.recipes.vctk.evaluation import decode_utterances, load_world_run
    from vq_zoo.utils.io import write_atomic

    try:
        run = load_world_run(args.run_dir, args.split, args.sentences)
    except ValueError as e:
        parser.error(str(e))
    vqvae, idx, audios, texts, analysis = run.vqvae, run.idx, run.audios, run.texts, run.analysis
    dec = vqvae.decoder
    names = list(dec.speaker_names)
    src = np.asarray(run.speakers, "int32")[idx]
    originals = [audios[i] for i in idx]
    contours = [dec.pitch_features(analysis[i][0], analysis[i][0] > 0, int(s))
                for i, s in zip(idx, src)]
    refs = [texts[i] for i in idx]
    recognizer = Recognizer()
    n = len(names)
    edits = np.zeros((len(idx), n))
    words = np.zeros((len(idx), n))
    orig = np.array([word_edits(r, recognizer.transcribe(a, dec.sample_rate))
                     for r, a in zip(refs, originals)], float)
    print(f"{args.run_dir}: {len(idx)} {args.split} utterances x {n} voices", flush=True)
    for t in range(n):
        decoded = decode_utterances(vqvae, originals, np.full(len(idx), t, "int32"),
                                    0, contours)
        for row, (r, a) in enumerate(zip(refs, decoded)):
            edits[row, t], words[row, t] = word_edits(r, recognizer.transcribe(a, dec.sample_rate))
        print(f"  decoded and recognised in {names[t]}", flush=True)
    by_pair, by_family = rates(edits, words, src, names)
    orig_by = {names[s]: float(orig[src == s, 0].sum() / orig[src == s, 1].sum())
               for s in range(n) if (src == s).any()}
    fams = sorted({family(v) for v in names})
    orig_fam = {}
    for a in fams:
        keep = np.array([family(names[s]) == a for s in src])
        orig_fam[a] = float(orig[keep, 0].sum() / orig[keep, 1].sum())

    print("\nWER, rows: source voice, columns: decoded in voice (diagonal: reconstructions)")
    print("| source \\ voice | originals | " + " | ".join(names) + " |")
    print("|---|---|" + "---|" * n)
    for s in names:
        print(f"| {s} | {orig_by[s]:.2f} | "
              + " | ".join(f"{by_pair[s][t]:.2f}" for t in names) + " |")
    print("\nBy family (originals: " + ", ".join(f"{a} {v:.3f}" for a, v in orig_fam.items())
          + ")")
    print("| decodings | WER | originals of the source family | of the target family |")
    print("|---|---|---|---|")
    for key, value in by_family.items():
        a, b = key.split(" ")[1].split("->")
        print(f"| {key} | {value:.3f} | {orig_fam[a]:.3f} | {orig_fam[b]:.3f} |")
    conv = ~np.eye(n, dtype=bool)
    total = {"originals": float(orig[:, 0].sum() / orig[:, 1].sum()),
             "reconstructions": float(edits[np.arange(len(idx)), src].sum()
                                      / words[np.arange(len(idx)), src].sum()),
             "conversions_all_pairs": float(edits[conv[src]].sum()
                                            / words[conv[src]].sum())}
    print("\n" + ", ".join(f"{k} {v:.3f}" for k, v in total.items()))
    if args.json:
        write_atomic(args.json, json.dumps(
            {"run_dir": args.run_dir, "split": args.split, "utterances": len(idx),
             "wer": total, "originals_by_voice": orig_by, "originals_by_family": orig_fam,
             "by_pair": by_pair, "by_family": by_family}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
