"""How well the parallel pairs of `swap_weight` are aligned: for the
training utterances of a run's corpus, each paired with one other voice of
the same sentence (`vq_zoo.data.parallel`), two things the alignment does
not read, compared after the DTW map and after a linear stretch of one
utterance onto the other's length:

- the correlation of the two utterances' frame energies (the mean of the
  WORLD envelope's bands, in nats; the alignment reads the envelope's
  cepstra without their 0th coefficient, so not the level);
- the share of frames whose voicing (Harvest's F0 > 0) agrees;
- the share of frames whose phone agrees, each utterance's phones from
  PocketSphinx's forced alignment of its text (10 ms frames, as WORLD's;
  frames where either alignment has no phone, or silence, are left out; `.[speech-eval]`).

By synthesiser family of the two voices (flite / espeak-ng), for the
alignment features' number of cepstra `--cepstra` (the library's default
first).

    python bench/speech_alignment.py RUN [--every 3] [--cepstra 24,8]

RUN: a speech run dir with `corpus/` and `world_train.npz` (a `vq-zoo train
vctk --config small` run, after its WORLD analysis).
"""

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("run")
    parser.add_argument("--every", type=int, default=3,
                        help="pair every k-th training utterance (default 3)")
    parser.add_argument("--cepstra", default="24",
                        help="comma-separated numbers of envelope cepstra to align on")
    args = parser.parse_args(argv)
    cepstra = [int(c) for c in args.cepstra.split(",")]

    from vq_zoo.data import parallel, speech_corpus, world
    from vq_zoo.metrics.speech_intelligibility import Recognizer, frame_labels
    from vq_zoo.recipes.vctk.config import CONFIGS

    corpus = os.path.join(args.run, "corpus")
    cache = os.path.join(args.run, "world_train.npz")
    for path in (corpus, cache):
        if not os.path.exists(path):
            raise SystemExit(f"{path} not found: RUN must be a speech run dir after its WORLD "
                             f"analysis (corpus/ and world_train.npz)")
    config = CONFIGS["small"]
    audios, speakers, sentences = speech_corpus.load_split(corpus, "train")
    texts = speech_corpus.sentence_texts(corpus, sentences)
    with open(os.path.join(corpus, "manifest.json")) as f:
        names = json.load(f)["speakers"]
    family = ["flite" if n.startswith("flite") else "espeak-ng" for n in names]
    analysis = world.corpus_analysis(audios, cache, num_bands=config.num_bands,
                                     num_aperiodicity_bands=config.num_aperiodicity_bands,
                                     sample_rate=config.sample_rate,
                                     frame_step=config.frame_step)
    partners = parallel.partners(texts, speakers)
    recognizer = Recognizer()
    phones, names_of = {}, {}

    def phone_labels(u):
        if u not in phones:
            segments = recognizer.align(audios[u], config.sample_rate, texts[u]) or []
            for name, _, _ in segments:
                names_of.setdefault(name, len(names_of))
            phones[u] = frame_labels(segments, len(analysis[u][0]),
                                     config.frame_step / config.sample_rate, list(names_of))
            if "SIL" in names_of:
                phones[u][phones[u] == names_of["SIL"]] = -1
        return phones[u]

    rng = np.random.default_rng(0)
    rows = {}
    start = time.process_time()
    for u in range(0, len(audios), args.every):
        v = int(rng.choice(partners[u]))
        (f0u, fu), (f0v, fv) = analysis[u], analysis[v]
        maps = {"linear stretch": np.round(np.linspace(0, len(fv) - 1, len(fu))).astype(int)}
        for n in cepstra:
            a = parallel.alignment_features(fu[:, :config.num_bands], n)
            b = parallel.alignment_features(fv[:, :config.num_bands], n)
            maps[f"DTW, {n} cepstra"] = parallel.align(a, b)
        pu, pv = phone_labels(u), phone_labels(v)
        energy_u, energy_v = fu[:, :config.num_bands].mean(1), fv[:, :config.num_bands].mean(1)
        key = " / ".join(sorted((family[speakers[u]], family[speakers[v]])))
        for name, index in maps.items():
            row = rows.setdefault((key, name), {"energy": [], "voicing": [], "phone": []})
            row["energy"].append(np.corrcoef(energy_u, energy_v[index])[0, 1])
            row["voicing"].append(np.mean((f0u > 0) == (f0v[index] > 0)))
            both = (pu >= 0) & (pv[index] >= 0)
            if both.any():
                row["phone"].append(np.mean(pu[both] == pv[index][both]))
    seconds = time.process_time() - start
    print(f"{len(range(0, len(audios), args.every))} pairs, {seconds:.1f} CPU-s")
    print("| voices | map | pairs | energy correlation | voicing agreement | phone agreement |")
    print("|---|---|---|---|---|---|")
    for (key, name), row in sorted(rows.items()):
        print(f"| {key} | {name} | {len(row['energy'])} | {np.mean(row['energy']):.3f} | "
              f"{np.mean(row['voicing']):.3f} | {np.mean(row['phone']):.3f} |")


if __name__ == "__main__":
    main()
