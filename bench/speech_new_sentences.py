"""A speech preset on sentences outside its corpus grammar, as a new user
would try it (issue 19's method): ten ordinary English sentences read by
four of the preset's own voices (synthesised here with flite / espeak-ng
exactly as the corpus does), reconstructed with the true speaker and
converted to another voice, measured with the project's instruments
(PocketSphinx WER, voicing, the MFCC speaker classifier trained on the
corpus's training originals).

    python bench/speech_new_sentences.py [--model vqvae_spectrogram_small_speech_16k]
        [--corpus runs/vctk-small/corpus]
"""

import argparse
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

SENTENCES = (
    "Please call the office before noon tomorrow.",
    "The weather was warm enough to swim in the lake.",
    "She bought three apples and a loaf of bread.",
    "We will meet at the station after the concert.",
    "His brother fixed the broken chair last week.",
    "The children laughed at the funny little dog.",
    "Turn left at the next corner and keep walking.",
    "I forgot my umbrella on the train this morning.",
    "They planted roses along the garden wall.",
    "The music was too loud for the old man.",
)
VOICES = ("flite_awb", "flite_slt", "espeak_us_m3_p35", "espeak_gb_f2_p75")


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="vqvae_spectrogram_small_speech_16k")
    parser.add_argument("--corpus", default="runs/vctk-small/corpus",
                        help="the corpus the model was trained on (for the classifier)")
    args = parser.parse_args(argv)

    from vq_zoo import presets
    from vq_zoo.data import speech_corpus
    from vq_zoo.metrics.pitch import voiced_fraction
    from vq_zoo.metrics.speaker_id import SpeakerClassifier
    from vq_zoo.metrics.speech_intelligibility import Recognizer, word_error_rate
    from vq_zoo.recipes.vctk.evaluation import decode_utterances

    if os.path.isdir(args.model) and os.path.exists(os.path.join(args.model, "vqvae.keras")):
        import keras

        vqvae = keras.models.load_model(os.path.join(args.model, "vqvae.keras"))
    else:
        vqvae = presets.load_preset(args.model)
    names = list(vqvae.decoder.speaker_names)
    table = {s[0]: s for s in speech_corpus.SPEAKERS}
    audios, src, texts = [], [], []
    with tempfile.TemporaryDirectory() as scratch:
        for v in VOICES:
            for t in SENTENCES:
                audios.append(speech_corpus.synthesise(t, table[v], scratch))
                src.append(names.index(v))
                texts.append(t)
    src = np.asarray(src, "int32")
    # Conversions: flite voices to an espeak-ng one and back, in turn.
    tgt = np.asarray([names.index(VOICES[(VOICES.index(names[s]) + 2) % 4]) for s in src])
    recon = decode_utterances(vqvae, audios, src)
    conv = decode_utterances(vqvae, audios, tgt)
    rec = Recognizer()
    train_audio, train_spk, _ = speech_corpus.load_split(args.corpus, "train")
    clf = SpeakerClassifier(16000).fit(train_audio, train_spk)
    print(f"{args.model}: {len(SENTENCES)} sentences outside the grammar x {len(VOICES)} voices")
    print("| audio | WER | WER flite voices | WER espeak-ng voices | voiced | classified as |")
    print("|---|---|---|---|---|---|")
    flite = np.asarray([names[s].startswith("flite") for s in src])
    for kind, clips, who in (("originals", audios, src), ("reconstructions", recon, src),
                             ("conversions", conv, tgt)):
        hyps = [rec.transcribe(a, 16000) for a in clips]
        wer = word_error_rate(texts, hyps)
        wf = word_error_rate([t for t, f in zip(texts, flite) if f],
                             [h for h, f in zip(hyps, flite) if f])
        we = word_error_rate([t for t, f in zip(texts, flite) if not f],
                             [h for h, f in zip(hyps, flite) if not f])
        voiced = np.mean([voiced_fraction(a) for a in clips])
        acc = clf.accuracy(clips, who)
        label = "its source" if kind != "conversions" else "its target"
        print(f"| {kind} | {wer:.3f} | {wf:.3f} | {we:.3f} | {voiced:.2f} | {label}: {acc:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
