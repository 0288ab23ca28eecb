"""Where a WORLD speech run's reconstructions lose words: each of the
report's utterances of one split reconstructed (the source's codes, its own
voice and contour) and voiced by WORLD at 5 ms frames five ways, each read by
PocketSphinx:

- `decoded`: the decoder's envelope and periodicity (postfilter 1), as the
  report's reconstructions;
- `true_periodicity`: the decoder's envelope, WORLD's analysis of the
  original for the periodicity;
- `true_envelope`: WORLD's envelope of the original, the decoder's
  periodicity;
- `true_both`: WORLD's analysis of the original alone (the vocoder's
  ceiling at the same F0);
- `unquantised`: the decoder fed the encoder's latents before the
  quantiser (what the codebook costs).

    python bench/speech_feature_swaps.py RUN [--split validation]
        [--sentences 6] [--sharpening 1]

RUN: a run dir of `vq-zoo train vctk` with `vocoder=world`. Prints the word
error rate of each way over all utterances and by synthesiser family of the
source (flite / espeak-ng: the recogniser reads the latter near 1 whatever
is done to it).
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

WAYS = ("decoded", "true_periodicity", "true_envelope", "true_both", "unquantised")


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("run_dir")
    parser.add_argument("--split", default="validation")
    parser.add_argument("--sentences", type=int, default=6)
    parser.add_argument("--sharpening", type=float, default=1.0)
    args = parser.parse_args(argv)

    import keras

    from vq_zoo.data import world
    from vq_zoo.data.pitch import frames_of
    from vq_zoo.data.speech_corpus import SPEAKERS
    from vq_zoo.metrics.speech_intelligibility import Recognizer, word_error_rate
    from vq_zoo.recipes.vctk.evaluation import load_world_run

    try:
        run = load_world_run(args.run_dir, args.split, args.sentences)
    except ValueError as e:
        parser.error(str(e))
    vqvae, dec = run.vqvae, run.vqvae.decoder
    nb = dec.num_bands
    names = dec.speaker_names or tuple(str(i) for i in range(dec.num_speakers))
    family = {name: program for name, program, *_ in SPEAKERS}
    recognizer = Recognizer()
    refs, families, hyps = [], [], {way: [] for way in WAYS}
    for i in run.idx:
        s = int(np.asarray(run.speakers)[i])
        audio = run.audios[i]
        f0_true, true = run.analysis[i]
        contour = dec.pitch_features(f0_true, f0_true > 0, s)
        x = np.pad(audio, (0, -audio.size % dec.hop_length))[None, :, None].astype(np.float32)
        codes = np.asarray(vqvae.encode(x))
        pitch = frames_of(contour, 0, codes.shape[1] * dec.frames_per_code,
                          dec.frame_step)[None]
        decoded = vqvae.decode_frames(codes, condition=[s], pitch=pitch)[0]
        latents = vqvae.encoder(keras.ops.convert_to_tensor(x), training=False)
        unquantised = np.asarray(dec(latents, keras.ops.convert_to_tensor(
            np.array([s], "int32")), pitch=keras.ops.convert_to_tensor(pitch),
            training=False))[0]
        f0 = dec.f0_of(pitch, [s])[0]
        analysed = np.zeros_like(decoded)
        n = min(len(decoded), len(true))
        analysed[:n] = true[:n]
        sharp = world.sharpen_envelope(decoded, nb, args.sharpening)
        ways = {
            "decoded": sharp,
            "true_periodicity": np.concatenate([sharp[:, :nb], analysed[:, nb:]], 1),
            "true_envelope": np.concatenate([analysed[:, :nb], decoded[:, nb:]], 1),
            "true_both": analysed,
            "unquantised": world.sharpen_envelope(unquantised, nb, args.sharpening),
        }
        for way, frames in ways.items():
            out = world.synthesize(frames, f0, dec.sample_rate, dec.frame_step, nb,
                                   upsample=2)[:audio.size]
            hyps[way].append(recognizer.transcribe(
                out * 0.99 / max(np.abs(out).max(), 1e-9), dec.sample_rate))
        refs.append(run.texts[i])
        families.append(family.get(names[s], "other"))
    print(f"{args.run_dir}: {len(refs)} {args.split} reconstructions, word error rates "
          f"(postfilter {args.sharpening:g}, WORLD at 5 ms)")
    kinds = sorted(set(families))
    print("| way | all | " + " | ".join(kinds) + " |")
    print("|---|---|" + "---|" * len(kinds))
    for way in WAYS:
        row = [word_error_rate(refs, hyps[way])]
        for kind in kinds:
            pick = [j for j, f in enumerate(families) if f == kind]
            row.append(word_error_rate([refs[j] for j in pick], [hyps[way][j] for j in pick]))
        print(f"| {way} | " + " | ".join(f"{v:.3f}" for v in row) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
