"""How well the speech encoder's features read from a WORLD envelope
(`SpectrogramEncoder.envelope_features`, what the content cycle of
`cycle_weight` feeds the encoder) agree with its features of the audio
itself, for several gains (`ENVELOPE_GAIN` is the shipped one): per gain the
mean absolute difference in nats and the correlation, after the utterance
normalisation the encoder applies, and without it.

    python bench/speech_envelope_gain.py CORPUS [--per-voice 2] [--gains 10,20,30,40,60,80]

CORPUS: a corpus made by `python -m vq_zoo.data.speech_corpus` (a run's
`corpus/`); reads the first `--per-voice` training utterances of each voice.
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("corpus")
    parser.add_argument("--per-voice", type=int, default=2)
    parser.add_argument("--gains", default="10,20,30,40,60,80")
    args = parser.parse_args(argv)

    import keras

    from vq_zoo.data import speech_corpus, world
    from vq_zoo.models.spectrogram import spectrogram_encoder

    audios, speakers, _ = speech_corpus.load_split(args.corpus, "train")
    chosen = [i for s in sorted(set(speakers))
              for i in [j for j, t in enumerate(speakers) if t == s][:args.per_voice]]
    pairs = []
    for i in chosen:
        audio = np.asarray(audios[i], np.float64)
        _, frames = world.analyze(audio)
        pairs.append((audio.astype("float32"), frames[:, :80]))
    print(f"{len(pairs)} utterances of {len(set(speakers))} voices")
    for gain in [float(g) for g in args.gains.split(",")]:
        spectrogram_encoder.ENVELOPE_GAIN = gain
        row = []
        for normalize in ("utterance", "none"):
            enc = spectrogram_encoder.SpectrogramEncoder(8, 4, num_mels=80, normalize=normalize)
            maes, corrs = [], []
            for audio, bands in pairs:
                a = np.asarray(enc.features(keras.ops.convert_to_tensor(audio[None, :, None])))[0]
                e = np.asarray(enc.envelope_features(keras.ops.convert_to_tensor(bands[None])))[0]
                n = min(len(a), len(e))
                a, e = a[:n], e[:n]
                maes.append(np.abs(a - e).mean())
                corrs.append(np.corrcoef((a - a.mean(0)).ravel(), (e - e.mean(0)).ravel())[0, 1])
            row.append(f"{normalize}: mae {np.mean(maes):.3f} corr {np.mean(corrs):.3f}")
        print(f"gain {gain:g}: " + "; ".join(row))


if __name__ == "__main__":
    main()
