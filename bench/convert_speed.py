"""`vq-zoo convert` speed at batch 1, in CPU seconds per second of audio:
the shipped speech preset (spectrogram decoder + WORLD or Griffin-Lim) side by side
with the paper's WaveNet decoder at the size of the former WaveNet preset
(`vqvae_wavenet_small_speech_16k`: 6 strided convolutions of 64 channels,
K=128, 16 gated blocks of 32 channels; random weights: its speed does not
depend on them).

    python bench/convert_speed.py [--model vqvae_spectrogram_small_speech_16k]
        [--seconds 3] [--repeats 3] [--input WAV]

Both run `vq_zoo.models.wavenet.voice_conversion.convert_file` (read the
WAV, resample, encode, decode with another speaker) on the same input, one
utterance at a time, after a first (compiling) call; CPU time is the
process's (all threads), the best of `--repeats` calls. Prints CPU-s and
wall-s per second of audio and the ratio.
"""

import argparse
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))


def old_wavenet_preset_model():
    """The former shipped WaveNet speech VQ-VAE's architecture (the `small`
    config before issue 19), random weights."""
    import keras

    from vq_zoo.models.wavenet.speech_vqvae import speech_vqvae

    keras.utils.set_random_seed(0)
    names = [f"speaker{i}" for i in range(8)]
    return speech_vqvae(num_speakers=8, num_hiddens=64, embedding_dim=16,
                        num_embeddings=128, filters=32, dilation_cycle=8, num_cycles=2,
                        speaker_dim=16, speaker_names=names, crop_length=2048)


def timed(fn, repeats):
    fn()  # compile / warm up
    best = None
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        pair = (time.process_time() - cpu, time.perf_counter() - wall)
        best = pair if best is None or pair[0] < best[0] else best
    return best


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="vqvae_spectrogram_small_speech_16k",
                        help="the speech preset, run dir or .keras file to time")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--input", help="a WAV to convert (its first --seconds; default: a "
                                        "synthetic buzz with a pitch glide)")
    args = parser.parse_args(argv)

    from vq_zoo import presets
    from vq_zoo.models.wavenet.voice_conversion import convert_file
    from vq_zoo.utils.audio import write_wav

    if os.path.isdir(args.model) and os.path.exists(os.path.join(args.model, "vqvae.keras")):
        import keras

        new = keras.models.load_model(os.path.join(args.model, "vqvae.keras"))
    elif args.model.endswith(".keras"):
        import keras

        new = keras.models.load_model(args.model)
    else:
        new = presets.load_preset(args.model)
    old = old_wavenet_preset_model()
    rng = np.random.default_rng(0)
    rate = 16000
    t = np.arange(int(args.seconds * rate)) / rate
    # A vowel-like buzz with a slow pitch glide and noise (any audio will do).
    audio = 0.3 * np.sign(np.sin(2 * np.pi * (120 + 20 * t) * t)) + rng.normal(0, 0.02, t.size)
    if args.input:
        from vq_zoo.utils.audio import read_audio, resample

        x, r = read_audio(args.input)
        audio = resample(x, r, rate)[:t.size]
        args.seconds = audio.size / rate
    decoder = new.decoder
    voicing = "WORLD" if getattr(decoder, "vocoder", "") == "world" else "Griffin-Lim"
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        path = os.path.join(scratch, "in.wav")
        write_wav(path, np.clip(audio, -1, 1), rate)
        for label, model in (("WaveNet decoder (former preset's size)", old),
                             (f"spectrogram decoder + {voicing} ({args.model})", new)):
            cpu, wall = timed(lambda m=model: convert_file(m, path, 1, seed=0),
                              args.repeats)
            rows.append((label, cpu / args.seconds, wall / args.seconds))
    print(f"vq-zoo convert, batch 1, {args.seconds:.1f} s of audio, best of "
          f"{args.repeats} after a warm-up call")
    print("| decoder | CPU-s per audio-s | wall-s per audio-s |")
    print("|---|---|---|")
    for label, cpu, wall in rows:
        print(f"| {label} | {cpu:.3f} | {wall:.3f} |")
    print(f"ratio (WaveNet / spectrogram), CPU time: {rows[0][1] / rows[1][1]:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
