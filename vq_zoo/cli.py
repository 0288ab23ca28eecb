"""The `vq-zoo` command.

    vq-zoo list
    vq-zoo train <recipe> [--config NAME] [--set key=value ...]
                 [--strategy default|mirrored|multi_worker|tpu]
                 [--data-dir D] [--log-dir L] [--out-dir O] [--restart]
    vq-zoo sample <run_dir | preset> [--num N] [--label L] [--temperature T]
                  [--seed S] [--upscale K] [--out F.png|F.jpg]
    vq-zoo encode <run_dir | vqvae.keras | preset> <image files ... | folder> [--out codes.npy]
    vq-zoo decode <codes.npy> --model <run_dir | vqvae.keras | preset> [--out F.png]
    vq-zoo export <run_dir> --vqvae-preset NAME --prior-preset NAME
    vq-zoo export <run_dir> [--dest DIR] [--notes FILE]   (speech, dmlab, video runs)
    vq-zoo export <run_dir> --format saved_model --dest DIR
    vq-zoo convert <run_dir | preset> --input IN.wav --speaker S --output OUT.wav
                  [--dest DIR (default $VQ_ZOO_HOME/presets)] [--overwrite]

Quiet by default: TensorFlow's start-up and C++ logs and other libraries'
warnings are hidden; `--verbose` (any command) shows them. `list` and
`--help` answer without importing TensorFlow. Errors are one line
(`vq-zoo: error: ...`) with a non-zero exit status.
"""

import argparse
import dataclasses
import os
import shlex
import sys

from vq_zoo.utils.messages import one_line

STRATEGIES = ("default", "mirrored", "multi_worker", "tpu")
# Limits on what one command makes or reads, so that a small input (a
# number, a header, a compressed file) cannot take all the memory: images
# or rollouts per `sample` and per `decode` grid, frames per rollout, and
# pixels per image for `encode` (a 4096x4096 image).
MAX_IMAGES = 1024
MAX_FRAMES = 256
MAX_PIXELS = 4096 * 4096
# `decode` reads at most this many codes from one file (MAX_IMAGES maps of
# 128x128), from the arrays' headers before any is loaded.
MAX_CODE_VALUES = MAX_IMAGES * 128 * 128
VERBOSE_HELP = "show TensorFlow's logs and all warnings"


