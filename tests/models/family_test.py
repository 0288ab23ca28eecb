"""Model families (`vq_zoo.models.family`): each shipped preset loads as the
family it belongs to, samples what the library's own samplers draw for the
same seed, describes itself as its card did, and a run dir or preset of a
family this vq_zoo does not know is one clear error."""

import json
import os
import shutil

import numpy as np
import pytest

import vq_zoo
from vq_zoo.models import family as family_module
from vq_zoo.models.family import ConditionError, FamilyError, ModelFamily

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PRETRAINED = os.path.join(REPO, "pretrained")
GOLDENS = os.path.join(REPO, "tests", "goldens")


def preset(name):
    return os.path.join(PRETRAINED, name)


def card_architecture(name):
    """The paragraph under `## Architecture` of a shipped card, up to the
    parameter count (what the card writer took from the model)."""
    text = open(os.path.join(preset(name), "README.md")).read()
    paragraph = text.split("## Architecture\n\n", 1)[1].split("\n\n", 1)[0]
    return paragraph.split(" Full Keras config")[0]


# What each shipped preset is, from its card and its recipe's README (not
# from the code that derives it).
SHIPPED = {
    "gated_pixelcnn_1d_small_memory_maze_3": "dmlab",
    "vqvae_pixelcnn_small_memory_maze_21": "dmlab",
    # Stage 1 of the DeepMind Lab set: a VQ-VAE and its map prior, the
    # one-stage baseline, sampled as an image pair.
    "gated_pixelcnn_small_memory_maze_21": "vqvae",
    "vqvae_small_memory_maze_84": "vqvae",
    "gated_pixelcnn_1d_small_speech_16k": "speech",
    "vqvae_spectrogram_small_speech_16k": "speech",
    "gated_pixelcnn_attention_small_natural_64_top": "vqvae2",
    "gated_pixelcnn_small_natural_64_bottom": "vqvae2",
    "vqvae2_small_natural_64": "vqvae2",
    "gated_pixelcnn_small_mnist_28": "vqvae",
    "vqvae_small_mnist_28": "vqvae",
    "gated_pixelcnn_small_natural_patches_32": "vqvae",
    "vqvae_small_natural_patches_32": "vqvae",
    "gated_pixelcnn_video_small_memory_maze_64": "video",
    "vqvae_small_memory_maze_64": "video",
}


def test_every_shipped_preset_has_its_family():
    shipped = sorted(n for n in os.listdir(PRETRAINED) if os.path.isdir(preset(n)))
    assert shipped == sorted(SHIPPED)  # a new preset gets a line above
    for name in shipped:
        assert family_module.family_name(preset(name)) == SHIPPED[name], name
    assert sorted(family_module.families()) == ["dmlab", "speech", "video", "vqvae",
                                                "vqvae2"]


def test_the_families_are_exported():
    for name, family in family_module.families().items():
        assert getattr(vq_zoo, family.__name__) is family, name
    assert vq_zoo.ModelFamily is ModelFamily


@pytest.fixture(scope="module")
def mnist():
    return ModelFamily.from_preset(preset("gated_pixelcnn_small_mnist_28"))


def test_image_family_samples_the_prior_decoded_by_the_vqvae(mnist):
    """Equal to the prior's own sampler and the VQ-VAE's decode for that
    seed (what `vq-zoo sample` did before families); the same seed gives the
    same samples, another seed others."""
    assert type(mnist) is vq_zoo.VQVAEFamily
    assert (type(mnist.vqvae), type(mnist.prior)) == (vq_zoo.VQVAE, vq_zoo.GatedPixelCNNPrior)
    samples = mnist.sample(3, seed=1, label=2)
    assert samples.images.shape == (3, 28, 28, 1) and samples.codes.shape == (3, 7, 7)
    assert 0 <= samples.images.min() and samples.images.max() <= 1
    prior, vqvae = mnist.prior, mnist.vqvae
    codes = prior.sample(3, condition=np.full((3,), 2, "int32"), seed=1)
    np.testing.assert_array_equal(samples.codes, codes)
    np.testing.assert_array_equal(samples.images, np.asarray(vqvae.decode(codes)))
    np.testing.assert_array_equal(mnist.sample(3, seed=1, label=2).images, samples.images)
    assert not np.array_equal(mnist.sample(3, seed=2, label=2).codes, samples.codes)
    assert samples.message("s.png") == "Wrote 3 samples to s.png"


