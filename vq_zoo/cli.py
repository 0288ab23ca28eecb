"""The `vq-zoo` command.

    vq-zoo list
    vq-zoo train <recipe> [--config NAME] [--set key=value ...]
                 [--strategy default|mirrored|multi_worker|tpu]
                 [--data-dir D] [--log-dir L] [--out-dir O]
    vq-zoo sample <run_dir> [--num N] [--label L] [--temperature T] [--seed S] [--out F.png]
    vq-zoo encode <run_dir | vqvae.keras> <image files ...> [--out codes.npy]
"""

import argparse
import dataclasses
import os
import sys

STRATEGIES = ("default", "mirrored", "multi_worker", "tpu")


def _parser():
    parser = argparse.ArgumentParser(
        prog="vq-zoo", description="VQ-VAE recipes, sampling and encoding."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("list", help="list the recipes and their configs")

    train = sub.add_parser("train", help="run a recipe (resumes if interrupted)")
    train.add_argument("recipe")
    train.add_argument("--config", default=None,
                       help="named config (default: 'default' if the recipe has one, else 'paper')")
    train.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="override a config field (repeatable)")
    train.add_argument("--strategy", default="default", choices=STRATEGIES)
    train.add_argument("--data-dir", default=None, help="tensorflow-datasets data dir")
    train.add_argument("--log-dir", default=None, help="TensorBoard dir (default OUT/logs)")
    train.add_argument("--out-dir", default=None, help="run dir (default runs/<recipe>-<config>)")

    sample = sub.add_parser("sample", help="sample images from a finished run")
    sample.add_argument("run_dir")
    sample.add_argument("--num", type=int, default=16)
    sample.add_argument("--label", type=int, default=None,
                        help="class label for a class-conditional prior")
    sample.add_argument("--temperature", type=float, default=1.0)
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument("--out", default=None, help="PNG path (default RUN/cli_samples.png)")

    encode = sub.add_parser("encode", help="encode image files to codes")
    encode.add_argument("model", help="a run dir or a vqvae.keras file")
    encode.add_argument("images", nargs="+", help="PNG/JPEG files")
    encode.add_argument("--out", default="codes.npy")
    return parser


def _cmd_list():
    from recipes import RECIPES, get_configs

    for name, summary in RECIPES.items():
        configs = ", ".join(get_configs(name))
        print(f"{name}: {summary}\n    configs: {configs}")
    return 0


def _cmd_train(args, parser):
    from recipes import get_configs
    from vq_zoo.utils.config import apply_overrides, get_config

    try:
        configs = get_configs(args.recipe)
        name = args.config or ("default" if "default" in configs else "paper")
        config = apply_overrides(get_config(configs, name), args.set)
    except ValueError as e:
        parser.error(str(e))
    out_dir = args.out_dir or os.path.join("runs", f"{args.recipe}-{name}")
    log_dir = args.log_dir or os.path.join(out_dir, "logs")
    print(f"Recipe {args.recipe}, config {name}: "
          + ", ".join(f"{k}={v}" for k, v in dataclasses.asdict(config).items()))
    print(f"Run dir: {out_dir}\nWatch training with: tensorboard --logdir {log_dir}",
          flush=True)

    from recipes import get_recipe
    from vq_zoo.training.get_strategy import get_strategy

    recipe, _ = get_recipe(args.recipe)
    strategy = get_strategy(args.strategy)
    recipe.main(config, out_dir=out_dir, strategy=strategy, data_dir=args.data_dir,
                log_dir=log_dir, verbose=2 if os.environ.get("CI") else 1)
    return 0


def _load_run(path, name):
    import keras

    import vq_zoo  # noqa: F401 (registers the classes)

    file = os.path.join(path, name) if os.path.isdir(path) else path
    if not os.path.exists(file):
        raise SystemExit(f"vq-zoo: {file} not found (is the run finished?)")
    return keras.models.load_model(file)


def _cmd_sample(args, parser):
    import numpy as np

    from vq_zoo.utils.images import image_grid, write_png

    if args.num < 1:
        parser.error("--num must be >= 1")
    if not args.temperature > 0:
        parser.error("--temperature must be > 0")
    vqvae = _load_run(args.run_dir, "vqvae.keras")
    prior = _load_run(args.run_dir, "prior.keras")
    condition = None
    if prior.has_condition:
        if args.label is None:
            parser.error("this prior is class-conditional: pass --label")
        condition = np.full((args.num,), args.label, "int32")
    elif args.label is not None:
        parser.error("this prior is unconditional: drop --label")
    codes = prior.sample(args.num, condition=condition, temperature=args.temperature,
                         seed=args.seed)
    images = np.asarray(vqvae.decode(codes))
    out = args.out or os.path.join(args.run_dir, "cli_samples.png")
    write_png(out, image_grid(images, columns=min(8, args.num)))
    print(f"Wrote {args.num} samples to {out}")
    return 0


def _cmd_encode(args, parser):
    import numpy as np
    import tensorflow as tf

    vqvae = _load_run(args.model, "vqvae.keras")
    images = []
    for path in args.images:
        if not os.path.exists(path):
            parser.error(f"image not found: {path}")
        image = tf.io.decode_image(tf.io.read_file(path), channels=3,
                                   expand_animations=False)
        images.append(tf.cast(image, "float32") / 255.0)
    shapes = {tuple(i.shape) for i in images}
    if len(shapes) != 1:
        parser.error(f"all images must have the same size, got {sorted(shapes)}")
    codes = np.asarray(vqvae.encode(tf.stack(images)))
    np.save(args.out, codes)
    print(f"Wrote codes of shape {codes.shape} to {args.out}")
    return 0


def main(argv=None):
    parser = _parser()
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if args.command == "list":
        return _cmd_list()
    if args.command == "train":
        return _cmd_train(args, parser)
    if args.command == "sample":
        return _cmd_sample(args, parser)
    return _cmd_encode(args, parser)


if __name__ == "__main__":
    sys.exit(main())
