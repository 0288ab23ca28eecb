"""Time of a full VQ-VAE-2 sample at the shipped preset's size: the top
prior (with attention), then the bottom prior given the top codes, then the
decoder, through the cached samplers.

    python bench/vqvae2_sampling.py [--batch 1 8] [--repeats 3]

Prints wall and CPU seconds per call after a first (compiling) call, per
stage and in total, and the first call's time (tracing + XLA compilation).
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def timed(fn):
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t0, time.process_time() - c0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import numpy as np
    import vq_zoo

    vqvae = vq_zoo.VQVAE2.from_preset("vqvae2_small_natural_64")
    top_prior = vq_zoo.GatedPixelCNNPrior.from_preset(
        "gated_pixelcnn_attention_small_natural_64_top")
    bottom_prior = vq_zoo.GatedPixelCNNPrior.from_preset(
        "gated_pixelcnn_small_natural_64_bottom")
    print(f"top prior {top_prior.shape}, bottom prior {bottom_prior.shape}, "
          f"images {vqvae.downsampling * top_prior.shape[0]}px")
    print("| batch | first call (compile) wall s | top wall / CPU s | bottom wall / CPU s "
          "| decode wall / CPU s | total wall / CPU s |")
    print("|---:|---:|---:|---:|---:|---:|")
    for batch in args.batch:
        def run(seed):
            top, tw, tc = timed(lambda: np.asarray(top_prior.sample(batch, seed=seed)))
            bottom, bw, bc = timed(lambda: np.asarray(
                bottom_prior.sample(batch, condition=top, seed=seed + 1)))
            _, dw, dc = timed(lambda: np.asarray(
                vqvae.decode({"top": top, "bottom": bottom})))
            return np.array([tw, tc, bw, bc, dw, dc])

        first = run(0)
        times = np.median([run(s) for s in range(1, args.repeats + 1)], axis=0)
        tw, tc, bw, bc, dw, dc = times
        print(f"| {batch} | {first[0] + first[2] + first[4]:.1f} | {tw:.2f} / {tc:.2f} | "
              f"{bw:.2f} / {bc:.2f} | {dw:.3f} / {dc:.3f} | {tw + bw + dw:.2f} / "
              f"{tc + bc + dc:.2f} |")


if __name__ == "__main__":
    main()