def _parser():
    parser = argparse.ArgumentParser(
        prog="vq-zoo", description="VQ-VAE recipes, sampling and encoding."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("list", help="list the recipes, their configs and the presets")

    from vq_zoo.recipe import get_recipe, recipe_names  # no TensorFlow

    recipes = {name: get_recipe(name).summary for name in recipe_names()}
    train = sub.add_parser(
        "train", help="run a recipe (resumes if interrupted)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="recipes (`vq-zoo list` adds their configs and the presets):\n"
               + "\n".join(f"  {name:15} {summary[:60]}{'...' if len(summary) > 60 else ''}"
                           for name, summary in recipes.items()))
    train.add_argument("recipe", help="one of: " + ", ".join(recipes))
    train.add_argument("--config", default=None,
                       help="named config (default: 'default' if the recipe has one, else 'paper')")
    train.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="override a config field (repeatable)")
    train.add_argument("--strategy", default="default", choices=STRATEGIES)
    train.add_argument("--data-dir", default=None,
                       help="the data to train on, where the recipe's config reads one: "
                            "a tensorflow-datasets data dir, a folder of images, or "
                            "rendered memory-maze episodes (refused where it would be "
                            "ignored)")
    train.add_argument("--log-dir", default=None, help="TensorBoard dir (default OUT/logs)")
    train.add_argument("--out-dir", default=None, help="run dir (default runs/<recipe>-<config>)")
    train.add_argument("--restart", action="store_true",
                       help="wipe the run dir's artefacts and train from scratch "
                            "(needed to change the config of an existing run)")

    sample = sub.add_parser(
        "sample", help="sample images from a finished run or a preset pair")
    sample.add_argument("model", metavar="RUN_OR_PRESET",
                        help="a run dir, or a VQ-VAE or prior preset (name or folder) "
                             "whose metadata names its companion; any preset of a "
                             "VQ-VAE-2 set samples every level; a DeepMind Lab stage-2 "
                             "preset samples frames through both stages; a video "
                             "prior continues --context frames")
    sample.add_argument("--num", type=int, default=16,
                        help="how many samples (images, WAVs or rollouts; default 16)")
    sample.add_argument("--label", default=None,
                        help="class label for a class-conditional prior: its index, or "
                             "its name (a class folder of `vq-zoo train images`)")
    sample.add_argument("--temperature", type=float, default=1.0,
                        help="divides the prior's logits: below 1 sharper, above 1 "
                             "more varied, 0 greedy (each code its most likely value; "
                             "default 1, the model's own distribution)")
    sample.add_argument("--seed", type=int, default=0,
                        help="random seed: the same seed gives the same samples")
    sample.add_argument("--upscale", type=int, default=1,
                        help="nearest-neighbour upscaling of the grid (e.g. 4)")
    sample.add_argument("--out", default=None,
                        help="PNG or JPEG path (default RUN/cli_samples.png, or "
                             "samples.png for a preset); a speech model writes WAVs "
                             "(default RUN/cli_samples.wav or samples.wav; with "
                             "--num > 1, <stem>_<i>.wav). A default name that "
                             "exists becomes <stem>-2, -3, ...: never overwritten")
    sample.add_argument("--speaker", default=None,
                        help="speech: the speaker (name or index; default: in turn)")
    sample.add_argument("--context", nargs="+", default=None, metavar="FRAME",
                        help="video: the frames to continue (PNG/JPEG files, oldest "
                             "first, at least the prior's history)")
    sample.add_argument("--action", default=None,
                        help="video: the action held while generating (name or index; "
                             "default 0, e.g. noop)")
    sample.add_argument("--frames", type=int, default=10,
                        help="video: frames to generate after the context (default 10)")
    sample.add_argument("--guidance", type=float, default=None,
                        help="video: classifier-free guidance scale of the action (1: "
                             "none; above 1 the action counts more; needs a prior "
                             "trained with action dropout)")
    sample.add_argument("--consensus", type=int, default=None, metavar="N",
                        help="video: draws per generated frame, each frame the codes "
                             "most draws agree on (1: one draw; default: the decoding "
                             "the model's report measured)")

    encode = sub.add_parser("encode", help="encode image files, or a whole folder, to codes")
    encode.add_argument("model", metavar="RUN_OR_PRESET",
                        help="a run dir, a vqvae.keras file or a VQ-VAE preset")
    encode.add_argument("images", nargs="+",
                        help="PNG/JPEG/BMP/GIF files, or one folder: every image under "
                             "it (recursively) in batches, to one .npz of codes and "
                             "relative paths")
    encode.add_argument("--out", default="codes.npy",
                        help="a .npy file (.npy is added if missing); a folder or a "
                             "VQ-VAE-2 writes a .npz")
    encode.add_argument("--batch-size", type=int, default=64,
                        help="a folder: images per batch (default 64)")

    decode = sub.add_parser("decode", help="decode saved codes (.npy) to an image grid")
    decode.add_argument("codes", metavar="CODES.npy")
    decode.add_argument("--model", required=True, metavar="RUN_OR_PRESET",
                        help="a run dir, a vqvae.keras file or a VQ-VAE preset")
    decode.add_argument("--out", default="decoded.png", help="PNG or JPEG path")
    decode.add_argument("--columns", type=int, default=8,
                        help="images per row of the grid (default 8)")
    decode.add_argument("--upscale", type=int, default=1,
                        help="nearest-neighbour upscaling of the grid (e.g. 4)")

    export = sub.add_parser(
        "export", help="write a finished run's VQ-VAE and prior as preset folders, or "
                       "its encoder and decoder as SavedModels")
    export.add_argument("run_dir")
    export.add_argument("--format", default="preset", choices=("preset", "saved_model"),
                        help="preset (default): preset folders; saved_model: "
                             "--dest/encoder (images -> codes) and --dest/decoder "
                             "(codes -> images), TensorFlow SavedModels with the "
                             "signatures encode and decode (vq_zoo.export.saved_model)")
    export.add_argument("--vqvae-preset", default=None, metavar="NAME",
                        help="e.g. vqvae_small_mnist_28")
    export.add_argument("--prior-preset", default=None, metavar="NAME",
                        help="e.g. gated_pixelcnn_small_mnist_28 (a VQ-VAE-2 run: "
                             "the top prior)")
    export.add_argument("--bottom-prior-preset", default=None, metavar="NAME",
                        help="a VQ-VAE-2 run (prior_top.keras, prior_bottom.keras): "
                             "the bottom prior's preset")
    export.add_argument("--dest", default=None,
                        help="folder that receives the two preset folders (default "
                             "$VQ_ZOO_HOME/presets, i.e. ~/.cache/vq_zoo/presets, where "
                             "from_preset(name) finds them)")
    export.add_argument("--overwrite", action="store_true",
                        help="replace presets of the same names in --dest")
    export.add_argument("--upscale", type=int, default=4,
                        help="nearest-neighbour upscaling of the copied sample and "
                             "reconstruction grids (default 4)")
    export.add_argument("--notes", default=None, metavar="FILE",
                        help="a Markdown file of notes for the cards, on what the run "
                             "dir does not record (dmlab: after the targets; video: in "
                             "the training section; vctk: before the limitations); the "
                             "other recipes refuse it")
    convert = sub.add_parser(
        "convert", help="voice conversion: re-speak a WAV with another speaker")
    convert.add_argument("model", metavar="RUN_OR_PRESET",
                         help="a speech run dir, vqvae.keras file or VQ-VAE preset")
    convert.add_argument("--input", required=True, help="audio file (any sample rate)")
    convert.add_argument("--speaker", required=True, help="target speaker (name or index)")
    convert.add_argument("--output", required=True, help="WAV path to write")
    convert.add_argument("--seed", type=int, default=0)
    convert.add_argument("--temperature", type=float, default=1.0)
    # Every command takes --verbose (before or after its name).
    parser.add_argument("-v", "--verbose", action="store_true", help=VERBOSE_HELP)
    for command in sub.choices.values():
        command.add_argument("-v", "--verbose", action="store_true",
                             default=argparse.SUPPRESS, help=VERBOSE_HELP)
    return parser


