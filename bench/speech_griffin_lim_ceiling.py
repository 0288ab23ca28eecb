"""How much intelligibility Griffin-Lim itself costs (issue 19): the word
error rate (PocketSphinx) of held-out corpus utterances against that of
Griffin-Lim run on their *true* STFT magnitudes (the spectrogram decoder's
targets: `log(|STFT| + 0.01)`, 512-sample Hann windows every 160 samples),
side by side in one process. If the two are close, the vocoder is not what
makes the speech model's reconstructions hard to understand; its predicted
magnitudes are.

    python bench/speech_griffin_lim_ceiling.py runs/vctk-small/corpus --iters 64

Figures: recipes/vctk/README.md ("What was tried").
"""
import argparse
import json
import os

import numpy as np

from vq_zoo.data import speech_corpus
from vq_zoo.metrics.speech_intelligibility import Recognizer, word_error_rate
from vq_zoo.models.spectrogram.spectrogram_decoder import SpectrogramDecoder
from vq_zoo.models.spectrogram.spectrogram_encoder import log_magnitude


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", help="a corpus folder made by vq_zoo.data.speech_corpus")
    parser.add_argument("--iters", type=int, default=64, help="Griffin-Lim iterations")
    parser.add_argument("--sentences", type=int, default=6,
                        help="the first N test sentences (as the recipe's report)")
    parser.add_argument("--voices", default="flite",
                        help="voices whose name starts with this ('' = all)")
    args = parser.parse_args()
    manifest_path = os.path.join(args.corpus, "manifest.json")
    if not os.path.isfile(manifest_path):
        raise SystemExit(f"{args.corpus}: no manifest.json (expected a corpus folder made "
                         f"by python -m vq_zoo.data.speech_corpus)")
    with open(manifest_path) as f:
        manifest = json.load(f)
    texts = {s["id"]: s["text"] for s in manifest["sentences"]}
    names = manifest["speakers"]
    audios, speakers, sentence_ids = speech_corpus.load_split(args.corpus, "test")[:3]
    chosen = sorted(set(sentence_ids))[:args.sentences]
    recognizer = Recognizer()
    decoder = SpectrogramDecoder(len(names), 8, 1, griffin_lim_iters=args.iters)
    refs, originals, inverted = [], [], []
    for audio, speaker, sid in zip(audios, speakers, sentence_ids):
        if sid not in chosen or not names[speaker].startswith(args.voices):
            continue
        padded = np.pad(audio, (0, -audio.size % 320))[None, :, None].astype(np.float32)
        magnitudes = np.asarray(log_magnitude(padded, 512, 160, 1e-2))
        refs.append(texts[sid])
        originals.append(recognizer.transcribe(audio, 16000))
        inverted.append(recognizer.transcribe(decoder.to_audio(magnitudes)[0], 16000))
    if not refs:
        raise SystemExit(f"no test utterance of a voice starting with {args.voices!r}")
    wer_o, wer_g = word_error_rate(refs, originals), word_error_rate(refs, inverted)
    print(f"{len(refs)} utterances; WER originals {wer_o:.3f}, Griffin-Lim ({args.iters} "
          f"iterations) of their true magnitudes {wer_g:.3f}; difference {wer_g - wer_o:+.3f}")


if __name__ == "__main__":
    main()
