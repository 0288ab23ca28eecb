"""`vq-zoo export` of a video run (`Recipe.export` of the video recipe): the
two shipped presets, with video model cards and the rollout grids.

    vq-zoo export runs/video-small --dest pretrained [--notes NOTE.md]

`--notes`: a file holding a sentence for the card's training section (e.g.
an invocation the run dir does not record). Writes
`<dest>/vqvae_small_memory_maze_64` (the per-frame VQ-VAE) and
`<dest>/gated_pixelcnn_video_small_memory_maze_64` (the next-frame prior),
each with the run's metadata (as `vq-zoo export` records it), a card that
describes the video model and its held-out metrics, and the run's
`samples.png` (context | generated | true) and `actions.png` (one context
under each action), at 1x (64x64 frames).
"""

import json
import os

from vq_zoo.recipes import common

VQVAE_PRESET = "vqvae_small_memory_maze_64"
PRIOR_PRESET = "gated_pixelcnn_video_small_memory_maze_64"
ACTIONS = ("noop", "forward", "left", "right", "forward_left", "forward_right")
# The per-clip grids (clip_<i>.png) a preset carries.
CLIP_GRIDS = 2


# The preset this retraining replaced (issue 20), as its card measured it:
# 28 episodes of 100 steps, a GatedPixelCNNPrior with the action as a
# global condition only, rollouts at temperature 1.
PREVIOUS = dict(rollout=(19.5, 15.2, 12.4), copy=(22.0, 16.9, 14.7), action=0.287,
                action_true=0.653)


def _vqvae_words(c):
    """The VQ-VAE stage of a run's config, in words for the card."""
    if not c.get("vqvae_preset"):
        return f"VQ-VAE ({c['vqvae_epochs']} epochs)"
    more = f", {c['vqvae_epochs']} more epochs" if c.get("vqvae_epochs") else " as it is"
    return f"VQ-VAE (preset `{c['vqvae_preset']}`{more})"


def _row(values, digits=1):
    return " | ".join(f"{v:.{digits}f}" for v in values)


def _temperature_words(t):
    return ("greedy (temperature 0: each code the argmax of its logits given the codes "
            "drawn before it)" if float(t) == 0 else f"sampled at temperature {t}")


def _consensus_words(n):
    return (f"each frame the consensus of {n} draws (at each position the code most of "
            "them agree on)")


def _decoding_words(m):
    """How the card's rollouts were drawn: the temperature, when not 1 the
    classifier-free guidance scale, and when above 1 the draws per frame
    of consensus decoding."""
    g = float(m.get("rollout_guidance", 1.0))
    n = int(m.get("rollout_consensus", 1))
    return (f"{_consensus_words(n)} " if n > 1 else "") + _temperature_words(
        m["rollout_temperature"]) + (
        f", with classifier-free guidance of the action at scale {g:g}" if g != 1 else "")


def guidance_lines(m):
    """The card's tables of the rollouts at the other guidance scales and
    with other numbers of draws per frame."""
    h = len(m["rollout_psnr_db"])
    lines = []
    for what, heading, column, words in (
            ("guidances", "at other guidance scales (same temperature"
             + (", draws per frame" if int(m.get("rollout_consensus", 1)) > 1 else "")
             + " and seed; 1 is no guidance)", "guidance", lambda k: f"{float(k):g}"),
            ("consensus", "with other numbers of draws per frame (same temperature, "
             "guidance and seed; 1 is one draw, no consensus)", "draws per frame", str)):
        others = m.get(f"rollouts_at_other_{what}") or {}
        if not others:
            continue
        acc = m.get(f"action_check_rollout_at_other_{what}") or {}
        lines += ["", f"The same rollouts {heading}:", "",
                  f"| {column} | " + " | ".join(f"h{i + 1} PSNR" for i in range(h))
                  + " | action accuracy |", "|---|" + "---|" * (h + 1)]
        for key, e in others.items():
            lines.append(f"| {words(key)} | " + _row(e["rollout_psnr_db"]) + " | "
                         + (f"{acc[key]:.3f}" if key in acc else "-") + " |")
    return lines