def _cmd_list():
    """Recipes and presets, without importing TensorFlow."""
    from vq_zoo import presets
    from vq_zoo.recipe import get_recipe, recipe_names

    print("Recipes (vq-zoo train <recipe> [--config NAME]):")
    for name in recipe_names():
        recipe = get_recipe(name)
        print(f"{name}: {recipe.summary}\n    configs: {', '.join(recipe.configs)}")
    print(f"\nPresets (from_preset(name); searched in {presets.user_presets_dir()}, "
          "then the shipped ones):")
    try:
        found = presets.list_presets()
    except ValueError as e:
        raise CliError(one_line(e)) from None
    for name, entry in found.items():
        where = entry.get("path") or entry.get("url")
        print(f"{name}: {entry.get('class_name')} on {entry.get('dataset')}\n    {where}")
    if not found:
        print("(none)")
    return 0

def _check_data_dir(recipe, config_name, config, parser):
    """Refuses `--data-dir` (one line, exit 2) where the recipe's config would
    silently ignore it, naming the recipes and configs that read one."""
    from vq_zoo.recipe import data_dir_readers

    if recipe.data_dir_use(config):
        return
    readers = "; ".join(f"{r} ({', '.join(configs)})"
                        for r, configs in data_dir_readers().items())
    parser.error(f"recipe {recipe.name} with config {config_name} reads no --data-dir "
                 f"(it would be ignored). Recipes and configs that read one: {readers}")


def _cmd_train(args, argv, recipe, name, config, out_dir):
    """Runs the recipe in a `RunContext`; its pipeline owns the run dir (the
    lock, the recorded config, `config.json` and each invocation)."""
    from vq_zoo.pipeline.run_context import RunContext
    from vq_zoo.pipeline.run_dir import RunDirError
    from vq_zoo.training.get_strategy import get_strategy

    log_dir = args.log_dir or os.path.join(out_dir, "logs")
    problem = recipe.config_problem(name, config, args.data_dir)
    if problem:
        print(f"vq-zoo: error: {problem}", file=sys.stderr)
        return 2
    print(f"Recipe {recipe.name}, config {name}: "
          + ", ".join(f"{k}={v}" for k, v in dataclasses.asdict(config).items()))
    print(f"Run dir: {out_dir}\nWatch training with: tensorboard --logdir {log_dir}",
          flush=True)
    context = RunContext(
        recipe, config, out_dir, config_name=name, strategy=get_strategy(args.strategy),
        data_dir=args.data_dir, log_dir=log_dir,
        verbose=2 if os.environ.get("CI") else 1, restart=args.restart,
        command=shlex.join(["vq-zoo"] + list(argv)))
    try:
        recipe.train(context)
    except RunDirError as e:  # held by another run, made with another config
        print(f"vq-zoo: error: {e}", file=sys.stderr)
        return 2
    return 0


# ------------------------------------------------------------- output
class CliError(Exception):
    """A one-line error for the user: printed as `vq-zoo: error: ...`, exit
    status `status` (1; 2 for a bad argument), no traceback."""

    def __init__(self, message, status=1):
        super().__init__(message)
        self.status = status


def _our_file(filename):
    """True for a file of vq_zoo or of its recipes (their warnings are shown;
    those of TensorFlow, Keras and other libraries only with --verbose)."""
    roots = [os.path.dirname(os.path.abspath(__file__))]
    recipes = sys.modules.get("vq_zoo.recipes")
    if recipes is not None and getattr(recipes, "__file__", None):
        roots.append(os.path.dirname(os.path.abspath(recipes.__file__)))
    filename = os.path.abspath(filename or "")
    return any(filename.startswith(root + os.sep) for root in roots)


def _setup_output(verbose):
    """Quiet by default: TensorFlow's C++ logs off (set before it loads),
    its Python loggers at ERROR, and Python warnings of other libraries
    dropped (ours print as one `vq-zoo: warning:` line). `--verbose` leaves
    everything as TensorFlow and Keras would print it. Returns a function
    that restores the previous state (for `main` called in-process)."""
    import logging
    import warnings

    if verbose:
        return lambda: None
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    previous_show = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if _our_file(filename):
            print(f"vq-zoo: warning: {one_line(message)}", file=sys.stderr)

    warnings.showwarning = show
    levels = {}
    for name in ("tensorflow", "absl", "h5py"):
        logger = logging.getLogger(name)
        levels[name] = logger.level
        logger.setLevel(logging.ERROR)

    def restore():
        warnings.showwarning = previous_show
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)

    return restore