def test_greedy_decoding_ignores_the_seed(mnist):
    first, second = (mnist.sample(2, seed=s, temperature=0, label=5).codes for s in (1, 7))
    np.testing.assert_array_equal(first, second)


@pytest.mark.parametrize("conditions, message", [
    ({}, "this prior is class-conditional: pass --label (0..9)"),
    ({"label": 10}, "--label 10: this prior's classes are 0..9"),
    ({"label": "cat"}, "--label cat: this model records no class names: give the class "
                       "index (0..9)"),
    ({"label": 1, "speaker": "bob"}, "--speaker is for speech models: use --label"),
    ({"label": 1, "action": "left"}, "--context and --action are for video priors"),
    ({"label": 1, "consensus": 4}, "--consensus is for video priors, not for this family"),
    ({"label": 1, "guidance": 2.0, "consensus": 4},
     "--consensus and --guidance are for video priors, not for this family"),
])
def test_image_family_conditions_are_named(mnist, conditions, message):
    with pytest.raises(ConditionError) as info:
        mnist.sample(2, **conditions)
    assert str(info.value) == message


def test_a_run_dir_and_a_preset_of_one_pair_sample_alike(tmp_path):
    """The golden tiny pair as a run dir (two .keras files) and as presets
    naming each other: one family, the same samples."""
    from vq_zoo import presets

    vqvae = presets.load_preset(os.path.join(GOLDENS, "vqvae_tiny"))
    prior = presets.load_preset(os.path.join(GOLDENS, "gated_pixelcnn_prior_tiny"))
    run = tmp_path / "run"
    run.mkdir()
    vqvae.save(str(run / "vqvae.keras"))
    prior.save(str(run / "prior.keras"))
    for name, src, other in (("tiny_vqvae", "vqvae_tiny", "tiny_prior"),
                             ("tiny_prior", "gated_pixelcnn_prior_tiny", "tiny_vqvae")):
        shutil.copytree(os.path.join(GOLDENS, src), tmp_path / name)
        meta = json.loads((tmp_path / name / "metadata.json").read_text())
        meta["companion_preset"] = other
        (tmp_path / name / "metadata.json").write_text(json.dumps(meta))
    from_run = ModelFamily.from_run_dir(str(run))
    from_preset = ModelFamily.from_preset(str(tmp_path / "tiny_vqvae"))
    assert type(from_run) is type(from_preset) is vq_zoo.VQVAEFamily
    a, b = from_run.sample(4, seed=3), from_preset.sample(4, seed=3)
    np.testing.assert_array_equal(a.codes, b.codes)
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.codes, prior.sample(4, seed=3))


@pytest.fixture(scope="module")
def vqvae2():
    return vq_zoo.VQVAE2Family.from_preset(preset("gated_pixelcnn_small_natural_64_bottom"))


# Also checked through `vq-zoo sample` in tests/cli_sample_test.py.
@pytest.mark.slow
def test_vqvae2_family_samples_every_level(vqvae2):
    from vq_zoo.models.vqvae2.sampling import sample_levels

    family = vqvae2
    assert list(family.priors) == ["top", "bottom"]
    samples = family.sample(2, seed=5)
    assert samples.images.shape == (2, 64, 64, 3)
    assert {k: v.shape for k, v in samples.codes.items()} == {"top": (2, 8, 8),
                                                             "bottom": (2, 16, 16)}
    expected = sample_levels(family.priors, 2, 5)
    for level in ("top", "bottom"):
        np.testing.assert_array_equal(samples.codes[level], expected[level])
    np.testing.assert_array_equal(samples.images,
                                  np.asarray(family.vqvae.decode(expected)))
    with pytest.raises(ConditionError, match="a VQ-VAE-2 is unconditional: drop --label"):
        family.sample(2, label=1)
    with pytest.raises(ConditionError, match="--speaker is not for a VQ-VAE-2"):
        family.sample(2, speaker="x")


