"""The speech recipe's `pitch_condition` (off by default in every config):
the config field, crops and chunks that carry their own contour, the
refusals, and (slow) the smoke config end to end with it."""

import dataclasses
import json

import numpy as np
import pytest


def test_config_field_is_off_everywhere_and_round_trips():
    from vq_zoo.recipe import get_recipe
    from vq_zoo.recipes.vctk.config import CONFIGS, SpeechConfig

    assert all(not c.pitch_condition for c in CONFIGS.values())
    recipe = get_recipe("vctk")
    _, on = recipe.config("small", ["pitch_condition=true"])
    assert on.pitch_condition is True
    assert on == dataclasses.replace(CONFIGS["small"], pitch_condition=True)
    assert SpeechConfig(**json.loads(json.dumps(dataclasses.asdict(on)))) == on


def test_wavenet_with_pitch_is_refused():
    from vq_zoo.recipes.vctk import recipe
    from vq_zoo.recipes.vctk.config import CONFIGS

    config = dataclasses.replace(CONFIGS["smoke_wavenet"], pitch_condition=True)
    with pytest.raises(ValueError, match="pitch_condition=True needs decoder='spectrogram'"):
        recipe.check_config(config)
    # The spectrogram smoke config builds and runs a blank batch with it.
    recipe.check_config(dataclasses.replace(CONFIGS["smoke"], pitch_condition=True))