def _import_tensorflow(verbose):
    """Imports TensorFlow, Keras and the vq_zoo classes (registering them for
    `.keras` files). Quiet: TensorFlow writes its start-up lines (oneDNN,
    CUDA stubs, CPU features) from C++ before it reads any log level, so
    stderr is pointed at /dev/null while it loads."""
    if not verbose:
        from vq_zoo.utils.quiet_tensorflow import import_tensorflow_quietly

        import_tensorflow_quietly().get_logger().setLevel("ERROR")
    import vq_zoo.models  # noqa: F401 (registers the classes)


# ------------------------------------------------------------- models
def _is_run_dir(path):
    return os.path.isdir(path) and not os.path.isfile(
        os.path.join(path, "metadata.json"))


def _check_before_tensorflow(args, parser):
    """The checks of a command's arguments that need no model, run before
    TensorFlow loads (tens of seconds on a busy machine): counts and scales,
    the output's format, and for `encode` that the images exist and share
    one size (read from their headers)."""
    import math

    if args.command == "sample":
        if args.num < 1:
            parser.error("--num must be >= 1")
        if args.num > MAX_IMAGES:
            parser.error(f"--num {args.num}: at most {MAX_IMAGES} per command (run it "
                         "again with other --seed values for more)")
        if args.frames > MAX_FRAMES:
            parser.error(f"--frames {args.frames}: at most {MAX_FRAMES} per rollout")
        if not (args.temperature >= 0 and math.isfinite(args.temperature)):
            parser.error("--temperature must be a finite number >= 0 (0: greedy), got "
                         f"{args.temperature}")
        if args.upscale < 1:
            parser.error("--upscale must be >= 1")
        if args.frames < 1:
            parser.error("--frames must be >= 1")
        if args.guidance is not None and not (args.guidance >= 0
                                              and math.isfinite(args.guidance)):
            parser.error(f"--guidance must be a finite number >= 0 (1: none), got "
                         f"{args.guidance}")
        if args.consensus is not None and args.consensus < 1:
            parser.error(f"--consensus must be an integer >= 1 (1: one draw), got "
                         f"{args.consensus}")
        if args.out and not args.out.lower().endswith(".wav"):
            _check_image_out(parser, args.out)
    elif args.command == "decode":
        _check_image_out(parser, args.out)
        if args.columns < 1:
            parser.error("--columns must be >= 1")
        if args.upscale < 1:
            parser.error("--upscale must be >= 1")
    elif args.command == "encode":
        _check_image_sizes(args.images)
    elif args.command == "convert":
        if not (args.temperature > 0 and math.isfinite(args.temperature)):
            parser.error(f"--temperature must be a finite number > 0, got {args.temperature}")


def _check_image_sizes(paths):
    """Refuses missing files and images of different sizes from the files'
    headers (Pillow reads no pixels for this); files Pillow cannot read are
    left to the full reader, which names what is wrong with them."""
    try:
        from PIL import Image
    except ImportError:  # the full reader checks later
        Image = None
    sizes = {}
    for path in paths:
        if os.path.isdir(path):
            continue  # a folder: its images are listed by the command
        if not os.path.isfile(path):
            raise CliError(f"image not found: {path}")
        if Image is None:
            continue
        try:
            with Image.open(path) as image:
                width, height = image.size
        except Image.DecompressionBombError:  # over 2 * 89M pixels
            raise CliError(f"{path} is larger than {2 * Image.MAX_IMAGE_PIXELS} pixels: "
                           f"`encode` takes images of at most {MAX_PIXELS} pixels "
                           "(4096x4096); downscale or tile it") from None
        except Exception:  # noqa: BLE001 (unreadable: named by the full reader)
            continue
        if height * width > MAX_PIXELS:
            raise CliError(f"{path} is {height}x{width}: `encode` takes images of at "
                           f"most {MAX_PIXELS} pixels (4096x4096); downscale or tile it")
        sizes.setdefault((height, width), path)
    if len(sizes) > 1:
        raise CliError("all images must have the same size, got " + ", ".join(
            f"{h}x{w} ({path})" for (h, w), path in sizes.items()))


def _check_image_out(parser, out):
    from vq_zoo.utils.images import image_format

    try:
        image_format(out)
    except ValueError as e:
        parser.error(f"--out: {e}")


def _write_output(path, data=None, image=None):
    from vq_zoo.utils.images import write_image
    from vq_zoo.utils.io import write_atomic

    try:
        if image is not None:
            write_image(path, image)
        else:
            write_atomic(path, data)
    except OSError as e:
        raise CliError(f"cannot write {path}: {e.strerror or one_line(e)}") from None


def _write_grid(out, images, columns, upscale):
    """Writes `images` as one grid image of at most `columns` to a row."""
    import numpy as np

    from vq_zoo.utils.images import image_grid

    images = np.asarray(images)
    _write_output(out, image=image_grid(images, columns=min(columns, len(images)),
                                        upscale=upscale))


# ----------------------------------------------------------- commands
def _unused_path(path):
    """`path`, or `<stem>-2<ext>`, `<stem>-3<ext>`, ... if it exists: a
    default output name never overwrites an earlier result (an explicit
    `--out` does, as asked)."""
    stem, ext = os.path.splitext(path)

    def taken(candidate):  # a speech sample of --num > 1 writes <stem>_0.wav, ...
        base, suffix = os.path.splitext(candidate)
        return os.path.lexists(candidate) or os.path.lexists(f"{base}_0{suffix}")

    number, candidate = 1, path
    while taken(candidate):
        number += 1
        candidate = f"{stem}-{number}{ext}"
    return candidate


