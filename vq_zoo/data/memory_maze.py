"""First-person episodes of memory-maze (Pasukonis et al. 2022), an offline
stand-in for DeepMind Lab: rendered once by an exploring policy, cached as
`.npz` files, read back as frames (the DeepMind Lab recipe) or as frame and
action sequences (the video recipe).

memory-maze is a MuJoCo (dm_control) re-creation of DeepMind Lab's
`explore_goal_locations` mazes; it is an optional extra
(`pip install "vq_zoo[memory_maze]"`, i.e. `memory-maze gym==0.26.2
mujoco==3.17.0`: MuJoCo 4 crashes dm_control). It renders off-screen with
`MUJOCO_GL=egl` (Mesa's EGL, software rendering on a CPU, whose speed
bench/RESULTS.md gives; set here unless the caller chose another backend).
The environment's egocentric camera takes `camera_resolution` as an
argument, so frames are rendered **directly at 84x84** (DeepMind Lab's size
in the paper): nothing is resized. The target-colour border memory-maze can paint on the frame is
left off (`target_color_in_image=False`): the frames are the camera's.

The policy (`ExploringPolicy`) mostly moves forward, turns at random, and
holds each action for a few steps (so the view sweeps the maze instead of
jittering); when a forward move barely changes the frame the agent is
against a wall, and it turns away for a few steps. memory-maze's 6 discrete
actions: `ACTIONS = ("noop", "forward", "left", "right", "forward_left",
"forward_right")`.

An episode file `episode_<seed>_<index>.npz` holds `frames` uint8
`(T, H, W, 3)` (the observation after reset, then after each action but the
last) and `actions` int32 `(T,)` (`actions[t]` is taken at `frames[t]`, so
`frames[t + 1]` shows its effect), plus `seed`, `maze_seed`. Files are
written atomically; `generate_episodes` skips the episodes already on disk
(rerun it after an interruption) and can spread episodes over processes.

Command line (renders into a cache folder, resumable):

    MUJOCO_GL=egl python -m vq_zoo.data.memory_maze OUT_DIR \\
        --episodes 24 --steps 125 --seed 0 --resolution 84 --processes 1

Example:
>>> paths = generate_episodes("/tmp/mm", num_episodes=2, steps_per_episode=8)
>>> episodes = load_episodes("/tmp/mm")
>>> episodes[0]["frames"].shape, episodes[0]["actions"].shape
((8, 84, 84, 3), (8,))

References:
    Pasukonis, Lillicrap, Hafner. Evaluating Long-Term Memory in 3D Mazes.
    arXiv:2210.13383.
    van den Oord, Vinyals, Kavukcuoglu. Neural Discrete Representation
    Learning. arXiv:1711.00937 (section 4.2, DeepMind Lab).
"""

import argparse
import glob
import io
import os
import re
import sys

import numpy as np

from vq_zoo.utils.checks import check_choice
from vq_zoo.utils.checks import check_int

ACTIONS = ("noop", "forward", "left", "right", "forward_left", "forward_right")
NOOP, FORWARD, LEFT, RIGHT, FORWARD_LEFT, FORWARD_RIGHT = range(6)
MAZES = ("9x9", "11x11", "13x13", "15x15")
INSTALL = 'pip install memory-maze gym==0.26.2 mujoco==3.17.0  (or pip install "vq_zoo[memory_maze]")'
_NAME = re.compile(r"episode_(\d+)_(\d+)\.npz$")


def _import_tasks():
    # EGL renders without a display; memory-maze would default to it too,
    # but dm_control reads the variable at import time.
    os.environ.setdefault("MUJOCO_GL", "egl")
    try:
        from memory_maze import tasks
    except ImportError as e:
        raise ImportError(
            f"memory-maze is not installed ({e}); install it with: {INSTALL}"
        ) from e
    return tasks


def make_env(maze="9x9", resolution=84, seed=0):
    """A memory-maze dm_env environment with discrete actions, rendering
    `resolution` x `resolution` RGB frames under `timestep.observation
    ["image"]`."""
    check_choice("maze", maze, MAZES)
    check_int("resolution", resolution, 16)
    tasks = _import_tasks()
    make = getattr(tasks, "memory_maze_" + maze)
    return make(camera_resolution=resolution, target_color_in_image=False,
                discrete_actions=True, seed=int(seed))


