"""An offline multi-speaker speech corpus: sentences from a small word
grammar, synthesised by espeak-ng and flite voices, at 16 kHz.

No real multi-speaker corpus is reachable offline, so this stands in for
VCTK: every speaker reads every sentence; a speaker is a voice (flite's
awb, rms, slt, kal16) or an espeak-ng voice variant with its own pitch
(`-p`) and speed (`-s`). espeak-ng writes 22,050 Hz, flite 16 kHz; both are
resampled to 16 kHz (`scipy.signal.resample_poly`), trimmed of leading and
trailing silence and peak-normalised.

Texts: `generate_sentences(n, seed)` draws sentences from a grammar of
about 130 English words written in this file (no outside text, nothing to
license). The split is by sentence: the validation and test sentences are
never heard in training, and every speaker is in every split (the speakers
are shared; voice conversion targets a speaker seen in training).

Needs the Debian packages espeak-ng and flite:

    apt-get update && apt-get install -y espeak-ng flite sox

Build it (cached: an existing corpus of the same settings is reused):

    python -m vq_zoo.data.speech_corpus --out ~/vq_zoo_data/speech_corpus --sentences 48

Layout: `wav/<speaker>/<sentence>.wav` (16-bit PCM, 16 kHz) and
`manifest.json` (settings, speakers, sentences with their split, and one
entry per utterance), written last.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

from vq_zoo.utils.audio import INSTALL
from vq_zoo.utils.audio import read_wav_bytes
from vq_zoo.utils.audio import resample
from vq_zoo.utils.audio import trim_silence
from vq_zoo.utils.audio import write_wav
from vq_zoo.utils.io import write_atomic

SAMPLE_RATE = 16000
MANIFEST = "manifest.json"
# Written first into a folder this module creates (or found empty), so an
# interrupted build may resume there; no other folder is ever written to.
MARKER = ".vq_zoo_speech_corpus"
SPLITS = ("train", "validation", "test")

# (name, engine, voice, pitch, speed). espeak-ng: voice "+variant"; pitch
# 0-99, speed in words per minute. flite: its built-in voices.
SPEAKERS = (
    ("flite_awb", "flite", "awb", None, None),
    ("flite_rms", "flite", "rms", None, None),
    ("flite_slt", "flite", "slt", None, None),
    ("flite_kal16", "flite", "kal16", None, None),
    ("espeak_us_m3_p35", "espeak-ng", "en-us+m3", 35, 150),
    ("espeak_gb_f2_p75", "espeak-ng", "en-gb+f2", 75, 165),
    ("espeak_scot_m1_p50", "espeak-ng", "en-gb-scotland+m1", 50, 140),
    ("espeak_us_f4_p60", "espeak-ng", "en-us+f4", 60, 175),
)
PROGRAMS = {"espeak-ng": "espeak-ng", "flite": "flite"}

_WORDS = {
    "det": ["the", "a", "every", "one", "that", "my", "your", "our"],
    "adj": ["small", "old", "green", "quiet", "bright", "heavy", "happy", "cold",
            "clever", "yellow", "tired", "gentle", "strong", "silver", "wooden",
            "busy", "tiny", "brave"],
    "noun": ["dog", "river", "teacher", "garden", "window", "farmer", "boat",
             "city", "bird", "mountain", "doctor", "letter", "kitchen", "horse",
             "market", "child", "engine", "forest", "lamp", "station", "sister",
             "baker", "island", "painter"],
    "verb": ["finds", "watches", "carries", "paints", "follows", "builds",
             "remembers", "visits", "cleans", "opens", "answers", "hears",
             "crosses", "moves", "pulls", "reads"],
    "adv": ["slowly", "quickly", "carefully", "again", "today", "quietly",
            "early", "later", "often", "never"],
    "prep": ["near", "behind", "under", "beside", "across", "inside", "above"],
    "time": ["in the morning", "after dinner", "before the rain", "on sunday",
             "at night", "every winter", "during the storm"],
}


def generate_sentences(num, seed=0):
    """`num` distinct sentences from the word grammar (deterministic for a
    seed): `det adj noun verb det (adj) noun [prep det noun] [adv | time]`."""
    rng = np.random.default_rng(seed)
    pick = lambda key: _WORDS[key][rng.integers(len(_WORDS[key]))]  # noqa: E731
    sentences, seen = [], set()
    while len(sentences) < num:
        words = [pick("det"), pick("adj"), pick("noun"), pick("verb"), pick("det")]
        if rng.random() < 0.5:
            words.append(pick("adj"))
        words.append(pick("noun"))
        if rng.random() < 0.5:
            words += [pick("prep"), "the", pick("noun")]
        tail = rng.random()
        if tail < 0.4:
            words.append(pick("adv"))
        elif tail < 0.7:
            words.append(pick("time"))
        text = " ".join(words)
        text = text[0].upper() + text[1:] + "."
        if text not in seen:
            seen.add(text)
            sentences.append(text)
    return sentences


def split_of(index, num_sentences, validation=0.125, test=0.125):
    """The split of sentence `index`: the last ones are validation, then
    test, the rest train (the grammar's draws are already random)."""
    num_test = max(1, int(round(num_sentences * test)))
    num_valid = max(1, int(round(num_sentences * validation)))
    if index >= num_sentences - num_test:
        return "test"
    if index >= num_sentences - num_test - num_valid:
        return "validation"
    return "train"


def check_programs(speakers=SPEAKERS):
    """Raises FileNotFoundError naming the install command if a synthesiser
    the speakers need is missing."""
    missing = sorted({PROGRAMS[s[1]] for s in speakers if shutil.which(s[1]) is None})
    if missing:
        raise FileNotFoundError(
            f"The speech corpus needs the Debian package(s) {', '.join(missing)} "
            f"(not found on PATH); install them with: {INSTALL}")


def synthesise(text, speaker, scratch):
    """Float32 audio at 16 kHz of `text` read by `speaker` (an entry of
    `SPEAKERS`)."""
    name, engine, voice, pitch, speed = speaker
    out = os.path.join(scratch, f"{name}.wav")
    if engine == "espeak-ng":
        cmd = ["espeak-ng", "-v", voice, "-p", str(pitch), "-s", str(speed), "-w", out,
               text]
    elif engine == "flite":
        cmd = ["flite", "-voice", voice, "-t", text, "-o", out]
    else:
        raise ValueError(f"Unknown engine {engine!r}: expected espeak-ng or flite")
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0 or not os.path.exists(out):
        raise RuntimeError(f"{' '.join(cmd[:3])} failed: {result.stderr.strip()[:200]}")
    with open(out, "rb") as f:
        audio, rate = read_wav_bytes(f.read(), out)
    os.remove(out)
    audio = trim_silence(resample(audio, rate, SAMPLE_RATE))
    peak = float(np.abs(audio).max()) if audio.size else 0.0
    return audio * (0.8 / peak) if peak > 0 else audio


def _settings(num_sentences, seed, speakers):
    return {"num_sentences": int(num_sentences), "seed": int(seed),
            "sample_rate": SAMPLE_RATE, "speakers": [list(s) for s in speakers]}


def check_corpus_dir(out_dir):
    """Refuses (one-line ValueError) a folder that holds files and is no
    corpus this module made: nothing is ever written into someone's own
    folder of WAVs."""
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise ValueError(f"corpus_dir {out_dir} is a file, not a folder")
    if not os.path.isdir(out_dir) or not os.listdir(out_dir):
        return
    if os.path.exists(os.path.join(out_dir, MARKER)):
        return
    manifest = os.path.join(out_dir, MANIFEST)
    if os.path.exists(manifest):
        try:
            with open(manifest) as f:
                made_here = "settings" in json.load(f)
        except (OSError, ValueError):
            made_here = False
        if made_here:
            return
    raise ValueError(
        f"corpus_dir {out_dir} holds files but no speech corpus made by "
        "vq_zoo.data.speech_corpus: give a new or empty folder (the corpus is "
        "synthesised there) or one it made before")


def build_corpus(out_dir, num_sentences=48, seed=0, speakers=SPEAKERS, verbose=True):
    """Synthesises the corpus into `out_dir` (see the module docstring) and
    returns its manifest; an `out_dir` whose manifest has the same settings
    is reused as it is. A folder that holds other files is refused
    (ValueError): give a new or empty one."""
    if num_sentences < 3:
        raise ValueError(f"`num_sentences` must be >= 3 (one per split), got {num_sentences}")
    speakers = tuple(tuple(s) for s in speakers)
    settings = _settings(num_sentences, seed, speakers)
    check_corpus_dir(out_dir)
    path = os.path.join(out_dir, MANIFEST)
    if os.path.exists(path):
        with open(path) as f:
            manifest = json.load(f)
        if manifest.get("settings") == settings:
            return manifest
    check_programs(speakers)
    os.makedirs(out_dir, exist_ok=True)
    marker = os.path.join(out_dir, MARKER)
    if not os.path.exists(marker):
        write_atomic(marker, b"made by vq_zoo.data.speech_corpus\n")
    texts = generate_sentences(num_sentences, seed)
    sentences = [{"id": i, "text": t, "split": split_of(i, num_sentences)}
                 for i, t in enumerate(texts)]
    utterances = []
    with tempfile.TemporaryDirectory() as scratch:
        for s, speaker in enumerate(speakers):
            folder = os.path.join(out_dir, "wav", speaker[0])
            os.makedirs(folder, exist_ok=True)
            for sentence in sentences:
                audio = synthesise(sentence["text"], speaker, scratch)
                rel = os.path.join("wav", speaker[0], f"{sentence['id']:04d}.wav")
                write_wav(os.path.join(out_dir, rel), audio, SAMPLE_RATE)
                utterances.append({"path": rel, "speaker": s, "sentence": sentence["id"],
                                   "split": sentence["split"], "samples": int(audio.size)})
            if verbose:
                print(f"speech corpus: {speaker[0]} ({s + 1}/{len(speakers)}) done",
                      flush=True)
    manifest = {"settings": settings, "sample_rate": SAMPLE_RATE,
                "speakers": [s[0] for s in speakers], "sentences": sentences,
                "utterances": utterances,
                "text_source": "generated by vq_zoo.data.speech_corpus.generate_sentences "
                               "(a word grammar in the file)"}
    write_atomic(path, json.dumps(manifest, indent=1).encode())
    return manifest


def load_split(corpus_dir, split):
    """`(audios, speakers, sentence_ids)` of `split`: a list of float32
    arrays, int32 speaker ids and int32 sentence ids."""
    from vq_zoo.utils.audio import read_audio

    if split not in SPLITS:
        raise ValueError(f"`split` must be one of {SPLITS}, got {split!r}")
    with open(os.path.join(corpus_dir, MANIFEST)) as f:
        manifest = json.load(f)
    audios, speakers, sentences = [], [], []
    for u in manifest["utterances"]:
        if u["split"] == split:
            audio, rate = read_audio(os.path.join(corpus_dir, u["path"]))
            assert rate == SAMPLE_RATE, rate
            audios.append(audio)
            speakers.append(u["speaker"])
            sentences.append(u["sentence"])
    return audios, np.asarray(speakers, "int32"), np.asarray(sentences, "int32")


def sentence_texts(corpus_dir, sentence_ids):
    """The text of each sentence id (the manifest's `sentences`)."""
    with open(os.path.join(corpus_dir, MANIFEST)) as f:
        texts = {s["id"]: s["text"] for s in json.load(f)["sentences"]}
    return [texts[int(i)] for i in sentence_ids]


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m vq_zoo.data.speech_corpus",
        description="Synthesise the offline multi-speaker speech corpus (espeak-ng, "
                    f"flite; install: {INSTALL}).")
    parser.add_argument("--out", required=True, help="corpus folder")
    parser.add_argument("--sentences", type=int, default=48)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        manifest = build_corpus(args.out, args.sentences, args.seed)
    except (FileNotFoundError, ValueError, RuntimeError) as e:
        print(f"speech_corpus: error: {e}", file=sys.stderr)
        return 1
    seconds = sum(u["samples"] for u in manifest["utterances"]) / SAMPLE_RATE
    print(f"{len(manifest['utterances'])} utterances, {len(manifest['speakers'])} "
          f"speakers, {seconds:.0f} s of audio in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
