"""Does the own-images input pipeline keep up with the training step?

Side by side in one run, on a generated folder of 10,000 JPEGs at 256x256
(`--data-dir`, made once and kept; smooth random colour fields with noise,
quality 90, 100 class folders):

- `scan`: `ImageFolder.scan` (every file decoded once to check it), files/s;
- `pipeline`: `ImageFolder.dataset("train", ...)` alone, as the images
  recipe feeds its VQ-VAE (shuffled file names, parallel decode + central
  square + resize to `--image-size`, batch, prefetch; `cache=False`, so
  every image is decoded, as in a first epoch or a folder too big to
  cache), images/s;
- `train step`: the images recipe's `default` VQ-VAE (`--config`), `fit` on
  batches already in memory (no input cost), images/s;
- `train on folder`: the same `fit` reading the folder pipeline (input and
  step share the cores, as in the recipe), images/s.

Rounds alternate the three timed contenders; each figure is the median
over rounds of images/s measured between the end of the first and the last
batch (warm-up excluded). The figures of merit are `pipeline / train step`
(> 1: the pipeline alone outpaces the step) and `train on folder / train
step` (about 1: the step is not starved while both share the machine).

    nice -n 10 python bench/input_pipeline.py            # ~3 min after the folder
    nice -n 10 python bench/input_pipeline.py --quick    # a smoke run
"""

import argparse
import os
import statistics
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))


def make_jpegs(directory, num, size=256, classes=100, seed=0):
    """`num` JPEGs of `size` x `size` under `directory/class_NNN/`, made
    once (an existing complete folder is kept)."""
    from PIL import Image

    marker = os.path.join(directory, f".complete_{num}_{size}")
    if os.path.exists(marker):
        return
    rng = np.random.default_rng(seed)
    t = np.arange(size) / size
    for i in range(num):
        folder = os.path.join(directory, f"class_{i % classes:03d}")
        os.makedirs(folder, exist_ok=True)
        fx, fy, px, py = (rng.uniform(1, 6, (3, 1)) for _ in range(4))
        rows = np.sin(2 * np.pi * fy * t + py)  # (3, size), one wave per channel
        cols = np.cos(2 * np.pi * fx * t + px)
        field = 128 + 100 * np.einsum("cy,cx->yxc", rows, cols)
        field += rng.integers(-10, 11, (size, size, 1))
        pixels = np.clip(field, 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(os.path.join(folder, f"{i:05d}.jpg"), quality=90)
    open(marker, "w").close()


def rate(stamps, batch_size):
    """Images/s between the end of the first batch and the last."""
    return batch_size * (len(stamps) - 1) / (stamps[-1] - stamps[0])


def time_pipeline(ds, batches, batch_size):
    stamps = []
    for _ in ds.take(batches):
        stamps.append(time.perf_counter())
    return rate(stamps, batch_size)


def time_fit(model, ds, steps, batch_size):
    import keras

    stamps = []

    class Stamp(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            stamps.append(time.perf_counter())

    model.fit(ds, epochs=1, steps_per_epoch=steps, verbose=0, callbacks=[Stamp()])
    return rate(stamps, batch_size)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=os.path.expanduser(
        "~/.cache/vq_zoo/bench_jpegs_256"))
    parser.add_argument("--num-images", type=int, default=10000)
    parser.add_argument("--config", default="default")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batches", type=int, default=40,
                        help="pipeline batches per round")
    parser.add_argument("--steps", type=int, default=20, help="training steps per round")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.num_images, args.rounds, args.batches, args.steps = 300, 1, 8, 4
        args.data_dir += "_quick"

    t0 = time.perf_counter()
    make_jpegs(args.data_dir, args.num_images)
    print(f"folder: {args.num_images} JPEGs 256x256 in {args.data_dir} "
          f"(made or found in {time.perf_counter() - t0:.0f} s)", flush=True)

    import tensorflow as tf

    from vq_zoo.data.image_folder import ImageFolder
    from vq_zoo.recipes import common
    from vq_zoo.recipes.images.config import CONFIGS

    config = CONFIGS[args.config]
    size, batch = config.image_size, config.batch_size
    t0 = time.perf_counter()
    folder = ImageFolder.scan(args.data_dir)
    scan_rate = len(folder.files) / (time.perf_counter() - t0)
    print(f"scan: {len(folder.files)} files, {scan_rate:.0f} files/s", flush=True)

    def pipeline(seed):
        return folder.dataset("train", size, batch, shuffle=True, repeat=True,
                              seed=seed, with_labels=False, cache=False)

    fixed = np.concatenate(list(pipeline(0).take(8).as_numpy_iterator()))
    in_memory = tf.data.Dataset.from_tensor_slices(fixed).batch(
        batch, drop_remainder=True).repeat().prefetch(2)
    model = common.build_vqvae(config, float(fixed.var()), (size, size, folder.channels))
    time_fit(model, in_memory, 3, batch)  # trace and warm up
    time_pipeline(pipeline(0), 3, batch)

    results = {"pipeline": [], "train step": [], "train on folder": []}
    for r in range(args.rounds):
        order = list(results)
        order = order[r % 3:] + order[:r % 3]
        for name in order:
            if name == "pipeline":
                value = time_pipeline(pipeline(r + 1), args.batches, batch)
            elif name == "train step":
                value = time_fit(model, in_memory, args.steps, batch)
            else:
                value = time_fit(model, pipeline(r + 1), args.steps, batch)
            results[name].append(value)
            print(f"round {r + 1}: {name:16s} {value:8.1f} images/s", flush=True)

    median = {k: statistics.median(v) for k, v in results.items()}
    print(f"\nconfig {args.config}: {size}x{size} images, batch {batch}, from 256x256 "
          "JPEGs")
    print(f"| contender | median images/s | per-round |\n|---|---:|---|")
    print(f"| scan (decode-check every file) | {scan_rate:.0f} files/s | |")
    for name, values in results.items():
        print(f"| {name} | {median[name]:.1f} | "
              + ", ".join(f"{v:.1f}" for v in values) + " |")
    print(f"\npipeline / train step: {median['pipeline'] / median['train step']:.2f}")
    print(f"train on folder / train step: "
          f"{median['train on folder'] / median['train step']:.2f}")


if __name__ == "__main__":
    main()
