"""`vq-zoo sample` for the model families beyond one VQ-VAE and one prior:
VQ-VAE-2's levels, DeepMind Lab's two stages, the video prior and speech,
each checked against the library's own sampler on the shipped presets (the
command asks the preset's family, `vq_zoo.models.family`, for its
samples)."""

import os

import numpy as np
import pytest
import tensorflow as tf

from vq_zoo import cli

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PRETRAINED = os.path.join(REPO, "pretrained")


def read_png(path):
    return np.asarray(tf.io.decode_png(open(path, "rb").read()), np.float64) / 255.0


def tiles(grid, rows, columns, size):
    """The `rows x columns` images of a 1-pixel-bordered grid."""
    return [[grid[1 + (size + 1) * r:1 + (size + 1) * r + size,
                  1 + (size + 1) * c:1 + (size + 1) * c + size]
             for c in range(columns)] for r in range(rows)]


def preset(name):
    return os.path.join(PRETRAINED, name)


def test_any_preset_of_a_vqvae2_set_samples_every_level(tmp_path, capsys):
    """The top prior, then the bottom prior given the top codes, decoded by
    the VQ-VAE-2: the same picture from the set's VQ-VAE-2 and bottom-prior
    presets, and the picture of the library's level-by-level sampler for
    that seed."""
    from vq_zoo import presets
    from vq_zoo.models.vqvae2.sampling import sample_levels
    from vq_zoo.utils.images import image_grid

    outs = []
    for name in ("vqvae2_small_natural_64", "gated_pixelcnn_small_natural_64_bottom"):
        out = str(tmp_path / f"{name}.png")
        assert cli.main(["sample", preset(name), "--num", "3", "--seed", "5",
                         "--out", out]) == 0
        assert "top 8x8, bottom 16x16 codes each" in capsys.readouterr().out
        outs.append(open(out, "rb").read())
    assert outs[0] == outs[1]
    vqvae = presets.load_preset(preset("vqvae2_small_natural_64"))
    priors = {"top": presets.load_preset(preset("gated_pixelcnn_attention_small_natural_64_top")),
              "bottom": presets.load_preset(preset("gated_pixelcnn_small_natural_64_bottom"))}
    expected = image_grid(np.asarray(vqvae.decode(sample_levels(priors, 3, 5))), columns=3)
    got = read_png(str(tmp_path / "vqvae2_small_natural_64.png"))
    assert got.shape == expected.shape == (66, 196, 3)
    np.testing.assert_array_equal(np.round(got * 255), expected)
    assert cli.main(["sample", preset("vqvae2_small_natural_64"), "--label", "1"]) == 2
    assert "VQ-VAE-2 is unconditional: drop --label" in capsys.readouterr().err


def test_a_stage_2_preset_samples_frames_through_both_dmlab_stages(tmp_path, capsys):
    from vq_zoo.models.dmlab.dmlab_two_stage import DMLabTwoStage
    from vq_zoo.utils.images import image_grid

    names = ("gated_pixelcnn_1d_small_memory_maze_3", "vqvae_pixelcnn_small_memory_maze_21")
    outs = []
    for name in names:
        out = str(tmp_path / f"{name}.png")
        assert cli.main(["sample", preset(name), "--num", "2", "--seed", "3",
                         "--out", out]) == 0
        assert "3 codes each, decoded to 21x21 stage-1 maps" in capsys.readouterr().out
        outs.append(open(out, "rb").read())
    assert outs[0] == outs[1]
    chain = DMLabTwoStage.from_presets(
        preset("vqvae_small_memory_maze_84"), preset("vqvae_pixelcnn_small_memory_maze_21"),
        preset("gated_pixelcnn_1d_small_memory_maze_3"), None)
    frames, codes, maps = chain.sample(2, seed=3)
    assert codes.shape == (2, 3) and maps.shape == (2, 21, 21)
    expected = image_grid(np.asarray(frames), columns=2)
    got = read_png(str(tmp_path / f"{names[0]}.png"))
    assert got.shape == expected.shape == (86, 171, 3)
    np.testing.assert_array_equal(np.round(got * 255), expected)


@pytest.fixture(scope="module")
def context_frames(tmp_path_factory):
    """Three 64x64 frames: the first row of the video preset's own sample
    grid (held-out memory-maze context frames)."""
    from vq_zoo.utils.images import write_png

    grid = np.asarray(tf.io.decode_png(open(os.path.join(
        preset("gated_pixelcnn_video_small_memory_maze_64"), "samples.png"), "rb").read()))
    folder = tmp_path_factory.mktemp("context")
    paths = []
    for i, tile in enumerate(tiles(grid, 1, 3, 64)[0]):
        paths.append(str(folder / f"frame{i}.png"))
        write_png(paths[-1], np.ascontiguousarray(tile))
    return paths


