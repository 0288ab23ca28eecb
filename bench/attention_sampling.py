"""Cached against naive sampling of VQ-VAE-2's top prior (gated PixelCNN with
causal self-attention), side by side, in one process.

The prior is `GatedPixelCNNPrior(..., attention_every=3)` over 32x32 maps of
K=512 codes. `sample` is the cached sampler (per-layer row buffers, a
key/value cache per attention layer, one XLA-compiled loop). The naive
sampler is rosinality/vq-vae-2-pytorch's method: the whole forward pass over
the map for every position. It costs the same at every position, so it is
timed on the first `--naive-positions` positions (one compiled loop, like
`sample_naive`; the second call, after tracing) and the full-map time is that times 1024 / positions; its
codes on those positions must equal the cached sampler's for the same seed
(same Gumbel noise).

    python bench/attention_sampling.py                       # batches 1 and 4
    python bench/attention_sampling.py --naive-positions 1024  # naive on the whole map
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import ops  # noqa: E402

from vq_zoo import GatedPixelCNNPrior  # noqa: E402


def timed(fn, *args):
    start, cpu = time.perf_counter(), time.process_time()
    out = np.asarray(fn(*args))
    timed.cpu = time.process_time() - cpu
    return out, time.perf_counter() - start


def naive_prefix(prior, positions):
    """Rosinality's sampler on the first `positions` positions: a full
    forward pass per position, the same Gumbel-max draw as `sample`."""
    size = int(np.prod(prior.shape))

    def run(noise):
        num = noise.shape[0]
        flat_noise = ops.reshape(noise, (num, size, prior.num_embeddings))

        def body(p, codes):
            logits = prior._logits_from_embedded(
                ops.reshape(codes, (num,) + prior.shape), None, None
            )
            logits = ops.reshape(ops.cast(logits, "float32"), (num, size, -1))
            scores = ops.take(logits, p, axis=1) + ops.take(flat_noise, p, axis=1)
            code = ops.cast(ops.argmax(scores, axis=-1), "int32")
            return ops.slice_update(codes, (0, p), code[:, None])

        codes = ops.fori_loop(0, positions, body, ops.zeros((num, size), "int32"))
        return codes[:, :positions]

    return tf.function(run, autograph=False)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--num-embeddings", type=int, default=512)
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--filters", type=int, default=64)
    parser.add_argument("--num-layers", type=int, default=6)
    parser.add_argument("--attention-every", type=int, default=3)
    parser.add_argument("--num-heads", type=int, default=4)
    parser.add_argument("--train-steps", type=int, default=5)
    parser.add_argument("--naive-positions", type=int, default=64)
    args = parser.parse_args()

    keras.utils.set_random_seed(0)
    size = args.size * args.size
    prior = GatedPixelCNNPrior(
        args.num_embeddings, (args.size, args.size), filters=args.filters,
        num_layers=args.num_layers, attention_every=args.attention_every,
        num_heads=args.num_heads, dropout=0.1,
    )
    print(
        f"GatedPixelCNNPrior + attention: {args.size}x{args.size} codes, "
        f"K={args.num_embeddings}, filters={args.filters}, layers={args.num_layers}, "
        f"{len(prior.attention_layers)} attention layers x {args.num_heads} heads, "
        f"{prior.count_params():,} parameters; {os.cpu_count()} CPU cores, "
        f"TF {tf.__version__}, Keras {keras.__version__}; load average "
        f"{os.getloadavg()[0]:.1f}"
    )
    if args.train_steps:
        rng = np.random.default_rng(0)
        field = rng.normal(size=(8 * args.train_steps, args.size // 4, args.size // 4))
        field = np.repeat(np.repeat(field, 4, axis=1), 4, axis=2)
        codes = np.clip((field + 3) / 6 * args.num_embeddings, 0, args.num_embeddings - 1)
        prior.compile(optimizer=keras.optimizers.Adam(1e-3))
        prior.fit(codes.astype("int32"), batch_size=8, epochs=1, verbose=0)

    ratios = {}
    for batch in args.batch:
        noise, _, _, _ = prior._sample_args(batch, None, 1.0, 1)
        _, first = timed(prior.sample, batch, None, 1.0, 1)
        runs = []
        for _ in range(5):
            cached, seconds = timed(prior.sample, batch, None, 1.0, 1)
            runs.append((seconds, timed.cpu))
        cached_s, cached_cpu = sorted(runs)[2]
        naive = naive_prefix(prior, args.naive_positions)
        _, naive_first = timed(naive, noise)  # traces, then runs
        prefix, naive_s = timed(naive, noise)
        naive_cpu = timed.cpu
        full_s = naive_s * size / args.naive_positions
        same = np.array_equal(prefix, cached.reshape(batch, -1)[:, : args.naive_positions])
        ratios[batch] = full_s / cached_s
        print(
            f"batch {batch}: cached {cached_s:.3f} s per map batch (median of 5, CPU "
            f"{cached_cpu:.3f} s; first call with tracing and XLA {first:.1f} s); "
            f"naive {naive_s:.2f} s for {args.naive_positions} positions (second "
            f"call; first {naive_first:.1f} s; CPU "
            f"{naive_cpu:.2f} s) -> {full_s:.1f} s for {size}; speed-up "
            f"{ratios[batch]:.0f}x (CPU {naive_cpu * size / args.naive_positions / cached_cpu:.0f}x); "
            f"identical codes on the naive positions: {same}",
            flush=True,
        )
    print("speed-ups: " + ", ".join(f"batch {b}: {r:.0f}x" for b, r in ratios.items()))


if __name__ == "__main__":
    main()
