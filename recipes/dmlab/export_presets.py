"""`vq-zoo export` of a dmlab run (`Recipe.export` of the dmlab recipe): the
run as four preset folders with one model card text (the set only makes
sense together):

    vq-zoo export runs/dmlab-small --dest pretrained [--notes NOTES.md]

(`--notes`: a Markdown file the cards carry after the targets: what the
grid shows, what was tried). The card states the command and the summed
wall time of the invocations the run records; `from_run` takes others for a
run assembled from another's stages.

- `vqvae_small_memory_maze_84`: stage 1, 84x84 frames -> 21x21 codes (K=32);
- `gated_pixelcnn_small_memory_maze_21`: stage 1's prior over the maps;
- `vqvae_pixelcnn_small_memory_maze_21`: stage 2 (`DMLabVQVAE`), 21x21 codes
  -> 3 codes (27 bits) and back by a PixelCNN decoder;
- `gated_pixelcnn_1d_small_memory_maze_3`: the prior over the 3 codes.

Load and chain them:

    from vq_zoo.models.dmlab import DMLabTwoStage
    chain = DMLabTwoStage.from_presets()      # the four shipped presets
    frames, codes, maps = chain.sample(8, seed=0)
"""

import json
import math
import os
import platform
import tempfile

import numpy as np

from vq_zoo.models.dmlab.family import decoding_words
from vq_zoo.models.dmlab.family import indefinite_article
from vq_zoo.models.dmlab.family import load_run_stage
from vq_zoo.models.dmlab.family import map_head_training
from vq_zoo.models.dmlab.family import set_roles
from vq_zoo.models.dmlab.family import set_sizes
from vq_zoo.models.dmlab.family import stage1_num_embeddings

SIZE = "small"
NAMES = {
    "vqvae": "vqvae_small_memory_maze_84",
    "prior": "gated_pixelcnn_small_memory_maze_21",
    "stage2_vqvae": "vqvae_pixelcnn_small_memory_maze_21",
    "stage2_prior": "gated_pixelcnn_1d_small_memory_maze_3",
}
# The family each preset loads as: stage 1 and its map prior are an image
# VQ-VAE and its prior (the one-stage baseline, sampled as a pair); stage 2
# and the 3-code prior are the two-stage model (`DMLabFamily`).
FAMILIES = {"vqvae": "vqvae", "prior": "vqvae", "stage2_vqvae": "dmlab",
            "stage2_prior": "dmlab"}


def _fmt(value, digits=3):
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _stage1_k(config):
    return int(stage1_num_embeddings(config))


def _tuples(count):
    """What `count` codes of one frame are, as a noun."""
    return {1: "single codes", 2: "pairs", 3: "triples"}.get(count, f"{count}-tuples")


def _span(indices):
    """`[first, last]` of a run of episode indices."""
    return [int(indices[0]), int(indices[-1])]


def _train_span(config):
    """`[first, last]` training episode of a run's recorded `config`."""
    from vq_zoo.data.memory_maze import split_episodes

    return _span(split_episodes(config["episodes"], config.get("validation_fraction", 0.125),
                                config.get("test_fraction", 0.125))["train"])


def stage1_origin(config, preset_metadata=None):
    """How the run's stage 1 was made, for the cards and the presets'
    metadata: `{"words": ..., "train_episodes": [first, last] or None}`
    (the episodes of the run's rendering stage 1 was trained on, None where
    unrecorded). A stage 1 trained by this run says so; one loaded from
    `config["vqvae_preset"]` carries that preset's own record
    (`preset_metadata`, its metadata.json: its `stage1_origin`, or, for a
    preset its run trained from scratch, that run's config and command)
    plus what this run did to it (merged, trained further)."""
    k = _stage1_k(config)
    if not config.get("vqvae_preset"):
        return {"words": f"trained from scratch by this run ({config['vqvae_epochs']} epochs, "
                         f"K={k})", "train_episodes": _train_span(config)}
    meta = preset_metadata or {}
    origin = meta.get("stage1_origin")
    if origin is None:
        own = meta.get("config") or {}
        if own.get("episodes") and not own.get("vqvae_preset"):
            origin = {"words": (f"trained from scratch ({own['vqvae_epochs']} epochs, "
                                f"K={_stage1_k(own)}) by `{meta.get('command')}`"),
                      "train_episodes": _train_span(own)}
        else:
            origin = {"words": "how it was trained is not recorded in its metadata",
                      "train_episodes": None}
    words = origin["words"]
    if config.get("vqvae_merge_codes"):
        words += (f", its codebook merged into K={k} codes (k-means of the code "
                  "vectors weighted by their use on this run's training frames; "
                  "`vq_zoo.models.dmlab.codebook_merge`)")
    if not config["vqvae_epochs"]:
        return {"words": words, "train_episodes": origin["train_episodes"]}
    ours, theirs = _train_span(config), origin["train_episodes"]
    span = None if theirs is None else [min(ours[0], theirs[0]), max(ours[1], theirs[1])]
    return {"words": words + (f", then trained {config['vqvae_epochs']} more epoch(s) at "
                              f"learning rate {config['learning_rate']:g} on episodes "
                              f"{ours[0]}-{ours[1]}"), "train_episodes": span}