def test_a_video_prior_continues_the_context_under_the_action(context_frames, tmp_path,
                                                              capsys):
    """A row per rollout: the context frames as given, then the frames the
    latent video model generates from them under the held action."""
    from vq_zoo.models.video.latent_video_model import LatentVideoModel

    out = str(tmp_path / "rollouts.png")
    assert cli.main(["sample", preset("gated_pixelcnn_video_small_memory_maze_64"),
                     "--context", *context_frames, "--action", "left", "--frames", "3",
                     "--num", "2", "--seed", "4", "--consensus", "1", "--out", out]) == 0
    assert "2 rollouts to" in capsys.readouterr().out
    grid = read_png(out)
    assert grid.shape == (1 + 2 * 65, 1 + 6 * 65, 3)
    rows = tiles(grid, 2, 6, 64)
    context = np.stack([read_png(p) for p in context_frames])
    video = LatentVideoModel.from_preset(preset("vqvae_small_memory_maze_64"),
                                         preset("gated_pixelcnn_video_small_memory_maze_64"))
    frames = np.repeat(np.round(context * 255).astype(np.uint8)[None], 2, axis=0)
    left = 2  # memory-maze's actions: noop, forward, left, ...
    expected = np.clip(np.asarray(video.rollout(
        frames, np.full((2, 3), left), seed=4, num_frames=3)), 0, 1)
    for r in range(2):
        for c in range(3):
            np.testing.assert_allclose(rows[r][c], context[c], atol=1e-6)
            assert np.max(np.abs(rows[r][3 + c] - expected[r, c])) <= 1 / 255 + 1e-6
    # Two rollouts of one context are two draws, not one.
    assert not np.array_equal(expected[0], expected[1])
    # Without --consensus: the decoding the preset's report measured, each
    # frame the consensus of 16 draws (its config's rollout_consensus).
    assert cli.main(["sample", preset("gated_pixelcnn_video_small_memory_maze_64"),
                     "--context", *context_frames, "--action", "left", "--frames", "3",
                     "--num", "2", "--seed", "4", "--out", out]) == 0
    assert "2 rollouts (each frame the consensus of 16 draws) to" in capsys.readouterr().out
    rows = tiles(read_png(out), 2, 6, 64)
    expected = np.clip(np.asarray(video.rollout(
        frames, np.full((2, 3), left), seed=4, num_frames=3, num_samples=16)), 0, 1)
    for r in range(2):
        for c in range(3):
            assert np.max(np.abs(rows[r][3 + c] - expected[r, c])) <= 1 / 255 + 1e-6


@pytest.mark.parametrize("extra, message", [
    ([], "pass --context with at least 2 frames (64x64 images, oldest first) and --action"),
    (["--action", "jump"], "--action jump: expected noop, forward, left, right, "
                           "forward_left, forward_right or an index in 0..5"),
    (["--action", "6"], "an index in 0..5"),
    (["--label", "1"], "a video prior is conditioned on actions: use --action"),
])
def test_video_sampling_errors_name_what_is_expected(context_frames, extra, message,
                                                     capsys):
    args = ["sample", preset("gated_pixelcnn_video_small_memory_maze_64")]
    if extra:
        args += ["--context", *context_frames[:2]]
    assert cli.main(args + extra) == 2
    assert message in capsys.readouterr().err