@pytest.fixture(scope="module")
def dmlab():
    return ModelFamily.from_preset(preset("vqvae_pixelcnn_small_memory_maze_21"))


# Also checked through `vq-zoo sample` in tests/cli_sample_test.py.
@pytest.mark.slow
def test_dmlab_family_samples_through_both_stages(dmlab):
    from vq_zoo import DMLabTwoStage

    family = dmlab
    assert type(family) is vq_zoo.DMLabFamily
    assert [type(m).__name__ for m in family.models().values()] == [
        "VQVAE", "DMLabVQVAE", "GatedPixelCNN1DPrior"]
    samples = family.sample(2, seed=3)
    assert samples.images.shape == (2, 84, 84, 3) and samples.codes.shape == (2, 3)
    # The maps decoded as the set's run was configured to (its recorded
    # config: consensus of 16 draws), as the chain of the presets does.
    assert (family.chain.decoding, family.chain.num_samples) == ("consensus", 16)
    chain = DMLabTwoStage.from_presets(*(preset(n) for n in (
        "vqvae_small_memory_maze_84", "vqvae_pixelcnn_small_memory_maze_21",
        "gated_pixelcnn_1d_small_memory_maze_3")), map_prior=None)
    frames, codes, maps = chain.sample(2, seed=3)
    np.testing.assert_array_equal(samples.codes, codes)
    np.testing.assert_array_equal(samples.images, frames)
    np.testing.assert_array_equal(maps, chain.decode_maps(codes, seed=4,
                                                          decoding="consensus"))
    assert ("decoded to 21x21 stage-1 maps (consensus of 16 sampled maps)"
            in samples.message("f.png"))


@pytest.fixture(scope="module")
def video():
    return ModelFamily.from_preset(preset("vqvae_small_memory_maze_64"))


def context_frames():
    """Three 64x64 frames of held-out context: the first row of the video
    preset's own sample grid."""
    import tensorflow as tf

    grid = tf.io.decode_png(open(os.path.join(
        preset("gated_pixelcnn_video_small_memory_maze_64"), "samples.png"), "rb").read())
    grid = np.asarray(grid)
    return np.stack([grid[1:65, 1 + 65 * c:1 + 65 * c + 64] for c in range(3)])


# Also checked through `vq-zoo sample` in tests/cli_sample_test.py.
@pytest.mark.slow
def test_video_family_continues_the_context(video):
    from vq_zoo import LatentVideoModel

    assert type(video) is vq_zoo.LatentVideoFamily
    frames = context_frames()
    samples = video.sample(2, seed=4, context=frames, action="left", num_frames=3)
    assert samples.columns == 6 and samples.images.shape == (12, 64, 64, 3)
    assert samples.codes.shape == (2, 3, 16, 16)
    rows = samples.images.reshape(2, 6, 64, 64, 3)
    np.testing.assert_array_equal(rows[:, :3], np.repeat(frames[None] / np.float32(255), 2, 0))
    model = LatentVideoModel(video.vqvae, video.prior)
    expected = model.rollout(np.repeat(frames[None], 2, 0), np.full((2, 3), 2), seed=4,
                             num_frames=3)
    np.testing.assert_array_equal(rows[:, 3:], np.asarray(expected))
    # The same rollouts from explicit `actions`.
    again = video.sample(2, seed=4, context=frames, actions=np.full((2, 3), 2), num_frames=3)
    np.testing.assert_array_equal(again.images, samples.images)