def target_rows(m):
    """Table rows of the issue-20 targets: rollout PSNR above copy-last at
    horizons 1, 4 and 10, and the rollouts' action accuracy at least 80% of
    the true frames'."""
    rows = []
    for h in (1, 4, 10):
        if h > len(m["rollout_psnr_db"]):
            continue
        r, c = m["rollout_psnr_db"][h - 1], m["copy_last_frame_psnr_db"][h - 1]
        verdict = (f"met, by {r - c:.2f} dB" if r > c else f"missed, by {c - r:.2f} dB")
        rows.append(f"| rollout PSNR above copy-last at horizon {h} | {r:.2f} vs {c:.2f} "
                    f"dB | {verdict} |")
    if "action_check_rollout" in m:
        need = 0.8 * m["action_check_true_frames"]
        got = m["action_check_rollout"]
        verdict = (f"met (+{got - need:.3f})" if got >= need else
                   f"missed, by {need - got:.3f} ({got / m['action_check_true_frames']:.0%} "
                   "of the true frames')")
        rows.append(f"| rollout action accuracy >= 0.8 x true frames' | {got:.3f} vs "
                    f"0.8 x {m['action_check_true_frames']:.3f} = {need:.3f} | {verdict} |")
    return rows


def _run_key(key):
    """`(temperature, guidance, draws)` of an `evaluate_episodes.py` record
    key: `"<T>"`, `"<T>@<guidance>"`, either with `"x<draws>"` appended."""
    key, _, draws = key.partition("x")
    temperature, _, guidance = key.partition("@")
    return float(temperature), float(guidance or 1), int(draws or 1)


def _run_name(key):
    temperature, guidance, draws = _run_key(key)
    name = "greedy rollout" if temperature == 0 else f"rollout at temperature {temperature:g}"
    if guidance != 1:
        name += f", guidance {guidance:g}"
    if draws > 1:
        name += f", consensus of {draws} draws"
    return name


def extra_evaluation_lines(e):
    """The card's table of `evaluate_episodes.py`'s record (more held-out
    episodes), with the command that measured it."""
    first, last = e["episodes"]
    picks = [h for h in (1, 4, 10) if h <= len(e["copy_last_frame"]["psnr_db"])]
    keys = [_run_key(k) for k in e["rollouts"]]
    flags = " ".join(f"--{flag} {','.join(f'{v:g}' for v in sorted({k[i] for k in keys}))}"
                     for i, flag in enumerate(("temperatures", "guidances", "consensus")))
    lines = [
        f"On more held-out clips: {e['clips']} clips of episodes {first}-{last - 1} of "
        f"the same render (maze seeds {e['maze_seeds'][0]}-{e['maze_seeds'][1]}, none of "
        "them trained on), measured by `python -m vq_zoo.recipes.video.evaluate_episodes "
        f"EPISODES_DIR {first} {last} TRAIN_DIR OUT.json {flags} --max-clips {e['clips']}"
        + (" --run RUN" if e.get("run_dir") else "") + "`:",
        "",
        "| | " + " | ".join(f"h{h} PSNR (dB)" for h in picks)
        + " | h10 SSIM | action accuracy |",
        "|---|" + "---|" * (len(picks) + 2),
    ]
    for key, r in e["rollouts"].items():
        lines.append(f"| {_run_name(key)} | "
                     + " | ".join(f"{r['psnr_db'][h - 1]:.2f}" for h in picks)
                     + f" | {r['ssim'][-1]:.3f} | {r['action_check']:.3f} |")
    cl, rc = e["copy_last_frame"], e["reconstruction"]
    lines.append("| copy the last frame | " + " | ".join(f"{cl['psnr_db'][h - 1]:.2f}"
                                                      for h in picks)
                 + f" | {cl['ssim'][-1]:.3f} | - |")
    lines.append("| VQ-VAE reconstruction (ceiling) | "
                 + " | ".join(f"{rc['psnr_db'][h - 1]:.2f}" for h in picks)
                 + f" | {rc['ssim'][-1]:.3f} | - |")
    lines.append(f"| true frames | | | | | {e['action_check_true_frames']:.3f} |"
                 if len(picks) == 3 else "")
    return lines


