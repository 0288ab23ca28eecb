"""Ways of decoding the 21x21 map from the 3 codes, measured side by side
on a finished dmlab run's test frames (no retraining): greedy, one sampled
map (at temperatures), the consensus of N sampled maps (at each position
the code most draws agree on), the medoid of the N draws (the draw that
agrees most with the others), the mean of the N draws' frames, and (for
a stage 2 with a map head) the map regressed from the codes. For
each: the frame PSNR after both stages, its gap to stage 1, and the
fraction of the map equal to stage 1's; and a grid of every decoding.

    python -m vq_zoo.recipes.dmlab.decodings RUN_DIR EPISODES \\
        [--num-samples 2,4,8,16,32] [--temperatures 0.5,0.7] [--grid decodings.png]
        [--split test]

`EPISODES` is the run's folder of episodes (its `--split`, test by
default, is read as the run read it: `--split validation` compares runs
on frames no stage trained on without looking at the test frames); the draws of every N are the first N of the same
`max(num_samples)` draws.
"""

import argparse
import json
import os

import numpy as np


def episodes_read(record):
    """How many of the episode folder's first episodes the run of
    `record` (its run dir's config.json) read, as `common.episodes_to_read`
    decided: its config's `episodes` from the cache (which may hold more,
    rendered for another config), or all (None) from a `--data-dir`."""
    command = (record.get("command") or "").split()
    if any(word == "--data-dir" or word.startswith("--data-dir=") for word in command):
        return None
    return record["config"]["episodes"]