def test_encode_and_decode_every_level_of_a_vqvae2(tmp_path, capsys):
    """`encode` writes one array per level to an .npz, equal to the model's
    `encode_levels`; `decode` of it (or of its top level alone) equals the
    model's own decode; bad files are named."""
    from vq_zoo import presets
    from vq_zoo.utils.images import image_grid

    vqvae = presets.load_preset(preset("vqvae2_small_natural_64"))
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (2, 64, 64, 3), dtype=np.uint8)
    paths = []
    for i, image in enumerate(x):
        paths.append(str(tmp_path / f"x{i}.png"))
        open(paths[-1], "wb").write(tf.io.encode_png(image).numpy())
    name = preset("vqvae2_small_natural_64")
    assert cli.main(["encode", name, *paths, "--out", str(tmp_path / "codes.npy")]) == 0
    assert "top (2, 8, 8), bottom (2, 16, 16)" in capsys.readouterr().out
    with np.load(tmp_path / "codes.npz") as f:
        codes = {k: f[k] for k in f.files}
    expected = vqvae.encode_levels(x / 255.0)
    assert sorted(codes) == ["bottom", "top"]
    for level in codes:
        np.testing.assert_array_equal(codes[level], expected[level])
    assert cli.main(["decode", str(tmp_path / "codes.npz"), "--model", name,
                     "--out", str(tmp_path / "d.png")]) == 0
    got = np.asarray(tf.io.decode_png(open(tmp_path / "d.png", "rb").read()))
    np.testing.assert_array_equal(got, image_grid(np.asarray(vqvae.decode(codes)), columns=2))
    np.savez(tmp_path / "top.npz", top=codes["top"])
    assert cli.main(["decode", str(tmp_path / "top.npz"), "--model", name,
                     "--out", str(tmp_path / "t.png")]) == 0
    got = np.asarray(tf.io.decode_png(open(tmp_path / "t.png", "rb").read()))
    np.testing.assert_array_equal(
        got, image_grid(np.asarray(vqvae.decode({"top": codes["top"]})), columns=2))
    capsys.readouterr()
    np.savez(tmp_path / "bad.npz", top=codes["top"], bottom=codes["bottom"] + 1000)
    assert cli.main(["decode", str(tmp_path / "bad.npz"), "--model", name]) == 1
    assert "bottom codes must be in [0, 128)" in capsys.readouterr().err
    np.save(tmp_path / "one.npy", codes["top"])
    assert cli.main(["decode", str(tmp_path / "one.npy"), "--model", name]) == 1
    assert "has the code levels top, bottom: pass the .npz" in capsys.readouterr().err
    # DeepMind Lab's stage 2 alone (a .keras file) encodes stage 1's maps,
    # not images; its preset, of a set, encodes 84x84 frames through both
    # stages (cli_test), not these.
    stage2 = tmp_path / "stage2.keras"
    presets.load_preset(preset("vqvae_pixelcnn_small_memory_maze_21")).save(str(stage2))
    assert cli.main(["encode", str(stage2), paths[0]]) == 1
    assert "encodes maps of 32 integer codes" in capsys.readouterr().err
    assert cli.main(["encode", preset("vqvae_pixelcnn_small_memory_maze_21"), paths[0]]) == 1
    assert capsys.readouterr().err.endswith(
        "vqvae_pixelcnn_small_memory_maze_21 encodes 84x84 frames (to 3 codes each), "
        "got 64x64 images\n")


def test_speech_samples_are_the_family_s_audio_as_wavs(tmp_path, capsys):
    """One WAV per sample (`<stem>_<i>.wav`), each the speech family's
    audio for that seed and speaker, to 16-bit PCM."""
    import soundfile

    from vq_zoo.models.family import ModelFamily

    name = preset("vqvae_spectrogram_small_speech_16k")
    out = str(tmp_path / "s.wav")
    assert cli.main(["sample", name, "--num", "2", "--seed", "1", "--speaker", "flite_rms",
                     "--out", out]) == 0
    assert capsys.readouterr().out.strip().endswith(
        f"speakers flite_rms, flite_rms) to {tmp_path / 's'}_<i>.wav")
    expected = ModelFamily.from_preset(name).sample(2, seed=1, speaker="flite_rms")
    for i in range(2):
        # 16-bit PCM at full scale 32767: each sample the nearest integer
        # (half a step at most; float32 audio leaves a little more).
        pcm, rate = soundfile.read(str(tmp_path / f"s_{i}.wav"), dtype="int16")
        assert rate == expected.sample_rate == 16000
        np.testing.assert_array_less(np.abs(pcm - expected.audio[i] * 32767.0), 0.5 + 1e-3)
    assert cli.main(["sample", name, "--out", str(tmp_path / "s.png")]) == 2
    assert capsys.readouterr().err == ("vq-zoo: error: --out "
                                       f"{tmp_path / 's.png'}: a speech model writes WAV "
                                       "files (.wav)\n")


def test_a_preset_of_an_unknown_family_is_one_line(tmp_path, capsys):
    """A preset (or run dir) recording a model family this vq_zoo does not
    know: exit status 1 and one line naming it and the known ones."""
    import json
    import shutil

    folder = tmp_path / "newer"
    shutil.copytree(os.path.join(REPO, "tests", "goldens", "vqvae_tiny"), folder)
    meta = json.loads((folder / "metadata.json").read_text())
    meta["family"] = "diffusion"  # not hashed: config and weights are
    (folder / "metadata.json").write_text(json.dumps(meta))
    assert cli.main(["sample", str(folder), "--out", str(tmp_path / "s.png")]) == 1
    assert capsys.readouterr().err == (
        f"vq-zoo: error: {folder} records the model family 'diffusion', which this vq_zoo "
        "does not know (known families: dmlab, speech, video, vqvae, vqvae2); a newer "
        "vq_zoo may have made it\n")
    assert not (tmp_path / "s.png").exists()