def decoding_notes(m):
    """Limitations lines on the decoding, from the measured temperatures."""
    others = m.get("rollouts_at_other_temperatures") or {}
    acc = m.get("action_check_rollout_at_other_temperatures") or {}
    t = m["rollout_temperature"]
    lines = []
    for key, e in others.items():
        psnr = e["rollout_psnr_db"]
        line = (f"- At temperature {key} instead of {t:g}"
                f"{' (greedy)' if float(t) == 0 else ''}: PSNR {psnr[0]:.2f} / "
                f"{psnr[min(3, len(psnr) - 1)]:.2f} / {psnr[-1]:.2f} dB at horizons 1 / 4 / "
                f"{len(psnr)} against {m['rollout_psnr_db'][0]:.2f} / "
                f"{m['rollout_psnr_db'][min(3, len(psnr) - 1)]:.2f} / "
                f"{m['rollout_psnr_db'][-1]:.2f}")
        if key in acc and "action_check_rollout" in m:
            need = 0.8 * m["action_check_true_frames"]
            line += (f"; action accuracy {acc[key]:.3f} against {m['action_check_rollout']:.3f}"
                     f" ({'meets' if acc[key] >= need else 'misses'} the {need:.3f} target"
                     + (f" by {need - acc[key]:.3f}" if acc[key] < need else "") + ")")
        lines.append(line + ".")
    if float(t) == 0 and others:
        last = {k: e["rollout_psnr_db"][-1] for k, e in others.items()}
        best = all(m["rollout_psnr_db"][-1] >= v for v in last.values())
        lines.append(
            "- Greedy decoding gives one most likely future, without the variety of "
            "samples" + (f"; of the temperatures measured it scores best at horizon "
                         f"{len(m['rollout_psnr_db'])}" if best else "")
            + "; read the action accuracies above for how often its frames move as "
            "commanded.")
    n = int(m.get("rollout_consensus", 1))
    single = (m.get("rollouts_at_other_consensus") or {}).get("1")
    if n > 1 and single:
        psnr, ref = single["rollout_psnr_db"], m["rollout_psnr_db"]
        i = min(3, len(psnr) - 1)
        acc = (m.get("action_check_rollout_at_other_consensus") or {}).get("1")
        lines.append(
            f"- Consensus decoding gives one smoothed future, not a sample: each frame "
            f"takes at each position the code most of its {n} draws agree on, so details "
            "the draws disagree on (a door knob, a wall's pattern) fade into flat colour "
            "(see the clip grids). With one "
            f"draw per frame instead: PSNR {psnr[0]:.2f} / {psnr[i]:.2f} / {psnr[-1]:.2f} "
            f"dB at horizons 1 / {i + 1} / {len(psnr)} against {ref[0]:.2f} / {ref[i]:.2f} "
            f"/ {ref[-1]:.2f}"
            + (f", action accuracy {acc:.3f} against {m['action_check_rollout']:.3f}"
               if acc is not None and "action_check_rollout" in m else "")
            + "; `vq-zoo sample ... --consensus 1` draws so.")
    return lines