def _cmd_sample(args, parser):
    """`vq-zoo sample`: the model family of the run dir or preset
    (`vq_zoo.models.family`) draws the samples with the conditions given;
    this writes them (an image grid, or WAVs for speech)."""
    from vq_zoo.models.family import ConditionError, FamilyError, ModelFamily

    # The arguments were checked before TensorFlow loaded
    # (_check_before_tensorflow).
    if args.label is not None and args.label.lstrip("-").isdigit():
        args.label = int(args.label)  # an index; else a class name
    try:
        family = ModelFamily.load(args.model)
    except FamilyError as e:
        raise CliError(one_line(e)) from None
    suffix = ".wav" if family.output == "audio" else ".png"
    out = args.out or _unused_path(os.path.join(args.model, "cli_samples" + suffix)
                                   if _is_run_dir(args.model) else "samples" + suffix)
    if family.output == "audio" and not out.lower().endswith(".wav"):
        raise CliError(f"--out {out}: a speech model writes WAV files (.wav)", 2)
    conditions = {name: value for name, value in (
        ("label", args.label), ("speaker", args.speaker), ("context", args.context),
        ("action", args.action), ("guidance", args.guidance),
        ("consensus", args.consensus)) if value is not None}
    if "num_frames" in family.conditions:
        conditions["num_frames"] = args.frames
    try:
        samples = family.sample(args.num, seed=args.seed, temperature=args.temperature,
                                **conditions)
    except ConditionError as e:
        raise CliError(str(e), 2) from None
    except FamilyError as e:
        raise CliError(one_line(e)) from None
    if samples.audio is not None:
        where = _write_wavs(out, samples.audio, samples.sample_rate)
    else:
        _write_grid(out, samples.images, samples.columns, args.upscale)
        where = out
    print(samples.message(where))
    return 0


def _write_wavs(out, audio, sample_rate):
    """Writes `out` for one clip, `<stem>_<i>.wav` for several; returns
    what to call them in the message."""
    from vq_zoo.utils.audio import write_wav

    stem = out[:-4]
    paths = [out] if len(audio) == 1 else [f"{stem}_{i}.wav" for i in range(len(audio))]
    for path, clip in zip(paths, audio):
        try:
            write_wav(path, clip, sample_rate)
        except OSError as e:
            raise CliError(f"cannot write {path}: {e.strerror or one_line(e)}") from None
    return out if len(audio) == 1 else f"{stem}_<i>.wav"


def _cmd_convert(args, parser):
    """`vq-zoo convert`: the family of the model's autoencoder (a speech
    VQ-VAE's) converts the utterance (`ModelFamily.convert_speech`)."""
    from vq_zoo.models.family import FamilyError
    from vq_zoo.utils.audio import write_wav

    if not args.temperature > 0:
        parser.error("--temperature must be > 0")
    if not args.output.lower().endswith(".wav"):
        parser.error(f"--output: a .wav path, got {args.output!r}")
    if not os.path.exists(args.input):
        raise CliError(f"--input {args.input} not found")
    _check_writable(args.output, "--output")
    family, vqvae = _load_autoencoder(args.model)
    try:
        audio, rate = family.convert_speech(vqvae, args.model, args.input, args.speaker,
                                            seed=args.seed, temperature=args.temperature)
    except FamilyError as e:
        raise CliError(one_line(e)) from None
    try:
        write_wav(args.output, audio, rate)
    except OSError as e:
        raise CliError(f"cannot write {args.output}: {e.strerror or one_line(e)}") from None
    print(f"Wrote {args.output} ({audio.size / rate:.2f} s at {rate} Hz, speaker "
          f"{args.speaker})")
    return 0


def _check_writable(path, flag):
    """A CliError unless `path` can be written (its folder exists and is
    writable, and it is not a folder), checked before minutes of work."""
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise CliError(f"{flag} {path} is a folder; give a file path")
    if not os.path.isdir(folder):
        raise CliError(f"{flag} {path}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK) or (os.path.exists(path)
                                          and not os.access(path, os.W_OK)):
        raise CliError(f"{flag} {path}: not writable (permission denied)")


def _trained_shape(vqvae):
    shape = (vqvae.get_build_config() or {}).get("input_shape")
    if not shape or len(shape) != 4:
        raise CliError("this VQ-VAE records no image input shape (build config)")
    return tuple(int(d) for d in shape[1:])


def _load_autoencoder(source):
    """`(family class, autoencoder)` of `source` (a run dir, a `.keras` file or
    a preset): `vq_zoo.models.family.load_autoencoder`, its errors as one
    line."""
    from vq_zoo.models.family import FamilyError, load_autoencoder

    try:
        return load_autoencoder(source)
    except FamilyError as e:
        raise CliError(one_line(e)) from None