def _stage1_words(config):
    """The card's words for stage 1's origin (`config["stage1_origin"]`,
    else this run's own training)."""
    origin = config.get("stage1_origin") or stage1_origin(config)
    if not config.get("vqvae_preset"):
        return origin["words"]
    words = f"the preset `{config['vqvae_preset']}`, {origin['words']}"
    return words + ("" if config["vqvae_epochs"] else ", used as it is (no further training)")


def _stage1_episodes_words(config, split):
    """After "mazes no stage ever trained on": which episodes stage 1 saw
    where they are not this run's training episodes."""
    origin = config.get("stage1_origin") or stage1_origin(config)
    span = origin["train_episodes"]
    if span is None:
        return " (stage 1's training episodes are not recorded)"
    if span == _span(split["train"]):
        return ""
    seen = [i for i in split["test"] if span[0] <= i <= span[1]]
    if seen:
        raise ValueError(f"stage 1 was trained on episodes {span[0]}-{span[1]}, which hold "
                         f"{len(seen)} of this run's test episodes: its held-out figures "
                         "would not be held out")
    return f" (stage 1 was trained on episodes {span[0]}-{span[1]})"


def _stage1_k_words(config):
    """Why stage 1's K is what it is, for the card's shortfalls."""
    if config.get("vqvae_merge_codes"):
        return (" (merged): see `recipes/dmlab/README.md` for the PSNR of\n"
                "  each merged size")
    return (": a smaller codebook for a smaller model and fewer frames;\n"
            "  see `recipes/dmlab/README.md` for the stage-1 sizes tried")


def targets(metrics, config=None):
    """Issue 20's targets for the held-out metrics: `[(target, measured,
    met)]` (the grid's target is judged by eye, in the card's notes), in
    the sizes of the run's `config` (the shipped set's where None)."""
    sizes = set_sizes(config)
    gap = metrics["test_psnr_db"] - metrics["test_stage2_psnr_db"]
    accuracy = metrics["test_stage2_map_accuracy_greedy"]
    rows = [(f"frames after both stages within 4 dB PSNR of stage 1 "
             f"({decoding_words(metrics)})",
             f"{gap:.2f} dB below" + (f" ({gap - 4:.2f} dB too many)" if gap > 4 else ""),
             gap <= 4.0),
            (f"greedy {sizes['map']} map from the {sizes['latents']} codes at least 50% "
             "right",
             f"{accuracy:.3f}" + (f" ({0.5 - accuracy:.3f} short)" if accuracy < 0.5 else ""),
             accuracy >= 0.5)]
    train = metrics.get("train_stage2_prior_bits_per_code")
    valid = metrics.get("validation_stage2_prior_bits_per_code")
    if train and valid:
        rows.append((f"{sizes['latents']}-code prior: validation bits/code within 10% of "
                     "training",
                     f"{valid:.3f} vs {train:.3f} ({100 * (valid / train - 1):+.1f}%)",
                     abs(valid / train - 1) <= 0.10))
    return rows


def _head_stage_words(config):
    """The card's words of a run's `stage2_head` stage (none without one)."""
    epochs = int(config.get("stage2_head_epochs") or 0)
    if not epochs:
        return ""
    what = ("all of stage 2 (its own losses kept)" if config["stage2_head_tune"] == "stage2"
            else "the map head alone (the codes unchanged)")
    weight = float(config.get("stage2_head_object_weight") or 0)
    objects = (f",\n  and {weight:g} times stage 1's loss over the pixels of the target balls "
               "alone\n  (memory-maze's object masks)" if weight else "")
    with_objects = " plus that term" if weight else ""
    decay = (" falling epoch by epoch along half a cosine"
             if config.get("stage2_head_lr_decay") == "cosine" else "")
    return (f"\n  Then `stage2_head`: {what} trained {epochs} epochs more on the frames "
            "(`MapHeadTuner`): the\n  stage-1 codes nearest the map head's vectors, "
            "passed straight through, decoded by\n  stage 1's frozen decoder and compared "
            "with the frame, beside the map loss (weight\n  "
            f"{config['stage2_head_map_weight']:g}){objects}; learning rate "
            f"{config['stage2_head_learning_rate']:g}{decay}, the epoch of the best "
            f"validation frame loss{with_objects} kept.")


