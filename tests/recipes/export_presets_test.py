"""The cards of the shipped speech and DeepMind Lab presets, written again
by their recipes' exporters from each preset's own metadata and models,
are the shipped cards byte for byte: what the families say of their models
(`card_intro`, `card_usage`, `card_commands`, `card_reconstructions`) and
the run's figures the exporters add come out as they were shipped."""

import glob
import json
import os
import re

import pytest

from vq_zoo import presets

PRETRAINED = os.path.join(os.path.dirname(__file__), "..", "..", "pretrained")


def _metadata(name):
    with open(os.path.join(PRETRAINED, name, "metadata.json")) as f:
        return json.load(f)


def _card(name):
    with open(os.path.join(PRETRAINED, name, "README.md")) as f:
        return f.read()


def test_the_speech_cards_are_written_again_byte_for_byte():
    from vq_zoo.recipes.vctk import export_presets

    vqvae_name, prior_name = export_presets.VQVAE_PRESET, export_presets.PRIOR_PRESET
    vqvae = presets.load_preset(os.path.join(PRETRAINED, vqvae_name))
    prior = presets.load_preset(os.path.join(PRETRAINED, prior_name))
    for kind, name in (("vqvae", vqvae_name), ("prior", prior_name)):
        wavs = sorted(os.path.basename(p)
                      for p in glob.glob(os.path.join(PRETRAINED, name, "*.wav")))
        # The notes (`--notes FILE`) are not in the metadata: read back from
        # the shipped card; everything else is written from the metadata.
        shipped = _card(name)
        notes = (shipped.split("\n## Notes\n\n")[1].split("\n\n## Limitations")[0]
                 if "\n## Notes\n" in shipped else "")
        card = export_presets.speech_card(name, kind, _metadata(name), vqvae, prior, wavs,
                                          notes)
        assert card == shipped, name
        assert f"vq-zoo export {_metadata(name)['run_dir_name']} --dest pretrained\n" in card


def test_the_speech_card_says_what_the_recogniser_hears_of_each_shipped_example():
    pytest.importorskip("pocketsphinx")  # `.[speech-eval]`, which CI installs
    from vq_zoo.metrics.speech_intelligibility import Recognizer
    from vq_zoo.recipes.vctk import export_presets
    from vq_zoo.utils.audio import read_audio

    name = export_presets.VQVAE_PRESET
    heard = _metadata(name)["transcripts_of_examples"]
    wavs = sorted(os.path.basename(p) for p in glob.glob(os.path.join(PRETRAINED, name, "*.wav")))
    assert sorted(heard) == [w for w in wavs if not w.startswith("prior_sample")]
    assert len(heard) == 8  # 2 originals, their reconstructions, 2 conversions each
    card = _card(name)
    for wav, text in reversed(heard.items()):  # each heard on its own, in any order
        audio, rate = read_audio(os.path.join(PRETRAINED, name, wav))
        assert Recognizer().transcribe(audio, rate) == text, wav
        assert f"({wav}): " in card and f'PocketSphinx hears "{text}"' in card


def test_the_speech_card_gives_the_voices_the_recogniser_reads_on_their_own():
    from vq_zoo.recipes.vctk.export_presets import _unread_voices_lines

    per = {"originals": {"a": 0.2, "b": 0.4, "c": 0.95, "d": 1.0},
           "reconstructions": {"a": 0.3, "b": 0.5, "c": 1.0, "d": 0.9},
           "conversions": {"a": 0.45, "b": 0.65, "c": 1.1, "d": 1.0}}
    (line,) = _unread_voices_lines({"wer_by_speaker": per})
    assert "pool 4 voices" in line and "of 2 of them" in line and "c, d)" in line
    assert line.endswith("On the other 2 alone (the mean of their rates by voice): originals "
                         "0.30, reconstructions 0.40, conversions to them 0.55.")
    per["originals"].update(c=0.5, d=0.6)  # every voice read: nothing to say
    assert _unread_voices_lines({"wer_by_speaker": per}) == []
    assert _unread_voices_lines({}) == []


def test_the_dmlab_cards_are_written_again_byte_for_byte():
    """The notes and the 3-code prior's last-epoch figures are not in the
    metadata (the notes file and the run's stage record gave them): they
    are read back from the shipped card; everything else is written from
    the metadata."""
    from vq_zoo.recipes.dmlab import export_presets

    shipped = _card(export_presets.NAMES["stage2_vqvae"])
    fit = re.search(r"The 3-code prior \(([\d.]+) / ([\d.]+) bits per code", shipped)
    notes = shipped.split("## Issue 20's targets")[1].split("\n\n", 2)[2].split(
        "\n\n`reconstructions.png` (in the")[0]
    for stage, name in export_presets.NAMES.items():
        meta = _metadata(name)
        config = dict(meta["config"], stage2_prior_final_logs={
            "bits_per_code": float(fit.group(1)), "val_bits_per_code": float(fit.group(2))},
            stage1_origin=meta["stage1_origin"])
        card = export_presets.card_text(stage, meta["metrics"],
                                        meta["training_invocations"][0], config, notes)
        assert card == _card(name), name
        assert "(then\n`vq-zoo export runs/dmlab-small --dest pretrained`)" in card


@pytest.mark.parametrize("name", ["vqvae_small_memory_maze_84",
                                  "vqvae_spectrogram_small_speech_16k"])
def test_no_shipped_card_teaches_a_second_export_command(name):
    """`vq-zoo export` is the one export command; a card may still name a
    recipe's measuring tools (`python -m vq_zoo.recipes.dmlab.decodings`)."""
    card = _card(name)
    assert "vq-zoo export " in card
    assert not re.search(r"python -m vq_zoo\.recipes\.\w+\.export", card)
    assert "export_presets" not in card


def test_the_video_cards_are_written_again_byte_for_byte():
    """The shipped video cards come out of the exporter as shipped, from
    their metadata and models."""
    from vq_zoo.recipes.video import export_presets

    vqvae_name, prior_name = export_presets.VQVAE_PRESET, export_presets.PRIOR_PRESET
    vqvae = presets.load_preset(os.path.join(PRETRAINED, vqvae_name))
    prior = presets.load_preset(os.path.join(PRETRAINED, prior_name))
    for kind, name in (("vqvae", vqvae_name), ("prior", prior_name)):
        card = export_presets.video_card(name, kind, _metadata(name), vqvae, prior)
        assert card.rstrip("\n") == _card(name).rstrip("\n"), name


def test_the_generic_card_writer_words_a_dmlab_preset_as_its_recipe_does():
    """`vq_zoo.model_card` asks the family too: a preset of the DeepMind Lab
    set gets the set's introduction and picture caption of the shipped
    (recipe-written) card."""
    from vq_zoo.model_card import model_card
    from vq_zoo.recipes.dmlab.export_presets import NAMES

    name = NAMES["stage2_vqvae"]
    model = presets.load_preset(os.path.join(PRETRAINED, name))
    shipped = _card(name)
    card = model_card(name, model, _metadata(name), files=["reconstructions.png"])
    intro = shipped.split("\n\n## Data")[0].split("\n\n", 1)[1]
    assert card.startswith(f"# {name}\n\n{intro}\n\n")
    caption = "`reconstructions.png` (in the stage-1" + shipped.split(
        "`reconstructions.png` (in the stage-1")[1].split(" instead.")[0]
    assert "stage 1's decoder); `vq-zoo sample` decodes each" in caption
    assert caption + " instead." in card
