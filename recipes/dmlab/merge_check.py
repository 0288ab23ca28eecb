"""How many of a stage-1 VQ-VAE's codes its decoder tells apart: merges the
codebook into fewer codes (`vq_zoo.models.dmlab.merge_codebook`, k-means of
the code vectors weighted by their use on training episodes) and prints the
PSNR of held-out episodes reconstructed through each merged codebook.

    python -m vq_zoo.recipes.dmlab.merge_check EPISODE_DIR \\
        [--preset vqvae_small_memory_maze_84] [--train 0-17] [--eval 18-19] \\
        [--codes 16,32,64,128]
"""

import argparse
import math

import numpy as np


def _range(text):
    first, _, last = text.partition("-")
    return list(range(int(first), int(last or first) + 1))


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m vq_zoo.recipes.dmlab.merge_check")
    parser.add_argument("episode_dir")
    parser.add_argument("--preset", default="vqvae_small_memory_maze_84")
    parser.add_argument("--train", default="0-17", help="episode indices, FIRST-LAST")
    parser.add_argument("--eval", default="18-19", help="episode indices, FIRST-LAST")
    parser.add_argument("--codes", default="16,32,64,128")
    args = parser.parse_args(argv)

    from vq_zoo import presets
    from vq_zoo.data.memory_maze import episode_files
    from vq_zoo.models.dmlab.codebook_merge import merge_codebook

    files = episode_files(args.episode_dir)

    def frames(indices):
        missing = [i for i in indices if i >= len(files)]
        if missing:
            raise ValueError(f"{args.episode_dir} holds {len(files)} episodes, not "
                             f"episode {missing[0]}")
        return np.concatenate([np.load(files[i])["frames"] for i in indices]
                              ).astype(np.float32) / 255.0

    def batched(fn, x):
        return np.concatenate([np.asarray(fn(x[i:i + 128])) for i in range(0, len(x), 128)])

    def psnr(model, x):
        rec = batched(lambda b: model.decode(model.encode(b)), x)
        return 10 * math.log10(1.0 / float(np.mean((rec - x) ** 2)))

    model = presets.load_preset(args.preset)
    train, held_out = frames(_range(args.train)), frames(_range(args.eval))
    codes = batched(model.encode, train)
    used = int((np.bincount(codes.ravel(), minlength=model.quantizer.num_embeddings) > 0).sum())
    print(f"{args.preset}: K={model.quantizer.num_embeddings}, {used} codes used on "
          f"{len(train)} training frames; held-out PSNR {psnr(model, held_out):.2f} dB "
          f"({len(held_out)} frames)")
    shape = train.shape[1:]
    for k in (int(c) for c in args.codes.split(",")):
        merged, _ = merge_codebook(model, codes, k, shape, seed=0)
        print(f"merged into K={k}: held-out PSNR {psnr(merged, held_out):.2f} dB")


if __name__ == "__main__":
    main()