class ExploringPolicy:
    """Mostly forward, random turns, actions held for a few steps; turns
    away when a forward move leaves the frame (nearly) unchanged (a wall).

    Args:
        seed: int, the policy's random stream.
        forward_probability: float, chance that a new action is a forward
            one (`forward`, or 1/4 of the time `forward_left` /
            `forward_right`).
        min_hold, max_hold: ints, each chosen action is held for a number
            of steps drawn uniformly in `[min_hold, max_hold]`.
        stuck_threshold: float, mean absolute change of the frame (0-255)
            below which a forward move counts as blocked.
    """

    def __init__(self, seed=0, forward_probability=0.6, min_hold=2, max_hold=6,
                 stuck_threshold=2.0):
        if not 0.0 <= forward_probability <= 1.0:
            raise ValueError(
                f"`forward_probability` must be in [0, 1], got {forward_probability!r}")
        if not 1 <= min_hold <= max_hold:
            raise ValueError(
                f"Need 1 <= min_hold <= max_hold, got {min_hold!r}, {max_hold!r}")
        self.rng = np.random.default_rng(seed)
        self.forward_probability = forward_probability
        self.min_hold, self.max_hold = min_hold, max_hold
        self.stuck_threshold = stuck_threshold
        self._action, self._left = FORWARD, 0
        self._previous = None

    def _hold(self):
        return int(self.rng.integers(self.min_hold, self.max_hold + 1))

    def __call__(self, frame):
        """The action to take at `frame` (uint8 `(H, W, 3)`)."""
        frame = np.asarray(frame, np.float32)
        moved_forward = self._action in (FORWARD, FORWARD_LEFT, FORWARD_RIGHT)
        stuck = (self._previous is not None and moved_forward
                 and np.abs(frame - self._previous).mean() < self.stuck_threshold)
        self._previous = frame
        if stuck:
            self._action, self._left = int(self.rng.choice([LEFT, RIGHT])), self._hold()
        elif self._left <= 0:
            if self.rng.random() < self.forward_probability:
                self._action = (FORWARD if self.rng.random() < 0.75 else
                                int(self.rng.choice([FORWARD_LEFT, FORWARD_RIGHT])))
            else:
                self._action = int(self.rng.choice([LEFT, RIGHT, NOOP], p=[0.45, 0.45, 0.1]))
            self._left = self._hold()
        self._left -= 1
        return self._action


def episode_path(out_dir, seed, index):
    return os.path.join(out_dir, f"episode_{int(seed):06d}_{int(index):06d}.npz")


# MuJoCo's object type of a geom (`mjtObj.mjOBJ_GEOM`), as segmentation
# renders report it beside the object's id.
_MJ_OBJ_GEOM = 5


class _ObjectMasks:
    """The target objects' pixels in the frames of a memory-maze
    environment: a segmentation render of the egocentric camera (the
    camera whose RGB render is the observed frame), kept where it shows a
    geom of one of the task's targets (the coloured balls the agent is sent
    to; the maze's walls, floor and their painted patterns are not
    objects)."""

    def __init__(self, env, resolution):
        base = env
        while not hasattr(base, "physics"):  # under memory-maze's wrappers
            base = getattr(base, "_env", None) or getattr(base, "env")
        self.base, self.resolution = base, int(resolution)
        cameras = [c for c in base.task._walker.mjcf_model.find_all("camera")
                   if c.name == "egocentric"]
        if len(cameras) != 1:
            raise RuntimeError("memory-maze's walker has no egocentric camera: "
                               "this version of memory-maze is not supported")
        self.camera = cameras[0]

    def __call__(self):
        """bool `(resolution, resolution)`: the target objects' pixels now."""
        physics, task = self.base.physics, self.base.task
        geoms = [physics.bind(g).element_id for target in task._targets
                 for g in target.mjcf_model.find_all("geom")]
        camera_id = physics.bind(self.camera).element_id
        seg = physics.render(self.resolution, self.resolution, camera_id=camera_id,
                             segmentation=True)
        return (seg[..., 1] == _MJ_OBJ_GEOM) & np.isin(seg[..., 0], geoms)


