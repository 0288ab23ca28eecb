"""memory-maze episodes: the real renderer for a few steps (through the
command line), the exploring policy, the cache, and the split by episode."""

import os
import numpy as np
import pytest

from vq_zoo.data import memory_maze


def test_the_command_renders_a_few_real_steps_and_resumes(tmp_path):
    out = tmp_path / "episodes"
    os.environ.setdefault("MUJOCO_GL", "egl")
    # The command's main (in this process): it renders in a child process
    # running the module as a script, which imports neither vq_zoo nor
    # TensorFlow (MuJoCo's renderer and TensorFlow crash in one process).
    status = memory_maze.main([str(out), "--episodes", "1", "--steps", "6",
                               "--seed", "5"])
    assert status == 0
    (path,) = sorted(out.glob("episode_*.npz"))
    assert path == out / "episode_000005_000000.npz"
    with np.load(path) as f:
        frames, actions = f["frames"], f["actions"]
    # Rendered at 84x84 by the environment itself (no resizing).
    assert frames.shape == (6, 84, 84, 3) and frames.dtype == np.uint8
    assert actions.shape == (6,) and actions.dtype == np.int32
    assert actions.min() >= 0 and actions.max() < len(memory_maze.ACTIONS) == 6
    # A real first-person view: neither blank nor noise, and it moves.
    assert frames.std() > 5
    assert np.abs(np.diff(frames.astype(np.float32), axis=1)).mean() < 40
    changes = np.abs(np.diff(frames.astype(np.float32), axis=0)).mean(axis=(1, 2, 3))
    assert (changes > 0.5).any()
    episodes = memory_maze.load_episodes(out)
    assert len(episodes) == 1
    np.testing.assert_array_equal(episodes[0]["frames"], frames)
    np.testing.assert_array_equal(episodes[0]["actions"], actions)
    # Episodes on disk are kept: the API returns the same path and renders
    # nothing (the file is not rewritten).
    stamp = path.stat().st_mtime_ns
    paths = memory_maze.generate_episodes(str(out), 1, 6, seed=5)
    assert paths == [str(path)] and path.stat().st_mtime_ns == stamp


class _Frames:
    """Frames a policy sees: a fresh random frame, or the previous again."""

    def __init__(self):
        self.rng = np.random.default_rng(0)
        self.last = self.fresh()

    def fresh(self):
        self.last = self.rng.integers(0, 255, (8, 8, 3)).astype(np.uint8)
        return self.last


def test_policy_holds_actions_mostly_forward_and_turns_away_from_walls():
    policy = memory_maze.ExploringPolicy(seed=0, min_hold=3, max_hold=3)
    frames = _Frames()
    actions = [policy(frames.fresh()) for _ in range(300)]
    # Held for exactly 3 steps each (never blocked: every frame is new).
    runs = np.asarray(actions).reshape(100, 3)
    assert (runs == runs[:, :1]).all()
    forward = np.isin(runs[:, 0], [memory_maze.FORWARD, memory_maze.FORWARD_LEFT,
                                   memory_maze.FORWARD_RIGHT])
    assert 0.4 < forward.mean() < 0.8  # forward_probability 0.6
    # Blocked: a forward move that leaves the frame as it was turns the
    # agent left or right at once, though the forward action was still held.
    for seed in range(20):
        policy = memory_maze.ExploringPolicy(seed=seed, min_hold=5, max_hold=5,
                                             forward_probability=1.0)
        first = policy(frames.fresh())
        assert first in (memory_maze.FORWARD, memory_maze.FORWARD_LEFT,
                         memory_maze.FORWARD_RIGHT)
        assert policy(frames.last) in (memory_maze.LEFT, memory_maze.RIGHT)


def _fake_episodes(directory, lengths):
    os.makedirs(directory, exist_ok=True)
    for i, n in enumerate(lengths):
        # Every pixel of episode i holds the value i (to trace the frames).
        np.savez(os.path.join(directory, f"episode_000000_{i:06d}.npz"),
                 frames=np.full((n, 4, 4, 3), i, np.uint8),
                 actions=np.arange(n, dtype=np.int32) % 6)


