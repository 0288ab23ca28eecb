"""Synthetic memory-maze-like episodes for the video tests: a view window
on a random periodic texture that each of the 6 actions moves its own way,
written in the generator's `.npz` format (no MuJoCo needed)."""

import os

import numpy as np

# (dy, dx) of the view for each action.
SHIFTS = ((0, 0), (-2, 0), (0, -2), (0, 2), (-2, -2), (-2, 2))


def episode(steps, size=16, seed=0):
    rng = np.random.default_rng(seed)
    world = rng.integers(0, 256, (size // 4, size // 4, 3)).astype(np.uint8)
    world = np.kron(world, np.ones((4, 4, 1), np.uint8))
    actions = rng.integers(0, len(SHIFTS), steps).astype(np.int32)
    y = x = 0
    frames = []
    for a in actions:
        frames.append(np.roll(world, (y, x), axis=(0, 1)))
        y, x = y + SHIFTS[a][0], x + SHIFTS[a][1]
    return np.stack(frames), actions


def write_episodes(directory, num_episodes, steps, size=16):
    os.makedirs(directory, exist_ok=True)
    for i in range(num_episodes):
        frames, actions = episode(steps, size, seed=i)
        np.savez(os.path.join(directory, f"episode_000000_{i:06d}.npz"),
                 frames=frames, actions=actions, seed=np.int64(0), maze_seed=np.int64(i))
    return directory