def video_card(name, kind, meta, vqvae, prior):
    from vq_zoo.data.memory_maze import split_episodes

    m, c = meta["metrics"], meta["config"]
    split = split_episodes(c["episodes"], c["validation_fraction"], c["test_fraction"])
    invocations = meta.get("training_invocations") or []
    inv = invocations[-1] if invocations else {}
    wall_min = sum(i.get("wall_time_s", 0) for i in invocations) / 60
    from vq_zoo.models.family import card_family
    from vq_zoo.models.family import describe_member

    h = len(m["rollout_psnr_db"])
    model = vqvae if kind == "vqvae" else prior
    family = card_family(model, meta)
    facts, members = describe_member(model), {"vqvae": vqvae, "prior": prior}
    lines = [f"# {name}", "", family.card_intro(name, facts, meta, members), ""]
    lines += [
        "```python",
        *family.card_usage(name, facts, meta, members),
        "```",
        "",
        f"Actions: {', '.join(f'{i} {a}' for i, a in enumerate(ACTIONS))}.",
        "",
        "## Architecture",
        "",
        family(vqvae, prior).architecture(),
        "",
        "## Data",
        "",
        meta["data"],
        "",
        "The test episodes are held out whole: their mazes and the policy's random "
        "streams come from seeds no training or validation episode uses (episode i of "
        f"render seed {c.get('data_seed', 0)} is maze seed {c.get('data_seed', 0)} x 100003 "
        "+ i).",
        "",
        f"Data license: {meta['data_license']}",
        "",
        "## Training",
        "",
        "```bash",
        f"python -m vq_zoo.data.memory_maze ~/.cache/vq_zoo/memory_maze/"
        f"{c['maze']}_{c['image_size']}px_{c['steps_per_episode']}steps_seed"
        f"{c.get('data_seed', 0)} --episodes {c['episodes']} --steps "
        f"{c['steps_per_episode']} --resolution {c['image_size']} --processes 2",
        meta["command"],
        meta.get("export_command") or f"vq-zoo export {meta['run_dir_name']} --dest pretrained",
        "```",
        "",
        f"Hardware (measured): {inv.get('hardware', '?')}. Wall time "
        f"{wall_min:.1f}"
        f" min over {len(invocations)} recorded invocation(s) for "
        f"{_vqvae_words(c)}, codes, prior ({c['prior_epochs']} epochs), "
        "samples and report, on a machine shared with other jobs (rendering the episodes "
        "not counted)."
        + (f" {meta['training_note']}" if meta.get("training_note") else ""),
        "",
        "## Held-out metrics",
        "",
        f"Test split: the last {len(split['test'])} episodes (mazes never "
        f"trained on), {m['test_frames']} frames of test clips; rollouts of "
        f"{m['rollout_clips']} test clips ({c['context_frames']} true context frames, then "
        f"{h} generated under the true actions, {_decoding_words(m)}, seed {c['seed']}). "
        "Measured by the run's `report` stage (`metrics.json`); PSNR is that of the mean "
        "squared error over the clips, SSIM is `tf.image.ssim` (11x11 Gaussian windows) "
        "averaged over the clips (`vq_zoo.metrics.video`).",
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
        f"Rollout error against the true frames at each horizon ({_decoding_words(m)}):",
        "",
        "| horizon | " + " | ".join(str(i + 1) for i in range(h)) + " |",
        "|---|" + "---|" * h,
        "| rollout PSNR (dB) | " + _row(m["rollout_psnr_db"]) + " |",
        "| copy-the-last-frame PSNR (dB) | " + _row(m["copy_last_frame_psnr_db"]) + " |",
        "| VQ-VAE reconstruction PSNR (dB), the ceiling | "
        + _row(m["reconstruction_psnr_db_by_horizon"]) + " |",
        "| rollout SSIM | " + _row(m["rollout_ssim"], 3) + " |",
        "| copy-the-last-frame SSIM | " + _row(m["copy_last_frame_ssim"], 3) + " |",
    ]
    if "reconstruction_ssim_by_horizon" in m:
        lines.append("| VQ-VAE reconstruction SSIM, the ceiling | "
                     + _row(m["reconstruction_ssim_by_horizon"], 3) + " |")
    others = m.get("rollouts_at_other_temperatures") or {}
    if others:
        g = float(m.get("rollout_guidance", 1.0))
        n = int(m.get("rollout_consensus", 1))
        lines += ["", "The same rollouts sampled at other temperatures (same seed"
                  + (f", guidance {g:g}" if g != 1 else "")
                  + (f", each frame the consensus of {n} draws" if n > 1 else "")
                  + "; 0 is greedy):", "",
                  "| temperature | " + " | ".join(f"h{i + 1} PSNR" for i in range(h))
                  + " | action accuracy |",
                  "|---|" + "---|" * (h + 1)]
        acc = m.get("action_check_rollout_at_other_temperatures") or {}
        for key, e in others.items():
            lines.append(f"| {key} | " + _row(e["rollout_psnr_db"]) + " | "
                         + (f"{acc[key]:.3f}" if key in acc else "-") + " |")
    lines += guidance_lines(m)
    extra = meta.get("extra_evaluation")
    if extra:
        lines += ["", *extra_evaluation_lines(extra)]
    lines += [
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
        "## Targets (issue 20) and what was tried",
        "",
        "| target | measured | |",
        "|---|---|---|",
        *target_rows(m),
        "",
        "The preset issue 20 started from (28 episodes of 100 steps, the action only a "
        "global condition of the gated blocks, rollouts at temperature 1) measured rollouts "
        f"{' / '.join(map(str, PREVIOUS['rollout']))} dB against copy-last "
        f"{' / '.join(map(str, PREVIOUS['copy']))} at horizons 1 / 4 / 10 and an action "
        f"accuracy of {PREVIOUS['action']} against {PREVIOUS['action_true']} on true "
        "frames (on its own, smaller test split). What changed: "
        f"{c['episodes']} episodes of {c['steps_per_episode']} steps, the action fed into "
        "a dilated conditioning network over the past frames, "
        f"{c['prior_epochs']} prior epochs instead of 8, "
        + ("action dropout in training and classifier-free guidance of the action "
           "in the rollouts, " if getattr(prior, "null_action", False) else "")
        + "and the decoding of the evaluated "
        "rollouts. The tries and what each measured: `recipes/video/README.md`.",
        "",
        "## Pictures",
        "",
        "[`samples.png`](samples.png): test clips, two rows each: "
        f"{c['context_frames']} context frames then {h} generated frames (top) and the "
        f"true frames (bottom); {_decoding_words(m)}.",
        "",
        "![rollouts](samples.png)",
        "",
    ]
    clips = sorted(f for f in meta.get("picture_files", []) if f.startswith("clip_"))
    if clips:
        lines += [
            "One grid per test clip (" + ", ".join(f"[`{f}`]({f})" for f in clips) + "): "
            f"each row {c['context_frames']} context frames then {h} frames: the true "
            "future (row 1), the rollout under the true actions (row 2), the rollout "
            "under each action held throughout (rows 3-8: noop, forward, left, right, "
            "forward_left, forward_right).",
            "",
            *[f"![{f}]({f})" for f in clips],
            "",
        ]
    lines += [
        "[`actions.png`](actions.png): the first test clip's context rolled out under each "
        "action held for 10 frames, one row per action (noop, forward, left, right, "
        "forward_left, forward_right).",
        "",
        "![actions](actions.png)",
        "",
        "## Limitations (read this)",
        "",
        f"- A small model trained for {wall_min:.0f}"
        " min of wall time on 2 shared CPU cores (the recorded invocations), on "
        f"{len(split['train'])} episodes ({len(split['train']) * c['steps_per_episode']:,} "
        "frames)"
        + (f"; its per-frame VQ-VAE is the preset `{c['vqvae_preset']}`, trained before"
           if c.get("vqvae_preset") else "")
        + ". Read the tables: the rollouts are compared with copying the last "
        "context frame, and where they fall below it the model is worse than doing "
        "nothing on this metric (PSNR favours a blurry or static guess over a sharp one "
        "that moves).",
        *decoding_notes(m),
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


def export(run_dir, request):
    """`vq-zoo export RUN_DIR [--dest D] [--overwrite] [--notes FILE]` of a
    video run: the two presets with video cards (`write_presets`; the notes
    file's text is the training section's note)."""
    from vq_zoo.export.run_presets import fixed_names_destination
    from vq_zoo.export.run_presets import read_notes
    from vq_zoo.export.run_presets import read_run_json

    dest = fixed_names_destination(request, [VQVAE_PRESET, PRIOR_PRESET], "video")
    note = read_notes(request).strip()
    read_run_json(run_dir, "config.json",
                  "a run made by `vq-zoo train` records its config there")
    read_run_json(run_dir, "metrics.json", "is the run finished?")
    return write_presets(run_dir, dest, note or None,
                         export_command=f"vq-zoo export {run_dir}"
                         + (f" --dest {request.dest}" if request.dest else ""))


def write_presets(run_dir, dest, note=None, export_command=None):
    """The two presets of the video run in `run_dir`, written under `dest`
    with video cards, the run's metadata and rollout grids; `note`: a
    sentence for the card's training section."""
    import tempfile

    from vq_zoo import presets
    from vq_zoo.utils.images import upscaled_png
    from vq_zoo.model_card import data_card
    from vq_zoo.version import __version__

    with open(os.path.join(run_dir, "config.json")) as f:
        run = json.load(f)
    with open(os.path.join(run_dir, "metrics.json")) as f:
        metrics = json.load(f)
    data = data_card("video", run.get("config"))
    vqvae, prior = common.load_run_models(run_dir, "vqvae", "prior")
    shared = {
        "dataset": data["dataset"], "data": data["data"], "data_license": data["license"],
        "metrics_split": "held-out test split", "recipe": "video", "family": "video",
        "config_name": run.get("config_name"), "config": run.get("config"),
        "command": run.get("command"),
        "export_command": export_command or f"vq-zoo export {run_dir} --dest {dest}",
        "training_invocations": run.get("invocations", []), "metrics": metrics,
        "metrics_command": run.get("command"), "vqvae_preset": VQVAE_PRESET,
        "prior_preset": PRIOR_PRESET, "run_dir_name": run_dir,
        **({"training_note": note} if note else {}),
    }
    # More held-out episodes (recipes/video/evaluate_episodes.py), when the
    # run dir holds that record.
    extra_path = os.path.join(run_dir, "extra_evaluation.json")
    if os.path.exists(extra_path):
        with open(extra_path) as f:
            shared["extra_evaluation"] = json.load(f)
    with tempfile.TemporaryDirectory() as scratch:
        files = {}
        clips = sorted(f for f in os.listdir(run_dir)
                       if f.startswith("clip_") and f.endswith(".png"))[:CLIP_GRIDS]
        shared["picture_files"] = clips
        for picture in ("samples.png", "actions.png", *clips):
            source = os.path.join(run_dir, picture)
            if os.path.exists(source):
                files[picture] = os.path.join(scratch, picture)
                with open(files[picture], "wb") as f:
                    f.write(upscaled_png(source, 1))
        for kind, name, model, other, what in (
                ("vqvae", VQVAE_PRESET, vqvae, PRIOR_PRESET,
                 "per-frame VQ-VAE of a latent video model on memory-maze 64x64"),
                ("prior", PRIOR_PRESET, prior, VQVAE_PRESET,
                 f"next-frame gated PixelCNN prior over the codes of {VQVAE_PRESET}, "
                 "given the last frames' codes and the action")):
            meta = dict(shared, description=what, companion_preset=other)
            own = dict(files)
            if kind == "vqvae":
                # The per-clip grids show the prior's rollouts: its preset carries them.
                meta["picture_files"] = []
                own = {k: v for k, v in files.items() if k not in clips}
            # The card closes with the version save_to_preset records.
            card = video_card(name, kind, dict(meta, vq_zoo_version=__version__), vqvae,
                              prior)
            folder = os.path.join(dest, name)
            presets.save_to_preset(model, folder, meta, files=own, model_card=card)
            print(f"Wrote preset {folder}")
    return 0