def _image_vqvae(args):
    """`(family class, autoencoder)` of `args.model`, refused where it does
    not encode images (DeepMind Lab's stage 2 encodes codes)."""
    from vq_zoo.models.family import FamilyError

    family, vqvae = _load_autoencoder(args.model)
    try:
        family.check_image_autoencoder(vqvae, args.model)
    except FamilyError as e:
        raise CliError(one_line(e)) from None
    return family, vqvae


def _cmd_encode(args, parser):
    import io

    import numpy as np

    from vq_zoo.models.family import FamilyError
    from vq_zoo.utils.images import read_image

    if any(os.path.isdir(path) for path in args.images):
        return _encode_folder(args, parser)
    for path in args.images:
        if not os.path.isfile(path):
            raise CliError(f"image not found: {path}")
    family, vqvae = _image_vqvae(args)
    levels = family.code_levels(vqvae)
    suffix = ".npz" if levels else ".npy"
    out = args.out if args.out.endswith(suffix) else (
        os.path.splitext(args.out)[0] if args.out.endswith((".npy", ".npz")) else args.out
    ) + suffix
    height, width, channels = _trained_shape(vqvae)
    images = []
    for path in args.images:
        try:
            images.append(read_image(path, channels=channels))
        except (ValueError, OSError) as e:
            raise CliError(one_line(e)) from None
    sizes = {}
    for path, image in zip(args.images, images):
        sizes.setdefault(image.shape[:2], path)
    if len(sizes) != 1:
        raise CliError("all images must have the same size, got " + ", ".join(
            f"{h}x{w} ({path})" for (h, w), path in sizes.items()))
    h, w = images[0].shape[:2]
    try:
        family.check_image_size(vqvae, args.model, h, w)
    except FamilyError as e:
        raise CliError(one_line(e)) from None
    fh, fw = family.downsampling(vqvae, (height, width, channels))
    if h % fh or w % fw:
        raise CliError(
            f"{args.images[0]} is {h}x{w}: this model downsamples by {fh}x{fw}, so "
            f"image sizes must be multiples of that (it was trained on "
            f"{height}x{width} images)")
    if (h, w) != (height, width):
        print(f"vq-zoo: note: the model was trained on {height}x{width} images; "
              f"encoding {h}x{w} images (it is fully convolutional: "
              f"{h // fh}x{w // fw} codes each)", file=sys.stderr)
    batch = np.stack(images) / 255.0
    buffer = io.BytesIO()
    codes = family.encode_images(vqvae, batch)
    if levels:
        np.savez(buffer, **codes)
        shapes = ", ".join(f"{k} {v.shape}" for k, v in codes.items())
    else:
        np.save(buffer, codes)
        shapes = f"shape {codes.shape}"
    _write_output(out, data=buffer.getvalue())
    print(f"Wrote codes of {shapes} to {out}")
    return 0


def _encode_folder(args, parser):
    """`encode MODEL FOLDER`: every image under the folder, in batches, to
    one .npz (`vq_zoo.export.folder_codes`)."""
    from vq_zoo.data.image_folder import ImageFolderError
    from vq_zoo.export.folder_codes import encode_folder
    from vq_zoo.export.saved_model import ExportError

    if len(args.images) != 1:
        parser.error("encode: pass one folder, or image files (not both)")
    if args.batch_size < 1:
        parser.error("--batch-size must be >= 1")
    out = os.path.splitext(args.out)[0] + ".npz" if args.out.endswith(".npy") else (
        args.out if args.out.endswith(".npz") else args.out + ".npz")
    family, vqvae = _image_vqvae(args)
    try:
        arrays, folder = encode_folder(vqvae, args.images[0], out, args.batch_size,
                                       family=family)
    except (ImageFolderError, ExportError) as e:
        raise CliError(one_line(e)) from None
    except OSError as e:
        raise CliError(f"cannot write {out}: {e.strerror or one_line(e)}") from None
    shapes = ", ".join(f"{k} {v.shape}" for k, v in arrays.items()
                       if k not in ("paths", "labels", "class_names"))
    skipped = sum(len(v) for v in folder.skipped.values())
    print(f"Wrote codes of {len(arrays['paths'])} images ({shapes}) and their paths to "
          f"{out}" + (f"; skipped {skipped} files (listed above)" if skipped else ""))
    return 0