def load_finished_run(run_dir, prog):
    """`(record, stage 1, stage 2)` of the finished dmlab run in `run_dir`:
    its record (the CLI's `config.json`, else the pipeline's own
    `stages/run.json`, which every run writes, `recipe.main` included), its
    `vqvae.keras` and the stage 2 its later stages used (tuned by
    `stage2_head`, if run); exits naming `prog` when it is not one."""
    import keras

    from vq_zoo import VQVAE
    from vq_zoo.models.dmlab.family import load_run_stage

    for name in ("config.json", os.path.join("stages", "run.json")):
        path = os.path.join(run_dir, name)
        if os.path.exists(path):
            with open(path) as f:
                record = json.load(f)
            break
    else:
        raise SystemExit(f"{prog}: {run_dir} is not a dmlab run dir (no config.json or "
                         "stages/run.json)")
    vq1 = keras.models.load_model(os.path.join(run_dir, "vqvae.keras"))
    vq2 = load_run_stage(run_dir, "stage2_vqvae")
    if not isinstance(vq1, VQVAE) or not hasattr(vq2, "decode_samples"):
        raise SystemExit(f"{run_dir} holds no dmlab run's vqvae.keras and "
                         "stage2_vqvae.keras (a VQVAE and a DMLabVQVAE)")
    return record, vq1, vq2


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m vq_zoo.recipes.dmlab.decodings")
    parser.add_argument("run_dir")
    parser.add_argument("episodes")
    parser.add_argument("--num-samples", default="2,4,8,16,32")
    parser.add_argument("--temperatures", default="0.5,0.7")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--grid", default=None,
                        help="a PNG of 16 test frames: frames | stage 1 | greedy | sampled "
                             "| consensus | medoid | frame mean (the largest N)")
    parser.add_argument("--json", default=None, help="write the figures here too")
    parser.add_argument("--split", default="test", choices=("test", "validation"))
    args = parser.parse_args(argv)
    sizes = sorted(int(n) for n in args.num_samples.split(","))
    temperatures = [float(t) for t in args.temperatures.split(",") if t]

    from vq_zoo.data import memory_maze
    from vq_zoo.generation.consensus import consensus_codes
    from vq_zoo.metrics.image_quality import psnr
    from vq_zoo.models.dmlab.dmlab_two_stage import frames_of_draws

    record, vq1, vq2 = load_finished_run(args.run_dir, "decodings")
    config = record["config"]
    max_episodes = episodes_read(record)
    frames = memory_maze.frames_dataset(args.episodes, args.split, config["validation_fraction"],
                                        config["test_fraction"], max_episodes=max_episodes)
    k = vq2.decoder.num_embeddings
    step = max(1, len(frames) // 16)
    shown = set(range(0, len(frames), step)[:16])
    totals, rows = {}, {}

    def add(name, x, made, decoded=None, truth=None):
        """Adds a decoding's squared error of frames `made` and, for a
        decoded map, its codes equal to stage 1's map `truth`."""
        t = totals.setdefault(name, [0.0, 0, 0])
        t[0] += float(np.sum((np.asarray(made, np.float64) - x) ** 2))
        if decoded is not None:
            t[1] += int((decoded == truth).sum())
            t[2] += truth.size

    for start in range(0, len(frames), args.batch_size):
        x = frames[start:start + args.batch_size].astype(np.float32) / 255.0
        maps = np.asarray(vq1.encode(x))
        codes = np.asarray(vq2.encode_sequence(maps))
        stage1 = np.asarray(vq1.decode(maps), np.float64)
        totals.setdefault("stage 1", [0.0, 0, 0])[0] += float(np.sum((stage1 - x) ** 2))
        greedy = np.asarray(vq2.decode(codes, decoding="greedy"))
        add("greedy", x, vq1.decode(greedy), greedy, maps)
        if getattr(vq2, "map_head", None) is not None:
            regressed = np.asarray(vq2.decode(codes, decoding="regression"))
            add("regression", x, vq1.decode(regressed), regressed, maps)
        for t in [1.0] + temperatures:
            drawn = np.asarray(vq2.decode(codes, seed=start, temperature=t))
            add(f"sample T={t:g}", x, vq1.decode(drawn), drawn, maps)
        draws = np.asarray(vq2.decode_samples(codes, sizes[-1], seed=10 ** 6 + start))
        drawn_frames = frames_of_draws(vq1, draws)
        for n in sizes:
            consensus = np.asarray(consensus_codes(draws[:, :n], k))
            add(f"consensus N={n}", x, vq1.decode(consensus), consensus, maps)
            # The medoid: the draw with the most codes in common with the
            # others (minimum Bayes risk among the draws for the Hamming loss).
            counts = (draws[:, :n, ..., None] == np.arange(k)).sum(1)
            agree = np.take_along_axis(counts[:, None], draws[:, :n, ..., None],
                                       -1)[..., 0].sum((2, 3))
            medoid = draws[np.arange(len(x)), agree.argmax(1)]
            add(f"medoid N={n}", x, vq1.decode(medoid), medoid, maps)
            add(f"frame mean N={n}", x, drawn_frames[:, :n].mean(1))
        picked = [i - start for i in range(start, start + len(x)) if i in shown]
        if picked:
            made = {"frames": x, "stage 1": stage1, "greedy": vq1.decode(greedy),
                    "sampled": drawn_frames[:, 0], "consensus": vq1.decode(consensus),
                    "medoid": vq1.decode(medoid), "frame mean": drawn_frames.mean(1)}
            for name, value in made.items():
                rows.setdefault(name, []).append(np.asarray(value)[picked])
        print(f"{start + len(x)} / {len(frames)} frames", flush=True)

    values = frames.size
    stage1_db = psnr(totals.pop("stage 1")[0] / values)
    results = {"split": args.split, "frames": len(frames), "stage1_psnr_db": stage1_db,
               "decodings": {}}
    print(f"{len(frames)} {args.split} frames; stage 1: {stage1_db:.2f} dB")
    print("| decoding | PSNR (dB) | gap to stage 1 (dB) | map accuracy |")
    print("|---|---|---|---|")
    for name, (sq, hits, positions) in totals.items():
        db = psnr(sq / values)
        accuracy = hits / positions if positions else None
        results["decodings"][name] = {"psnr_db": db, "gap_db": stage1_db - db,
                                      "map_accuracy": accuracy}
        print(f"| {name} | {db:.2f} | {stage1_db - db:.2f} | "
              f"{'-' if accuracy is None else f'{accuracy:.3f}'} |")
    if args.json:
        from vq_zoo.utils.io import write_atomic

        write_atomic(args.json, json.dumps(results, indent=2).encode())
    if args.grid:
        from vq_zoo.utils.images import image_grid, write_png

        rows = {name: np.concatenate(v) for name, v in rows.items()}
        tiles = [np.clip(rows[name][half], 0, 1) for half in (slice(0, 8), slice(8, 16))
                 for name in rows]
        write_png(args.grid, image_grid(np.concatenate(tiles), columns=8, upscale=2))
        print(f"Wrote {args.grid}: groups of {len(rows)} rows, "
              + " | ".join(rows))


if __name__ == "__main__":
    main()
