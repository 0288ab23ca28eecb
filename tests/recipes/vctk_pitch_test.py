"""The speech recipe's `pitch_condition` and `vocoder` (on, with WORLD, in
the shipped `small` config only): the config fields, crops and chunks that
carry their own contour (and WORLD features), the refusals, and (slow) the
smoke config end to end with them, exported, sampled and converted."""

import dataclasses
import json

import numpy as np
import pytest


def test_config_fields_round_trip_and_only_small_voices_with_world():
    from vq_zoo.recipe import get_recipe
    from vq_zoo.recipes.vctk.config import CONFIGS, SpeechConfig

    assert [n for n, c in CONFIGS.items() if c.pitch_condition] == ["small"]
    assert [n for n, c in CONFIGS.items() if c.vocoder == "world"] == ["small"]
    recipe = get_recipe("vctk")
    _, on = recipe.config("smoke", ["pitch_condition=true", "vocoder=world"])
    assert on.pitch_condition is True and on.vocoder == "world"
    assert on == dataclasses.replace(CONFIGS["smoke"], pitch_condition=True, vocoder="world")
    assert SpeechConfig(**json.loads(json.dumps(dataclasses.asdict(on)))) == on


def test_world_without_the_pitch_condition_is_refused():
    from vq_zoo.recipes.vctk import recipe
    from vq_zoo.recipes.vctk.config import CONFIGS

    with pytest.raises(ValueError, match="vocoder='world' needs decoder='spectrogram' and "
                                         "pitch_condition=True"):
        recipe.check_config(dataclasses.replace(CONFIGS["smoke"], vocoder="world"))
    recipe.check_config(dataclasses.replace(CONFIGS["smoke"], vocoder="world",
                                            pitch_condition=True))


def test_split_frames_parts_the_contour_from_the_world_features():
    from vq_zoo.recipes.vctk.recipe import contours_only, split_frames

    audio, speakers = np.zeros((2, 320, 1), "float32"), np.zeros(2, "int32")
    rows = np.arange(2 * 2 * 7, dtype="float32").reshape(2, 2, 7)
    x, y, contour, features = split_frames((audio, speakers, rows))
    np.testing.assert_array_equal(contour, rows[..., :2])
    np.testing.assert_array_equal(features, rows[..., 2:])
    plain = (audio, speakers, rows[..., :2])
    assert split_frames(plain) is plain  # a contour alone stays as it is
    assert [c.shape for c in contours_only(list(rows))] == [(2, 2), (2, 2)]


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


@pytest.mark.slow
@pytest.mark.parametrize("vocoder", ["griffin_lim", "world"])
def test_smoke_config_with_pitch_end_to_end(tmp_path, capsys, vocoder):
    """Every stage with the pitch condition (and either vocoder); the run
    exports, and its preset samples and converts a file in one command."""
    import keras
    import librosa  # noqa: F401  (Griffin-Lim; CI installs the speech extras)

    from vq_zoo.cli import main
    from vq_zoo.utils.audio import read_audio

    out = tmp_path / "run"
    args = ["train", "vctk", "--config", "smoke", "--out-dir", str(out),
            "--set", "pitch_condition=true", "--set", f"vocoder={vocoder}"]
    assert main(args) == 0
    with open(out / "metrics.json") as f:
        metrics = json.load(f)
    assert metrics["pitch_condition"] is True
    assert 0 <= metrics["voiced_fraction_reconstructions"] <= 1
    assert "wer_reconstructions" in metrics
    # Every voice reads the same held-out sentences, so the pooled word
    # error rate of the conversions is the mean of the by-source rates.
    by_source = metrics["wer_by_speaker"]["conversions_by_source"]
    assert len(by_source) == 2
    assert np.isclose(np.mean(list(by_source.values())), metrics["wer_conversions"])
    cache = "world_{}.npz" if vocoder == "world" else "pitch_{}.npz"
    for split in ("train", "validation", "test"):
        assert (out / cache.format(split)).exists()
    vqvae = keras.models.load_model(out / "vqvae.keras")
    assert vqvae.decoder.pitch_condition and len(vqvae.decoder.pitch_statistics) == 2
    assert vqvae.decoder.vocoder == vocoder and len(vqvae.decoder.sample_contours) == 2
    assert (out / "logs" / "vqvae" / "audio").is_dir()  # the audio board ran
    capsys.readouterr()
    assert main(args) == 0
    assert capsys.readouterr().out.count("finished earlier") == 6
    presets = tmp_path / "presets"
    assert main(["export", str(out), "--dest", str(presets)]) == 0
    preset = presets / "vqvae_spectrogram_small_speech_16k"
    wav = sorted((out / "corpus" / "wav").glob("*/*.wav"))[0]
    converted = tmp_path / "c.wav"
    assert main(["convert", str(preset), "--input", str(wav), "--speaker",
                 "espeak_us_m3_p35", "--output", str(converted)]) == 0
    audio, rate = read_audio(str(converted))
    source, _ = read_audio(str(wav))
    assert rate == 16000 and audio.size == source.size and np.abs(audio).max() > 0
    assert main(["sample", str(preset), "--num", "2", "--out",
                 str(tmp_path / "s.wav")]) == 0
    assert (tmp_path / "s_0.wav").exists() and (tmp_path / "s_1.wav").exists()


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


def test_frequency_warp_needs_the_spectrogram_encoder():
    from vq_zoo.recipes.vctk import recipe
    from vq_zoo.recipes.vctk.config import CONFIGS

    config = dataclasses.replace(CONFIGS["smoke_wavenet"], frequency_warp=0.1)
    with pytest.raises(ValueError, match="frequency_warp=0.1 perturbs the spectrogram"):
        recipe.check_config(config)
    with pytest.raises(ValueError, match="`frequency_warp` must be a number in \\[0, 0.5\\)"):
        recipe.check_config(dataclasses.replace(CONFIGS["smoke"], frequency_warp=0.7))
    recipe.check_config(dataclasses.replace(CONFIGS["smoke"], frequency_warp=0.1))


def test_the_cycle_needs_the_world_decoder():
    from vq_zoo.recipes.vctk import recipe
    from vq_zoo.recipes.vctk.config import CONFIGS

    with pytest.raises(ValueError, match="cycle_weight=1.0 re-encodes the decoder's WORLD "
                                         "envelope: it needs decoder=spectrogram and "
                                         "vocoder=world, got decoder='spectrogram', "
                                         r"vocoder='griffin_lim' \(or set cycle_weight=0\)"):
        recipe.check_config(dataclasses.replace(CONFIGS["smoke"], cycle_weight=1.0))
    with pytest.raises(ValueError, match="decoder='wavenet'"):
        recipe.check_config(dataclasses.replace(CONFIGS["smoke_wavenet"], cycle_weight=1.0))
    world_smoke = dataclasses.replace(CONFIGS["smoke"], pitch_condition=True, vocoder="world",
                                      cycle_weight=1.0)
    recipe.check_config(world_smoke)
    model = recipe.build_vqvae(world_smoke, ["flite_slt", "espeak_us_m3_p35"])
    assert model.cycle_weight == 1.0 and "cycle_loss" in model.metrics_names
