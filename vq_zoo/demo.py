"""The embedded main job: trains a VQ-VAE on natural-image patches cut from
photos bundled with scikit-learn and scikit-image (no download), then reports
held-out reconstruction metrics and writes a picture of them.

    python -m vq_zoo.demo --out runs/demo

Writes to `--out`: `vqvae.keras` (the trained model), `reconstructions.png`
(held-out originals, odd rows, above their reconstructions, even rows),
`metrics.json`, and TensorBoard logs under `logs/`. An interrupted run
resumes from its last finished epoch (`backup/`).
"""

import argparse
import json
import math
import os

import numpy as np


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m vq_zoo.demo", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--out", default="runs/demo", help="output directory")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--train-patches", type=int, default=8192)
    parser.add_argument("--test-patches", type=int, default=1024)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--num-embeddings", type=int, default=512)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    for name in ("epochs", "train_patches", "test_patches", "batch_size",
                 "num_embeddings"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1")
    return args


def main(argv=None):
    args = parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf

    from vq_zoo.data.natural_images import natural_patches
    from vq_zoo.models.vqvae.vqvae import VQVAE
    from vq_zoo.utils.images import image_grid, write_atomic, write_png

    keras.utils.set_random_seed(args.seed)
    print("Cutting 32x32 patches from the bundled photos ...", flush=True)
    train = natural_patches("train", args.train_patches, seed=args.seed)
    test = natural_patches("test", args.test_patches, seed=args.seed + 1)
    variance = float(train.var())

    model = VQVAE.image_model(
        num_hiddens=64, num_residual_layers=2, num_residual_hiddens=32,
        embedding_dim=32, num_embeddings=args.num_embeddings,
        data_variance=variance,
        quantizer_kwargs=dict(dead_code_threshold=0.01, seed=args.seed),
    )
    model.build((None,) + train.shape[1:])
    model.compile(optimizer=keras.optimizers.Adam(2e-3))
    dataset = (tf.data.Dataset.from_tensor_slices(train)
               .shuffle(len(train), seed=args.seed)
               .batch(args.batch_size, drop_remainder=True)
               .prefetch(tf.data.AUTOTUNE))
    os.makedirs(args.out, exist_ok=True)
    log_dir = os.path.join(args.out, "logs")
    model.fit(
        dataset,
        epochs=args.epochs,
        validation_data=tf.data.Dataset.from_tensor_slices(test).batch(256),
        callbacks=[
            keras.callbacks.BackupAndRestore(os.path.join(args.out, "backup")),
            keras.callbacks.TensorBoard(log_dir),
            keras.callbacks.TerminateOnNaN(),
        ],
        verbose=2 if os.environ.get("CI") else 1,
    )

    recon = model.predict(test, batch_size=256, verbose=0)
    mse = float(np.mean((recon - test) ** 2))
    codes = model.encode(test).numpy()
    counts = np.bincount(codes.ravel(), minlength=args.num_embeddings)
    p = counts / counts.sum()
    metrics = {
        "test_mse": mse,
        "test_psnr_db": 10 * math.log10(1.0 / mse),
        "test_perplexity": float(np.exp(-(p * np.log(p + 1e-10)).sum())),
        "test_codebook_usage": float((counts > 0).mean()),
        "codes_shape": list(codes.shape[1:]),
        "train_patches": args.train_patches,
        "epochs": args.epochs,
    }
    model_path = os.path.join(args.out, "vqvae.keras")
    tmp_path = os.path.join(args.out, ".tmp-vqvae.keras")
    model.save(tmp_path)
    os.replace(tmp_path, model_path)
    rows = []
    for i in range(4):
        rows += [test[8 * i:8 * i + 8], recon[8 * i:8 * i + 8]]
    write_png(os.path.join(args.out, "reconstructions.png"),
              image_grid(np.concatenate(rows), columns=8))
    write_atomic(os.path.join(args.out, "metrics.json"),
                 json.dumps(metrics, indent=2).encode())
    print(json.dumps(metrics, indent=2))
    print(f"Wrote {model_path}, reconstructions.png and metrics.json to {args.out}")
    print(f"Watch training with: tensorboard --logdir {log_dir}")
    return metrics


if __name__ == "__main__":
    main()