def card_text(stage, metrics, invocation, config, notes="",
              export_command="vq-zoo export runs/dmlab-small --dest pretrained",
              config_name=SIZE):
    """The card of the set's `stage` preset, in the sizes of the run's
    `config` (frames, maps, stage 2's codes and codebooks: `set_sizes`)
    and naming its `config_name`."""
    from vq_zoo.data.memory_maze import split_episodes

    m = {k: _fmt(v) for k, v in metrics.items()}
    k1 = _stage1_k(config)
    bits1 = math.log2(k1)
    sizes = set_sizes(config)
    image, code_map, latents = sizes["image"], sizes["map"], sizes["latents"]
    k2 = config["stage2_num_embeddings"]
    height, width = sizes["map_shape"]
    fit = config.get("stage2_prior_final_logs") or {}
    stage2_prior_fit = ("{:.2f} / {:.2f} bits per code on its training / validation codes "
                        "in its last epoch".format(fit["bits_per_code"],
                                                    fit["val_bits_per_code"])
                        if fit else "")
    split_bits = ""
    if "train_stage2_prior_bits_per_code" in metrics:
        split_bits = (f"{_fmt(metrics['train_stage2_prior_bits_per_code'])} / "
                      f"{_fmt(metrics['validation_stage2_prior_bits_per_code'])} / "
                      f"{m['test_stage2_prior_bits_per_code']}")

    def per_level(prefix, digits):
        return ", ".join(_fmt(v, digits) for k, v in sorted(metrics.items())
                         if k.startswith(prefix))

    split = split_episodes(config["episodes"], config["validation_fraction"],
                           config["test_fraction"])
    stage1_start = _stage1_episodes_words(config, split)
    from vq_zoo.models.dmlab.family import DMLabFamily

    name = NAMES[stage]
    # What the DeepMind Lab family says of each preset of the set: the set's
    # names and the run's config and metrics.
    set_metadata = {"two_stage_presets": NAMES, "config": config, "metrics": metrics}
    target_rows = "\n".join(f"| {t} | {v} | {'met' if ok else '**missed**'} |"
                            for t, v, ok in targets(metrics, config))
    prior_row = (f"| {latents}-code prior, bits per code on train / validation / test "
                 f"codes (after training) | {split_bits} |" if split_bits else
                 f"| {latents}-code prior, bits per code (of {math.log2(k2):g} uniform) | "
                 f"{m['test_stage2_prior_bits_per_code']} |")
    decoding = decoding_words(metrics)
    decoding_rows = ""
    if "test_stage2_psnr_db_consensus" in metrics:
        n = metrics["stage2_decoding_samples"]
        decoding_rows = (
            f"| stage 2 map accuracy, consensus of {n} sampled maps (at each position "
            f"the code most of them agree on) | "
            f"{m['test_stage2_map_accuracy_consensus']} |\n"
            "| frame PSNR (dB) after both stages: greedy map / sampled map / consensus "
            f"of {n} sampled maps / mean of the {n} sampled maps' frames | "
            f"{_fmt(metrics['test_stage2_psnr_db_greedy'], 2)} / "
            f"{_fmt(metrics['test_stage2_psnr_db_sampled'], 2)} / "
            f"{_fmt(metrics['test_stage2_psnr_db_consensus'], 2)} / "
            f"{_fmt(metrics['test_stage2_psnr_db_frame_mean'], 2)} |\n")
    else:
        decoding_rows = ("| frame PSNR after both stages, sampled map (dB) | "
                         f"{_fmt(metrics['test_stage2_psnr_db_sampled'], 2)} |\n")
    if "test_stage2_psnr_db_regression" in metrics:
        decoding_rows += (
            f"| map head ({map_head_training(config, 'beside the PixelCNN')}): map "
            "accuracy / frame PSNR (dB) after "
            "both stages of the nearest stage-1 codes / of its vectors unsnapped | "
            f"{m['test_stage2_map_accuracy_regression']} / "
            f"{_fmt(metrics['test_stage2_psnr_db_regression'], 2)} / "
            f"{_fmt(metrics['test_stage2_psnr_db_regression_unsnapped'], 2)} |\n")
    if "test_object_frames" in metrics:
        decoding_rows += (
            "| objects (memory-maze's target balls): of the "
            f"{metrics['test_object_frames']} test frames showing one, the fraction whose "
            "reconstruction keeps its colour against its surroundings, stage 1 / after both "
            f"stages ({decoding}) | {m['test_objects_kept']} / {m['test_stage2_objects_kept']} |\n"
            "| PSNR (dB) over those objects' pixels, stage 1 / after both stages | "
            f"{_fmt(metrics['test_object_psnr_db'], 2)} / "
            f"{_fmt(metrics['test_stage2_object_psnr_db'], 2)} |\n")
    if "test_stage2_psnr_db_empty_frames" in metrics:
        decoding_rows += (
            "| frame PSNR (dB) after both stages over those frames / over the "
            f"{metrics['test_empty_frames']} test frames showing no object "
            "(stage 1: "
            f"{_fmt(metrics['test_psnr_db_object_frames'], 2)} / "
            f"{_fmt(metrics['test_psnr_db_empty_frames'], 2)}) | "
            f"{_fmt(metrics['test_stage2_psnr_db_object_frames'], 2)} / "
            f"{_fmt(metrics['test_stage2_psnr_db_empty_frames'], 2)} |\n")
    board = ("\nThe same grids are in TensorBoard (`logs/stage2_vqvae/images`, "
             "`logs/stage2_prior/images`)." if config.get("tensorboard_images", True) else "")
    return f"""# {name}

{DMLabFamily.card_intro(name, {"num_embeddings": _stage1_k(config)}, set_metadata)}

## Data

{image} first-person RGB frames of memory-maze {config.get('maze', '9x9')} mazes (Pasukonis et al.
2022, a MuJoCo re-creation of DeepMind Lab's `explore_goal_locations`
levels), rendered **at {image} by the environment's own camera** (nothing
resized) by `python -m vq_zoo.data.memory_maze` with an exploring policy
(mostly forward, random turns held for 2-6 steps, turning away when a
forward move leaves the frame unchanged): {config['episodes']} episodes of
{config['steps_per_episode']} steps (seed {config['data_seed']}: episode `i` is
maze seed `{f"{config['data_seed'] * 100003} + " if config['data_seed'] else ""}i`), each in its own maze,
**split by episode**: episodes {split['train'][0]}-{split['train'][-1]} train,
{split['validation'][0]}-{split['validation'][-1]} validation (early stopping),
{split['test'][0]}-{split['test'][-1]} test. Every metric below is on the
{metrics['test_frames']} frames of the test episodes: mazes no stage ever
trained on{stage1_start}. memory-maze is Apache-2.0; MuJoCo and dm_control are
Apache-2.0.

## Model

- Stage 1: {_stage1_words(config)}. {sizes['a_map'].capitalize()} map is {height * width} x {bits1:.0f} bits.
  Its PixelCNN prior (the one-stage baseline, not part of the {sizes['bits']}-bit chain):
  {config['prior_layers']} layers of {config['prior_filters']}, {config['prior_epochs']} epoch(s){
  f" of {config['prior_steps_per_epoch']} steps" if config.get('prior_steps_per_epoch') else ""}.
- Stage 2: {code_map} codes -> {latents} codes of {latents} codebooks of {k2}
  ({metrics['bits_per_frame_stage2']:.0f} bits) -> a gated PixelCNN over the map
  ({config['stage2_decoder_layers']} layers of {config['stage2_decoder_filters']})
  conditioned globally on the {latents} quantised vectors{
  f" and, at every position, on {indefinite_article(height)} ({height}, {width}, "
  f"{config['stage2_spatial_channels']}) map a "
  f"`LatentMapDecoder` makes from them" if config.get('stage2_spatial_channels') else ""}.{
  _head_stage_words(config)}
- The {latents}-code prior: a causal gated 1D network of {config['stage2_prior_filters']}
  filters{f", early stopping on the validation codes (patience "
  f"{config['stage2_prior_patience']}, best epoch kept)"
  if config.get('stage2_prior_patience') else ""}.

## Held-out metrics (test episodes)

| | |
|---|---|
| stage 1 reconstruction MSE (frames in [0, 1]) | {_fmt(metrics['test_mse'], 5)} |
| stage 1 reconstruction PSNR (dB) | {_fmt(metrics['test_psnr_db'], 2)} |
| stage 1 code perplexity / usage (of {k1}) | {_fmt(metrics['test_perplexity'], 1)} / {m['test_codebook_usage']} |
| stage 1 prior, bits per code (of {bits1:.0f} uniform) | {m['test_prior_bits_per_code']} |
| bits per frame after stage 2 | {_fmt(metrics['bits_per_frame_stage2'], 0)} |
| stage 2 map accuracy, greedy map from the {latents} codes | {m['test_stage2_map_accuracy_greedy']} |
| stage 2 map accuracy, map sampled from the {latents} codes (T=1) | {m['test_stage2_map_accuracy_sampled']} |
| stage 2 map accuracy, per-position argmax given the true preceding codes | {m['test_stage2_map_accuracy_teacher_forced']} |
| baseline: the most frequent training code everywhere | {m['baseline_map_accuracy_most_frequent_code']} |
| stage 2 decoder NLL, bits per code of the {code_map} map | {m['test_stage2_bits_per_code']} |
| frame MSE / PSNR (dB) after both stages, {decoding} | {_fmt(metrics['test_stage2_mse'], 5)} / {_fmt(metrics['test_stage2_psnr_db'], 2)} |
{decoding_rows}| stage 2 codebooks, perplexity (of {k2}) | {per_level('test_stage2_perplexity_', 1)} |
| stage 2 codebooks, usage | {per_level('test_stage2_codebook_usage_', 3)} |
{prior_row}

## Issue 20's targets

| target | measured (held-out) | |
|---|---|---|
{target_rows}

{notes.strip() if notes else ""}

{DMLabFamily.card_reconstructions({}, set_metadata)}{board}
What was tried before this run, and what each try measured:
`recipes/dmlab/README.md`.

## Where this small CPU model falls short of the paper

- **Small data and training.** {config['episodes']} x {config['steps_per_episode']}
  frames (the paper's DeepMind Lab data is far larger), a few epochs per
  stage on 2 shared CPU cores, networks of 16-64 channels (the paper: 128+).
- **Stage 1's K is {k1}, not the paper's 512**{_stage1_k_words(config)}.
- The {latents}-code prior{f" ({stage2_prior_fit})" if stage2_prior_fit else ""}: {indefinite_article(k2)} {k2}-way
  vocabulary and {k2}^{latents} combinations against
  {len(split['train']) * config['steps_per_episode']:,} training {_tuples(latents)}.
- memory-maze is not DeepMind Lab: simpler textures, no HUD, another
  camera; nothing here measures the paper's DeepMind Lab numbers (the paper
  reports none for this model either).

## Training

Command: `{invocation['command']}` (then
`{export_command}`), config `{config_name}` of
`recipes/dmlab/config.py`. Wall time {_or_unknown(invocation.get('wall_time_s'))} s,
{_cpu_time_words(invocation)}{invocation['hardware']}, shared with other jobs, for all stages; the
episodes were rendered before (`MUJOCO_GL=egl`, Mesa's software renderer).
"""


