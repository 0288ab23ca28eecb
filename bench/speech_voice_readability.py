"""How well PocketSphinx reads each synthetic voice's *original* speech: the
word error rate of ten Harvard sentences (IEEE 1969) spoken by each voice,
for choosing a speech corpus whose every voice the recogniser can read
(issue 19: the shipped corpus's espeak-ng voices read at about 0.98 even as
originals, which caps what its conversions can score).

    python bench/speech_voice_readability.py \\
        [--voices flite:awb,flite:slt,espeak-ng:en,festival:voice_kal_diphone] [--json F]

A voice is `synthesiser:name`: `flite:<voice>` (`flite -voice`),
`espeak-ng:<voice>` (`espeak-ng -v`), `festival:<voice function>`
(`text2wave -eval "(<voice function>)"`; Debian's English voices:
`festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts` give
`voice_kal_diphone`, `voice_ked_diphone`, `voice_cmu_us_slt_arctic_hts`).
Each utterance is resampled to 16 kHz mono by sox.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

SENTENCES = [
    "the birch canoe slid on the smooth planks",
    "glue the sheet to the dark blue background",
    "it is easy to tell the depth of a well",
    "these days a chicken leg is a rare dish",
    "rice is often served in round bowls",
    "the juice of lemons makes fine punch",
    "the box was thrown beside the parked truck",
    "the hogs were fed chopped corn and garbage",
    "four hours of steady work faced us",
    "a large size in stockings is hard to sell",
]
DEFAULT_VOICES = ("flite:awb,flite:rms,flite:slt,flite:kal16,espeak-ng:en,espeak-ng:en-us,"
                  "festival:voice_kal_diphone,festival:voice_ked_diphone,"
                  "festival:voice_cmu_us_slt_arctic_hts")
TOOLS = {"flite": ("flite", "flite"), "espeak-ng": ("espeak-ng", "espeak-ng"),
         "festival": ("text2wave", "festival and a festvox-* voice")}


def synthesise(kind, voice, text, path):
    if kind == "flite":
        command = ["flite", "-voice", voice, "-t", text, "-o", path]
    elif kind == "espeak-ng":
        command = ["espeak-ng", "-v", voice, "-w", path, text]
    else:
        with open(path + ".txt", "w") as f:
            f.write(text)
        command = ["text2wave", "-eval", f"({voice})", path + ".txt", "-o", path]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0 or not os.path.exists(path):
        raise RuntimeError(f"{' '.join(command[:3])} ... failed: "
                           f"{(done.stderr or done.stdout).strip()[:200]}")


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--voices", default=DEFAULT_VOICES)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    voices = [v.split(":", 1) for v in args.voices.split(",") if v]
    for spec in voices:
        if len(spec) != 2 or spec[0] not in TOOLS:
            raise SystemExit(f"--voices: {':'.join(spec)!r} is not synthesiser:voice with a "
                             f"synthesiser of {sorted(TOOLS)}")
    needed = {kind for kind, _ in voices} | {"sox"}
    for kind in sorted(needed):
        tool, package = TOOLS.get(kind, ("sox", "sox"))
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} not found: apt-get install {package}")

    import soundfile as sf

    from vq_zoo.metrics.speech_intelligibility import Recognizer, word_error_rate

    recognizer = Recognizer()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for kind, voice in voices:
            name = f"{kind}:{voice}"
            hypotheses = []
            try:
                for i, text in enumerate(SENTENCES):
                    path = os.path.join(tmp, f"{kind}_{voice}_{i}.wav")
                    synthesise(kind, voice, text, path)
                    resampled = path + ".16k.wav"
                    subprocess.run(["sox", path, "-r", "16000", "-c", "1", "-b", "16",
                                    resampled], check=True, capture_output=True)
                    audio, rate = sf.read(resampled, dtype="float32")
                    hypotheses.append(recognizer.transcribe(audio, rate))
            except RuntimeError as e:
                print(f"{name:40s} not measured: {e}", flush=True)
                continue
            results[name] = word_error_rate(SENTENCES, hypotheses)
            print(f"{name:40s} WER {results[name]:.3f}", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
