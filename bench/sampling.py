"""Cached against naive sampling of `GatedPixelCNNPrior`, side by side.

Trains one prior briefly (so its logits are not uniform), then draws the same
batch with the cached sampler (`sample`) and the naive full-recompute sampler
(`sample_naive`) with the same seed, checks that the samples are identical,
and prints the timings and their ratio. For context it also times
`tfp.distributions.PixelCNN(...).sample`, which recomputes the whole network
for every pixel.

    python bench/sampling.py                      # 32x32 codes, K=512, batch 16
    python bench/sampling.py --skip-naive --skip-tfp   # the cached sampler only
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
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    out = np.asarray(out)
    return out, time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--num-embeddings", type=int, default=512)
    parser.add_argument("--batch", type=int, default=16)
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
        f"{prior.count_params():,} parameters; batch {args.batch}; "
        f"{os.cpu_count()} CPU cores, TF {tf.__version__}, Keras {keras.__version__}"
    )
    # Codes with structure (a smooth field quantised to K levels) so that the
    # trained logits are far from uniform.
    rng = np.random.default_rng(0)
    field = rng.normal(size=(args.batch * args.train_steps, args.size // 4, args.size // 4))
    field = np.repeat(np.repeat(field, 4, axis=1), 4, axis=2)
    codes = np.clip((field + 3) / 6 * args.num_embeddings, 0, args.num_embeddings - 1)
    prior.compile(optimizer=keras.optimizers.Adam(1e-3))
    start = time.perf_counter()
    history = prior.fit(codes.astype("int32"), batch_size=args.batch, epochs=1, verbose=0)
    print(
        f"trained {args.train_steps} steps in {time.perf_counter() - start:.1f} s, "
        f"loss {history.history['loss'][-1]:.3f} nats/code"
    )

    # Tracing costs once per batch size; time the second call.
    _, first = timed(prior.sample, args.batch, seed=1)
    cached, cached_s = timed(prior.sample, args.batch, seed=1)
    print(f"cached sampler: {cached_s:.2f} s (first call, with tracing: {first:.2f} s)")

    if not args.skip_naive:
        # One forward pass, for the per-position cost.
        forward = tf.function(lambda c: prior(c))
        forward(cached)
        _, forward_s = timed(forward, cached)
        naive, naive_s = timed(prior.sample_naive, args.batch, seed=1)
        positions = args.size * args.size
        print(
            f"naive sampler:  {naive_s:.2f} s (first call, with tracing; one full "
            f"forward pass {forward_s:.3f} s x {positions} positions = "
            f"{forward_s * positions:.0f} s)"
        )
        print(f"speed-up: {naive_s / cached_s:.0f}x")
        same = np.mean(naive == cached)
        print(f"identical samples (same seed): {same == 1.0} ({same:.4%} of codes equal)")

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