def _cmd_decode(args, parser):
    import numpy as np

    # --upscale, --columns and --out were checked before TensorFlow loaded
    # (_check_before_tensorflow).
    if not os.path.isfile(args.codes):
        raise CliError(f"codes file not found: {args.codes}")
    import zipfile
    import zlib

    from vq_zoo.utils.checks import array_file_shapes

    try:
        shapes = array_file_shapes(args.codes)
        values = sum(int(np.prod(shape)) for shape in shapes.values())
        if values > MAX_CODE_VALUES:
            raise CliError(f"{args.codes} holds {values} codes (shapes "
                           f"{', '.join(map(str, shapes.values()))}): `decode` reads at most "
                           f"{MAX_CODE_VALUES} in one command; split the file")
        codes = np.load(args.codes, allow_pickle=False)
        if isinstance(codes, np.lib.npyio.NpzFile):
            with codes:
                codes = {k: codes[k] for k in codes.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as e:
        raise CliError(f"{args.codes}: not a .npy array (or .npz of arrays) of codes "
                       f"(truncated or corrupt?): {one_line(e)}") from None
    for value in (codes.values() if isinstance(codes, dict) else [codes]):
        if not isinstance(value, np.ndarray) or not np.issubdtype(value.dtype, np.integer):
            raise CliError(f"{args.codes}: codes must be integers, got "
                           f"{getattr(value, 'dtype', type(value).__name__)}")
    family, vqvae = _image_vqvae(args)
    levels = family.code_levels(vqvae)
    if levels or isinstance(codes, dict):
        return _decode_levels(args, family, vqvae, levels, codes)
    rank = family.code_rank(vqvae, _trained_shape(vqvae))
    if codes.ndim == rank:
        codes = codes[None]
    if codes.ndim != rank + 1 or codes.shape[0] == 0:
        raise CliError(f"{args.codes}: expected codes of shape (n, {', '.join(['h', 'w'][:rank])})"
                       f" or ({', '.join(['h', 'w'][:rank])}), got {codes.shape}")
    _check_decode_count(args.codes, len(codes))
    k = family.num_codes(vqvae)
    if codes.min() < 0 or codes.max() >= k:
        raise CliError(f"{args.codes}: codes must be in [0, {k}) for this model, got "
                       f"values in [{codes.min()}, {codes.max()}]")
    _write_grid(args.out, family.decode_codes(vqvae, codes.astype("int32")), args.columns,
                args.upscale)
    print(f"Wrote {len(codes)} decoded images to {args.out}")
    return 0


def _check_decode_count(path, count):
    if count > MAX_IMAGES:
        raise CliError(f"{path} holds {count} code maps: `decode` draws at most "
                       f"{MAX_IMAGES} in one grid; split the file")


def _decode_levels(args, family, vqvae, levels, codes):
    """`decode` of a VQ-VAE-2's `.npz` (one array per level, as `encode`
    writes it; lower levels may be left out)."""
    if not levels:
        raise CliError(f"{args.codes} holds several arrays ({', '.join(codes)}): "
                       f"{args.model} has one level of codes (pass a .npy)")
    if not isinstance(codes, dict):
        raise CliError(f"{args.codes}: {args.model} has the code levels "
                       f"{', '.join(levels)}: pass the .npz that `vq-zoo encode` writes")
    codes = {k: v[None] if v.ndim == 2 else v for k, v in codes.items()}
    for level, value in codes.items():
        if level not in levels:
            continue  # VQVAE2.decode names the unknown keys
        _check_decode_count(args.codes, len(value))
        # Checked in the file's own integer type: a cast first would wrap
        # int64 codes >= 2**32 into range (2**32 + 3 would decode as 3).
        k = family.num_codes(vqvae, level)
        if value.size and (value.min() < 0 or value.max() >= k):
            raise CliError(f"{args.codes}: {level} codes must be in [0, {k}) for this "
                           f"model, got values in [{value.min()}, {value.max()}]")
    codes = {k: v.astype("int32") for k, v in codes.items()}
    try:
        images = family.decode_codes(vqvae, codes)
    except ValueError as e:
        raise CliError(f"{args.codes}: {one_line(e)}") from None
    _write_grid(args.out, images, args.columns, args.upscale)
    print(f"Wrote {len(images)} decoded images to {args.out}")
    return 0


def _cmd_export(args, parser):
    """`export --format preset`: the run's recipe writes its presets
    (`Recipe.export`; the default, `vq_zoo.export.run_presets`, the VQ-VAE
    and its prior(s) with the generic card)."""
    from vq_zoo.export.run_presets import RunExportError, export_run_presets
    from vq_zoo.export.run_presets import run_recipe_name
    from vq_zoo.recipe import get_recipe

    if args.format == "saved_model":
        return _export_saved_model(args, parser)
    recipe = None
    name = run_recipe_name(args.run_dir)
    if name is not None:
        try:
            recipe = get_recipe(name)
        except ValueError:  # a recipe no longer registered: the generic export
            pass
    if recipe is None and (not args.vqvae_preset or not args.prior_preset):
        parser.error("--format preset needs --vqvae-preset and --prior-preset")
    for option, name in (("--vqvae-preset", args.vqvae_preset or "ok"),
                         ("--prior-preset", args.prior_preset or "ok"),
                         ("--bottom-prior-preset", args.bottom_prior_preset or "ok")):
        if not name.replace("_", "").isalnum() or name != name.lower():
            parser.error(f"{option}: use <model>_<size>_<data>[_<resolution>] in "
                         f"lower case, letters, digits and '_', got {name!r}")
    given = [n for n in (args.vqvae_preset, args.prior_preset, args.bottom_prior_preset)
             if n]
    if len(set(given)) != len(given):
        parser.error("--vqvae-preset and --prior-preset (and --bottom-prior-preset) "
                     "must differ")
    if args.upscale < 1:
        parser.error("--upscale must be >= 1")
    try:
        if recipe is None:  # no record, or a recipe no longer registered
            return export_run_presets(args.run_dir, args)
        return recipe.export(args.run_dir, args)
    except RunExportError as e:
        raise CliError(str(e), e.status) from None


def _class_names(run_dir=None, metadata=None):
    """The class names a run of `vq-zoo train images` recorded, or a preset
    exported from one carries (None for other models)."""
    from vq_zoo.data.image_folder import recorded_class_names

    return recorded_class_names(run_dir if run_dir and _is_run_dir(run_dir) else None,
                                metadata)


def _export_saved_model(args, parser):
    """`export --format saved_model`: the run's autoencoder as two
    SavedModels, by its family (`ModelFamily.export_saved_model`; the
    default: `vq_zoo.export.saved_model`)."""
    from vq_zoo.export.saved_model import ExportError
    from vq_zoo.models.family import FamilyError

    if not args.dest:
        parser.error("--format saved_model needs --dest DIR (the folder to create)")
    if args.notes:
        parser.error("--notes is for --format preset (the cards)")
    if not _is_run_dir(args.run_dir):
        raise CliError(f"{args.run_dir} is not a run dir (a folder holding vqvae.keras)")
    family, vqvae = _load_autoencoder(args.run_dir)
    try:
        description = family.export_saved_model(vqvae, args.dest, source=args.run_dir,
                                                class_names=_class_names(args.run_dir),
                                                overwrite=args.overwrite)
    except FamilyError as e:
        raise CliError(one_line(e)) from None
    except ExportError as e:
        raise CliError(f"{args.run_dir}: {one_line(e)}") from None
    except OSError as e:
        raise CliError(f"cannot write {args.dest}: {e.strerror or one_line(e)}") from None
    levels = ", ".join(f"{k} {'x'.join(map(str, v['shape'][1:]))}"
                       for k, v in description["encoder"]["outputs"].items())
    print(f"Wrote {os.path.join(args.dest, 'encoder')} (signature encode: images -> "
          f"codes {levels}) and {os.path.join(args.dest, 'decoder')} (signature "
          f"decode: codes -> images)")
    return 0


def _train(args, parser, argv, verbose):
    """`vq-zoo train`, after the checks that need no TensorFlow (recipe,
    config, `--set` keys, types and ranges: refused at once, before
    anything is created). Missing data (its loaders raise FileNotFoundError
    or ImportError with the install or download command) or an unwritable
    run dir is one error line, and a run dir this invocation created is
    removed again (`--verbose` shows the traceback instead)."""
    import shutil

    from vq_zoo.pipeline.run_dir import finished_stages
    from vq_zoo.recipe import get_recipe

    try:
        recipe = get_recipe(args.recipe)
        name, config = recipe.config(args.config, args.set)
    except ValueError as e:
        parser.error(str(e))
    # Before TensorFlow loads: a --data-dir the config would ignore.
    if args.data_dir is not None:
        _check_data_dir(recipe, name, config, parser)
    out_dir = args.out_dir or os.path.join("runs", f"{args.recipe}-{name}")
    existed = os.path.lexists(out_dir)
    _import_tensorflow(verbose)
    try:
        return _cmd_train(args, argv, recipe, name, config, out_dir)
    except (OSError, ImportError) as e:
        # Only a run dir this invocation made and that holds no finished
        # stage is removed (missing data at start-up): a disk that fills up
        # in a later stage must not take the finished ones with it.
        kept = finished_stages(out_dir)
        if not existed and os.path.isdir(out_dir) and not kept:
            shutil.rmtree(out_dir, ignore_errors=True)
        if verbose:
            raise
        message = one_line(e)
        if isinstance(e, OSError) and e.filename and not isinstance(e, FileNotFoundError):
            message = f"cannot write {e.filename}: {e.strerror or message}"
        elif isinstance(e, OSError) and not e.filename and not isinstance(e, ValueError):
            # (A data error that is also a ValueError, e.g. ImageFolderError,
            # names its folder itself.)
            message = f"{message} (while writing under {out_dir})"
        if kept:
            message += (f". The finished stages ({', '.join(kept)}) are kept in {out_dir}: "
                        "rerun the same command to resume")
        raise CliError(message) from None


COMMANDS = {
    "sample": _cmd_sample,
    "encode": _cmd_encode,
    "decode": _cmd_decode,
    "export": _cmd_export,
    "convert": _cmd_convert,
}


def main(argv=None):
    parser = _parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    verbose = bool(getattr(args, "verbose", False))
    restore = _setup_output(verbose)
    try:
        if args.command == "list":
            return _cmd_list()
        if args.command == "train":
            return _train(args, parser, argv, verbose)
        _check_before_tensorflow(args, parser)
        _import_tensorflow(verbose)
        return COMMANDS[args.command](args, parser)
    except CliError as e:
        print(f"vq-zoo: error: {e}", file=sys.stderr)
        return e.status
    finally:
        restore()


if __name__ == "__main__":
    sys.exit(main())
