"""What TensorFlow op determinism costs the recipes: training steps per
second of the natural_images VQ-VAE and prior, with and without
`tf.config.experimental.enable_op_determinism()`.

    python bench/determinism_cost.py [--config default|smoke] [--steps 30] [--rounds 3]

Each measurement runs in a fresh process (determinism is process-wide), on
the recipe's own models and batch sizes, alternating on/off `--rounds`
times so that a busy shared machine affects both alike; it prints each
timing and the ratio of the fastest of each (on / off: above 1 means
slower; the minimum is the least disturbed by other jobs), for wall time
and for the process's CPU time (user + system, all threads), which other
jobs on the machine disturb less.
"""

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def worker(config_name, steps, deterministic):
    import numpy as np
    import tensorflow as tf

    from vq_zoo.pipeline.pipeline import set_determinism
    from vq_zoo.recipes import common
    from vq_zoo.recipes.natural_images.config import CONFIGS

    config = CONFIGS[config_name]
    set_determinism(config.seed, deterministic)
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(config.batch_size * (steps + 3), 32, 32, 3)).astype("float32")
    vqvae = common.build_vqvae(config, x.var(), x.shape[1:])
    data = tf.data.Dataset.from_tensor_slices(x).batch(config.batch_size,
                                                       drop_remainder=True)
    vqvae.fit(data.take(3), epochs=1, verbose=0, shuffle=False)  # trace, warm up
    start, cpu = time.perf_counter(), time.process_time()
    vqvae.fit(data.skip(3), epochs=1, verbose=0, shuffle=False)
    vqvae_s = (time.perf_counter() - start) / steps
    vqvae_cpu = (time.process_time() - cpu) / steps
    codes = np.asarray(vqvae.encode(x[:64]))
    prior = common.build_prior(config, {"num_embeddings": config.num_embeddings,
                                        "code_shape": list(codes.shape[1:])})
    c = rng.integers(0, config.num_embeddings,
                     size=(config.prior_batch_size * (steps + 3),) + codes.shape[1:])
    cdata = tf.data.Dataset.from_tensor_slices(c.astype("int32")).batch(
        config.prior_batch_size, drop_remainder=True)
    prior.fit(cdata.take(3), epochs=1, verbose=0, shuffle=False)
    start, cpu = time.perf_counter(), time.process_time()
    prior.fit(cdata.skip(3), epochs=1, verbose=0, shuffle=False)
    prior_s = (time.perf_counter() - start) / steps
    prior_cpu = (time.process_time() - cpu) / steps
    print(json.dumps({"vqvae_step_s": vqvae_s, "prior_step_s": prior_s,
                      "vqvae_step_cpu_s": vqvae_cpu, "prior_step_cpu_s": prior_cpu}))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", default="default")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--worker", choices=["on", "off"])
    args = parser.parse_args()
    if args.worker:
        return worker(args.config, args.steps, args.worker == "on")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    results = {"on": [], "off": []}
    for _ in range(args.rounds):
        for mode in ("on", "off"):
            out = subprocess.run(
                [sys.executable, __file__, "--worker", mode, "--config", args.config,
                 "--steps", str(args.steps)],
                env=env, capture_output=True, text=True, check=True, cwd=os.path.dirname(HERE))
            result = json.loads(out.stdout.strip().splitlines()[-1])
            results[mode].append(result)
            print(f"determinism {mode:3s}: VQ-VAE {1000 * result['vqvae_step_s']:.1f} "
                  f"ms/step ({1000 * result['vqvae_step_cpu_s']:.1f} CPU ms), prior "
                  f"{1000 * result['prior_step_s']:.1f} ms/step "
                  f"({1000 * result['prior_step_cpu_s']:.1f} CPU ms)", flush=True)
    for key in ("vqvae_step_s", "prior_step_s", "vqvae_step_cpu_s", "prior_step_cpu_s"):
        on = min(r[key] for r in results["on"])
        off = min(r[key] for r in results["off"])
        print(f"{key}: on/off = {on / off:.3f} (config {args.config}, "
              f"{args.steps} steps, {args.rounds} rounds)")


if __name__ == "__main__":
    main()
