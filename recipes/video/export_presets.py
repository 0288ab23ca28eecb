"""Export a finished video run as the two shipped presets, with video model
cards and the rollout grids.

    python -m vq_zoo.recipes.video.export_presets runs/video-small pretrained

NOTE (optional): a sentence for the card's training section (e.g. an
invocation the run dir does not record). Writes
`<dest>/vqvae_small_memory_maze_64` (the per-frame VQ-VAE) and
`<dest>/gated_pixelcnn_video_small_memory_maze_64` (the next-frame prior),
each with the run's metadata (as `vq-zoo export` records it), a card that
describes the video model and its held-out metrics, and the run's
`samples.png` (context | generated | true) and `actions.png` (one context
under each action), at 1x (64x64 frames).
"""

import json
import os
import sys

from vq_zoo.recipes import common

VQVAE_PRESET = "vqvae_small_memory_maze_64"
PRIOR_PRESET = "gated_pixelcnn_video_small_memory_maze_64"
ACTIONS = ("noop", "forward", "left", "right", "forward_left", "forward_right")


def _row(values, digits=1):
    return " | ".join(f"{v:.{digits}f}" for v in values)


def video_card(name, kind, meta, vqvae, prior):
    from vq_zoo.data.memory_maze import split_episodes

    m, c = meta["metrics"], meta["config"]
    split = split_episodes(c["episodes"], c["validation_fraction"], c["test_fraction"])
    inv = (meta.get("training_invocations") or [{}])[-1]
    q = vqvae.quantizer
    h = len(m["rollout_psnr_db"])
    lines = [f"# {name}", ""]
    if kind == "vqvae":
        lines += [
            f"The per-frame VQ-VAE of an action-conditioned video model (arXiv:1711.00937, "
            f"section 4.4): {c['image_size']}x{c['image_size']} first-person memory-maze "
            f"frames to {'x'.join(map(str, m['code_shape']))} codes (K={q.num_embeddings}, "
            f"D={q.embedding_dim}). Its next-frame prior is the preset `{PRIOR_PRESET}`.", ""]
    else:
        lines += [
            f"The next-frame prior of an action-conditioned video model (arXiv:1711.00937, "
            f"section 4.4): a `GatedPixelCNNPrior` over the {'x'.join(map(str, prior.shape))} "
            f"codes of frame t of the VQ-VAE `{VQVAE_PRESET}`, conditioned spatially on "
            f"frames t-{m['history']}..t-1 (their codebook vectors stacked: a "
            f"{'x'.join(map(str, prior.spatial_condition_shape))} map through "
            f"{prior.conditioning_layers} residual 3x3 layers) and globally on the action "
            f"taken at frame t-1 (one of {prior.num_classes}, embedded).", ""]
    lines += [
        "```python",
        "import numpy as np",
        "from vq_zoo.models.video import LatentVideoModel",
        f'video = LatentVideoModel.from_preset("{VQVAE_PRESET}", "{PRIOR_PRESET}")',
        f"# context: uint8 (batch, {c['context_frames']}, {c['image_size']}, "
        f"{c['image_size']}, 3); actions: int (batch, {c['horizon']}) in 0..5",
        "# (actions[:, i] is taken at the frame before generated frame i)",
        "frames = video.rollout(context, actions, seed=0)   # float32 (batch, 10, 64, 64, 3)",
        "```",
        "",
        f"Actions: {', '.join(f'{i} {a}' for i, a in enumerate(ACTIONS))}.",
        "",
        "## Architecture",
        "",
        f"VQ-VAE: {c['num_hiddens']} hidden units, {c['num_residual_layers']} residual "
        f"block(s) of {c['num_residual_hiddens']}, {c['num_downsamples']} stride-2 "
        f"convolutions (4x), EMA codebook K={q.num_embeddings}, D={q.embedding_dim}, MSE "
        f"likelihood; {vqvae.count_params():,} parameters. Prior: {prior.num_layers} gated "
        f"PixelCNN layers of {prior.filters} filters, history {m['history']} frames, "
        f"{prior.count_params():,} parameters. A rollout draws each frame's codes with the "
        "prior's cached sampler (one XLA loop per frame), feeds them back as the newest "
        "past frame, and decodes all frames at the end.",
        "",
        "## Data",
        "",
        meta["data"],
        "",
        f"Data license: {meta['data_license']}",
        "",
        "## Training",
        "",
        "```bash",
        "python -m vq_zoo.data.memory_maze ~/.cache/vq_zoo/memory_maze/9x9_64px_100steps_seed0 "
        "--episodes 28 --steps 100 --resolution 64",
        meta["command"],
        f"python -m vq_zoo.recipes.video.export_presets {meta['run_dir_name']} pretrained",
        "```",
        "",
        f"Hardware (measured): {inv.get('hardware', '?')}. Wall time "
        f"{sum(i.get('wall_time_s', 0) for i in meta.get('training_invocations') or []) / 60:.1f}"
        f" min over {len(meta.get('training_invocations') or [])} recorded invocation(s) for "
        f"VQ-VAE ({c['vqvae_epochs']} epochs), codes, prior ({c['prior_epochs']} epochs), "
        "samples and report, on a machine shared with other jobs (rendering the episodes, "
        "about 15 min there, not counted)."
        + (f" {meta['training_note']}" if meta.get("training_note") else ""),
        "",
        "## Held-out metrics",
        "",
        f"Test split: the last {len(split['test'])} episodes (mazes never "
        f"trained on), {m['test_frames']} frames of test clips; rollouts of {m['rollout_clips']} test clips "
        f"({c['context_frames']} true context frames, then {h} generated under the true "
        f"actions, temperature {m['rollout_temperature']}, seed {c['seed']}). Measured by the "
        "run's `report` stage (`metrics.json`).",
        "",
        "| metric | value |",
        "|---|---|",
        f"| per-frame reconstruction MSE / PSNR (dB) | {m['test_mse']:.5f} / "
        f"{m['test_psnr_db']:.2f} |",
        f"| code perplexity / codebook usage | {m['test_perplexity']:.1f} / "
        f"{m['test_codebook_usage']:.3f} |",
        f"| prior bits per code (teacher-forced, true past frames) | "
        f"{m['test_prior_bits_per_code']:.3f} |",
        "",
        "Rollout error against the true frames at each horizon:",
        "",
        "| horizon | " + " | ".join(str(i + 1) for i in range(h)) + " |",
        "|---|" + "---|" * h,
        "| rollout PSNR (dB) | " + _row(m["rollout_psnr_db"]) + " |",
        "| copy-the-last-frame PSNR (dB) | " + _row(m["copy_last_frame_psnr_db"]) + " |",
        "| VQ-VAE reconstruction PSNR (dB), the ceiling | "
        + _row(m["reconstruction_psnr_db_by_horizon"]) + " |",
        "| rollout SSIM | " + _row(m["rollout_ssim"], 3) + " |",
        "| copy-the-last-frame SSIM | " + _row(m["copy_last_frame_ssim"], 3) + " |",
        "",
        "Action check: a logistic regression on global-motion features of frame pairs "
        "(pan and zoom errors of frame t+1 against frame t), trained on the true training "
        "pairs (frame t, frame t+1) -> action t, then asked which action moved each "
        "generated frame:",
        "",
        "| frames classified | accuracy |",
        "|---|---|",
        f"| true test pairs | {m['action_check_true_frames']:.3f} |",
        f"| VQ-VAE reconstructions of them | {m['action_check_reconstructed_frames']:.3f} |",
        f"| rollouts under the true actions (each generated frame vs the one before) | "
        f"{m['action_check_rollout']:.3f} |",
        f"| one generated frame after each test context under each of the 6 actions | "
        f"{m['action_check_every_action_one_step']:.3f} |",
        f"| chance (1/6) / always the most frequent action | "
        f"{m['action_check_chance']:.3f} / {m['action_check_majority_rate']:.3f} |",
        "",
        "## Pictures",
        "",
        "[`samples.png`](samples.png): test clips, two rows each: "
        f"{c['context_frames']} context frames then {h} generated frames (top) and the "
        "true frames (bottom).",
        "",
        "![rollouts](samples.png)",
        "",
        "[`actions.png`](actions.png): the first test clip's context rolled out under each "
        "action held for 10 frames, one row per action (noop, forward, left, right, "
        "forward_left, forward_right).",
        "",
        "![actions](actions.png)",
        "",
        "## Limitations (read this)",
        "",
        "- A tiny model trained for minutes on 2 shared CPU cores, on "
        f"{len(split['train'])} episodes ({len(split['train']) * c['steps_per_episode']:,} "
        "frames): the generated frames are blurry and drift from the scene within "
        "a few frames. Read the tables: the rollouts are compared with copying the last "
        "context frame, and where they fall below it the model is worse than doing "
        "nothing on this metric (PSNR favours a blurry or static guess over a sharp one "
        "that moves).",
        "- The action check is only as good as its classifier: compare the rollout rows "
        "with the classifier's accuracy on true and reconstructed frames, and with the "
        "most frequent action's rate.",
        "- The prior sees the last "
        f"{m['history']} frames only: the earlier context frames are not used, and "
        "nothing is remembered of a place once it is out of view.",
        "- Rendered memory-maze frames only (one policy, 9x9 mazes): expect nothing on "
        "DeepMind Lab, BAIR or real video. Measured once, on one held-out split, one seed "
        "(no error bars).",
    ]
    return common.close_card(lines, meta)


