"""Pilots of the dmlab `stage2_head` stage with the target balls' pixels
weighed (`MapHeadTuner(object_weight=W)`), measured on the validation
episodes: the frame PSNR after both stages (the map regressed from the 3
codes) and what it keeps of the objects (`vq_zoo.metrics.objects`).

    python bench/dmlab_object_pilots.py RUN_DIR EPISODES --weight 1.0 \\
        [--epochs 2] [--train-episodes 80] [--tune stage2] [--start stage2_vqvae]

`RUN_DIR` is a dmlab run holding stage 1 (`vqvae.keras`) and stage 2;
`--start stage2_vqvae` trains from its `stage2_vqvae.keras` (as the
recipe's stage does), `--start tuned` from the stage 2 its own
`stage2_head` stage made. `EPISODES`: the run's episode folder with object
masks (`python -m vq_zoo.data.memory_maze EPISODES --objects ...`); the
pilot trains on its first `--train-episodes` episodes (batches of 32,
learning rate 3e-4, map loss weight 1, shuffled with seed 0) and measures
on the split's validation episodes (of all the folder's episodes). Prints
one JSON line.
"""

import argparse
import json
import os
import time

import numpy as np


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python bench/dmlab_object_pilots.py")
    parser.add_argument("run_dir")
    parser.add_argument("episodes")
    parser.add_argument("--weight", type=float, required=True)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--train-episodes", type=int, default=80)
    parser.add_argument("--tune", default="stage2", choices=("stage2", "head"))
    parser.add_argument("--start", default="stage2_vqvae", choices=("stage2_vqvae", "tuned"))
    args = parser.parse_args(argv)

    import keras
    import tensorflow as tf

    from vq_zoo.data import memory_maze
    from vq_zoo.metrics import objects as object_metrics
    from vq_zoo.metrics.image_quality import psnr
    from vq_zoo.models.dmlab.family import load_run_stage
    from vq_zoo.models.dmlab.map_head_tuner import MapHeadTuner

    vq1 = keras.models.load_model(os.path.join(args.run_dir, "vqvae.keras"))
    vq2 = (load_run_stage(args.run_dir, "stage2_vqvae") if args.start == "tuned" else
           keras.models.load_model(os.path.join(args.run_dir, "stage2_vqvae.keras")))
    files = memory_maze.episode_files(args.episodes)
    chosen = range(args.train_episodes)
    frames = np.concatenate([memory_maze.read_episode(files[i])["frames"] for i in chosen])
    masks = np.concatenate([memory_maze.read_objects(files[i]) for i in chosen])
    tuner = MapHeadTuner(vq1, vq2, map_weight=1.0, tune=args.tune, object_weight=args.weight)
    tuner.compile(optimizer=keras.optimizers.Adam(3e-4))
    data = tf.data.Dataset.from_tensor_slices((frames, masks)).shuffle(
        len(frames), seed=0).batch(32, drop_remainder=True).map(
        lambda x, m: (tf.cast(x, tf.float32) / 255.0, tf.cast(m, tf.float32)))
    if args.weight == 0:
        data = data.map(lambda x, m: x)
    start = time.time()
    tuner.fit(data, epochs=args.epochs, verbose=2)
    seconds = time.time() - start
    valid = memory_maze.frames_dataset(args.episodes, "validation")
    valid_masks = memory_maze.objects_dataset(args.episodes, "validation")
    squared, values, stats = 0.0, 0, []
    for begin in range(0, len(valid), 128):
        x = valid[begin:begin + 128].astype(np.float32) / 255.0
        made = np.clip(np.asarray(tuner(x), np.float64), 0, 1)
        squared += float(((made - x) ** 2).sum())
        values += x.size
        stats.append(object_metrics.object_frame_stats(x, made, valid_masks[begin:begin + 128]))
    summary = object_metrics.summarize_objects(object_metrics.concatenate_stats(stats))
    print(json.dumps(dict(tune=args.tune, start=args.start, weight=args.weight,
                          epochs=args.epochs, train_episodes=args.train_episodes,
                          train_s=round(seconds), val_psnr=psnr(squared / values),
                          **{"val_" + k: v for k, v in summary.items()})))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