@pytest.mark.parametrize("conditions, message", [
    ({}, "this prior continues a video: pass --context with at least 2 frames (64x64 "
         "images, oldest first) and --action"),
    ({"context": "frames", "action": "jump"},
     "--action jump: expected noop, forward, left, right, forward_left, forward_right or "
     "an index in 0..5"),
    ({"context": "frames", "label": 1}, "a video prior is conditioned on actions: use --action"),
    ({"context": "frames", "speaker": "x"},
     "--speaker is for speech models: a video prior takes --action"),
])
def test_video_family_conditions_are_named(video, conditions, message):
    conditions = {k: (context_frames() if v == "frames" else v) for k, v in conditions.items()}
    with pytest.raises(ConditionError) as info:
        video.sample(1, **conditions)
    assert str(info.value) == message


@pytest.fixture(scope="module")
def speech():
    return ModelFamily.from_preset(preset("gated_pixelcnn_1d_small_speech_16k"))


def test_speech_family_samples_a_speaker(speech):
    family = speech
    assert type(family) is vq_zoo.SpeechVQVAEFamily and family.output == "audio"
    prior, vqvae = family.prior, family.vqvae
    assert (type(prior), type(vqvae)) == (vq_zoo.GatedPixelCNN1DPrior,
                                          vq_zoo.SpectrogramVQVAE)
    samples = family.sample(2, seed=1, speaker="flite_rms")
    speaker = list(vqvae.decoder.speaker_names).index("flite_rms")
    speakers = np.full((2,), speaker, "int32")
    codes = prior.sample(2, condition=speakers, seed=1)
    expected = np.asarray(vqvae.decode(codes, condition=speakers, seed=1))[:, :, 0]
    np.testing.assert_array_equal(samples.codes, codes)
    np.testing.assert_array_equal(samples.audio, expected)
    assert samples.sample_rate == 16000 and samples.audio.ndim == 2
    assert "speakers flite_rms, flite_rms) to s_<i>.wav" in samples.message("s_<i>.wav")
    with pytest.raises(ConditionError, match="unknown speaker 'nobody'; known speakers:"):
        family.sample(1, speaker="nobody")
    with pytest.raises(ConditionError, match="--context is not for a speech model"):
        family.sample(1, context=["a.png"])


# ------------------------------------------------------------ describe
@pytest.mark.parametrize("name, members", [
    ("gated_pixelcnn_small_mnist_28", ["vqvae_small_mnist_28", "gated_pixelcnn_small_mnist_28"]),
    ("vqvae_small_natural_patches_32", ["vqvae_small_natural_patches_32",
                                        "gated_pixelcnn_small_natural_patches_32"]),
    ("vqvae2_small_natural_64", ["vqvae2_small_natural_64",
                                 "gated_pixelcnn_attention_small_natural_64_top",
                                 "gated_pixelcnn_small_natural_64_bottom"]),
])
def test_describe_says_what_the_default_cards_said(name, members, request):
    """These presets' cards were written by the default card writer before
    families existed: each member's paragraph is in `describe()`."""
    family = {"gated_pixelcnn_small_mnist_28": "mnist", "vqvae2_small_natural_64": "vqvae2"}
    text = (request.getfixturevalue(family[name]) if name in family
            else ModelFamily.from_preset(preset(name))).describe()
    for member in members:
        assert card_architecture(member) in text, member


def test_describe_says_what_the_speech_and_video_cards_say(speech, video):
    """The speech and video cards were written by their recipes: the
    family's architecture paragraph is theirs."""
    for name in ("vqvae_spectrogram_small_speech_16k", "gated_pixelcnn_1d_small_speech_16k"):
        assert speech.architecture() == card_architecture(name)
    for name in ("vqvae_small_memory_maze_64", "gated_pixelcnn_video_small_memory_maze_64"):
        assert video.architecture() == card_architecture(name)
    assert video.describe().startswith(video.architecture())


