"""How fast memory-maze renders: the start-up (module import and
`make_env`) and the steps of one episode of the exploring policy, as the
episode generator's child processes run them (without TensorFlow).

    MUJOCO_GL=egl python bench/memory_maze_render.py [--steps 200]

Prints wall and process CPU time (user + system) of each; the CPU figure is
what other jobs on a shared machine disturb least.
"""

import argparse
import importlib.util
import os
import resource
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args(argv)
    os.environ.setdefault("MUJOCO_GL", "egl")
    wall, cpu = time.time(), cpu_seconds()
    # The module file alone, as the generator's children load it: importing
    # the vq_zoo package would not load TensorFlow, but this keeps it exact.
    path = os.path.join(HERE, os.pardir, "vq_zoo", "data", "memory_maze.py")
    spec = importlib.util.spec_from_file_location("memory_maze", path)
    memory_maze = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(memory_maze)
    env = memory_maze.make_env("9x9", 84, seed=0)
    start_wall, start_cpu = time.time() - wall, cpu_seconds() - cpu
    wall, cpu = time.time(), cpu_seconds()
    memory_maze.run_episode(args.steps, seed=0, env=env)
    steps_wall, steps_cpu = time.time() - wall, cpu_seconds() - cpu
    print(f"start (import, make_env): wall {start_wall:.1f} s, CPU {start_cpu:.1f} s")
    print(f"{args.steps} steps: wall {steps_wall:.1f} s ({args.steps / steps_wall:.1f} steps/s), "
          f"CPU {steps_cpu:.1f} s ({args.steps / steps_cpu:.1f} steps per CPU-s)")
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
