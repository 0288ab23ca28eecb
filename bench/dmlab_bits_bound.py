"""How much of a DeepMind Lab (memory-maze) frame a few codes can keep at
all: a plain VQ-VAE from pixels to `--codes` codes of K (27 bits for 3 x
512) and back to pixels, trained on the pixel squared error alone, beside
the same network with a continuous bottleneck of the same shape (no
quantisation: the network's own limit) and the mean training frame. Its
test PSNR is what a 27-bit code *trained for the pixels* keeps at this data
and scale: the two-stage model's frames (which go through stage 1's map and
a stage-2 code trained on that map) can be compared with it.

    python bench/dmlab_bits_bound.py EPISODES [--codes 3] [--num-embeddings 512]
        [--epochs 12] [--grid bound.png] [--json bound.json] [--skip-continuous]
        [--objects]

`EPISODES` is the folder of rendered episodes the dmlab recipe trains on
(split by episode as it splits them: the test figures are on its test
episodes). Prints the test PSNR of each and writes a grid (rows: frames,
the 27-bit reconstructions, the continuous ones) with `--grid`.
"""

import argparse
import json
import time

import numpy as np


def frame_autoencoder(codes, embedding_dim, num_embeddings, filters, hidden, size,
                      quantized, data_variance, seed):
    """A VQVAE from `(size, size, 3)` frames to `codes` vectors (quantised
    by one codebook of `num_embeddings`, or left continuous) and back."""
    import keras

    from vq_zoo import VQVAE
    from vq_zoo.layers.vector_quantizer_ema import VectorQuantizerEMA

    grid = -(-size // 16)
    encoder = keras.Sequential([
        keras.layers.Input((size, size, 3)),
        # Half the channels at the two finest scales (most of the cost).
        *[keras.layers.Conv2D(f, 4, strides=2, padding="same", activation="relu")
          for f in (filters // 2, filters // 2, filters, filters)],
        keras.layers.Flatten(),
        keras.layers.Dense(hidden, activation="relu"),
        keras.layers.Dense(codes * embedding_dim),
        keras.layers.Reshape((codes, embedding_dim)),
    ], name="encoder")
    decoder = keras.Sequential([
        keras.layers.Input((codes, embedding_dim)),
        keras.layers.Flatten(),
        keras.layers.Dense(hidden, activation="relu"),
        keras.layers.Dense(grid * grid * filters, activation="relu"),
        keras.layers.Reshape((grid, grid, filters)),
        *[keras.layers.Conv2DTranspose(f, 4, strides=2, padding="same",
                                       activation="relu")
          for f in (filters, filters, filters // 2, filters // 2)],
        keras.layers.Cropping2D(((0, grid * 16 - size), (0, grid * 16 - size))),
        keras.layers.Conv2D(3, 3, padding="same"),
    ], name="decoder")
    if not quantized:
        # The network's own limit: the same encoder and decoder, no codes.
        model = keras.Sequential([encoder, decoder], name="continuous")
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
        return model
    quantizer = VectorQuantizerEMA(embedding_dim=embedding_dim,
                                   num_embeddings=num_embeddings, seed=seed,
                                   kmeans_init=True, dead_code_threshold=0.01)
    model = VQVAE(encoder, quantizer, decoder, data_variance=data_variance)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    return model


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python bench/dmlab_bits_bound.py")
    parser.add_argument("episodes")
    parser.add_argument("--codes", type=int, default=3)
    parser.add_argument("--num-embeddings", type=int, default=512)
    parser.add_argument("--embedding-dim", type=int, default=32)
    parser.add_argument("--filters", type=int, default=64)
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--validation-fraction", type=float, default=0.125)
    parser.add_argument("--test-fraction", type=float, default=0.125)
    parser.add_argument("--skip-continuous", action="store_true")
    parser.add_argument("--grid", default=None)
    parser.add_argument("--json", default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--objects", action="store_true",
                        help="also what each keeps of the target balls on the test frames "
                             "(vq_zoo.metrics.objects; the episodes need object masks)")
    args = parser.parse_args(argv)

    import keras

    from vq_zoo.data import memory_maze
    from vq_zoo.metrics.image_quality import psnr

    keras.utils.set_random_seed(args.seed)
    frames = {s: memory_maze.frames_dataset(args.episodes, s, args.validation_fraction,
                                            args.test_fraction)
              for s in ("train", "validation", "test")}
    size = frames["train"].shape[1]
    train = frames["train"].astype(np.float32) / 255.0
    variance = float(train.var())
    mean_frame = train.mean(0)
    valid = frames["validation"].astype(np.float32) / 255.0
    test = frames["test"].astype(np.float32) / 255.0
    out = {"bits": args.codes * float(np.log2(args.num_embeddings)),
           "train_frames": len(train), "test_frames": len(test),
           "psnr_mean_frame": psnr(np.mean((test - mean_frame) ** 2))}
    print(f"{len(train)} training / {len(test)} test frames of {size}x{size}; "
          f"the mean training frame: {out['psnr_mean_frame']:.2f} dB on the test frames")
    kinds = [("quantized", True)] + ([] if args.skip_continuous else [("continuous", False)])
    shown = {}
    for name, quantized in kinds:
        model = frame_autoencoder(args.codes, args.embedding_dim, args.num_embeddings,
                                  args.filters, args.hidden, size, quantized, variance,
                                  args.seed)
        start = time.time()
        if quantized:
            model.fit(train, epochs=args.epochs, batch_size=args.batch_size, shuffle=True,
                      verbose=2, validation_data=(valid,))
        else:
            model.fit(train, train, epochs=args.epochs, batch_size=args.batch_size,
                      shuffle=True, verbose=2, validation_data=(valid, valid))
        recon = np.concatenate([np.asarray(model(test[s:s + 64], training=False))
                                for s in range(0, len(test), 64)])
        recon = np.clip(recon, 0, 1)
        out[f"psnr_{name}"] = psnr(np.mean((recon.astype(np.float64) - test) ** 2))
        out[f"train_minutes_{name}"] = (time.time() - start) / 60
        if quantized:
            codes = np.concatenate([np.asarray(model.encode(test[s:s + 64]))
                                    for s in range(0, len(test), 64)])
            out["test_codes_used"] = int(len(np.unique(codes)))
        shown[name] = recon
        if args.objects:
            from vq_zoo.metrics import objects as object_metrics

            masks = memory_maze.objects_dataset(args.episodes, "test",
                                                args.validation_fraction, args.test_fraction)
            kept = object_metrics.summarize_objects(object_metrics.object_frame_stats(
                test, recon, masks))
            out["object_frames"] = kept["frames"]
            out[f"objects_kept_{name}"] = kept["kept"]
            out[f"object_psnr_{name}"] = kept["object_psnr_db"]
        print(f"{name}: {out[f'psnr_{name}']:.2f} dB on the test frames "
              f"({out[f'train_minutes_{name}']:.1f} min)", flush=True)
    print(json.dumps(out, indent=1))
    if args.json:
        from vq_zoo.utils.io import write_atomic

        write_atomic(args.json, json.dumps(out, indent=1))
    if args.grid:
        from vq_zoo.utils.images import image_grid
        from vq_zoo.utils.images import write_png

        pick = np.linspace(0, len(test) - 1, 8).astype(int)
        rows = [test[pick]] + [shown[n][pick] for n, _ in kinds]
        write_png(args.grid, image_grid(np.concatenate(rows), columns=8, upscale=2))


if __name__ == "__main__":
    main()