def _or_unknown(value):
    return "?" if value is None else value


def _cpu_time_words(invocation):
    """The CPU time of the training, where it was measured ("CPU time N s
    (user + system) on "), else "on " (a run's own record has none)."""
    if invocation.get("cpu_time_s") is None:
        return "on\n"
    return f"CPU time {invocation['cpu_time_s']} s (user + system) on\n"


def _cpu_name():
    """The CPU's model name (as `lscpu` gives it), else the machine type."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


# A preset's weights above this many float32 bytes keep their big arrays
# (FLOAT16_MIN_VALUES values or more) in float16: the shipped stage 2 (map
# head and encoder 512 units wide) holds 8.8 MB in float32, 5.2 MB so.
FLOAT16_ABOVE_BYTES = 4_000_000
FLOAT16_MIN_VALUES = 65_536


def float16_min_values(model):
    """`save_to_preset`'s `float16_min_values` for `model`: None (all
    float32) for a model of at most `FLOAT16_ABOVE_BYTES` of float32
    weights, else `FLOAT16_MIN_VALUES`."""
    return FLOAT16_MIN_VALUES if 4 * model.count_params() > FLOAT16_ABOVE_BYTES else None


def from_run(run_dir, dest, wall_time_s=None, cpu_time_s=None, command=None, notes="",
             config_name=SIZE):
    """Writes the four presets of the dmlab run in `run_dir` under `dest`;
    returns `{preset name: metadata}`. `wall_time_s`, `cpu_time_s` and
    `command` are what the cards state of the training (`export` passes the
    run's record; a run made from another's stages may state that run's),
    `notes` Markdown the cards carry after the targets, `config_name` the
    run's named config. The cards and descriptions word the run's own sizes
    (its recorded config)."""
    from vq_zoo import VQVAE  # noqa: F401 (every vq_zoo class registered with Keras)

    from vq_zoo import presets
    from vq_zoo.utils.images import read_image, write_png

    with open(os.path.join(run_dir, "metrics.json")) as f:
        metrics = json.load(f)
    with open(os.path.join(run_dir, "stages", "run.json")) as f:
        run = json.load(f)
    config = dict(run.get("config") or {})
    with open(os.path.join(run_dir, "stages", "stage2_prior.json")) as f:
        logs = json.load(f).get("final_logs") or {}
    preset_metadata = None
    if config.get("vqvae_preset"):
        try:
            preset_metadata = presets.load_preset_metadata(config["vqvae_preset"])
        except (OSError, ValueError):  # gone since: the card says it is unrecorded
            preset_metadata = None
    origin = stage1_origin(config, preset_metadata)
    card_config = dict(config, stage2_prior_final_logs=logs, stage1_origin=origin)
    invocation = {
        "command": command or f"vq-zoo train dmlab --config {config_name}",
        "wall_time_s": wall_time_s, "cpu_time_s": cpu_time_s,
        "hardware": f"{os.cpu_count()} CPU cores ({_cpu_name()}), {platform.system()}",
    }
    from vq_zoo.recipes.dmlab.recipe import DMLabRecipe

    data_card = DMLabRecipe().data_card(config)

    pictures = {}
    with tempfile.TemporaryDirectory() as tmp:
        for picture in ("reconstructions.png", "samples.png", "objects.png"):
            source = os.path.join(run_dir, picture)
            if os.path.exists(source):
                image = read_image(source)
                big = np.repeat(np.repeat(image, 2, axis=0), 2, axis=1)
                pictures[picture] = os.path.join(tmp, picture)
                write_png(pictures[picture], big)
        files = {
            "vqvae": ["reconstructions.png", "samples.png", "objects.png"],
            "prior": [],
            "stage2_vqvae": ["reconstructions.png", "samples.png", "objects.png"],
            "stage2_prior": ["samples.png"],
        }
        written = {}
        roles = set_roles(config)
        for stage, name in NAMES.items():
            model = load_run_stage(run_dir, stage)
            metadata = {
                "dataset": data_card["dataset"], "data": data_card["data"],
                "data_license": data_card["license"], "recipe": "dmlab",
                "family": FAMILIES[stage],
                "config_name": config_name, "config": config, "command": invocation["command"],
                "training_invocations": [invocation], "metrics": metrics,
                "metrics_split": "held-out test episodes",
                "description": roles[stage], "two_stage_presets": NAMES,
                "stage1_origin": origin,
            }
            if stage == "prior":
                metadata["companion_preset"] = NAMES["vqvae"]
            target = os.path.join(dest, name)
            written[name] = presets.save_to_preset(
                model, target, metadata,
                files={p: pictures[p] for p in files[stage] if p in pictures},
                float16_min_values=float16_min_values(model),
                model_card=card_text(stage, metrics, invocation, card_config, notes,
                                     f"vq-zoo export {run_dir} --dest {dest}", config_name))
    return written


def export(run_dir, request):
    """`vq-zoo export RUN_DIR [--dest D] [--overwrite] [--notes FILE]` of a
    dmlab run: the four presets (`from_run`), with the command and the
    summed wall time of the invocations the run's `config.json` records
    and the notes file's text."""
    from vq_zoo.export.run_presets import fixed_names_destination
    from vq_zoo.export.run_presets import read_notes
    from vq_zoo.export.run_presets import read_run_json

    dest = fixed_names_destination(request, list(NAMES.values()), "dmlab")
    notes = read_notes(request)
    run = read_run_json(run_dir, "config.json",
                        "a run made by `vq-zoo train` records its config there")
    read_run_json(run_dir, "metrics.json", "is the run finished?")
    walls = [i.get("wall_time_s") for i in run.get("invocations") or []]
    wall = sum(walls) if walls and None not in walls else None
    for name in from_run(run_dir, dest, wall, None, run.get("command"), notes,
                         run.get("config_name") or SIZE):
        print(f"Wrote preset {os.path.join(dest, name)}")
    return 0
