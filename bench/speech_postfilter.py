"""How much formant postfilter (`envelope_sharpening`) a WORLD speech run's
audio wants: word error rates (PocketSphinx) of reconstructions and
conversions of one split's utterances, decoded by the run's VQ-VAE and
voiced by WORLD with each amount, no retraining (the postfilter only
touches the synthesis).

    python bench/speech_postfilter.py RUN [--amounts 0,1,1.5,2]
        [--upsample 1,2] [--temporal 0] [--split validation] [--sentences 6]

RUN: a run dir of `vq-zoo train vctk` with `vocoder=world` (its
`vqvae.keras`, `corpus/` and `world_<split>.npz`). The utterances are those
of the first `--sentences` sentences of the split read by every voice;
`--upsample`: WORLD synthesis frames per decoded frame (`synthesis_upsample`),
each amount measured at each; `--temporal`: amounts of a postfilter in
time tried on top of each (`temporal_sharpening` below: each envelope band
moved that many times further from its average over the frame and its two
neighbours, against a decoder's frame-to-frame changes being smaller than
speech's);
conversions go to `evaluation.conversion_targets`, as in the report. Choose
on `validation`; the report measures `test`.
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))


def temporal_sharpening(frames, num_bands, amount):
    """WORLD feature frames `(frames, bins)` with each envelope band moved
    `amount` times further from its mean over 3 frames (the frame and its
    neighbours; the edge frames repeated), ending at >= 0; the periodicity
    bands are unchanged."""
    frames = np.array(frames, np.float64)
    if amount == 0:
        return frames
    envelope = frames[:, :num_bands]
    padded = np.pad(envelope, ((1, 1), (0, 0)), mode="edge")
    local = (padded[:-2] + padded[1:-1] + padded[2:]) / 3.0
    frames[:, :num_bands] = np.maximum(envelope + amount * (envelope - local), 0.0)
    return frames


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("run_dir")
    parser.add_argument("--amounts", default="0,1,1.5,2")
    parser.add_argument("--upsample", default="1")
    parser.add_argument("--temporal", default="0")
    parser.add_argument("--split", default="validation")
    parser.add_argument("--sentences", type=int, default=6)
    args = parser.parse_args(argv)

    from vq_zoo.data import world
    from vq_zoo.data.pitch import frames_of
    from vq_zoo.metrics.speech_intelligibility import Recognizer, word_error_rate
    from vq_zoo.recipes.vctk.evaluation import conversion_targets, load_world_run

    try:
        run = load_world_run(args.run_dir, args.split, args.sentences)
    except ValueError as e:
        parser.error(str(e))
    vqvae, idx, chosen, audios, texts, analysis = (run.vqvae, run.idx, run.chosen, run.audios,
                                                   run.texts, run.analysis)
    dec = vqvae.decoder
    source = np.asarray(run.speakers)[idx]
    targets = conversion_targets(source, [chosen.index(texts[i]) for i in idx],
                                 dec.num_speakers)
    # Each utterance's predicted frames once per speaker; the amounts only
    # change the synthesis.
    decoded = {"reconstructions": [], "conversions": []}
    for i, s, t in zip(idx, source, targets):
        a = audios[i]
        f0 = analysis[i][0]
        contour = dec.pitch_features(f0, f0 > 0, int(s))
        x = np.pad(a, (0, -a.size % dec.hop_length))[None, :, None].astype(np.float32)
        codes = np.asarray(vqvae.encode(x))
        frames = frames_of(contour, 0, codes.shape[1] * dec.frames_per_code,
                           dec.frame_step)[None]
        for kind, who in (("reconstructions", s), ("conversions", t)):
            out = vqvae.decode_frames(codes, condition=[int(who)], pitch=frames)[0]
            decoded[kind].append((out, dec.f0_of(frames, [int(who)])[0], a.size))
    recognizer = Recognizer()
    refs = [texts[i] for i in idx]
    print(f"{args.run_dir}: {len(idx)} {args.split} utterances, word error rates")
    print("| envelope_sharpening | synthesis_upsample | temporal | reconstructions | "
          "conversions |")
    print("|---|---|---|---|---|")
    settings = [(float(a), int(u), float(w)) for a in args.amounts.split(",")
                for u in args.upsample.split(",") for w in args.temporal.split(",")]
    for amount, upsample, temporal in settings:
        row = []
        for kind in ("reconstructions", "conversions"):
            hyps = []
            for out, f0, size in decoded[kind]:
                frames = temporal_sharpening(
                    world.sharpen_envelope(out, dec.num_bands, amount), dec.num_bands,
                    temporal)
                audio = world.synthesize(frames, f0, dec.sample_rate, dec.frame_step,
                                         dec.num_bands, upsample)[:size]
                hyps.append(recognizer.transcribe(
                    audio * 0.99 / max(np.abs(audio).max(), 1e-9), dec.sample_rate))
            row.append(word_error_rate(refs, hyps))
        print(f"| {amount:g} | {upsample} | {temporal:g} | {row[0]:.3f} | {row[1]:.3f} |",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
