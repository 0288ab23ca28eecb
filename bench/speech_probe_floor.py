"""How much speaker a histogram of *perfectly speaker-free* phonetic codes
still carries on the speech corpus: the recipe's speaker probe (logistic
regression on the code histogram of each 1.28 s chunk) run on the forced
alignments' phone labels at the code rate instead of the codes.

The 8 corpus voices differ in speaking rate and rhythm (espeak-ng `-s`
against flite), so how long each phone lasts, and so a chunk's phone
histogram, tells them apart whatever a code encodes. The figure is a floor
for issue 19's speaker-probe target: codes that carry the phones and their
durations, and nothing else, reach it.

    python bench/speech_probe_floor.py runs/vctk-small

reads the run's corpus, its `alignments.json` (the report's PocketSphinx
forced alignments: the probe sentences of the training split and the test
sentences, each read by all 8 voices) and, for the same chunks, the run's
VQ-VAE codes, and prints both probes beside chance.
"""

import argparse
import json
import os

import numpy as np


def _key(audio, text):
    # recipes/vctk/evaluation.alignments' cache key.
    return f"{text}|{audio.size}|{float(np.abs(audio).sum()):.3f}"


def labelled_utterances(corpus_dir, split, cache):
    from vq_zoo.data import speech_corpus

    audios, speakers, sentences = speech_corpus.load_split(corpus_dir, split)
    texts = speech_corpus.sentence_texts(corpus_dir, sentences)
    out = []
    for audio, speaker, text in zip(audios, speakers, texts):
        segments = cache.get(_key(audio, text))
        if segments:
            out.append((audio, int(speaker), segments))
    return out


def chunks(sequences, speakers, length, max_per_utterance=8):
    """Non-overlapping `length`-step chunks of each sequence (as
    `evaluation.code_chunks` cuts audio)."""
    xs, ys = [], []
    for seq, s in zip(sequences, speakers):
        for i in range(min(max_per_utterance, len(seq) // length)):
            xs.append(seq[i * length:(i + 1) * length])
            ys.append(s)
    return xs, np.asarray(ys, "int32")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir")
    parser.add_argument("--chunk-codes", type=int, default=64,
                        help="codes per chunk (64 = 1.28 s at 50 Hz, the recipe's)")
    args = parser.parse_args(argv)

    from vq_zoo.metrics import code_probes
    from vq_zoo.metrics.speech_intelligibility import frame_labels

    with open(os.path.join(args.run_dir, "alignments.json")) as f:
        cache = json.load(f)
    corpus = os.path.join(args.run_dir, "corpus")
    data = {s: labelled_utterances(corpus, s, cache) for s in ("train", "test")}
    phones = sorted({p for u in data["train"] + data["test"] for p, _, _ in u[2]})

    import keras

    import vq_zoo  # noqa: F401  (registers the classes)
    from vq_zoo.recipes.vctk.evaluation import _encode_one

    vqvae = keras.saving.load_model(os.path.join(args.run_dir, "vqvae.keras"))
    rate, hop = vqvae.decoder.sample_rate, vqvae.decoder.hop_length
    k = vqvae.quantizer.num_embeddings
    sequences = {}
    for split, utterances in data.items():
        codes, labels, speakers = [], [], []
        for audio, speaker, segments in utterances:
            c = _encode_one(vqvae, audio)
            # Silence and unknown phones (-1) are one more class.
            lab = frame_labels(segments, c.size, hop / rate, phones) + 1
            codes.append(c)
            labels.append(lab)
            speakers.append(speaker)
        sequences[split] = (codes, labels, speakers)

    results = {}
    for name, index, classes in (("phone labels", 1, len(phones) + 1), ("codes", 0, k)):
        tx, ty = chunks(sequences["train"][index], sequences["train"][2], args.chunk_codes)
        qx, qy = chunks(sequences["test"][index], sequences["test"][2], args.chunk_codes)
        results[name] = code_probes.speaker_probe(tx, ty, qx, qy, classes)
    print(f"utterances: train {len(data['train'])}, test {len(data['test'])}; "
          f"chunks of {args.chunk_codes} codes ({args.chunk_codes * hop / rate:.2f} s); "
          f"{len(phones)} phones")
    for name, r in results.items():
        print(f"speaker probe on {name:>12}: {r['accuracy']:.3f} "
              f"({r['train']} training / {r['test']} test chunks; chance "
              f"{r['chance_uniform']:.3f}, majority {r['chance_majority']:.3f})")


if __name__ == "__main__":
    main()
