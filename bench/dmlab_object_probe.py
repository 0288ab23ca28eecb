"""Do a dmlab run's 3 codes carry the target balls at all? A linear probe
(logistic regression on the one-hot codes, scikit-learn) trained on the
training frames' codes to say whether a frame shows a ball of at least
`--min-pixels` pixels and in which third of the frame its centre lies
(0: none, 1-3: left, middle, right), measured on the test frames beside
the majority answer (none). The same probe on stage 1's 21x21 maps
(`--maps`: the one-hot code at every position) is its ceiling.

    python bench/dmlab_object_probe.py RUN_DIR EPISODES [--min-pixels 30] [--maps]

`RUN_DIR`: a finished dmlab run (its `codes/stage2_codes/<split>` and
`codes/<split>`); `EPISODES`: its episode folder with object masks, split
as the run split it (all its episodes). Prints one JSON line.
"""

import argparse
import json
import os

import numpy as np


def labels(masks, min_pixels):
    """0 where a frame shows fewer than `min_pixels` ball pixels, else 1-3:
    the third of the width holding the balls' centre of mass."""
    pixels = masks.reshape(len(masks), -1).sum(1)
    width = masks.shape[2]
    centre = (masks.sum(1) * np.arange(width)).sum(1) / np.maximum(pixels, 1)
    return np.where(pixels >= min_pixels, 1 + np.minimum(centre * 3 // width, 2), 0).astype(int)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python bench/dmlab_object_probe.py")
    parser.add_argument("run_dir")
    parser.add_argument("episodes")
    parser.add_argument("--min-pixels", type=int, default=30)
    parser.add_argument("--maps", action="store_true",
                        help="also the probe on stage 1's maps (the ceiling)")
    args = parser.parse_args(argv)

    from scipy import sparse
    from sklearn.linear_model import LogisticRegression

    from vq_zoo.data import memory_maze
    from vq_zoo.data.codes import code_dataset

    with open(os.path.join(args.run_dir, "config.json")) as f:
        config = json.load(f)["config"]
    k2, latents = config["stage2_num_embeddings"], config["stage2_num_latents"]
    levels = tuple(f"code{i + 1}" for i in range(latents))

    def features(split):
        codes = np.concatenate([np.stack([np.asarray(b[n]) for n in levels], -1) for b in
                                code_dataset(os.path.join(args.run_dir, "codes",
                                                          "stage2_codes", split), 512,
                                             keys=levels)])
        rows = np.repeat(np.arange(len(codes)), latents)
        cols = (codes + np.arange(latents) * k2).ravel()
        out = {"codes": sparse.csr_matrix((np.ones(len(rows)), (rows, cols)),
                                          shape=(len(codes), latents * k2))}
        if args.maps:
            maps = np.concatenate([np.asarray(b) for b in code_dataset(
                os.path.join(args.run_dir, "codes", split), 512, keys="codes")])
            k1 = config.get("vqvae_merge_codes") or config["num_embeddings"]
            flat = maps.reshape(len(maps), -1)
            positions = flat.shape[1]
            rows = np.repeat(np.arange(len(flat)), positions)
            cols = (flat + np.arange(positions) * k1).ravel()
            out["maps"] = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)),
                                            shape=(len(flat), positions * k1))
        return out

    split = (config["validation_fraction"], config["test_fraction"])
    data = {}
    for name in ("train", "test"):
        masks = memory_maze.objects_dataset(args.episodes, name, *split)
        data[name] = (features(name), labels(masks, args.min_pixels))
    (train, y_train), (test, y_test) = data["train"], data["test"]
    result = {"run_dir": args.run_dir, "test_frames": int(len(y_test)),
              "min_pixels": args.min_pixels,
              "test_label_frequencies": np.bincount(y_test, minlength=4).tolist(),
              "majority_accuracy": float(np.mean(y_test == 0))}
    present = y_test > 0
    for name in train:
        for c in (0.1, 1.0):
            probe = LogisticRegression(C=c, max_iter=3000).fit(train[name], y_train)
            guess = probe.predict(test[name])
            result[f"{name}_C{c:g}"] = {
                "accuracy": float(np.mean(guess == y_test)),
                "balls_detected": float(np.mean(guess[present] > 0)),
                "balls_in_the_right_third": float(np.mean(guess[present] == y_test[present])),
                "false_alarms": float(np.mean(guess[~present] > 0))}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
