"""What the DeepMind Lab cards say of where stage 1 came from and of the
frames: `export_presets.stage1_origin` (a preset's own record carried
forward, never the words of another preset), the refusal to call test
episodes held out when stage 1 trained on them, and the data card worded
from the run's episodes. No models are built."""

import dataclasses
import json
import os

import pytest

from vq_zoo.recipes.dmlab import export_presets
from vq_zoo.recipes.dmlab.config import CONFIGS
from vq_zoo.recipes.dmlab.recipe import DMLabRecipe

PRETRAINED = os.path.join(os.path.dirname(__file__), "..", "..", "pretrained")


def _config(**changes):
    return dict(dataclasses.asdict(CONFIGS["small"]), **changes)


def test_a_stage1_trained_by_the_run_names_the_runs_training_episodes():
    # 100 episodes, 12.5% validation and test: 12 + 12 held out, 76 train.
    origin = export_presets.stage1_origin(_config(episodes=100, vqvae_preset="",
                                                  vqvae_epochs=6))
    assert origin["train_episodes"] == [0, 75]
    assert "trained from scratch by this run (6 epochs, K=32)" in origin["words"]


def test_a_preset_used_as_it_is_carries_its_own_record():
    record = {"words": "trained from scratch (6 epochs, K=32) by `cmd`",
              "train_episodes": [0, 75]}
    config = _config(episodes=300, vqvae_preset="p", vqvae_epochs=0)
    origin = export_presets.stage1_origin(config, {"stage1_origin": record})
    assert origin == record
    # Exported again (the new presets carry it), the words do not nest.
    again = export_presets.stage1_origin(config, {"stage1_origin": origin})
    assert again == record
    words = export_presets._stage1_words(dict(config, stage1_origin=origin))
    assert words == ("the preset `p`, trained from scratch (6 epochs, K=32) by `cmd`, "
                     "used as it is (no further training)")
    # 300 episodes: 38 test (262-299), 38 validation, 224 train; stage 1
    # saw 0-75 only, which the card says.
    split = {"train": list(range(224)), "validation": list(range(224, 262)),
             "test": list(range(262, 300))}
    assert export_presets._stage1_episodes_words(
        dict(config, stage1_origin=origin), split) == " (stage 1 was trained on episodes 0-75)"


def test_a_preset_trained_from_scratch_by_its_run_is_read_from_that_runs_config():
    own = _config(episodes=100, vqvae_preset="", vqvae_epochs=6)
    origin = export_presets.stage1_origin(
        _config(episodes=300, vqvae_preset="p", vqvae_epochs=0),
        {"config": own, "command": "vq-zoo train dmlab --config small"})
    assert origin["train_episodes"] == [0, 75]
    assert "(6 epochs, K=32) by `vq-zoo train dmlab --config small`" in origin["words"]


def test_an_unrecorded_preset_says_so_and_claims_no_episodes():
    config = _config(vqvae_preset="p", vqvae_epochs=0)
    for metadata in (None, {}, {"config": _config(vqvae_preset="q")}):
        origin = export_presets.stage1_origin(config, metadata)
        assert origin["train_episodes"] is None
        assert "not recorded" in origin["words"]
        assert "0-17" not in origin["words"] and "K=512" not in origin["words"]


def test_a_preset_trained_further_spans_both_runs_episodes():
    record = {"words": "trained from scratch by `cmd`", "train_episodes": [0, 75]}
    origin = export_presets.stage1_origin(
        _config(episodes=300, vqvae_preset="p", vqvae_epochs=2), {"stage1_origin": record})
    assert origin["train_episodes"] == [0, 223]
    assert origin["words"].endswith("then trained 2 more epoch(s) at learning rate "
                                    "0.002 on episodes 0-223")


def test_test_episodes_stage1_trained_on_are_refused():
    config = _config(episodes=100, vqvae_preset="p", vqvae_epochs=0,
                     stage1_origin={"words": "w", "train_episodes": [0, 95]})
    split = {"train": list(range(76)), "validation": list(range(76, 88)),
             "test": list(range(88, 100))}
    with pytest.raises(ValueError, match="episodes 0-95, which hold 8 of this run's test"):
        export_presets._stage1_episodes_words(config, split)


def test_the_data_card_words_the_runs_episodes():
    card = DMLabRecipe().data_card(_config(episodes=300))
    assert "300 episodes of 100 steps" in card["data"]
    assert "224 train, 38 validation, 38 test episodes" in card["data"]
    assert card["license"].startswith("memory-maze is Apache-2.0")
    # No config: the shipped set's.
    assert f"{CONFIGS['small'].episodes} episodes of" in DMLabRecipe().data_card()["data"]


def test_the_shipped_stage1_records_where_it_came_from():
    with open(os.path.join(PRETRAINED, "vqvae_small_memory_maze_84", "metadata.json")) as f:
        meta = json.load(f)
    origin = meta["stage1_origin"]
    assert origin["train_episodes"] == [0, 75]
    assert "--set num_embeddings=32" in origin["words"]
    assert meta["config"]["num_embeddings"] == 32


def test_decodings_reads_the_episodes_its_run_read():
    """A run from the cache read the cache's first `episodes` (the cache
    may hold more, rendered for a larger config); a run given --data-dir
    read that folder whole (`common.episodes_to_read`)."""
    from vq_zoo.recipes import common
    from vq_zoo.recipes.dmlab.decodings import episodes_read

    config = CONFIGS["small"]
    cached = {"command": "vq-zoo train dmlab --config small --out-dir r",
              "config": {"episodes": 100}}
    assert episodes_read(cached) == 100 == common.episodes_to_read(
        dataclasses.replace(config, episodes=100))
    for flag in ("--data-dir /d", "--data-dir=/d"):
        given = {"command": f"vq-zoo train dmlab --config small {flag}",
                 "config": {"episodes": 100}}
        assert episodes_read(given) is None is common.episodes_to_read(config, "/d")
    assert episodes_read({"config": {"episodes": 7}}) == 7  # no command recorded