def test_the_card_writer_asks_the_families(dmlab, video):
    """`model_card.describe_model` words each class as the family that
    declares it: a DMLabVQVAE (a VQVAE subclass without a `quantizer`) is
    not described as a VQVAE, a LatentVideoPrior as the gated PixelCNN it
    is, a class no family declares by its name and size."""
    from vq_zoo.model_card import describe_model

    assert describe_model(dmlab.code_vqvae)["architecture"] == "A `DMLabVQVAE`."
    assert describe_model(dmlab.frame_vqvae)["architecture"].startswith(
        "84x84x3 inputs to 21x21 codes. Encoder: ")
    assert describe_model(video.prior)["architecture"].startswith(
        "4 gated PixelCNN layers of 32 filters (kernel 3), a 128-way softmax per code "
        "position of a 16x16 code map")
    one_d = dmlab.code_prior
    facts = describe_model(one_d)
    assert facts["architecture"] == "A `GatedPixelCNN1DPrior`."
    assert facts["parameter_count"] == one_d.count_params()


def test_each_autoencoder_s_codes_are_its_family_s(mnist, vqvae2, dmlab, speech, video):
    """`vq-zoo encode`, `decode` and `convert` load the autoencoder alone and
    ask the family whose autoencoder it is (`autoencoder_family`, found from
    the model as the families declare it): a VQ-VAE-2's codes are a dict of
    its levels, DeepMind Lab's stage 2 encodes codes, not images, and only
    the speech family converts speech."""
    find = family_module.autoencoder_family
    assert find(mnist.vqvae) is vq_zoo.VQVAEFamily
    assert find(dmlab.frame_vqvae) is vq_zoo.VQVAEFamily  # stage 1: an image VQ-VAE
    assert find(video.vqvae) is vq_zoo.VQVAEFamily  # its codes are an image VQ-VAE's
    assert find(vqvae2.vqvae) is vq_zoo.VQVAE2Family
    assert find(dmlab.code_vqvae) is vq_zoo.DMLabFamily
    assert find(speech.vqvae) is vq_zoo.SpeechVQVAEFamily
    assert find(mnist.prior) is ModelFamily  # no family's autoencoder
    from vq_zoo.models.wavenet.speech_vqvae import speech_vqvae

    wavenet = speech_vqvae(num_speakers=2, num_hiddens=8, embedding_dim=4, num_embeddings=16,
                           num_downsamples=3, filters=8, dilation_cycle=2, num_cycles=1,
                           crop_length=64)  # the paper's: a VQVAE with a WaveNet decoder
    assert type(wavenet) is vq_zoo.VQVAE and find(wavenet) is vq_zoo.SpeechVQVAEFamily

    images = np.random.default_rng(0).random((2, 64, 64, 3), "float32")
    family, model = find(vqvae2.vqvae), vqvae2.vqvae
    assert family.code_levels(model) == ["top", "bottom"]
    codes = family.encode_images(model, images)
    assert {k: v.shape for k, v in codes.items()} == {"top": (2, 8, 8), "bottom": (2, 16, 16)}
    np.testing.assert_array_equal(codes["bottom"], model.encode_levels(images)["bottom"])
    assert family.downsampling(model, (64, 64, 3)) == (8, 8)  # the top level's
    assert [family.num_codes(model, level) for level in codes] == list(model.num_embeddings)
    digits = np.random.default_rng(1).random((2, 28, 28, 1), "float32")
    family, model = find(mnist.vqvae), mnist.vqvae
    assert family.code_levels(model) is None
    codes = family.encode_images(model, digits)
    assert codes.shape == (2, 7, 7) and family.downsampling(model, (28, 28, 1)) == (4, 4)
    assert family.code_rank(model, (28, 28, 1)) == 2
    assert family.num_codes(model) == mnist.prior.num_embeddings
    np.testing.assert_array_equal(family.decode_codes(model, codes), model.decode(codes))

    with pytest.raises(FamilyError, match="^m encodes maps of 32 integer codes "
                                          "\\(another model's codes\\), not images$"):
        find(dmlab.code_vqvae).check_image_autoencoder(dmlab.code_vqvae, "m")
    vq_zoo.VQVAEFamily.check_image_autoencoder(mnist.vqvae, "m")
    with pytest.raises(FamilyError, match="^m is not a speech VQ-VAE \\(no speaker-"
                                          "conditioned speech decoder\\)$"):
        find(mnist.vqvae).convert_speech(mnist.vqvae, "m", "in.wav", "0")


