import json
import math
import os

import numpy as np

from tests.models.video.synthetic import write_episodes
from vq_zoo.recipes import RECIPES
from vq_zoo.recipes.video import recipe
from vq_zoo.recipes.video.config import CONFIGS
from vq_zoo.utils.config import validate_config


def test_configs_are_valid_and_registered():
    assert "video" in RECIPES
    assert set(CONFIGS) == {"memory_maze", "bair", "moving_mnist", "small", "smoke"}
    for name, config in CONFIGS.items():
        validate_config(config)
        assert config.history <= config.context_frames, name
    assert recipe.action_spec(CONFIGS["memory_maze"]) == ("discrete", 6)
    assert recipe.action_spec(CONFIGS["bair"]) == ("continuous", 4)
    assert recipe.action_spec(CONFIGS["moving_mnist"]) == (None, None)


def test_smoke_config_end_to_end_and_resumes(tmp_path):
    config = CONFIGS["smoke"]
    data = write_episodes(str(tmp_path / "episodes"), num_episodes=3, steps=12)
    out = str(tmp_path / "run")
    metrics = recipe.main(config, out, data_dir=data, verbose=0)
    for name in ("vqvae.keras", "prior.keras", "samples.png", "actions.png",
                 "metrics.json", "clip_0.png", "clip_1.png"):
        assert os.path.exists(os.path.join(out, name)), name
    horizon = config.horizon
    for key in ("rollout_psnr_db", "rollout_ssim", "copy_last_frame_psnr_db",
                "copy_last_frame_ssim", "reconstruction_psnr_db_by_horizon",
                "reconstruction_ssim_by_horizon"):
        assert len(metrics[key]) == horizon, key
    # A clip's grid: 8 rows (true future, rollout under the true actions,
    # one per held action) of context + horizon frames.
    from vq_zoo.utils.images import read_image

    grid = read_image(os.path.join(out, "clip_0.png"), channels=3)
    assert grid.shape[0] // config.image_size == 2 + 6
    assert grid.shape[1] // config.image_size == config.context_frames + horizon
    # The copy-the-last-frame baseline, recomputed from the test episode
    # (the last one; clips of 6 frames every 3 of its 12).
    with np.load(os.path.join(data, "episode_000000_000002.npz")) as f:
        frames = f["frames"].astype(np.float64) / 255.0
    c = config.context_frames
    clips = np.stack([frames[s:s + c + horizon] for s in (0, 3, 6)])
    clips = clips[:config.rollout_clips]
    for h in range(horizon):
        mse = np.mean((clips[:, c - 1] - clips[:, c + h]) ** 2)
        assert math.isclose(metrics["copy_last_frame_psnr_db"][h], 10 * math.log10(1 / mse),
                            rel_tol=1e-6)
    assert metrics["action_check_chance"] == 1 / 6
    for key in ("action_check_true_frames", "action_check_rollout",
                "action_check_every_action_one_step"):
        assert 0.0 <= metrics[key] <= 1.0
    assert metrics["test_prior_bits_per_code"] > 0
    # Classifier-free guidance (action_dropout 0.2): the report's rollouts
    # at guidance 1 and, measured beside them, 2.
    assert metrics["rollout_guidance"] == 1.0
    guided = metrics["rollouts_at_other_guidances"]["2.0"]
    assert len(guided["rollout_psnr_db"]) == horizon
    assert 0.0 <= metrics["action_check_rollout_at_other_guidances"]["2.0"] <= 1.0
    # Consensus of 3 greedy draws: every draw is the greedy frame, so the
    # consensus rollout is the greedy one, frame for frame.
    assert metrics["rollout_consensus"] == 1 and metrics["rollout_temperature"] == 0.0
    np.testing.assert_array_equal(metrics["rollouts_at_other_consensus"]["3"]["rollout_psnr_db"],
                                  metrics["rollout_psnr_db"])
    assert (metrics["action_check_rollout_at_other_consensus"]["3"]
            == metrics["action_check_rollout"])
    with open(os.path.join(out, "stages", "prior.json")) as f:
        prior_record = json.load(f)
    # Rerun: every stage resumes from disk, same report.
    again = recipe.main(config, out, data_dir=data, verbose=0)
    assert again == metrics
    with open(os.path.join(out, "stages", "prior.json")) as f:
        assert json.load(f) == prior_record
    _check_the_export(out, config, tmp_path)


