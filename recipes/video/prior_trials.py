"""Short trials of next-frame priors on a finished run's VQ-VAE: the table
of tries in `recipes/video/README.md` comes from this script.

    python -m vq_zoo.recipes.video.prior_trials RUN_DIR DATA_DIR OUT.json \\
        [--set KEY=VALUE ...] [--epochs 2] [--steps-per-epoch 0] \\
        [--temperatures 0,1] [--guidances 1] [--clips 48]

RUN_DIR holds a trained `vqvae.keras` and its `config.json` (a video run
after its `vqvae` stage); DATA_DIR its memory-maze episodes. The script
builds the prior of the run's config with the `--set` overrides (prior
fields only: `history`, `prior_filters`, `prior_layers`,
`conditioning_filters`, `conditioning_dilations`, `prior_learning_rate`,
`prior_batch_size`, `clip_stride`, ...), trains it for `--epochs` on the
training clips, then measures on the first `--clips` test clips (episodes
never trained on) at each temperature: rollout PSNR at horizons 1, 4 and
10 next to copying the last context frame, and the inverse-dynamics action
accuracy of the rollouts next to the true frames'. With `--set
action_dropout=0.15` the prior trains with classifier-free guidance's
action dropout, and each temperature is also rolled out at each of
`--guidances` (keys `"<temperature>@<guidance>"`; 1 is no guidance). Appends one JSON record
to OUT.json (a list), with the wall time of training.
"""

import argparse
import json
import os
import sys
import time

import numpy as np


def _clips(config, data_dir, split):
    from vq_zoo.recipes.video import recipe

    clips, _ = recipe.make_clips(config, data_dir)
    return recipe._numpy_clips(clips[split])


def run_trial(run_dir, data_dir, overrides, epochs, steps_per_epoch, temperatures,
              num_clips, guidances=(1.0,)):
    import keras
    import tensorflow as tf

    from vq_zoo.metrics import video as metrics
    from vq_zoo.models.video.latent_video_model import LatentVideoModel
    from vq_zoo.recipes import common
    from vq_zoo.recipes.video import recipe
    from vq_zoo.recipes.video.config import VideoConfig
    from vq_zoo.utils.config import apply_overrides

    with open(os.path.join(run_dir, "config.json")) as f:
        run = json.load(f)
    config = VideoConfig(**{k: v for k, v in run["config"].items()
                            if k in VideoConfig.__dataclass_fields__})
    config = apply_overrides(config, overrides)
    (vqvae,) = common.load_run_models(run_dir, "vqvae")
    splits = {s: _clips(config, data_dir, s) for s in ("train", "validation", "test")}
    keras.utils.set_random_seed(config.seed)
    manifest = {"num_embeddings": int(vqvae.quantizer.num_embeddings)}
    encode = recipe.clip_encoder(vqvae)
    codes = {s: np.concatenate([
        np.asarray(encode(tf.cast(clips["frames"][i:i + 16], tf.float32) / 255.0)["codes"])
        for i in range(0, len(clips["frames"]), 16)]).astype(np.int32)
        for s, clips in splits.items()}
    manifest["code_shape"] = [None] + list(codes["train"].shape[2:])
    prior = recipe.build_prior(config, manifest, int(vqvae.quantizer.embedding_dim))
    video = LatentVideoModel(vqvae, prior)

    def examples(split, shuffle, repeat=False):
        ds = tf.data.Dataset.from_tensor_slices(
            {"codes": codes[split], "actions": splits[split]["actions"]})
        return recipe.prior_examples(video, ds, config.prior_batch_size if shuffle else 128,
                                     shuffle, config.seed, repeat=repeat,
                                     action_dropout=config.action_dropout if shuffle else 0.0)

    start = time.time()
    history = prior.fit(examples("train", True, bool(steps_per_epoch)), epochs=epochs,
                        steps_per_epoch=steps_per_epoch or None,
                        validation_data=examples("validation", False), verbose=2)
    train_s = time.time() - start
    test = {k: v[:num_clips] for k, v in splits["test"].items()}
    c = config.context_frames
    true = test["frames"][:, c:].astype(np.float32) / 255.0
    last = np.repeat(test["frames"][:, c - 1:c].astype(np.float32) / 255.0,
                     config.horizon, axis=1)
    copy = metrics.per_horizon_errors(last, true)
    train_clips = splits["train"]
    inverse = metrics.fit_inverse_dynamics(train_clips["frames"].astype(np.float32) / 255.0,
                                           train_clips["actions"])
    test_f = test["frames"].astype(np.float32) / 255.0
    flat = (-1,) + test_f.shape[2:]
    true_acc = metrics.action_accuracy(inverse, test_f[:, :-1].reshape(flat),
                                       test_f[:, 1:].reshape(flat),
                                       test["actions"][:, :-1].reshape(-1))
    record = {
        "overrides": overrides, "epochs": epochs, "steps_per_epoch": steps_per_epoch,
        "train_clips": int(len(codes["train"])), "test_clips": int(len(true)),
        "train_wall_s": round(train_s, 1), "prior_parameters": int(prior.count_params()),
        "val_bits_per_code": [round(float(v), 4) for v in
                              history.history.get("val_bits_per_code", [])],
        "copy_last_psnr_db": [round(v, 2) for v in copy["psnr_db"]],
        "action_check_true_frames": round(true_acc, 3), "rollouts": {},
    }
    for t, g in [(t, g) for t in temperatures for g in guidances]:
        generated = video.rollout(test["frames"][:, :c], test["actions"][:, c - 1:-1],
                                  seed=config.seed, temperature=t,
                                  num_frames=config.horizon, guidance=g)
        errors = metrics.per_horizon_errors(generated, true)
        before = np.concatenate([test_f[:, c - 1:c], generated[:, :-1]], axis=1)
        acc = metrics.action_accuracy(inverse, before.reshape(flat), generated.reshape(flat),
                                      test["actions"][:, c - 1:-1].reshape(-1))
        record["rollouts"][str(t) if g == 1 else f"{t}@{g}"] = {
            "psnr_db": [round(v, 2) for v in errors["psnr_db"]],
            "ssim": [round(v, 3) for v in errors["ssim"]],
            "action_check": round(acc, 3)}
    return record


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m vq_zoo.recipes.video.prior_trials",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir")
    parser.add_argument("data_dir")
    parser.add_argument("out")
    parser.add_argument("--set", action="append", default=[], dest="overrides")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--steps-per-epoch", type=int, default=0)
    parser.add_argument("--temperatures", default="0,1")
    parser.add_argument("--guidances", default="1")
    parser.add_argument("--clips", type=int, default=48)
    args = parser.parse_args(argv)
    temperatures = [float(t) for t in args.temperatures.split(",")]
    guidances = [float(g) for g in args.guidances.split(",")]
    record = run_trial(args.run_dir, args.data_dir, args.overrides, args.epochs,
                       args.steps_per_epoch, temperatures, args.clips, guidances)
    print(json.dumps(record))
    records = []
    if os.path.exists(args.out):
        with open(args.out) as f:
            records = json.load(f)
    records.append(record)
    tmp = args.out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(records, f, indent=1)
    os.replace(tmp, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
