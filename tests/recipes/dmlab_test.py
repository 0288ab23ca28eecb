"""The dmlab recipe in its smoke config: every stage end to end on cached
episodes, an interrupted run that resumes where it stopped, the sampling
chain 3-code prior -> code map -> frame, and the tfds dmlab path on mocked
data."""

import dataclasses
import hashlib
import json
import os
import time

import keras
import numpy as np
import pytest

from vq_zoo.recipes import get_recipe

recipe, CONFIGS = get_recipe("dmlab")
SMOKE = CONFIGS["smoke"]
TRAINED = ["vqvae", "prior", "stage2_vqvae", "stage2_prior"]


def fake_episodes(directory, num=3, steps=6, size=32):
    """Episode files as memory_maze writes them with `objects=True`: smooth
    frames (a bright band that moves with the step, and on the floor a red
    square, the object, on every other frame), actions and object masks."""
    os.makedirs(directory, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(num):
        frames = np.zeros((steps, size, size, 3), np.uint8)
        objects = np.zeros((steps, size, size), bool)
        colour = rng.integers(60, 255, 3)
        for t in range(steps):
            frames[t, :, (4 * t + 3 * i) % size:][:, :6] = colour
            frames[t, size // 2:] = 40
            if t % 2 == 0:
                objects[t, size // 2 + 4:size // 2 + 12, 4 + 2 * t:12 + 2 * t] = True
                frames[t][objects[t]] = (220, 30, 30)
        np.savez(os.path.join(directory, f"episode_000000_{i:06d}.npz"),
                 frames=frames, actions=rng.integers(0, 6, steps).astype(np.int32),
                 objects=np.packbits(objects, axis=-1))
    return directory


def sha(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


class Interrupt(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        raise KeyboardInterrupt("stopped in stage2_vqvae")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("dmlab")
    data = fake_episodes(str(root / "episodes"))
    out = str(root / "run")
    with pytest.raises(KeyboardInterrupt):
        recipe.main(SMOKE, out, data_dir=data, verbose=0,
                    extra_callbacks=lambda stage, model: (
                        [Interrupt()] if stage == "stage2_vqvae" else []))
    done = sorted(f for f in os.listdir(os.path.join(out, "stages")) if f != "run.json")
    before = {s: sha(os.path.join(out, f"{s}.keras")) for s in ("vqvae", "prior")}
    metrics = recipe.main(SMOKE, out, data_dir=data, verbose=0)
    return dict(out=out, data=data, done_before=done, before=before, metrics=metrics)


def test_an_interrupted_run_resumes_at_the_stage_it_stopped_in(run):
    out = run["out"]
    # Stopped in stage 2's fit: the stages before it had finished ...
    assert run["done_before"] == ["codes.json", "prior.json", "vqvae.json"]
    # ... and were reused, not retrained.
    for stage, digest in run["before"].items():
        assert sha(os.path.join(out, f"{stage}.keras")) == digest
    for stage in recipe.STAGES:
        assert os.path.exists(os.path.join(out, "stages", f"{stage}.json")), stage
    # A finished run reruns nothing but reads the report back.
    stamps = {s: os.stat(os.path.join(out, f"{s}.keras")).st_mtime_ns for s in TRAINED}
    again = recipe.main(SMOKE, out, data_dir=run["data"], verbose=0)
    assert again == run["metrics"]
    assert stamps == {s: os.stat(os.path.join(out, f"{s}.keras")).st_mtime_ns
                      for s in TRAINED}


def test_metrics_and_the_sampling_chain(run):
    from vq_zoo.data.codes import code_dataset
    from vq_zoo.models.dmlab import DMLabTwoStage

    out, metrics = run["out"], run["metrics"]
    assert metrics == json.load(open(os.path.join(out, "metrics.json")))
    # Smoke: 8x8 maps, 2 codes of K=8 per frame, one test episode of 6 frames.
    assert metrics["bits_per_frame_stage2"] == 2 * 3.0
    assert metrics["code_shape"] == [8, 8] and metrics["test_frames"] == 6
    for key in ("test_stage2_map_accuracy_greedy", "test_stage2_map_accuracy_teacher_forced",
                "test_codebook_usage", "test_stage2_codebook_usage_code1",
                "test_stage2_codebook_usage_code2"):
        assert 0.0 <= metrics[key] <= 1.0, key
    for key in ("test_prior_bits_per_code", "test_stage2_prior_bits_per_code",
                "test_stage2_bits_per_code", "test_psnr_db", "test_stage2_psnr_db"):
        assert np.isfinite(metrics[key]), key
    models = {s: keras.models.load_model(os.path.join(out, f"{s}.keras")) for s in TRAINED}
    # The teacher-forced accuracy from the saved stage-2 model's logits on
    # the test maps on disk.
    maps = np.concatenate([np.asarray(b) for b in code_dataset(
        os.path.join(out, "codes", "test"), 64, keys="codes")])
    logits = np.asarray(models["stage2_vqvae"](maps))
    assert metrics["test_stage2_map_accuracy_teacher_forced"] == pytest.approx(
        (logits.argmax(-1) == maps).mean())
    # Each decoding of the map is measured; the config's (the consensus of
    # 4 draws) is the reported one, and is the library's decoding of the
    # test codes with the report's seed (one batch: 10**6).
    assert (metrics["stage2_decoding"], metrics["stage2_decoding_samples"]) == ("consensus", 4)
    for rule in ("greedy", "sampled", "consensus"):
        assert 0.0 <= metrics[f"test_stage2_map_accuracy_{rule}"] <= 1.0, rule
        assert np.isfinite(metrics[f"test_stage2_psnr_db_{rule}"]), rule
    assert np.isfinite(metrics["test_stage2_psnr_db_frame_mean"])
    assert metrics["test_stage2_psnr_db"] == metrics["test_stage2_psnr_db_consensus"]
    triples = np.asarray(models["stage2_vqvae"].encode_sequence(maps))
    consensus = np.asarray(models["stage2_vqvae"].decode(
        triples, decoding="consensus", num_samples=4, seed=10 ** 6))
    assert metrics["test_stage2_map_accuracy"] == pytest.approx((consensus == maps).mean())
    assert metrics["test_stage2_map_accuracy_consensus"] == metrics["test_stage2_map_accuracy"]
    # The sampling stage's draws: codes of the prior, maps of the decoder.
    drawn = np.load(os.path.join(out, "sample_codes.npz"))
    assert drawn["codes"].shape == (SMOKE.num_samples, 2)
    assert drawn["maps"].shape == (SMOKE.num_samples, 8, 8)
    assert drawn["codes"].max() < 8 and drawn["maps"].max() < SMOKE.num_embeddings
    for picture in ("samples.png", "reconstructions.png"):
        assert os.path.getsize(os.path.join(out, picture)) > 0
    # The chain from the saved models: frame -> 2 codes -> frame, and
    # prior -> codes -> map -> frame.
    chain = DMLabTwoStage(models["vqvae"], models["stage2_vqvae"],
                          models["stage2_prior"], models["prior"])
    frames = np.load(os.path.join(run["data"], "episode_000000_000002.npz"))["frames"]
    codes = chain.encode(frames)
    assert codes.shape == (6, 2) and codes.dtype == np.int32
    decoded = chain.decode(codes, greedy=True)
    assert decoded.shape == (6, 32, 32, 3) and decoded.dtype == np.float32
    samples, sample_codes, sample_maps = chain.sample(3, seed=1)
    assert samples.shape == (3, 32, 32, 3)
    assert sample_codes.shape == (3, 2) and sample_maps.shape == (3, 8, 8)
    # The maps are stage 2's decoding of the drawn codes, the frames stage
    # 1's decoding of the maps.
    np.testing.assert_array_equal(sample_maps, chain.decode_maps(sample_codes, seed=2))
    np.testing.assert_allclose(samples, np.asarray(models["vqvae"].decode(sample_maps)),
                               rtol=1e-5, atol=1e-6)


def test_a_map_head_stage2_is_measured_by_its_regression_decoding(run):
    """A stage 2 with the map head (built by the recipe from stage 1's
    codebook): the report adds the regression decoding, whose accuracy and
    PSNR are those of the library's decoding of the test codes."""
    from vq_zoo.data.codes import code_dataset
    from vq_zoo.metrics.image_quality import psnr
    from vq_zoo.models.dmlab import DMLabTwoStage

    out = run["out"]
    models = {s: keras.models.load_model(os.path.join(out, f"{s}.keras")) for s in TRAINED}
    vq1 = models["vqvae"]
    config = dataclasses.replace(SMOKE, stage2_map_weight=1.0, stage2_decoding="regression")
    recipe.check_config(config, run["data"])
    maps = np.concatenate([np.asarray(b) for b in code_dataset(
        os.path.join(out, "codes", "test"), 64, keys="codes")])
    stage2 = recipe.build_stage2(config, {"num_embeddings": SMOKE.num_embeddings,
                                          "code_shape": maps.shape[1:]},
                                 recipe.stage1_code_vectors(vq1))
    stage2.fit(maps, epochs=2, batch_size=3, verbose=0)
    # The vectors stage 1's decoder reads for its codes (a plain codebook's
    # rows here).
    np.testing.assert_array_equal(stage2.map_codebook, np.asarray(vq1.quantizer.codebook))
    frames = np.load(os.path.join(run["data"], "episode_000000_000002.npz"))["frames"]
    x = frames.astype("float32") / 255.0
    assert (np.asarray(vq1.encode(x)) == maps).all()  # the test episode's maps
    triples = np.asarray(stage2.encode_sequence(maps))
    chain = DMLabTwoStage(vq1, stage2, models["stage2_prior"], models["prior"])
    metrics = recipe.held_out_metrics(
        chain, models["prior"], models["stage2_prior"], [x], maps, triples,
        decoding="regression", num_samples=2)
    regressed = np.asarray(stage2.decode(triples, decoding="regression"))
    assert metrics["test_stage2_map_accuracy"] == pytest.approx((regressed == maps).mean())
    assert metrics["test_stage2_map_accuracy_regression"] == metrics["test_stage2_map_accuracy"]
    frames2 = np.asarray(vq1.decode(regressed), np.float64)
    assert metrics["test_stage2_psnr_db_regression"] == pytest.approx(
        psnr(np.mean((frames2 - x) ** 2)), abs=1e-4)
    assert np.isfinite(metrics["test_stage2_psnr_db_regression_unsnapped"])
    headless = dataclasses.replace(SMOKE, stage2_map_weight=0.0, stage2_head_epochs=0)
    with pytest.raises(ValueError, match="stage2_map_weight > 0"):
        recipe.check_config(dataclasses.replace(headless, stage2_decoding="regression"),
                            run["data"])
    with pytest.raises(ValueError, match="stage2_head_epochs=1 .* stage2_map_weight > 0"):
        recipe.check_config(dataclasses.replace(headless, stage2_head_epochs=1), run["data"])
    with pytest.raises(ValueError, match="stage2_head_object_weight=1.0 .* object_masks=true"):
        recipe.check_config(dataclasses.replace(SMOKE, object_masks=False), run["data"])


def test_a_data_dir_without_object_masks_is_refused_before_any_training(tmp_path):
    data = fake_episodes(str(tmp_path / "episodes"))
    path = os.path.join(data, "episode_000000_000001.npz")
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files if k != "objects"}
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match="episode_000000_000001.npz holds no object masks.*"
                                         "--objects"):
        recipe.check_config(SMOKE, data)
    recipe.check_config(dataclasses.replace(SMOKE, object_masks=False,
                                            stage2_head_object_weight=0.0), data)
    # An empty folder is one to render into (with the masks): not refused.
    empty = tmp_path / "empty"
    empty.mkdir()
    recipe.check_config(SMOKE, str(empty))


def test_the_report_measures_the_objects_each_stage_keeps(run, tmp_path):
    """The smoke config reads the episodes' object masks (`object_masks`):
    the report counts the test frames that show the red square and
    measures, on its pixels, stage 1's reconstructions and the 27-bit ones
    of the saved models (the reported consensus decoding, its seed);
    `objects.png` shows those frames; the head stage weighed the object
    pixels and kept its best epoch by that weighted loss."""
    from vq_zoo.metrics.objects import object_frame_stats
    from vq_zoo.metrics.objects import summarize_objects
    from vq_zoo.models.dmlab.family import load_run_stage

    out, metrics = run["out"], run["metrics"]
    test = np.load(os.path.join(run["data"], "episode_000000_000002.npz"))
    frames = test["frames"].astype("float32") / 255.0
    masks = np.unpackbits(test["objects"], axis=-1, count=32).astype(bool)
    assert metrics["test_object_frames"] == 3
    vq1 = keras.models.load_model(os.path.join(out, "vqvae.keras"))
    vq2 = load_run_stage(out, "stage2_vqvae")
    maps = np.asarray(vq1.encode(frames))
    stage1 = np.clip(np.asarray(vq1.decode(maps)), 0, 1)
    expected = summarize_objects(object_frame_stats(frames, stage1, masks))
    assert metrics["test_objects_kept"] == pytest.approx(expected["kept"])
    assert metrics["test_object_psnr_db"] == pytest.approx(expected["object_psnr_db"],
                                                           rel=1e-4)
    consensus = np.asarray(vq2.decode(np.asarray(vq2.encode_sequence(maps)),
                                      decoding="consensus", num_samples=4, seed=10 ** 6))
    both = np.clip(np.asarray(vq1.decode(consensus)), 0, 1)
    expected = summarize_objects(object_frame_stats(frames, both, masks))
    assert metrics["test_stage2_objects_kept"] == pytest.approx(expected["kept"])
    assert metrics["test_empty_frames"] == expected["empty_frames"] > 0
    assert metrics["test_stage2_psnr_db_empty_frames"] == pytest.approx(
        expected["empty_frame_psnr_db"], rel=1e-4)
    assert metrics["test_stage2_psnr_db_object_frames"] == pytest.approx(
        expected["frame_psnr_db"], rel=1e-4)
    assert os.path.getsize(os.path.join(out, "objects.png")) > 0
    logs = json.load(open(os.path.join(out, "stages", "stage2_head.json")))
    assert "val_weighted_frame_loss" in json.dumps(logs)
    # `objects_check` on the finished run: stage 1's figures are the report's,
    # the regressed map's those of the saved models.
    from vq_zoo.recipes.dmlab import objects_check

    figures, grid = str(tmp_path / "objects.json"), str(tmp_path / "objects.png")
    assert objects_check.main([out, run["data"], "--json", figures, "--grid", grid]) == 0
    figures = json.load(open(figures))
    assert figures["object_frames"] == 3
    assert figures["stage1_objects_kept"] == pytest.approx(metrics["test_objects_kept"])
    regressed = np.asarray(vq2.decode(np.asarray(vq2.encode_sequence(maps)),
                                      decoding="regression"))
    expected = summarize_objects(object_frame_stats(
        frames, np.clip(np.asarray(vq1.decode(regressed)), 0, 1), masks))
    assert figures["regression_objects_kept"] == pytest.approx(expected["kept"])
    assert figures["regression_psnr_db_empty_frames"] == pytest.approx(
        expected["empty_frame_psnr_db"], rel=1e-4)
    assert os.path.getsize(grid) > 0
    # Over all the split's frames, stage 1's PSNR is the report's.
    assert figures["stage1_psnr_db"] == pytest.approx(metrics["test_psnr_db"], rel=1e-5)
    # `--stage2 PRESET`: the figures of that preset's decoding (here the
    # run's stage 2 stored with every array in float16).
    from vq_zoo import presets
    from vq_zoo.metrics.image_quality import psnr

    presets.save_to_preset(vq2, tmp_path / "half", float16_min_values=1)
    half = presets.load_preset(tmp_path / "half")
    stored = str(tmp_path / "stored.json")
    assert objects_check.main([out, run["data"], "--json", stored,
                               "--stage2", str(tmp_path / "half")]) == 0
    stored = json.load(open(stored))
    assert stored["stage2"] == str(tmp_path / "half")
    test_frames = np.concatenate([
        np.load(os.path.join(run["data"], name))["frames"]
        for name in sorted(os.listdir(run["data"]))
        if name.startswith("episode_") and name.endswith("_000002.npz")]) / 255.0
    assert len(test_frames) == stored["frames"]
    half_maps = np.asarray(half.decode(np.asarray(half.encode_sequence(
        np.asarray(vq1.encode(test_frames.astype("float32"))))), decoding="regression"))
    error = np.mean((np.asarray(vq1.decode(half_maps), np.float64) - test_frames) ** 2)
    assert stored["regression_psnr_db"] == pytest.approx(psnr(error), rel=1e-4)
    with pytest.raises(SystemExit, match="the run's stage 2 is a"):
        presets.save_to_preset(vq1, tmp_path / "stage1")
        objects_check.main([out, run["data"], "--stage2", str(tmp_path / "stage1")])


def test_the_head_stage_tunes_the_map_head_alone_and_the_run_uses_it(run):
    """The smoke run's `stage2_head` stage: stage 2 tuned on the frames
    differs from `stage2_vqvae.keras` in its map head alone; the codes the
    run extracted are the untuned model's codes; the report's regression
    figures are the tuned model's; the run dir's family loads the tuned
    stage 2."""
    from vq_zoo.data.codes import code_dataset
    from vq_zoo.models.dmlab.family import DMLabFamily
    from vq_zoo.models.dmlab.family import load_run_stage

    out, metrics = run["out"], run["metrics"]
    untuned = keras.models.load_model(os.path.join(out, "stage2_vqvae.keras"))
    tuned = load_run_stage(out, "stage2_vqvae")
    head = {v.path for v in tuned.map_head.weights}
    before = {v.path: v.numpy() for v in untuned.weights}
    moved = {v.path for v in tuned.weights if not np.array_equal(v.numpy(), before[v.path])}
    assert moved and moved <= head
    record = json.load(open(os.path.join(out, "stages", "stage2_head.json")))
    assert record["epochs"] == SMOKE.stage2_head_epochs and "best_epoch" in record
    maps = np.concatenate([np.asarray(b) for b in code_dataset(
        os.path.join(out, "codes", "test"), 64, keys="codes")])
    levels = list(untuned.level_names)
    extracted = np.concatenate([np.stack([np.asarray(b[n]) for n in levels], -1)
                                for b in code_dataset(os.path.join(
                                    out, "codes", "stage2_codes", "test"), 64,
                                    keys=tuple(levels))])
    np.testing.assert_array_equal(extracted, np.asarray(untuned.encode_sequence(maps)))
    regressed = np.asarray(tuned.decode(extracted, decoding="regression"))
    assert metrics["test_stage2_map_accuracy_regression"] == pytest.approx(
        (regressed == maps).mean())
    family = DMLabFamily.from_run_dir(out)
    for a, b in zip(family.code_vqvae.map_head.weights, tuned.map_head.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def _striped(_builder, split, **kwargs):
    """Mocked tfds dmlab examples: 360x480 frames, red left half, blue
    right half."""
    import tensorflow as tf

    image = np.zeros((360, 480, 3), np.uint8)
    image[:, :240, 0] = 200
    image[:, 240:, 2] = 150
    return tf.data.Dataset.from_tensor_slices({
        "image": np.stack([image] * 4), "label": np.arange(4, dtype=np.int64),
        "filename": np.asarray([f"{split}_{i}.png" for i in range(4)])})


def test_tfds_dmlab_frames_on_mocked_data():
    import tensorflow_datasets as tfds

    from vq_zoo.data.dmlab import dmlab_frames

    with tfds.testing.mock_data(num_examples=4, as_dataset_fn=_striped):
        frames = np.stack([np.asarray(f) for f in dmlab_frames("validation")])
        config = dataclasses.replace(SMOKE, dataset="dmlab")
        data = recipe.make_data(config)
    assert frames.shape == (4, 84, 84, 3) and frames.dtype == np.uint8
    # Resized whole (4:3 squeezed, nothing cropped): red on the left 42
    # columns, blue on the right 42, the seam blended.
    np.testing.assert_array_equal(frames[:, :, :40, 0], 200)
    np.testing.assert_array_equal(frames[:, :, 44:, 2], 150)
    np.testing.assert_array_equal(frames[:, :, :40, 2], 0)
    train = np.concatenate([np.asarray(b) for b in data["splits"]["train"]])
    assert train.shape == (4, 32, 32, 3) and train.dtype == np.float32
    np.testing.assert_allclose(train[:, :, :14, 0], 200 / 255.0, rtol=1e-6)
    assert data["sample"].shape == (4, 32, 32, 3)


def test_stage1_from_a_preset_with_its_codebook_merged(tmp_path):
    from vq_zoo import presets
    from vq_zoo.recipes import common

    frames = np.load(os.path.join(fake_episodes(str(tmp_path / "episodes"), num=1),
                                  "episode_000000_000000.npz"))["frames"] / 255.0
    frames = frames.astype("float32")
    model = common.build_vqvae(SMOKE, 1.0, (32, 32, 3))
    presets.save_to_preset(model, str(tmp_path / "stage1"))
    config = dataclasses.replace(SMOKE, vqvae_preset=str(tmp_path / "stage1"),
                                 vqvae_merge_codes=3, vqvae_epochs=0)
    merged = recipe.build_stage1(config, 1.0, [frames[:4], frames[4:]])
    assert merged.quantizer.num_embeddings == 3
    # The preset's encoder and decoder, the codebook's vectors merged: each
    # frame's code vectors move to one of 3 centroids of the old ones.
    np.testing.assert_array_equal(np.asarray(merged.encoder(frames)),
                                  np.asarray(model.encoder(frames)))
    codes = np.asarray(merged.encode(frames))
    assert codes.shape == (6, 8, 8) and codes.max() < 3
    with pytest.raises(ValueError, match="`vqvae_epochs` may be 0 only with a `vqvae_preset`"):
        recipe.build_stage1(dataclasses.replace(SMOKE, vqvae_epochs=0), 1.0)


def test_the_shipped_presets_chain_and_agree():
    from vq_zoo import presets
    from vq_zoo.models.dmlab import DMLabTwoStage
    from vq_zoo.recipes.dmlab.export_presets import NAMES

    chain = DMLabTwoStage.from_presets()
    assert chain.bits_per_frame == 27.0
    k1 = chain.frame_vqvae.quantizer.num_embeddings
    config = presets.load_preset_metadata(NAMES["vqvae"])["config"]
    assert k1 == (config.get("vqvae_merge_codes") or config["num_embeddings"])
    assert chain.code_vqvae.decoder.num_embeddings == k1
    assert [q.num_embeddings for q in chain.code_vqvae.quantizers] == [512] * 3
    frames, codes, maps = chain.sample(2, seed=0)
    assert frames.shape == (2, 84, 84, 3) and codes.shape == (2, 3)
    assert maps.shape == (2, 21, 21) and maps.max() < k1
    # 27 bits in, a frame out, 27 bits back: the codes of a frame decoded
    # from codes are codes of the same three codebooks.
    again = chain.encode(np.clip(frames, 0, 1))
    assert again.shape == (2, 3) and again.dtype == np.int32 and again.max() < 512
    # The four cards report one run's held-out metrics.
    metas = [presets.load_preset_metadata(n) for n in NAMES.values()]
    assert all(m["metrics"] == metas[0]["metrics"] for m in metas)
    assert metas[0]["metrics"]["bits_per_frame_stage2"] == 27.0
    # Their reported decoding of the map is config small's, and the cards
    # say it.
    small = CONFIGS["small"]
    metrics = metas[0]["metrics"]
    assert (metrics["stage2_decoding"], metrics["stage2_decoding_samples"]) == (
        small.stage2_decoding, small.stage2_decoding_samples)
    card = open(os.path.join(presets.resolve_preset(NAMES["stage2_vqvae"]), "README.md")).read()
    assert ("frames after both stages within 4 dB PSNR of stage 1 (map regressed from the "
            "codes (map head))") in card
    assert small.stage2_decoding == "regression" and chain.decoding == "regression"
    # The shipped stage 2 has the map head, and the report's regression is
    # the library's: the maps of the sampled codes are the nearest stage-1
    # codes to the head's vectors.
    assert chain.code_vqvae.map_head is not None
    vectors = np.asarray(chain.code_vqvae.map_vectors(chain.code_vqvae.lookup(codes)))
    book = np.asarray(chain.frame_vqvae.quantizer.codebook)
    nearest = ((vectors[..., None, :] - book) ** 2).sum(-1).argmin(-1)
    np.testing.assert_array_equal(maps, nearest)


def test_vq_zoo_export_writes_the_four_presets_with_the_notes(run, tmp_path, capsys):
    """`vq-zoo export RUN --dest D --notes FILE`, the one export command:
    the four presets of the set, each card naming that command and carrying
    the notes; a notes file that is not there is one line, status 2."""
    from vq_zoo import cli
    from vq_zoo import presets
    from vq_zoo.models.dmlab.family import load_run_stage
    from vq_zoo.recipes.dmlab.export_presets import NAMES

    from vq_zoo.pipeline.run_dir import open_run_config, record_invocation

    # The run's record as `vq-zoo train dmlab --config smoke` writes it (the
    # fixture trained through the Python API, which records none).
    record = open_run_config(run["out"], SMOKE, {
        "recipe": "dmlab", "config_name": "smoke",
        "command": f"vq-zoo train dmlab --config smoke --out-dir {run['out']}"})
    record_invocation(run["out"], record, started=time.time())
    notes = tmp_path / "NOTES.md"
    notes.write_text("What the grid shows: *toy* frames, a moving band.\n")
    dest = tmp_path / "presets"
    assert cli.main(["export", run["out"], "--dest", str(dest), "--notes", str(notes)]) == 0
    # The smoke run's sizes, from its config and its measured metrics: 32x32
    # frames, 8x8 maps of K=16, 2 codes of K=8 per frame (6 bits).
    metrics = run["metrics"]
    frame = f"{SMOKE.image_size}x{SMOKE.image_size}"
    code_map = "x".join(map(str, metrics["code_shape"]))
    latents, k2 = SMOKE.stage2_num_latents, SMOKE.stage2_num_embeddings
    bits = metrics["bits_per_frame_stage2"]
    assert (frame, code_map, latents, k2, bits) == ("32x32", "8x8", 2, 8, 6.0)
    words = {
        "vqvae": f"a VQ-VAE from {frame} RGB frames to {code_map} maps of "
                 f"K={SMOKE.num_embeddings} codes.",
        "prior": f"prior over the {code_map} code maps",
        "stage2_vqvae": f"from an {code_map} code map to {latents} latent vectors, each "
                        f"quantised by its own codebook of {k2} ({bits:.0f} bits per frame)",
        "stage2_prior": f"The prior over stage 2's {latents} codes: a causal gated 1D "
                        f"network of length {latents} over one shared vocabulary of {k2} "
                        "tokens.",
    }
    for stage, name in NAMES.items():
        card = (dest / name / "README.md").read_text()
        assert "What the grid shows: *toy* frames, a moving band." in card
        assert f"`vq-zoo export {run['out']} --dest {dest}`" in card
        assert "python -m vq_zoo.recipes" not in card and "Wall time None" not in card
        # The card and the recorded description say the smoke run's sizes,
        # not the shipped small set's.
        assert words[stage] in card.split("\n\n")[1].replace("\n", " "), stage
        description = presets.load_preset_metadata(str(dest / name))["description"]
        assert description == card.split("\n\n")[1].replace(f"K={SMOKE.num_embeddings} ", "")
        assert f"(frame -> {code_map} codes -> {latents} codes and\nback" in card
        assert f"{bits:.0f}-bit\nreconstructions" in card
        assert f"rendered **at {frame} by" in card and "config `smoke` of" in card
        positions = metrics["code_shape"][0] * metrics["code_shape"][1]
        assert (f"An {code_map} map is {positions} x "
                f"{np.log2(SMOKE.num_embeddings):.0f} bits") in card
        assert f"an {k2}-way\n  vocabulary and {k2}^{latents} combinations" in card
        for shipped in ("84x84", "21x21", "21, 21", "27 bits", "27-bit", "3 latent",
                        "3 codes", "3-code", "of 512", "512-way", "512 tokens",
                        "episodes 0-17", "config `small`"):
            assert shipped not in card, (stage, shipped)
            assert shipped not in description, (stage, shipped)
        model = presets.load_preset(str(dest / name))
        # Stage 2 as its head was tuned by the run's stage2_head stage.
        trained = load_run_stage(run["out"], stage)
        for a, b in zip(model.weights, trained.weights):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    capsys.readouterr()
    missing = tmp_path / "none.md"
    assert cli.main(["export", run["out"], "--dest", str(tmp_path / "other"),
                     "--notes", str(missing)]) == 2
    assert capsys.readouterr().err == (
        f"vq-zoo: error: --notes {missing}: file not found (expected a Markdown file of "
        "notes for the cards)\n")
    assert not (tmp_path / "other").exists()


def test_the_head_stages_cosine_schedule_sets_the_rate_each_epoch_and_on_resume():
    from vq_zoo.recipes.dmlab.recipe import head_schedule

    config = dataclasses.replace(SMOKE, stage2_head_epochs=3, stage2_head_learning_rate=0.4,
                                 stage2_head_lr_decay="cosine")
    assert head_schedule(dataclasses.replace(config, stage2_head_lr_decay="constant")) == []
    seen = []

    class Record(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            seen.append(float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)))

    def fit(initial_epoch):
        model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        model.compile(optimizer=keras.optimizers.SGD(0.4), loss="mse")
        x = np.ones((4, 2), np.float32)
        model.fit(x, x[:, :1], epochs=3, initial_epoch=initial_epoch, verbose=0,
                  callbacks=head_schedule(config) + [Record()])

    fit(0)
    # Half a cosine over 3 epochs: cos(0) = 1, cos(pi/3) = 1/2, cos(2pi/3) = -1/2.
    np.testing.assert_allclose(seen, [0.4, 0.3, 0.1], rtol=1e-6)
    seen.clear()
    fit(2)                                    # a run resumed at its last epoch
    np.testing.assert_allclose(seen, [0.1], rtol=1e-6)
