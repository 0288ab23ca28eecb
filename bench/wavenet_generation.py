"""WaveNet generation: the cached sampler (every block's queue, Paine et
al. 2016) against the naive one (a full forward pass over the last
receptive field for every new sample), in one process, with the `paper`
config's decoder; and the real-time factor of the shipped preset's decoder.

    python bench/wavenet_generation.py [--cached 2048] [--naive 32]

Prints per-sample times, the ratio, whether both samplers drew the same
samples for a seed, and real-time factors (seconds of audio per second of
compute) at batch 1 and 8. Random weights for the paper decoder (speed
does not depend on them); each timing is the best of `--repeats` calls
after a first, compiling call.
"""

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))


CPU = {}


def best_time(fn, repeats, key=None):
    """The best wall time of `repeats` calls after a compiling one; the
    process CPU time of that call goes to `CPU[key]`."""
    fn()  # compile
    times = []
    for _ in range(repeats):
        start, cpu = time.perf_counter(), time.process_time()
        fn()
        times.append((time.perf_counter() - start, time.process_time() - cpu))
    wall, cpu = min(times)
    if key:
        CPU[key] = cpu
    return wall


def condition(dec, batch, length, seed=0):
    rng = np.random.default_rng(seed)
    steps = -(-length // dec.hop_length)
    return {"spatial_condition": rng.standard_normal(
        (batch, steps, dec.local_condition_dim)).astype("float32"),
        "condition": (np.arange(batch) % dec.num_classes).astype("int32")}


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--cached", type=int, default=2048, help="samples, cached")
    parser.add_argument("--naive", type=int, default=32, help="samples, naive")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--rtf-seconds", type=float, default=1.0)
    parser.add_argument("--preset", default=None,
                        help="a WaveNet speech preset (default: the former shipped "
                             "preset's architecture, random weights)")
    args = parser.parse_args(argv)

    import keras

    from vq_zoo.models.wavenet.wavenet_decoder import WaveNetDecoder
    from vq_zoo.recipes.vctk.config import CONFIGS

    c = CONFIGS["paper"]
    keras.utils.set_random_seed(0)
    dec = WaveNetDecoder(filters=c.wavenet_filters, dilation_cycle=c.dilation_cycle,
                         num_cycles=c.num_cycles, local_condition_dim=c.embedding_dim,
                         hop_length=2 ** c.num_downsamples, num_classes=110,
                         condition_dim=c.speaker_dim)
    print(f"paper decoder: {len(dec.blocks)} blocks, {dec.filters} channels, "
          f"receptive field {dec.receptive_field} samples, "
          f"{dec.count_params():,} parameters; load average {os.getloadavg()[0]:.1f}")
    # Same length, same seed: the two samplers must draw the same samples.
    cond_n = condition(dec, 1, args.naive)
    naive = np.asarray(dec.sample_naive(1, cond_n, seed=1, length=args.naive))
    cached_n = np.asarray(dec.sample(1, cond_n, seed=1, length=args.naive))
    same = bool(np.array_equal(naive, cached_n))
    t_naive = best_time(lambda: np.asarray(
        dec.sample_naive(1, cond_n, seed=1, length=args.naive)), args.repeats, "naive") / args.naive
    cond_c = condition(dec, 1, args.cached)
    t_cached = best_time(lambda: np.asarray(
        dec.sample(1, cond_c, seed=1, length=args.cached)), args.repeats, "cached") / args.cached
    print(f"naive : {t_naive * 1e3:9.3f} ms/sample ({args.naive} samples, batch 1)")
    print(f"cached: {t_cached * 1e3:9.3f} ms/sample ({args.cached} samples, batch 1)")
    cpu_ratio = (CPU["naive"] / args.naive) / (CPU["cached"] / args.cached)
    print(f"cached is {t_naive / t_cached:.0f}x faster per sample in wall time, "
          f"{cpu_ratio:.0f}x in CPU time; identical samples for seed 1 over "
          f"{args.naive} samples: {same}")

    from vq_zoo import presets

    if args.preset:
        vqvae = presets.load_preset(args.preset)
    else:
        from convert_speed import old_wavenet_preset_model

        vqvae = old_wavenet_preset_model()
        args.preset = "the former vqvae_wavenet_small_speech_16k architecture"
    small = vqvae.decoder
    length = int(round(args.rtf_seconds * small.sample_rate / small.hop_length)) * small.hop_length
    print(f"{args.preset} decoder: {len(small.blocks)} blocks, {small.filters} channels, "
          f"receptive field {small.receptive_field}")
    for batch in (1, 8):
        cond = condition(small, batch, length)
        t = best_time(lambda: np.asarray(small.sample(batch, cond, seed=0)), args.repeats,
                      f"rtf{batch}")
        audio_s = batch * length / small.sample_rate
        print(f"real-time factor, batch {batch}: {audio_s / t:.3f} s of audio per s "
              f"({t:.2f} s wall, {CPU[f'rtf{batch}']:.2f} s CPU for {batch} x "
              f"{length / small.sample_rate:.2f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