def test_frames_are_split_by_episode(tmp_path):
    _fake_episodes(tmp_path, [3, 4, 5, 6, 7, 8, 9, 10])
    splits = {s: memory_maze.frames_dataset(str(tmp_path), s) for s in
              ("train", "validation", "test")}
    owners = {s: set(np.unique(f)) for s, f in splits.items()}
    assert owners == {"train": {0, 1, 2, 3, 4, 5}, "validation": {6}, "test": {7}}
    assert [len(splits[s]) for s in ("train", "validation", "test")] == [33, 9, 10]
    assert len(memory_maze.frames_dataset(str(tmp_path), "train", max_frames=5)) == 5
    assert len(memory_maze.load_episodes(str(tmp_path))) == 8
    with pytest.raises(ValueError, match="at least 3 episodes"):
        memory_maze.split_episodes(2)
    with pytest.raises(ValueError, match="`split`"):
        memory_maze.frames_dataset(str(tmp_path), "dev")
    with pytest.raises(FileNotFoundError, match="python -m vq_zoo.data.memory_maze"):
        memory_maze.load_episodes(str(tmp_path / "none"))
    with pytest.raises(ValueError, match="`num_episodes`"):
        memory_maze.generate_episodes(str(tmp_path), 0, 5)


def test_a_cache_holding_more_episodes_than_the_config_is_read_to_its_first_ones(tmp_path):
    """The default cache can hold more episodes than a config renders (another
    config completed it): a run of `episodes=4` reads episodes 0-3 only, so its
    split (and its test episode) is the one the 4-episode render had."""
    from types import SimpleNamespace

    from vq_zoo.recipes import common

    _fake_episodes(tmp_path, [3, 4, 5, 6, 7, 8, 9, 10])
    config = SimpleNamespace(episodes=4, validation_fraction=0.25, test_fraction=0.25,
                             image_size=4, steps_per_episode=3)
    limit = common.episodes_to_read(config, data_dir=None)
    owners = {s: set(np.unique(memory_maze.frames_dataset(
        str(tmp_path), s, 0.25, 0.25, max_episodes=limit)))
        for s in ("train", "validation", "test")}
    assert owners == {"train": {0, 1}, "validation": {2}, "test": {3}}
    # A user's --data-dir is read whole.
    assert common.episodes_to_read(config, data_dir=str(tmp_path)) is None
    assert len(memory_maze.episode_files(str(tmp_path))) == 8
    # Only the episodes a run reads are checked: a broken 5th file does not stop
    # a 4-episode run, and is named when all are read.
    with open(tmp_path / "episode_000000_000004.npz", "wb") as f:
        f.write(b"PK\x03\x04 truncated")
    memory_maze.check_episodes(str(tmp_path), 4, max_episodes=4)
    with pytest.raises(ValueError, match="episode_000000_000004.npz"):
        memory_maze.check_episodes(str(tmp_path), 4)
    with pytest.raises(ValueError, match="`max_episodes`"):
        memory_maze.episode_files(str(tmp_path), 0)


# Run in a child process (MuJoCo's renderer and TensorFlow crash in one):
# episode 262 of the recipes' cache (seed 0), whose frame 79 shows a target
# ball; then the same view rendered with the targets made invisible.
_HIDE_TARGETS = """
import importlib.util, os, sys
import numpy as np
os.environ.setdefault("MUJOCO_GL", "egl")
spec = importlib.util.spec_from_file_location("mm", sys.argv[1])
mm = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mm)
env = mm.make_env("9x9", 84, 262)
episode = mm.run_episode(80, 262, env=env, objects=True)
masks = mm._ObjectMasks(env, 84)
physics, task = masks.base.physics, masks.base.task
camera = physics.bind(masks.camera).element_id
shown = physics.render(84, 84, camera_id=camera)
for target in task._targets:
    for geom in target.mjcf_model.find_all("geom"):
        index = physics.bind(geom).element_id
        physics.model.geom_rgba[index, 3] = 0.0
        physics.model.geom_matid[index] = -1
hidden = physics.render(84, 84, camera_id=camera)
np.savez(sys.argv[2], shown=shown, hidden=hidden, **episode)
"""


