"""What a finished dmlab run keeps of the objects (memory-maze's target
balls), measured on its test frames without retraining: for stage 1 alone
and after both stages (the map regressed from the 3 codes, and the greedy
map), the fraction of frames showing an object whose reconstruction keeps
its colour against its surroundings, the PSNR over the object pixels, and
the whole frames' PSNR over those frames and over the frames showing no
object (`vq_zoo.metrics.objects`); and a grid of the frames that show one:
frames | stage 1 | regressed map (| greedy map with `--greedy`).

    python -m vq_zoo.recipes.dmlab.objects_check RUN_DIR EPISODES \\
        [--split test] [--grid objects.png] [--json objects.json] [--greedy]
        [--stage2 PRESET]

It also gives each decoding's PSNR over all the split's frames (the
report's `test_psnr_db` and `test_stage2_psnr_db...`). `--stage2 PRESET`
decodes with a stage-2 preset (a folder or a name: the exported
`vqvae_pixelcnn_...`) in place of the run's own stage 2, e.g. to measure
what storing its weights in float16 changed.

`EPISODES` is the run's folder of episodes, with object masks (`python -m
vq_zoo.data.memory_maze EPISODES --objects --episodes N --steps T` adds
them); its `--split` is read as the run read it.
"""

import argparse
import json

import numpy as np


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m vq_zoo.recipes.dmlab.objects_check")
    parser.add_argument("run_dir")
    parser.add_argument("episodes")
    parser.add_argument("--split", default="test", choices=("test", "validation"))
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--grid", default=None, help="a PNG of up to 16 frames showing "
                        "objects: frames | stage 1 | regressed map (| greedy map)")
    parser.add_argument("--json", default=None, help="write the figures here too")
    parser.add_argument("--stage2", default=None, metavar="PRESET",
                        help="decode with this stage-2 preset instead of the run's")
    parser.add_argument("--greedy", action="store_true",
                        help="also the greedy map (the PixelCNN decoded position by "
                             "position: minutes)")
    args = parser.parse_args(argv)

    from vq_zoo.data import memory_maze
    from vq_zoo.metrics import objects as object_metrics
    from vq_zoo.metrics.image_quality import psnr
    from vq_zoo.recipes.dmlab.decodings import episodes_read
    from vq_zoo.recipes.dmlab.decodings import load_finished_run
    from vq_zoo.recipes.dmlab.recipe import object_frames
    from vq_zoo.utils.images import image_grid
    from vq_zoo.utils.images import write_png

    record, vq1, vq2 = load_finished_run(args.run_dir, "objects_check")
    if args.stage2:
        from vq_zoo.presets import load_preset

        try:
            preset = load_preset(args.stage2)
        except (ValueError, FileNotFoundError) as e:
            raise SystemExit(f"objects_check: --stage2 {args.stage2}: {e}") from None
        if type(preset) is not type(vq2) or preset.count_params() != vq2.count_params():
            raise SystemExit(f"objects_check: --stage2 {args.stage2} is a "
                             f"{type(preset).__name__} of {preset.count_params()} "
                             f"parameters; the run's stage 2 is a {type(vq2).__name__} of "
                             f"{vq2.count_params()}")
        vq2 = preset
    config = record["config"]
    regress = getattr(vq2, "map_head", None) is not None
    split = (args.episodes, args.split, config["validation_fraction"], config["test_fraction"])
    max_episodes = episodes_read(record)
    try:
        masks = memory_maze.objects_dataset(*split, max_episodes=max_episodes)
    except ValueError as e:
        raise SystemExit(f"objects_check: {e}") from None
    frames = memory_maze.frames_dataset(*split, max_episodes=max_episodes)
    rules = (("stage1",) + (("regression",) if regress else ())
             + (("greedy",) if args.greedy or not regress else ()))
    stats = {rule: [] for rule in rules}
    made = {rule: [] for rule in rules}
    squared = dict.fromkeys(rules, 0.0)
    values = 0
    shown = object_frames(masks, 16)
    for start in range(0, len(frames), args.batch_size):
        x = frames[start:start + args.batch_size].astype(np.float32) / 255.0
        m = masks[start:start + args.batch_size]
        maps = np.asarray(vq1.encode(x))
        triples = np.asarray(vq2.encode_sequence(maps))
        decoded = {"stage1": maps}
        if "regression" in rules:
            decoded["regression"] = np.asarray(vq2.decode(triples, decoding="regression"))
        if "greedy" in rules:
            decoded["greedy"] = np.asarray(vq2.decode(triples, greedy=True))
        picked = shown[(shown >= start) & (shown < start + len(x))] - start
        for rule, code_map in decoded.items():
            raw = np.asarray(vq1.decode(code_map), np.float64)
            squared[rule] += float(np.sum((raw - x) ** 2))  # unclipped, as the report
            out = np.clip(raw, 0, 1)
            stats[rule].append(object_metrics.object_frame_stats(x, out, m))
            made[rule].append(out[picked])
        values += x.size
    figures = {"run_dir": args.run_dir, "split": args.split, "frames": len(frames),
               "stage2": args.stage2 or "the run's"}
    for rule in rules:
        figures[f"{rule}_psnr_db"] = psnr(squared[rule] / values)
        summary = object_metrics.summarize_objects(
            object_metrics.concatenate_stats(stats[rule]))
        figures["object_frames"] = summary["frames"]
        figures["empty_frames"] = summary["empty_frames"]
        figures[f"{rule}_objects_kept"] = summary["kept"]
        figures[f"{rule}_object_psnr_db"] = summary["object_psnr_db"]
        figures[f"{rule}_psnr_db_object_frames"] = summary["frame_psnr_db"]
        figures[f"{rule}_psnr_db_empty_frames"] = summary["empty_frame_psnr_db"]
    print(json.dumps(figures, indent=2))
    if args.json:
        from vq_zoo.utils.io import write_atomic

        write_atomic(args.json, json.dumps(figures, indent=2).encode())
    if args.grid and len(shown):
        rows = [frames[shown].astype(np.float32) / 255.0] + [
            np.concatenate(made[rule]) for rule in rules]
        tiles = []
        for start in range(0, len(shown), 8):
            for row in rows:
                tiles.extend(row[start:start + 8])
        write_png(args.grid, image_grid(np.asarray(tiles), columns=min(8, len(shown))))
        print(f"wrote {args.grid}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