def indexed_utterances(sizes):
    """Audio whose samples give their own index, and contours whose rows
    give their frame index and utterance (row = frame + 1000 * utterance)."""
    audios = [(np.arange(n) / 2 ** 20).astype(np.float32) for n in sizes]
    pitch = [np.stack([np.arange(1 + n // 160) + 1000.0 * u,
                       np.ones(1 + n // 160)], axis=1).astype(np.float32)
             for u, n in enumerate(sizes)]
    return audios, np.arange(len(sizes), dtype="int32"), pitch


def test_crops_carry_their_own_contour():
    from vq_zoo.recipes.vctk.recipe import random_crops

    audios, speakers, pitch = indexed_utterances([9000, 20000, 3000])
    x, y, p = random_crops(audios, speakers, 3200, 64, np.random.default_rng(3), pitch, 160)
    assert x.shape == (64, 3200, 1) and p.shape == (64, 20, 2)
    for crop, u, contour in zip(x[..., 0], y, p):
        start = int(round(crop[0] * 2 ** 20))
        assert start % 160 == 0
        np.testing.assert_array_equal(crop[:min(3200, audios[u].size - start)],
                                      audios[u][start:start + 3200])
        frames = min(20, pitch[u].shape[0] - start // 160)
        np.testing.assert_array_equal(contour[:frames, 0],
                                      start // 160 + np.arange(frames) + 1000 * u)
        assert not contour[frames:].any()  # past the utterance: unvoiced zeros
    # Without a contour: the same rng draws, the crops of old.
    x0, y0 = random_crops(audios, speakers, 3200, 64, np.random.default_rng(3))
    np.testing.assert_array_equal(y0, y)
    starts = [int(round(c[0] * 2 ** 20)) for c in x0[..., 0]]
    assert any(s % 160 for s in starts)


def test_chunks_carry_their_own_contour():
    from vq_zoo.recipes.vctk.recipe import chunks

    audios, speakers, pitch = indexed_utterances([7000, 2000])
    x, y, p = chunks(audios, speakers, 3200, pitch=pitch, frame_step=160)
    assert list(y) == [0, 0, 1] and p.shape == (3, 20, 2)
    np.testing.assert_array_equal(p[1, :, 0], 20 + np.arange(20))
    np.testing.assert_array_equal(p[2, :13, 0], 1000 + np.arange(13))
    assert not p[2, 13:].any()
    plain = chunks(audios, speakers, 3200)
    assert len(plain) == 2
    np.testing.assert_array_equal(plain[0], x)


def test_export_refuses_a_pitch_run(tmp_path):
    from vq_zoo.export.run_presets import RunExportError
    from vq_zoo.recipes.vctk.recipe import refuse_pitch_export

    (tmp_path / "config.json").write_text(json.dumps(
        {"recipe": "vctk", "config": {"pitch_condition": False}}))
    refuse_pitch_export(str(tmp_path))
    (tmp_path / "config.json").write_text(json.dumps(
        {"recipe": "vctk", "config": {"pitch_condition": True}}))
    with pytest.raises(RunExportError, match="export does not support such a run yet"):
        refuse_pitch_export(str(tmp_path))


def test_export_refuses_a_pitch_run_that_records_only_its_stages(tmp_path):
    from vq_zoo.export.run_presets import RunExportError
    from vq_zoo.recipes.vctk.recipe import refuse_pitch_export

    stages = tmp_path / "stages"
    stages.mkdir()
    (stages / "run.json").write_text(json.dumps(
        {"config": {"pitch_condition": True}, "stages": ["vqvae"]}))
    with pytest.raises(RunExportError, match="trained with pitch_condition=True"):
        refuse_pitch_export(str(tmp_path))
    # A config.json that is not JSON: the pipeline's record still tells.
    (tmp_path / "config.json").write_text('{"recipe": "vctk", "config": {')
    with pytest.raises(RunExportError, match="trained with pitch_condition=True"):
        refuse_pitch_export(str(tmp_path))
    (stages / "run.json").write_text(json.dumps({"config": {"pitch_condition": False}}))
    refuse_pitch_export(str(tmp_path))


def test_export_check_reads_corrupt_records_without_a_traceback(tmp_path):
    from vq_zoo.recipes.vctk.recipe import refuse_pitch_export

    (tmp_path / "config.json").write_text('{"recipe": "vctk", "config": {"pitch_')
    refuse_pitch_export(str(tmp_path))  # nothing recorded to refuse: no JSONDecodeError
    (tmp_path / "config.json").write_text("[1, 2]")  # JSON, but not a record
    refuse_pitch_export(str(tmp_path))


@pytest.mark.slow
def test_smoke_config_with_pitch_end_to_end(tmp_path, capsys):
    """Every stage with the pitch condition; the commands that cannot pass a
    contour refuse the run in one line."""
    import keras
    import librosa  # noqa: F401  (Griffin-Lim; CI installs the speech extras)

    from vq_zoo.cli import main

    out = tmp_path / "run"
    args = ["train", "vctk", "--config", "smoke", "--out-dir", str(out),
            "--set", "pitch_condition=true"]
    assert main(args) == 0
    with open(out / "metrics.json") as f:
        metrics = json.load(f)
    assert metrics["pitch_condition"] is True
    assert 0 <= metrics["voiced_fraction_reconstructions"] <= 1
    assert "wer_reconstructions" in metrics
    for split in ("train", "validation", "test"):
        assert (out / f"pitch_{split}.npz").exists()
    vqvae = keras.models.load_model(out / "vqvae.keras")
    assert vqvae.decoder.pitch_condition and len(vqvae.decoder.pitch_statistics) == 2
    capsys.readouterr()
    assert main(args) == 0
    assert capsys.readouterr().out.count("finished earlier") == 6
    for command in (["export", str(out), "--dest", str(tmp_path / "presets")],
                    ["sample", str(out), "--num", "1", "--out", str(tmp_path / "s.wav")]):
        assert main(command) == 1
        err = capsys.readouterr().err
        assert err.strip().count("\n") == 0 and "pitch" in err, err
    assert not (tmp_path / "presets").exists()


def test_pitch_ablation_sees_only_what_the_decoder_reads():
    import keras

    from vq_zoo.models.spectrogram.spectrogram_vqvae import SpectrogramVQVAE
    from vq_zoo.recipes.vctk.evaluation import pitch_ablation

    keras.utils.set_random_seed(0)
    model = SpectrogramVQVAE.speech_model(
        num_speakers=2, num_hiddens=8, embedding_dim=4, num_embeddings=8, encoder_layers=1,
        num_mels=16, filters=8, num_blocks=2, crop_length=1280, seed=0,
        pitch_condition=True, pitch_statistics=((5.0, 0.1), (5.5, 0.1)))
    rng = np.random.default_rng(0)
    audios = [rng.uniform(-0.3, 0.3, n).astype(np.float32) for n in (3000, 4000, 2600)]
    contours = [np.stack([rng.normal(size=1 + a.size // 160),
                          rng.integers(0, 2, 1 + a.size // 160)], 1).astype(np.float32)
                for a in audios]
    for w in model.decoder.pitch_conv.weights:  # a decoder that ignores the contour
        w.assign(np.zeros(w.shape, "float32"))
    flat = pitch_ablation(model, audios, [0, 1, 0], contours, 1280)
    assert set(flat) == {"true", "flat_log_f0", "unvoiced", "another_chunk"}
    np.testing.assert_allclose(list(flat.values()), flat["true"], rtol=1e-6)
    kernel = model.decoder.pitch_conv.weights[0]
    kernel.assign(rng.normal(size=kernel.shape).astype("float32"))
    read = pitch_ablation(model, audios, [0, 1, 0], contours, 1280)
    assert abs(read["unvoiced"] - read["true"]) > 1e-3
    assert abs(read["flat_log_f0"] - read["true"]) > 1e-3


def test_pitch_following_tells_a_copy_from_a_monotone():
    from vq_zoo.recipes.vctk.evaluation import pitch_following

    rate = 16000
    track = 120 + 30 * np.sin(2 * np.pi * 1.5 * np.arange(rate) / rate)
    phase = 2 * np.pi * np.cumsum(track) / rate
    voice = (0.3 * np.sin(phase) + 0.1 * np.sin(2 * phase)).astype(np.float32)
    monotone = (0.3 * np.sin(2 * np.pi * 120 * np.arange(rate) / rate)).astype(np.float32)
    same = pitch_following([voice], [voice])
    assert same["utterances"] == 1 and same["correlation"] > 0.999
    assert abs(same["spread_ratio"] - 1) < 1e-6 and same["voiced"] > 0.9
    flat = pitch_following([voice], [monotone])
    assert flat["spread_ratio"] < 0.1
    silent = pitch_following([voice], [np.zeros(rate, np.float32)])
    assert silent["voiced"] == 0 and silent["utterances"] == 0
