"""The WORLD vocoder's own ceiling on the speech recipe's report utterances:
word error rates (PocketSphinx) of the originals, of WORLD analysis and
synthesis of their *true* features (the decoder's target, `vq_zoo.data.
world.features`, at 80 envelope and 8 periodicity bands) voiced at each
utterance's F0 by Harvest (what the shipped decoder uses) and by YIN,
the Harvest row again synthesised at 5 ms frames (`upsample=2`, the frames
interpolated), and of 64 Griffin-Lim iterations on the true STFT magnitudes (the former decoder's
ceiling), per voice.

    python bench/speech_world_ceiling.py CORPUS [--sentences 6]

CORPUS: a corpus made by `python -m vq_zoo.data.speech_corpus` (a run's
`corpus/`); the utterances are those of the report (`wer_sentences` test
sentences read by every voice).
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
    parser.add_argument("corpus")
    parser.add_argument("--sentences", type=int, default=6)
    args = parser.parse_args(argv)

    import librosa

    from vq_zoo.data import pitch, speech_corpus, world
    from vq_zoo.metrics.speech_intelligibility import Recognizer, word_error_rate
    from vq_zoo.recipes.vctk.evaluation import wer_subset

    rate = 16000
    audios, speakers, sentences = speech_corpus.load_split(args.corpus, "test")
    texts = speech_corpus.sentence_texts(args.corpus, sentences)
    with open(os.path.join(args.corpus, "manifest.json")) as f:
        names = json.load(f)["speakers"]
    idx, _ = wer_subset(audios, speakers, texts, args.sentences)
    recognizer = Recognizer()
    rows = {k: [] for k in ("originals", "WORLD, Harvest F0",
                            "WORLD, Harvest F0, 5 ms synthesis (upsample 2)", "WORLD, YIN F0",
                            "Griffin-Lim (64), true magnitudes")}
    seconds = {"harvest": 0.0, "world features": 0.0}
    for i in idx:
        a = audios[i]
        rows["originals"].append(recognizer.transcribe(a, rate))
        t = time.process_time()
        f0 = world.track_f0(a, rate, 160)
        seconds["harvest"] += time.process_time() - t
        t = time.process_time()
        feats = world.features(a, f0, rate, 160)
        seconds["world features"] += time.process_time() - t
        frames = a.size // 160
        rows["WORLD, Harvest F0"].append(recognizer.transcribe(
            world.synthesize(feats[:frames], f0[:frames], rate, 160), rate))
        rows["WORLD, Harvest F0, 5 ms synthesis (upsample 2)"].append(recognizer.transcribe(
            world.synthesize(feats[:frames], f0[:frames], rate, 160, upsample=2), rate))
        yin_f0, _, _ = pitch.yin(a, rate, 160)
        yin_feats = world.features(a, yin_f0, rate, 160)
        rows["WORLD, YIN F0"].append(recognizer.transcribe(
            world.synthesize(yin_feats[:frames], yin_f0[:frames], rate, 160), rate))
        magnitude = np.abs(librosa.stft(a, n_fft=512, hop_length=160, window="hann"))
        inverted = librosa.griffinlim(magnitude, n_iter=64, hop_length=160, n_fft=512,
                                      random_state=np.random.RandomState(0), length=a.size)
        rows["Griffin-Lim (64), true magnitudes"].append(recognizer.transcribe(inverted, rate))
    refs = [texts[i] for i in idx]
    spk = np.asarray(speakers)[idx]
    audio_s = sum(audios[i].size for i in idx) / rate
    print(f"{len(idx)} utterances ({audio_s:.0f} s) of {args.sentences} test sentences; "
          f"CPU-s per audio-s: Harvest {seconds['harvest'] / audio_s:.3f}, WORLD features "
          f"{seconds['world features'] / audio_s:.3f}")
    print("| audio | WER | " + " | ".join(names) + " |")
    print("|---|---|" + "---|" * len(names))
    for label, hyps in rows.items():
        per = []
        for s in range(len(names)):
            pick = np.where(spk == s)[0]
            per.append(f"{word_error_rate([refs[j] for j in pick], [hyps[j] for j in pick]):.2f}"
                       if pick.size else "-")
        print(f"| {label} | {word_error_rate(refs, hyps):.3f} | " + " | ".join(per) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