def run_episode(steps, seed=0, maze="9x9", resolution=84, env=None, objects=False):
    """`{"frames": uint8 (steps, H, W, 3), "actions": int32 (steps,)}`: one
    episode of the exploring policy in a maze drawn from `seed` (or in
    `env`, reset); with `objects`, also `"objects"`: bool `(steps, H, W)`,
    the pixels of each frame that show a target object (`_ObjectMasks`)."""
    check_int("steps", steps)
    env = env or make_env(maze, resolution, seed)
    masks = _ObjectMasks(env, resolution) if objects else None
    policy = ExploringPolicy(seed=seed + 7919)
    timestep = env.reset()
    frames, actions, object_masks = [], [], []
    for t in range(steps):
        frame = np.asarray(timestep.observation["image"], np.uint8)
        action = policy(frame)
        frames.append(frame)
        actions.append(action)
        if masks is not None:
            object_masks.append(masks())
        if t + 1 < steps:
            timestep = env.step(action)
            if timestep.last():  # time limit: a fresh maze layout
                timestep = env.reset()
    out = {"frames": np.stack(frames), "actions": np.asarray(actions, np.int32)}
    if masks is not None:
        out["objects"] = np.stack(object_masks)
    return out


def _write_npz(path, **arrays):
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(buffer.getvalue())
    os.replace(tmp, path)