def test_the_default_cards_are_written_again_byte_for_byte(vqvae2):
    """The shipped cards that the default card writer wrote (the natural
    patches pair, the VQ-VAE-2 set) come out of it again to the byte, from
    each preset's model and metadata.json: their families' words are the
    words the card writer had before it asked the families."""
    from vq_zoo.model_card import model_card

    pair = ModelFamily.from_preset(preset("vqvae_small_natural_patches_32"))
    models = {"vqvae_small_natural_patches_32": pair.vqvae,
              "gated_pixelcnn_small_natural_patches_32": pair.prior,
              "vqvae2_small_natural_64": vqvae2.vqvae,
              "gated_pixelcnn_attention_small_natural_64_top": vqvae2.priors["top"],
              "gated_pixelcnn_small_natural_64_bottom": vqvae2.priors["bottom"]}
    for name, model in models.items():
        with open(os.path.join(preset(name), "metadata.json")) as f:
            metadata = json.load(f)
        with open(os.path.join(preset(name), "README.md")) as f:
            shipped = f.read()
        assert model_card(name, model, metadata, list(metadata["extra_files"])) == shipped, name


def test_the_card_says_what_the_family_of_the_preset_says(monkeypatch):
    """The card's first sentence, its code and its reconstructions' caption
    are the preset's family's: the recorded family's where its metadata
    records one this vq_zoo knows, else the family its files show."""
    from vq_zoo import presets
    from vq_zoo.model_card import model_card

    monkeypatch.setattr(family_module, "_FAMILIES", dict(family_module.families()))

    @family_module.register_family("toy")
    class ToyFamily(ModelFamily):
        @classmethod
        def card_intro(cls, name, facts, metadata):
            return f"A toy `{facts['class_name']}` called {name}."

        @classmethod
        def card_usage(cls, name, facts, metadata):
            return ["toy = 1"]

        @classmethod
        def card_commands(cls, name, facts, metadata):
            return [f"vq-zoo toy {name}"]

        @classmethod
        def card_reconstructions(cls, facts, metadata):
            return f"Toy rows of {metadata['family']}:"

    model = presets.load_preset(os.path.join(GOLDENS, "vqvae_tiny"))
    card = model_card("t", model, {"family": "toy"}, files=["reconstructions.png"])
    assert card.startswith("# t\n\nA toy `VQVAE` called t.\n\n```python\ntoy = 1\n```\n\n"
                           "```bash\nvq-zoo toy t\n```\n\n## Architecture")
    assert "\nToy rows of toy:\n\n![reconstructions](reconstructions.png)\n" in card
    for metadata in ({}, {"family": "diffusion"}):  # none, unknown: the files decide
        card = model_card("t", model, metadata, files=["reconstructions.png"])
        assert card.startswith("# t\n\nA VQ-VAE (arXiv:1711.00937): images to 4x4 maps of ")
        assert ("\nHeld-out images (odd rows) and their reconstructions (even rows):\n\n"
                "![reconstructions]") in card
    # A VQ-VAE-2 set names its three presets; a VQ-VAE-2 family preset that
    # names none is worded as one model.
    card = model_card("t", model, {"family": "vqvae2", "vqvae_preset": "a",
                                   "prior_preset": "b", "bottom_prior_preset": "t"})
    assert "This preset is the bottom prior of three that work together" in card
    assert model_card("t", model, {"family": "vqvae2"}) == model_card("t", model, {})