def _check_the_export(out, config, tmp_path):
    """`vq-zoo export RUN --dest D --notes FILE`, the one export command, of
    the smoke run (its record as `vq-zoo train video` writes it): the two
    presets, their weights the run's, video cards naming that command and
    carrying the note in their training section."""
    import time

    import keras

    from vq_zoo import cli
    from vq_zoo import presets
    from vq_zoo.pipeline.run_dir import open_run_config
    from vq_zoo.pipeline.run_dir import record_invocation
    from vq_zoo.recipes.video.export_presets import PRIOR_PRESET
    from vq_zoo.recipes.video.export_presets import VQVAE_PRESET

    record = open_run_config(out, config, {
        "recipe": "video", "config_name": "smoke",
        "command": f"vq-zoo train video --config smoke --out-dir {out}"})
    record_invocation(out, record, started=time.time())
    notes = tmp_path / "NOTE.md"
    notes.write_text("The prior was trained twice.\n")
    dest = tmp_path / "presets"
    assert cli.main(["export", out, "--dest", str(dest), "--notes", str(notes)]) == 0
    for kind, name in (("vqvae", VQVAE_PRESET), ("prior", PRIOR_PRESET)):
        card = (dest / name / "README.md").read_text()
        assert f"\nvq-zoo export {out} --dest {dest}\n" in card  # the command as run
        assert "python -m vq_zoo.recipes" not in card
        assert "not counted). The prior was trained twice.\n" in card
        trained = keras.models.load_model(os.path.join(out, f"{kind}.keras"))
        for a, b in zip(presets.load_preset(str(dest / name)).weights, trained.weights):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_a_vqvae_preset_is_the_run_s_vqvae_and_a_mismatch_is_refused(tmp_path):
    """`vqvae_preset`: the run's VQ-VAE is the preset's, weights and codes,
    its codebook size (not the config's) sizes the prior; a preset that
    cannot give the config's code maps, and `vqvae_epochs=0` without a
    preset, are refused with what was expected."""
    import dataclasses

    import pytest

    from vq_zoo import presets
    from vq_zoo.recipes import common

    config = CONFIGS["smoke"]
    with pytest.raises(ValueError, match="`vqvae_epochs` may be 0 only with a `vqvae_preset`"):
        recipe.build_vqvae(dataclasses.replace(config, vqvae_epochs=0), 1.0, (16, 16, 3))
    trained = common.build_vqvae(config, 0.5, (16, 16, 3))
    folder = str(tmp_path / "frames16")
    presets.save_to_preset(trained, folder)
    # Another codebook size in the config: the preset's wins.
    use = dataclasses.replace(config, vqvae_preset=folder, vqvae_epochs=0,
                              num_embeddings=2 * config.num_embeddings)
    loaded = recipe.build_vqvae(use, 1.0, (16, 16, 3))
    for a, b in zip(loaded.weights, trained.weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    frames = np.random.default_rng(0).random((2, 16, 16, 3)).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(loaded.encode(frames)),
                                  np.asarray(trained.encode(frames)))
    data = write_episodes(str(tmp_path / "episodes"), num_episodes=3, steps=12)
    recipe.check_config(use, data)  # the prior is built for the preset's 16 codes
    with pytest.raises(ValueError, match=r"makes \(4, 4\) code maps .* expects \(2, 2\)"):
        recipe.build_vqvae(dataclasses.replace(use, num_downsamples=3), 1.0, (16, 16, 3))
    with pytest.raises(ValueError, match=r"cannot encode \(16, 16, 1\) frames"):
        recipe.build_vqvae(use, 1.0, (16, 16, 1))


def test_action_dropout_reaches_the_training_examples_only():
    import tensorflow as tf

    from vq_zoo.models.video.latent_video_model import LatentVideoModel
    from vq_zoo.models.vqvae.vqvae import VQVAE

    config = CONFIGS["smoke"]
    vqvae = VQVAE.image_model(num_hiddens=8, num_residual_layers=1, num_residual_hiddens=4,
                              embedding_dim=4, num_embeddings=16, channels=3)
    vqvae.build((None, 16, 16, 3))
    prior = recipe.build_prior(config, {"num_embeddings": 16, "code_shape": (6, 4, 4)}, 4)
    assert prior.null_action  # action_dropout > 0
    video = LatentVideoModel(vqvae, prior)
    rng = np.random.default_rng(0)
    clips = tf.data.Dataset.from_tensor_slices({
        "codes": rng.integers(0, 16, (100, 6, 4, 4)).astype(np.int32),
        "actions": rng.integers(0, 6, (100, 6)).astype(np.int32)})

    def labels(ds):
        return np.concatenate([b["condition"] for b in ds.as_numpy_iterator()])

    train = recipe.prior_examples(video, clips, 50, shuffle=True, seed=1,
                                  action_dropout=config.action_dropout)
    first, second = labels(train), labels(train)  # 400 examples a pass
    assert abs((first == 6).mean() - 0.2) < 0.08 and abs((second == 6).mean() - 0.2) < 0.08
    # Each pass drops other examples (the shuffle aside: the same multiset).
    assert (first != second).any()
    validation = recipe.prior_examples(video, clips, 50)
    assert not (labels(validation) == 6).any()


def test_the_card_words_every_decoding_an_evaluate_episodes_record_holds():
    """A record of `evaluate_episodes.py` (keys as it writes them:
    "<T>", "<T>@<guidance>", "x<draws>" appended) becomes a card table
    naming each decoding, and the command that measured it with every
    temperature, guidance and draw count the record holds."""
    from vq_zoo.recipes.video.export_presets import extra_evaluation_lines

    def errors(psnr):
        return {"psnr_db": [psnr] * 10, "ssim": [0.5] * 10}

    record = {"episodes": [158, 180], "clips": 308, "maze_seeds": [158, 179],
              "run_dir": "/runs/v", "copy_last_frame": errors(14.0),
              "reconstruction": errors(27.0), "action_check_true_frames": 0.686,
              "rollouts": {"0.0": dict(errors(13.0), action_check=0.4),
                           "1.0@1.5x16": dict(errors(14.5), action_check=0.625),
                           "0.6x8": dict(errors(14.2), action_check=0.5)}}
    lines = extra_evaluation_lines(record)
    assert ("EPISODES_DIR 158 180 TRAIN_DIR OUT.json --temperatures 0,0.6,1 "
            "--guidances 1,1.5 --consensus 1,8,16 --max-clips 308 --run RUN`:") in lines[0]
    rows = {line.split(" | ")[0].lstrip("| "): line for line in lines[4:]}
    assert rows["greedy rollout"].endswith("| 0.400 |")
    assert rows["rollout at temperature 1, guidance 1.5, consensus of 16 draws"] == (
        "| rollout at temperature 1, guidance 1.5, consensus of 16 draws | 14.50 | 14.50 "
        "| 14.50 | 0.500 | 0.625 |")
    assert "rollout at temperature 0.6, consensus of 8 draws" in rows
    # The shipped presets evaluated (no --run): no run named.
    assert "--run RUN" not in extra_evaluation_lines(dict(record, run_dir=None))[0]
