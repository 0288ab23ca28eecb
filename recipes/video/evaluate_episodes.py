"""Evaluate a memory-maze video preset pair (or a run's models) on more
held-out episodes: rollouts under the true actions against copying the last
context frame and the VQ-VAE ceiling, per horizon, and the rollouts'
inverse-dynamics action accuracy against the true frames'.

    python -m vq_zoo.recipes.video.evaluate_episodes EPISODES_DIR FIRST LAST \\
        TRAIN_DIR OUT.json [--temperatures 0,1] [--guidances 1,2] \\
        [--consensus 1,8] [--max-clips 350] [--run RUN_DIR]

Episodes `FIRST..LAST-1` of EPISODES_DIR (files sorted by seed and index,
as `vq_zoo.data.memory_maze.episode_files`) are cut into clips of 16 frames
(6 context + 10) every 14 frames, whole episodes in order until there
are `--max-clips` clips; the
inverse-dynamics classifier is fitted on the training split of TRAIN_DIR
(the run's own episodes, split as the recipe splits them). Without `--run`
the shipped presets are evaluated. Every temperature is rolled out at every
guidance scale (`--guidances`, classifier-free guidance of the action, 1:
none; other scales need a prior trained with action dropout); the records
are keyed by the temperature (guidance 1) or `"<temperature>@<guidance>"`,
and each is rolled out with every `--consensus` number of draws per frame
(1: one draw; N > 1: consensus decoding of N draws, `LatentVideoModel.
rollout(num_samples=N)`), keyed with `"xN"` appended for N > 1.
Writes OUT.json.
"""

import argparse
import json
import os
import sys
import time

import numpy as np


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m vq_zoo.recipes.video.evaluate_episodes",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("episodes_dir")
    parser.add_argument("first", type=int)
    parser.add_argument("last", type=int)
    parser.add_argument("train_dir")
    parser.add_argument("out")
    parser.add_argument("--temperatures", default="0,1")
    parser.add_argument("--guidances", default="1")
    parser.add_argument("--consensus", default="1")
    parser.add_argument("--max-clips", type=int, default=350)
    parser.add_argument("--run", default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:  # the lists, before the episodes load
        runs = [(float(t), float(g), int(n)) for t in args.temperatures.split(",")
                for g in args.guidances.split(",") for n in args.consensus.split(",")]
    except ValueError:
        runs = []
    if not runs or not all(t >= 0 and g >= 0 and n >= 1 for t, g, n in runs):
        parser.error("--temperatures and --guidances take comma-separated numbers >= 0, "
                     "--consensus comma-separated integers >= 1 (draws per frame), got "
                     f"{args.temperatures!r}, {args.guidances!r}, {args.consensus!r}")

    from vq_zoo.data import memory_maze
    from vq_zoo.data.video import cut_clips
    from vq_zoo.metrics import video as metrics
    from vq_zoo.models.video.latent_video_model import LatentVideoModel
    from vq_zoo.recipes.video.config import CONFIGS
    from vq_zoo.recipes.video.export_presets import PRIOR_PRESET
    from vq_zoo.recipes.video.export_presets import VQVAE_PRESET

    config = CONFIGS["small"]
    c, horizon = config.context_frames, config.horizon
    length = c + horizon
    if args.run:
        from vq_zoo.recipes import common

        video = LatentVideoModel(*common.load_run_models(args.run, "vqvae", "prior"))
    else:
        video = LatentVideoModel.from_preset(VQVAE_PRESET, PRIOR_PRESET)
    files = memory_maze.episode_files(args.episodes_dir)[args.first:args.last]
    if not files:
        raise SystemExit(f"no episodes {args.first}..{args.last - 1} in {args.episodes_dir}")
    frames, actions, seeds = [], [], []
    for path in files:  # whole episodes, until --max-clips clips
        if sum(len(f) for f in frames) >= args.max_clips:
            break
        with np.load(path) as f:
            clip_frames, clip_actions = cut_clips(f["frames"], f["actions"].astype(np.int32),
                                                  length, config.clip_stride)
            seeds.append(int(f["maze_seed"]))
        frames.append(clip_frames)
        actions.append(clip_actions)
    used = len(frames)
    frames = np.concatenate(frames)
    actions = np.concatenate(actions)

    train_files = memory_maze.episode_files(args.train_dir)
    split = memory_maze.split_episodes(len(train_files), config.validation_fraction,
                                       config.test_fraction)
    train_seeds = []
    train_frames, train_actions = [], []
    for i in split["train"]:
        with np.load(train_files[i]) as f:
            tf_, ta = cut_clips(f["frames"], f["actions"].astype(np.int32), length,
                                config.clip_stride)
            train_seeds.append(int(f["maze_seed"]))
        train_frames.append(tf_)
        train_actions.append(ta)
    overlap = sorted(set(seeds) & set(train_seeds))
    if overlap:
        raise SystemExit(f"maze seeds {overlap} are in both the evaluated and the "
                         "training episodes")
    inverse = metrics.fit_inverse_dynamics(
        np.concatenate(train_frames).astype(np.float32) / 255.0,
        np.concatenate(train_actions))

    true = frames[:, c:].astype(np.float32) / 255.0
    test = frames.astype(np.float32) / 255.0
    flat = (-1,) + test.shape[2:]
    last = np.repeat(test[:, c - 1:c], horizon, axis=1)
    recon = video.decode_codes(video.encode_frames(frames[:, c:]))
    record = {
        "episodes_dir": os.path.abspath(args.episodes_dir),
        "episodes": [args.first, args.first + used], "clips": int(len(frames)),
        "maze_seeds": [min(seeds), max(seeds)],
        # None: the shipped presets were evaluated.
        "run_dir": os.path.abspath(args.run) if args.run else None,
        "copy_last_frame": metrics.per_horizon_errors(last, true),
        "reconstruction": metrics.per_horizon_errors(recon, true),
        "action_check_true_frames": metrics.action_accuracy(
            inverse, test[:, :-1].reshape(flat), test[:, 1:].reshape(flat),
            actions[:, :-1].reshape(-1)),
        "rollouts": {},
    }
    for t, g, n in runs:
        start = time.time()
        generated = video.rollout(frames[:, :c], actions[:, c - 1:-1], seed=args.seed,
                                  temperature=t, num_frames=horizon, guidance=g,
                                  num_samples=n)
        before = np.concatenate([test[:, c - 1:c], generated[:, :-1]], axis=1)
        key = (str(t) if g == 1 else f"{t}@{g}") + (f"x{n}" if n > 1 else "")
        record["rollouts"][key] = {
            **metrics.per_horizon_errors(generated, true),
            "action_check": metrics.action_accuracy(
                inverse, before.reshape(flat), generated.reshape(flat),
                actions[:, c - 1:-1].reshape(-1)),
            "wall_s": round(time.time() - start, 1)}
    tmp = args.out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(record, f, indent=1)
    os.replace(tmp, args.out)
    summary = {t: ([round(r["psnr_db"][h], 2) for h in (0, 3, horizon - 1)],
                   round(r["action_check"], 3)) for t, r in record["rollouts"].items()}
    print(json.dumps({"clips": record["clips"],
                      "copy_last": [round(record["copy_last_frame"]["psnr_db"][h], 2)
                                    for h in (0, 3, horizon - 1)],
                      "true_action": round(record["action_check_true_frames"], 3),
                      "rollouts": summary}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