def test_object_masks_are_the_pixels_that_change_when_the_targets_are_hidden(tmp_path):
    import subprocess
    import sys

    script, out = tmp_path / "hide.py", tmp_path / "out.npz"
    script.write_text(_HIDE_TARGETS)
    env = dict(os.environ, MUJOCO_GL=os.environ.get("MUJOCO_GL", "egl"))
    subprocess.run([sys.executable, str(script), memory_maze.__file__, str(out)],
                   check=True, env=env, capture_output=True)
    with np.load(out) as f:
        frames, objects, shown, hidden = f["frames"], f["objects"], f["shown"], f["hidden"]
    assert objects.shape == frames.shape[:3] and objects.dtype == bool
    # The environment's state is the last frame's: the camera render is it.
    np.testing.assert_array_equal(shown, frames[-1])
    changed = (shown != hidden).any(-1)
    mask = objects[-1]
    assert mask.sum() >= 20
    # Every masked pixel shows a target; what else changes is the few pixels
    # of its shadow on the floor.
    assert not (mask & ~changed).any()
    assert (changed & ~mask).sum() <= 0.5 * mask.sum()
    # Most frames of the episode show no target at all.
    assert (objects.reshape(len(objects), -1).sum(1) == 0).mean() > 0.5


def test_object_masks_are_added_to_episodes_on_disk_only_when_they_render_the_same(tmp_path):
    out = tmp_path / "episodes"
    os.environ.setdefault("MUJOCO_GL", "egl")
    (path,) = memory_maze.generate_episodes(str(out), 1, 6, seed=5, resolution=32)
    with np.load(path) as f:
        frames, actions = f["frames"], f["actions"]
        assert "objects" not in f.files
    assert not memory_maze.has_objects(path)
    with pytest.raises(ValueError, match="--objects"):
        memory_maze.read_objects(path)
    memory_maze.generate_episodes(str(out), 1, 6, seed=5, resolution=32, objects=True)
    assert memory_maze.has_objects(path)
    episode = memory_maze.read_episode(path)
    np.testing.assert_array_equal(episode["frames"], frames)
    np.testing.assert_array_equal(episode["actions"], actions)
    masks = memory_maze.read_objects(path)
    assert masks.shape == (6, 32, 32) and masks.dtype == bool
    # An episode whose frames are not what its seeds render is refused, and
    # left as it was.
    tampered = tmp_path / "tampered"
    tampered.mkdir()
    other = tampered / os.path.basename(path)
    np.savez(other, frames=np.zeros_like(frames), actions=actions, seed=5,
             maze_seed=5 * 100003)
    before = other.read_bytes()
    with pytest.raises(RuntimeError, match="renders differently"):
        memory_maze.generate_episodes(str(tampered), 1, 6, seed=5, resolution=32,
                                      objects=True)
    assert other.read_bytes() == before


def test_object_masks_of_a_split_follow_its_frames(tmp_path):
    _fake_episodes(tmp_path, [3, 4, 5, 6])
    for i, n in enumerate([3, 4, 5, 6]):
        path = tmp_path / f"episode_000000_{i:06d}.npz"
        with np.load(path) as f:
            arrays = dict(f)
        # Episode i marks pixel (0, i) of every frame.
        masks = np.zeros((n, 4, 4), bool)
        masks[:, 0, i] = True
        np.savez(path, objects=np.packbits(masks, axis=-1), **arrays)
    for split in ("train", "validation", "test"):
        frames = memory_maze.frames_dataset(str(tmp_path), split, 0.25, 0.25)
        masks = memory_maze.objects_dataset(str(tmp_path), split, 0.25, 0.25)
        assert masks.shape == frames.shape[:3]
        owners = frames[:, 0, 0, 0]
        np.testing.assert_array_equal(np.argmax(masks[:, 0, :], axis=1), owners)
    # A mask array of the wrong shape is named.
    path = tmp_path / "episode_000000_000000.npz"
    with np.load(path) as f:
        arrays = dict(f)
    arrays["objects"] = np.zeros((3, 4, 2), np.uint8)
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match="episode_000000_000000.npz.*objects"):
        memory_maze.read_objects(str(path))