def has_objects(path):
    """Whether the episode file `path` exists and holds object masks."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            return "objects.npy" in archive.namelist()
    except (OSError, zipfile.BadZipFile):
        return False


def _render(out_dir, indices, steps, seed, resolution, maze, verbose, objects=False):
    """Renders the episodes `indices` in this process (which must not have
    imported TensorFlow: see `generate_episodes`). With `objects`, an
    episode already on disk without object masks is rendered again with
    them, and rewritten only if its frames and actions come out identical
    (the policy and the maze are drawn from the seeds alone)."""
    for index in indices:
        path = episode_path(out_dir, seed, index)
        exists = os.path.exists(path)
        if exists and (not objects or has_objects(path)):
            continue
        episode_seed = int(seed) * 100003 + int(index)
        episode = run_episode(steps, episode_seed, maze, resolution, objects=objects)
        if exists:
            old = read_episode(path)
            if not (np.array_equal(old["frames"], episode["frames"])
                    and np.array_equal(old["actions"], episode["actions"])):
                raise RuntimeError(
                    f"episode file {path} renders differently now (another memory-maze, "
                    "MuJoCo or renderer?): its object masks would not match its frames; "
                    "render the episodes into a new folder with --objects")
        if objects:  # bool (T, H, W), stored 8 pixels to the byte
            episode["objects"] = np.packbits(episode["objects"], axis=-1)
        _write_npz(path, seed=np.int64(seed), maze_seed=np.int64(episode_seed),
                   **episode)
        if verbose:
            print(f"wrote {path}", flush=True)


def _worker_command(out_dir, indices, steps, seed, resolution, maze, verbose,
                    objects=False):
    # This file run as a script: `python -m vq_zoo.data.memory_maze` would
    # import the vq_zoo package, hence TensorFlow.
    command = [sys.executable, os.path.abspath(__file__), out_dir, "--worker",
               "--indices", ",".join(str(i) for i in indices), "--steps", str(steps),
               "--seed", str(seed), "--resolution", str(resolution), "--maze", maze]
    return command + (["--verbose"] if verbose else []) + (["--objects"] if objects else [])


def generate_episodes(out_dir, num_episodes, steps_per_episode, seed=0,
                      resolution=84, maze="9x9", processes=1, verbose=False,
                      objects=False):
    """Renders `num_episodes` episodes of `steps_per_episode` steps into
    `out_dir` (each in its own maze, drawn from `seed` and the episode's
    index), skipping those already there; returns their paths in order.

    MuJoCo's renderer and TensorFlow crash (segmentation fault) in one
    process, so the episodes are rendered by `processes` child processes
    running this file as a script, which import neither vq_zoo nor
    TensorFlow; each pays MuJoCo's start-up once, then renders its episodes
    (bench/RESULTS.md, "memory-maze rendering", has the speed).

    Args:
        out_dir: the cache folder (created).
        num_episodes, steps_per_episode: ints >= 1.
        seed: int, picks the mazes and the policy's choices.
        resolution: int, frame height and width (rendered at that size).
        maze: one of `MAZES`.
        processes: int, child processes rendering in parallel.
        verbose: print each file written.
        objects: also store each frame's target-object pixels (`objects`,
            bool `(T, H, W)` packed along the width; `read_objects`);
            episodes already there without them are rendered again and
            checked to come out identical first.
    """
    import subprocess

    for name, value in [("num_episodes", num_episodes),
                        ("steps_per_episode", steps_per_episode),
                        ("processes", processes), ("resolution", resolution)]:
        check_int(name, value)
    check_choice("maze", maze, MAZES)
    import importlib.util

    if importlib.util.find_spec("memory_maze") is None:
        raise ImportError(f"memory-maze is not installed; install it with: {INSTALL}")
    os.makedirs(out_dir, exist_ok=True)
    indices = list(range(num_episodes))
    todo = [i for i in indices if not (has_objects if objects else os.path.exists)(
        episode_path(out_dir, seed, i))]
    chunks = [todo[p::processes] for p in range(processes) if todo[p::processes]]
    env = dict(os.environ)
    env.setdefault("MUJOCO_GL", "egl")
    children = [subprocess.Popen(
        _worker_command(out_dir, c, steps_per_episode, seed, resolution, maze, verbose,
                        objects),
        env=env, stdout=None if verbose else subprocess.DEVNULL,
        stderr=subprocess.PIPE) for c in chunks]
    errors = []
    for child in children:
        _, err = child.communicate()
        if child.returncode != 0:
            tail = err.decode(errors="replace").strip().splitlines()[-5:]
            errors.append(f"exit status {child.returncode}: " + " | ".join(tail))
    if errors:
        raise RuntimeError("Rendering memory-maze episodes failed: " + "; ".join(errors))
    return [episode_path(out_dir, seed, i) for i in indices]


def episode_files(directory, max_episodes=None):
    """The episode files of `directory`, sorted by (seed, index); only the
    first `max_episodes` when given (a cache may hold more episodes than a
    config renders: a run reads the ones its config names)."""
    if max_episodes is not None and (isinstance(max_episodes, bool)
                                     or not isinstance(max_episodes, int)
                                     or max_episodes < 1):
        raise ValueError(f"`max_episodes` must be an int >= 1 or None, got {max_episodes!r}")
    if not os.path.isdir(directory):
        raise FileNotFoundError(
            f"No memory-maze episodes: {directory} is not a folder (render them with "
            f"`python -m vq_zoo.data.memory_maze {directory}`).")
    files = sorted(f for f in glob.glob(os.path.join(directory, "episode_*.npz"))
                   if _NAME.search(f))
    if not files:
        raise FileNotFoundError(
            f"{directory} holds no episode_*.npz files (render them with "
            f"`python -m vq_zoo.data.memory_maze {directory}`).")
    return files[:max_episodes]


def _unreadable(path, error):
    return ValueError(
        f"episode file {path} cannot be read ({type(error).__name__}: {error}): it is "
        "truncated or was not written by vq_zoo.data.memory_maze; delete it (a recipe "
        "renders the missing episodes of its cache again) or replace it")


def _check_episode(path, frames_shape, frames_dtype, actions_shape):
    """A ValueError naming `path` unless its arrays are frames uint8
    `(T, H, W, 3)` and actions `(T,)` with T >= 1."""
    if (len(frames_shape) != 4 or frames_shape[-1] != 3 or frames_shape[0] < 1
            or np.dtype(frames_dtype) != np.uint8):
        raise ValueError(f"episode file {path}: `frames` must be uint8 (T, H, W, 3) with "
                         f"T >= 1, got {np.dtype(frames_dtype)} {tuple(frames_shape)}")
    if tuple(actions_shape) != tuple(frames_shape[:1]):
        raise ValueError(f"episode file {path}: `actions` must have shape "
                         f"({frames_shape[0]},), one per frame, got {tuple(actions_shape)}")


def _check_actions(path, actions):
    actions = np.asarray(actions)
    if actions.dtype.kind not in "iu" or (actions.size and (
            actions.min() < 0 or actions.max() >= len(ACTIONS))):
        raise ValueError(
            f"episode file {path}: `actions` must be integers in [0, {len(ACTIONS)}) "
            f"(memory-maze's {', '.join(ACTIONS)}), got {actions.dtype} in "
            f"[{actions.min()}, {actions.max()}]")
    return actions.astype(np.int32)


def read_episode(path, frames=True):
    """`{"frames": uint8 (T, H, W, 3), "actions": int32 (T,)}` of the
    episode file `path` (without `frames` when `frames` is False); a
    ValueError naming the file when it is truncated, is not an episode or
    holds actions outside memory-maze's 6."""
    import zipfile

    try:
        with np.load(path) as f:
            if "frames" not in f.files or "actions" not in f.files:
                raise KeyError(f"holds {f.files}, not `frames` and `actions`")
            actions = f["actions"]
            pixels = f["frames"] if frames else None
    except (zipfile.BadZipFile, OSError, EOFError, KeyError, ValueError) as e:
        raise _unreadable(path, e) from None
    if pixels is not None:
        _check_episode(path, pixels.shape, pixels.dtype, actions.shape)
    out = {"actions": _check_actions(path, actions)}
    if pixels is not None:
        out["frames"] = pixels
    return out