# ------------------------------------------------- unknown and recorded
def copy_preset(tmp_path, source, family=None):
    """A copy of the preset folder `source` recording `family` and no
    companion."""
    target = tmp_path / os.path.basename(source)
    shutil.copytree(source, target)
    meta = json.loads((target / "metadata.json").read_text())
    if family is not None:
        meta["family"] = family  # not hashed: config and weights are
    meta.pop("companion_preset", None)
    (target / "metadata.json").write_text(json.dumps(meta))
    return target


def test_an_unknown_family_is_one_clear_error(tmp_path):
    folder = copy_preset(tmp_path, os.path.join(GOLDENS, "vqvae_tiny"), family="diffusion")
    with pytest.raises(FamilyError) as info:
        ModelFamily.from_preset(str(folder))
    assert str(info.value) == (
        f"{folder} records the model family 'diffusion', which this vq_zoo does not know "
        "(known families: dmlab, speech, video, vqvae, vqvae2); a newer vq_zoo may have "
        "made it")
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"recipe": "x", "family": "diffusion"}))
    with pytest.raises(FamilyError, match=f"{run} records the model family 'diffusion'"):
        ModelFamily.load(str(run))


def test_a_recorded_family_is_what_loads(tmp_path, vqvae2):
    """The `family` field decides, not the files: a one-level VQ-VAE preset
    recorded as a VQ-VAE-2 set goes to that family's loader (which names
    what the set lacks); a family class refuses a preset of another, and
    the image family a VQ-VAE-2."""
    folder = copy_preset(tmp_path, os.path.join(GOLDENS, "vqvae_tiny"), family="vqvae2")
    assert family_module.family_name(str(folder)) == "vqvae2"
    with pytest.raises(FamilyError, match="names no vqvae_preset in its metadata.json"):
        ModelFamily.from_preset(str(folder))
    with pytest.raises(FamilyError, match="holds a 'vqvae2' model family, not 'vqvae'"):
        vq_zoo.VQVAEFamily.from_preset(preset("vqvae2_small_natural_64"))
    with pytest.raises(FamilyError, match="VQVAEFamily needs a VQ-VAE with one level of "
                                          "codes \\(a `quantizer`\\), got a VQVAE2"):
        vq_zoo.VQVAEFamily(vqvae2.vqvae, vqvae2.priors["top"])


def test_a_new_family_is_found_by_its_registered_name(tmp_path, monkeypatch):
    """A family registered in its own module loads the presets that record
    its name; a second class under one name is refused."""
    monkeypatch.setattr(family_module, "_FAMILIES", dict(family_module.families()))

    @family_module.register_family("toy")
    class ToyFamily(ModelFamily):
        members = ("model",)

        def __init__(self, model):
            self.model = model

        @classmethod
        def _from_preset(cls, handle, metadata):
            return cls(family_module.load_preset_model(handle))

        def sample(self, num, seed=0, temperature=1.0, **conditions):
            self._refuse("a toy", conditions)
            return family_module.Samples(images=np.zeros((num, 2, 2, 1)), what=f"{num} toys")

    folder = copy_preset(tmp_path, os.path.join(GOLDENS, "vqvae_tiny"), family="toy")
    family = ModelFamily.from_preset(str(folder))
    assert type(family) is ToyFamily
    assert family.sample(2).message("t.png") == "Wrote 2 toys to t.png"
    assert "- model (`VQVAE`): 8x8x3 inputs to " in family.describe()
    with pytest.raises(ConditionError, match="a toy is unconditional: drop --label"):
        family.sample(1, label=0)
    with pytest.raises(ValueError, match="model family 'toy' is registered twice"):
        @family_module.register_family("toy")
        class OtherToy(ModelFamily):
            pass
