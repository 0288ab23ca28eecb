"""Cached against naive sampling of `GatedPixelCNNPrior`, side by side.

Trains one prior briefly (so its logits are not uniform), then draws the same
batch with the cached sampler (`sample`) and the naive full-recompute sampler
(`sample_naive`) with the same seed, checks that the samples are identical,
and prints the timings and their ratio. For context it also times
`tfp.distributions.PixelCNN(...).sample`, which recomputes the whole network
for every pixel.

    python bench/sampling.py                      # 32x32 codes, K=512, batches 1, 4, 16
    python bench/sampling.py --batch 4 --skip-tfp    # one batch size
    python bench/sampling.py --skip-naive --skip-tfp   # the cached sampler only

The cached sampler is timed 5 times per batch size (after one call that
traces and compiles it), around the single naive run; the median is
reported. `user+sys` CPU seconds are printed beside wall seconds: on a shared
machine the wall time of either sampler depends on the load, their ratio
much less.
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from vq_zoo import GatedPixelCNNPrior  # noqa: E402


def timed(fn, *args, **kwargs):
    start, cpu = time.perf_counter(), time.process_time()
    out = np.asarray(fn(*args, **kwargs))
    timed.cpu = time.process_time() - cpu
    return out, time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--num-embeddings", type=int, default=512)
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--filters", type=int, default=64)
    parser.add_argument("--num-layers", type=int, default=6)
    parser.add_argument("--train-steps", type=int, default=20)
    parser.add_argument("--tfp-batch", type=int, default=4)
    parser.add_argument("--skip-naive", action="store_true")
    parser.add_argument("--skip-tfp", action="store_true")
    args = parser.parse_args()

    keras.utils.set_random_seed(0)
    shape = (args.size, args.size)
    prior = GatedPixelCNNPrior(
        args.num_embeddings, shape, filters=args.filters, num_layers=args.num_layers
    )
    print(
        f"GatedPixelCNNPrior: {args.size}x{args.size} codes, K={args.num_embeddings}, "
        f"filters={args.filters}, layers={args.num_layers}, "
        f"{prior.count_params():,} parameters; batches {args.batch}; "
        f"{os.cpu_count()} CPU cores, TF {tf.__version__}, Keras {keras.__version__}"
    )
    # Codes with structure (a smooth field quantised to K levels) so that the
    # trained logits are far from uniform.
    rng = np.random.default_rng(0)
    train_batch = 16
    field = rng.normal(size=(train_batch * args.train_steps, args.size // 4, args.size // 4))
    field = np.repeat(np.repeat(field, 4, axis=1), 4, axis=2)
    codes = np.clip((field + 3) / 6 * args.num_embeddings, 0, args.num_embeddings - 1)
    prior.compile(optimizer=keras.optimizers.Adam(1e-3))
    start = time.perf_counter()
    history = prior.fit(codes.astype("int32"), batch_size=train_batch, epochs=1, verbose=0)
    print(
        f"trained {args.train_steps} steps in {time.perf_counter() - start:.1f} s, "
        f"loss {history.history['loss'][-1]:.3f} nats/code"
    )

    ratios = {}
    for batch in args.batch:
        # Tracing and XLA compilation cost once per batch size: not timed.
        _, first = timed(prior.sample, batch, seed=1)
        runs = []
        for _ in range(2):
            cached, seconds = timed(prior.sample, batch, seed=1)
            runs.append((seconds, timed.cpu))
        if not args.skip_naive:
            naive, naive_s = timed(prior.sample_naive, batch, seed=1)
            naive_cpu = timed.cpu
        for _ in range(3):
            cached, seconds = timed(prior.sample, batch, seed=1)
            runs.append((seconds, timed.cpu))
        cached_s, cached_cpu = sorted(runs)[len(runs) // 2]
        print(
            f"batch {batch}: cached sampler {cached_s:.3f} s (median of 5; CPU "
            f"{cached_cpu:.3f} s; first call, with tracing and XLA: {first:.2f} s)"
        )
        if args.skip_naive:
            continue
        same = np.mean(naive == cached)
        ratios[batch] = naive_s / cached_s
        print(
            f"batch {batch}: naive sampler {naive_s:.2f} s (CPU {naive_cpu:.2f} s, "
            f"tracing included); speed-up {ratios[batch]:.0f}x (CPU "
            f"{naive_cpu / cached_cpu:.0f}x); identical samples: {same == 1.0} "
            f"({same:.4%} of codes equal)",
            flush=True,
        )
    if ratios:
        print("speed-ups: " + ", ".join(f"batch {b}: {r:.0f}x" for b, r in ratios.items()))

    if not args.skip_tfp:
        import tensorflow_probability as tfp

        dist = tfp.distributions.PixelCNN(
            image_shape=(args.size, args.size, 1),
            conditional_shape=None,
            num_resnet=1,
            num_hierarchies=2,
            num_filters=32,
            num_logistic_mix=5,
            dropout_p=0.0,
        )
        _, tfp_s = timed(dist.sample, args.tfp_batch, seed=1)
        print(
            f"tfp.distributions.PixelCNN(num_resnet=1, num_hierarchies=2, "
            f"num_filters=32).sample({args.tfp_batch}) at {args.size}x{args.size}: "
            f"{tfp_s:.1f} s"
        )


if __name__ == "__main__":
    main()