def main(argv=None):
    import tempfile

    from vq_zoo import presets
    from vq_zoo.cli import _upscaled_png
    from vq_zoo.model_card import data_card

    argv = sys.argv[1:] if argv is None else argv
    if len(argv) not in (2, 3):
        print("usage: python -m vq_zoo.recipes.video.export_presets RUN_DIR DEST [NOTE]",
              file=sys.stderr)
        return 2
    run_dir, dest = argv[:2]
    note = argv[2] if len(argv) == 3 else None
    with open(os.path.join(run_dir, "config.json")) as f:
        run = json.load(f)
    with open(os.path.join(run_dir, "metrics.json")) as f:
        metrics = json.load(f)
    data = data_card("video", run.get("config"))
    vqvae, prior = common.load_run_models(run_dir, "vqvae", "prior")
    shared = {
        "dataset": data["dataset"], "data": data["data"], "data_license": data["license"],
        "metrics_split": "held-out test split", "recipe": "video",
        "config_name": run.get("config_name"), "config": run.get("config"),
        "command": run.get("command"),
        "export_command": f"python -m vq_zoo.recipes.video.export_presets {run_dir} {dest}",
        "training_invocations": run.get("invocations", []), "metrics": metrics,
        "metrics_command": run.get("command"), "vqvae_preset": VQVAE_PRESET,
        "prior_preset": PRIOR_PRESET, "run_dir_name": run_dir,
        **({"training_note": note} if note else {}),
    }
    with tempfile.TemporaryDirectory() as scratch:
        files = {}
        for picture in ("samples.png", "actions.png"):
            source = os.path.join(run_dir, picture)
            if os.path.exists(source):
                files[picture] = os.path.join(scratch, picture)
                with open(files[picture], "wb") as f:
                    f.write(_upscaled_png(source, 1))
        for kind, name, model, other, what in (
                ("vqvae", VQVAE_PRESET, vqvae, PRIOR_PRESET,
                 "per-frame VQ-VAE of a latent video model on memory-maze 64x64"),
                ("prior", PRIOR_PRESET, prior, VQVAE_PRESET,
                 f"next-frame gated PixelCNN prior over the codes of {VQVAE_PRESET}, "
                 "given the last frames' codes and the action")):
            meta = dict(shared, description=what, companion_preset=other)
            card = video_card(name, kind, meta, vqvae, prior)
            folder = os.path.join(dest, name)
            presets.save_to_preset(model, folder, meta, files=files, model_card=card)
            print(f"Wrote preset {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