def episode_header(path):
    """`(T, H, W)` of the episode file `path`, from the arrays' headers
    (the frames are not decompressed), its actions checked; a ValueError
    naming the file when it is truncated or not an episode."""
    import zipfile

    from vq_zoo.utils.io import read_npy_header

    try:
        with zipfile.ZipFile(path) as archive:
            with archive.open("frames.npy") as member:
                shape, dtype = read_npy_header(member)
    except (zipfile.BadZipFile, OSError, EOFError, KeyError, ValueError) as e:
        raise _unreadable(path, e) from None
    actions = read_episode(path, frames=False)["actions"]
    _check_episode(path, shape, dtype, actions.shape)
    return tuple(int(n) for n in shape[:3])


def check_episodes(directory, image_size=None, min_steps=1, max_episodes=None):
    """Checks the episode files already in `directory` (none: nothing to
    check; only the first `max_episodes` when given, the ones a recipe
    reads) before a recipe trains on them: each is readable, its frames are
    `image_size` square and it has at least `min_steps` steps; a ValueError
    naming the first file that is not."""
    if not os.path.isdir(directory):
        return
    paths = sorted(f for f in glob.glob(os.path.join(directory, "episode_*.npz"))
                   if _NAME.search(f))
    for path in paths[:max_episodes]:
        steps, height, width = episode_header(path)
        if image_size is not None and (height, width) != (image_size, image_size):
            raise ValueError(f"episode file {path} has {height}x{width} frames, the config's "
                             f"image_size is {image_size}")
        if steps < min_steps:
            raise ValueError(f"episode file {path} has {steps} steps, fewer than the "
                             f"{min_steps} the config needs")


def load_episodes(directory):
    """Every episode in `directory` (sorted by seed, index) as a dict with
    `frames` uint8 `(T, H, W, 3)` and `actions` int32 `(T,)`."""
    return [read_episode(path) for path in episode_files(directory)]


def split_episodes(num_episodes, validation_fraction=0.125, test_fraction=0.125):
    """Episode indices of each split, `{"train", "validation", "test"}`: the
    last episodes (in file order) are test, the ones before them
    validation, the rest train, each held-out split at least one episode
    when there are 3 or more."""
    if num_episodes < 3:
        raise ValueError(
            f"Need at least 3 episodes to split by episode, got {num_episodes}")
    n_test = max(1, int(round(num_episodes * test_fraction)))
    n_valid = max(1, int(round(num_episodes * validation_fraction)))
    n_train = num_episodes - n_test - n_valid
    if n_train < 1:
        raise ValueError(
            f"{num_episodes} episodes leave none for training after "
            f"{n_valid} validation and {n_test} test episodes")
    order = list(range(num_episodes))
    return {"train": order[:n_train],
            "validation": order[n_train:n_train + n_valid],
            "test": order[n_train + n_valid:]}


