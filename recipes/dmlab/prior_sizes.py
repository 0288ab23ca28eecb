"""How much the 3-code prior overfits at each size: fits
`GatedPixelCNN1DPrior`s of several widths on a finished dmlab run's stage-2
codes (early stopping on the validation codes, best epoch kept, as the
recipe does) and prints their bits per code on the train / validation /
test codes after training, next to a unigram baseline (each code's
training frequency, add-1/2 smoothed).

    python -m vq_zoo.recipes.dmlab.prior_sizes RUN_DIR [--filters 32,16,8,4] \\
        [--patience 2] [--epochs 30]
"""

import argparse
import os

import numpy as np


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m vq_zoo.recipes.dmlab.prior_sizes")
    parser.add_argument("run_dir")
    parser.add_argument("--filters", default="32,16,8,4")
    parser.add_argument("--patience", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    args = parser.parse_args(argv)

    import keras

    from vq_zoo.data.codes import code_dataset
    from vq_zoo.models.gated_pixelcnn.gated_pixelcnn_1d_prior import GatedPixelCNN1DPrior

    levels = ("code1", "code2", "code3")

    def triples(split):
        directory = os.path.join(args.run_dir, "codes", "stage2_codes", split)
        batches = code_dataset(directory, 4096, keys=levels)
        return np.concatenate([np.stack([np.asarray(b[k]) for k in levels], -1)
                               for b in batches]).astype("int32")

    splits = {s: triples(s) for s in ("train", "validation", "test")}
    k = 512

    def unigram(codes):
        bits = []
        for i in range(len(levels)):
            counts = np.bincount(splits["train"][:, i], minlength=k) + 0.5
            bits.append(-np.log2((counts / counts.sum())[codes[:, i]]).mean())
        return float(np.mean(bits))

    print("codes (train / validation / test):",
          " / ".join(str(len(v)) for v in splits.values()))
    print("unigram: " + " / ".join(f"{unigram(v):.3f}" for v in splits.values()))
    for filters in (int(f) for f in args.filters.split(",")):
        keras.utils.set_random_seed(0)
        prior = GatedPixelCNN1DPrior(num_embeddings=k, length=3, filters=filters,
                                     dilation_rates=(1, 2))
        prior.compile(optimizer=keras.optimizers.Adam(args.learning_rate))
        stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=args.patience,
                                             restore_best_weights=True)
        history = prior.fit(splits["train"], batch_size=64, epochs=args.epochs,
                            validation_data=(splits["validation"],), callbacks=[stop],
                            verbose=0)
        bits = [prior.evaluate(v, batch_size=256, verbose=0,
                               return_dict=True)["bits_per_code"] for v in splits.values()]
        print(f"filters {filters}: {len(history.history['loss'])} epochs, bits per code "
              f"{bits[0]:.3f} / {bits[1]:.3f} / {bits[2]:.3f}, validation "
              f"{100 * (bits[1] / bits[0] - 1):+.1f}% of training")


if __name__ == "__main__":
    main()
