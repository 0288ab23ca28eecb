"""The DeepMind Lab family's card words: a set's cards say its own run's
sizes (frames, code maps, stage 2's codes and codebooks, bits per frame)
from the config its metadata records, and the shipped set's where it
records none."""

import dataclasses
import json
import os

import pytest

from vq_zoo.models.dmlab.family import DMLabFamily
from vq_zoo.recipes import get_recipe

PRETRAINED = os.path.join(os.path.dirname(__file__), "..", "..", "..", "pretrained")
NAMES = {"vqvae": "v", "prior": "p", "stage2_vqvae": "s2", "stage2_prior": "s2p"}
METRICS = {"stage2_decoding": "consensus", "stage2_decoding_samples": 4}
SHIPPED = ("84x84", "21x21", "21, 21", "27 bits", "27-bit", "3 latent", "3 codes",
           "3-code", "of 512", "512 tokens")


def _metadata(config):
    return {"two_stage_presets": NAMES, "metrics": METRICS,
            **({} if config is None else {"config": config})}


def _words(metadata, k1=None):
    """Every preset's introduction and the pictures' caption, one text."""
    facts = {} if k1 is None else {"num_embeddings": k1}
    return "\n".join([DMLabFamily.card_intro(name, facts, metadata) for name in NAMES.values()]
                     + [DMLabFamily.card_reconstructions({}, metadata)])


def test_a_smoke_sets_cards_say_its_own_sizes():
    _, configs = get_recipe("dmlab")
    smoke = configs["smoke"]  # 32x32 frames -> 8x8 maps of 16; 2 codes of K=8 (6 bits)
    text = _words(_metadata(dataclasses.asdict(smoke))).replace("\n", " ")
    assert (smoke.image_size, smoke.num_downsamples, smoke.stage2_num_latents,
            smoke.stage2_num_embeddings) == (32, 2, 2, 8)
    for words in ("a VQ-VAE from 32x32 RGB frames to 8x8 maps of K=16 codes.",
                  "prior over the 8x8 code maps",
                  "an encoder from an 8x8 code map to 2 latent vectors, each quantised by "
                  "its own codebook of 8 (6 bits per frame)",
                  "conditioned on the 2 quantised vectors",
                  "a causal gated 1D network of length 2 over one shared vocabulary of 8 "
                  "tokens",
                  "(frame -> 8x8 codes -> 2 codes and back; 2-code prior -> 8x8 map -> "
                  "frame)",
                  "stage-1 reconstructions (8x8 codes) | 6-bit reconstructions with the "
                  "consensus of 4 sampled maps | 6-bit",
                  "frames decoded from the 2-code prior's samples (2 codes -> a sampled "
                  "8x8 map"):
        assert words in text, words
    for shipped in SHIPPED:
        assert shipped not in text, shipped


def test_stage_1_k_is_the_merged_one_and_bits_need_not_be_whole():
    _, configs = get_recipe("dmlab")
    config = dataclasses.asdict(dataclasses.replace(
        configs["paper"], stage2_num_embeddings=500, num_embeddings=512,
        vqvae_preset="p", vqvae_merge_codes=48))
    text = _words(_metadata(config)).replace("\n", " ")
    # No K in the facts: the config's, after its merge.
    assert "84x84 RGB frames to 21x21 maps of K=48 codes." in text
    # 3 x log2(500) = 26.897 bits.
    assert "codebook of 500 (26.9 bits per frame)" in text
    assert "| 26.9-bit reconstructions with a sampled map" in text
    # The model's own K (the facts) wins over the config's.
    assert "maps of K=40 codes." in _words(_metadata(config), k1=40)


def test_a_set_that_records_no_config_is_worded_as_the_shipped_set():
    with open(os.path.join(PRETRAINED, "vqvae_pixelcnn_small_memory_maze_21",
                           "README.md")) as f:
        shipped = f.read().split("\n\n")[1]
    assert DMLabFamily.card_intro("s2", {}, _metadata(None)).split("\n\n")[0] == shipped
    text = _words(_metadata(None)).replace("\n", " ")
    for words in ("84x84 RGB frames to 21x21 maps of codes.", "3 latent vectors",
                  "codebook of 512 (27 bits per frame)", "vocabulary of 512 tokens",
                  "| 27-bit reconstructions", "-> 3 codes and back; 3-code prior ->"):
        assert words in text, words


@pytest.mark.parametrize("number, article", [
    (8, "an"), (11, "an"), (18, "an"), (84, "an"), (800, "an"), (11000, "an"),
    (1, "a"), (16, "a"), (21, "a"), (110, "a"), (180, "a"), (512, "a")])
def test_the_article_before_a_number_is_as_it_is_read(number, article):
    from vq_zoo.models.dmlab.family import indefinite_article

    assert indefinite_article(number) == article


def test_the_shipped_sets_descriptions_are_its_words():
    from vq_zoo.models.dmlab.family import SET_ROLES
    from vq_zoo.models.dmlab.family import set_roles

    for role, name in json.load(open(os.path.join(
            PRETRAINED, "vqvae_pixelcnn_small_memory_maze_21",
            "metadata.json")))["two_stage_presets"].items():
        with open(os.path.join(PRETRAINED, name, "metadata.json")) as f:
            metadata = json.load(f)
        assert metadata["description"] == SET_ROLES[role] == set_roles(
            metadata["config"])[role], role