def frames_dataset(directory, split="train", validation_fraction=0.125,
                   test_fraction=0.125, max_frames=None, max_episodes=None):
    """The frames of one split (split by episode, `split_episodes`, of the
    first `max_episodes` episodes, default all), uint8 `(N, H, W, 3)`, in
    episode then time order (the DeepMind Lab recipe shuffles them itself).
    `max_frames` keeps the first ones."""
    files = _split_files(directory, split, validation_fraction, test_fraction, max_episodes)
    frames = np.concatenate([read_episode(path)["frames"] for path in files])
    return frames[:max_frames] if max_frames else frames


def _split_files(directory, split, validation_fraction, test_fraction, max_episodes):
    """The episode files of `split` (`split_episodes` of the first
    `max_episodes` files of `directory`), in order."""
    if split not in ("train", "validation", "test"):
        raise ValueError(
            f"`split` must be 'train', 'validation' or 'test', got {split!r}")
    files = episode_files(directory, max_episodes)
    return [files[i] for i in
            split_episodes(len(files), validation_fraction, test_fraction)[split]]


def read_objects(path):
    """bool `(T, H, W)`: the target-object pixels of each frame of the
    episode file `path` (rendered with `objects=True`); a ValueError naming
    the file when it has none or they do not fit its frames."""
    import zipfile

    try:
        with np.load(path) as f:
            if "objects" not in f.files:
                raise missing_objects_error(path)
            packed = f["objects"]
            steps, height, width = episode_header(path)
    except (zipfile.BadZipFile, OSError, EOFError, KeyError) as e:
        raise _unreadable(path, e) from None
    expected = (steps, height, (width + 7) // 8)
    if packed.dtype != np.uint8 or packed.shape != expected:
        raise ValueError(f"episode file {path}: `objects` must be uint8 {expected} (bits "
                         f"packed along the width), got {packed.dtype} {packed.shape}")
    return np.unpackbits(packed, axis=-1, count=width).astype(bool)


def missing_objects_error(path):
    """The ValueError for an episode file `path` without object masks, with
    the command that adds them."""
    directory = os.path.dirname(path) or "."
    return ValueError(
        f"episode file {path} holds no object masks; add them (the episodes are rendered "
        f"again, checked to come out the same) with `python -m vq_zoo.data.memory_maze "
        f"{directory} --objects --episodes N --steps T` for the cache's N episodes of T steps")


def objects_dataset(directory, split="train", validation_fraction=0.125,
                    test_fraction=0.125, max_frames=None, max_episodes=None):
    """The target-object masks of one split, bool `(N, H, W)`, frame for
    frame those of `frames_dataset` with the same arguments."""
    files = _split_files(directory, split, validation_fraction, test_fraction, max_episodes)
    masks = np.concatenate([read_objects(path) for path in files])
    return masks[:max_frames] if max_frames else masks


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m vq_zoo.data.memory_maze",
        description="Render memory-maze episodes of an exploring policy into a cache "
                    "folder (resumable: episodes already there are kept).")
    parser.add_argument("out_dir")
    parser.add_argument("--episodes", type=int, default=24)
    parser.add_argument("--steps", type=int, default=125)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resolution", type=int, default=84)
    parser.add_argument("--maze", default="9x9", choices=MAZES)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--objects", action="store_true",
                        help="also store each frame's target-object pixels (episodes "
                             "already there are rendered again to add them)")
    # A child process of `generate_episodes`: render these episodes here.
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--indices", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        indices = [int(i) for i in args.indices.split(",") if i]
        _render(args.out_dir, indices, args.steps, args.seed, args.resolution,
                args.maze, args.verbose, args.objects)
        return 0
    try:
        paths = generate_episodes(args.out_dir, args.episodes, args.steps, args.seed,
                                  args.resolution, args.maze, args.processes,
                                  verbose=True, objects=args.objects)
    except (ImportError, ValueError, RuntimeError) as e:
        print(f"memory_maze: error: {e}", file=sys.stderr)
        return 1
    print(f"{len(paths)} episodes of {args.steps} steps in {args.out_dir}")
    return 0


if __name__ == "__main__":
    if __package__ in (None, ""):
        # Run as a script (the render workers): its folder, vq_zoo/data,
        # must not shadow top-level modules (mnist, codes, ...).
        sys.path[:] = [p for p in sys.path
                       if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]
    sys.exit(main())
