"""The vctk speech recipe: the tfds loader on mocked data, the smoke config
end to end on the synthesised corpus, and `vq-zoo convert` / `sample` for
speech."""

import json
import math
import os
import wave

import numpy as np
import pytest

from vq_zoo.utils import audio


def test_tfds_vctk_loader_on_mocked_data():
    import tensorflow_datasets as tfds

    from vq_zoo.data import vctk

    with tfds.testing.mock_data(num_examples=6):
        assert vctk.source_rate() == 48000
        assert len(vctk.speaker_names()) > 100
        raw = [e for e in tfds.load("vctk/mic1", split="train", download=False)
               .take(2).as_numpy_iterator()]
        audios, speakers = vctk.utterances("train", max_utterances=2)
        batch = next(iter(vctk.crops("train", crop_length=256, batch_size=3, seed=1)))
    # 48 kHz int16 -> 16 kHz floats: a third of the samples.
    for r, a in zip(raw, audios):
        assert a.dtype == np.float32 and a.size == math.ceil(r["speech"].size / 3)
    assert list(speakers) == [int(r["speaker"]) for r in raw]
    x, y = batch
    assert tuple(x.shape) == (3, 256, 1) and x.dtype == "float32"
    assert tuple(y.shape) == (3,) and y.dtype == "int32"
    assert np.abs(np.asarray(x)).max() <= 1.0
    splits = vctk.split_ranges(5)
    assert splits == {"train": "train[:90%]", "validation": "train[90%:95%]",
                      "test": "train[95%:]"}


@pytest.mark.slow
def test_recipe_on_mocked_tfds_vctk(tmp_path):
    """The whole pipeline with `data="tfds"` (the paper config's source) on
    mocked VCTK: 110 speakers, 48 kHz audio resampled in the loader."""
    import dataclasses

    import keras
    import tensorflow_datasets as tfds

    from vq_zoo.recipes.vctk import recipe
    from vq_zoo.recipes.vctk.config import CONFIGS

    config = dataclasses.replace(CONFIGS["smoke_wavenet"], data="tfds", tfds_test_percent=25)
    with tfds.testing.mock_data(num_examples=8):
        metrics = recipe.main(config, str(tmp_path / "run"), verbose=0)
    assert metrics["num_speakers"] == 110
    assert 0 < metrics["test_reconstruction_bits_per_sample"] < 8.5
    assert "wer_originals" not in metrics  # tfds vctk: no transcripts read
    vqvae = keras.models.load_model(tmp_path / "run" / "vqvae.keras")
    assert vqvae.decoder.speaker_names[0] == "p225"


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    from vq_zoo.cli import main

    out = tmp_path_factory.mktemp("vctk") / "run"
    assert main(["train", "vctk", "--config", "smoke", "--out-dir", str(out)]) == 0
    return out


def test_smoke_config_end_to_end(smoke_run, capsys):
    import keras

    from vq_zoo.cli import main
    from vq_zoo.recipes.vctk.config import CONFIGS

    with open(smoke_run / "metrics.json") as f:
        metrics = json.load(f)
    config = CONFIGS["smoke"]
    assert metrics["test_log_magnitude_l1"] > 0
    assert 0 < metrics["test_prior_bits_per_code"] <= math.log2(config.num_embeddings) + 1
    assert metrics["speaker_chance"] == 0.5 and metrics["num_speakers"] == 2
    # One test sentence read by both voices; every instrument ran.
    assert metrics["eval_utterances"] == 2
    for key in ("reconstructions_classified_as_source", "conversions_classified_as_target",
                "speaker_probe_codes", "speaker_probe_audio", "wer_originals",
                "wer_reconstructions", "wer_conversions"):
        assert 0.0 <= metrics[key] <= 3.0, key
    assert 1.0 <= metrics["test_perplexity"] <= config.num_embeddings
    assert set(metrics["targets"]) >= {"speaker_probe_codes",
                                       "conversions_classified_as_target"}
    assert os.path.exists(smoke_run / "alignments.json")
    vqvae = keras.models.load_model(smoke_run / "vqvae.keras")
    assert vqvae.decoder.speaker_names == ("flite_slt", "espeak_us_m3_p35")
    assert vqvae.decoder.hop_length == 320 and vqvae.quantizer.num_embeddings == 16
    names = sorted(os.listdir(smoke_run / "examples"))
    assert "original_flite_slt.wav" in names
    assert "conversion_flite_slt_to_espeak_us_m3_p35.wav" in names
    assert any(n.startswith("prior_sample_") for n in names)
    with wave.open(str(smoke_run / "examples" / "original_flite_slt.wav")) as w:
        assert w.getframerate() == 16000
    # A rerun resumes: every stage is reused, the metrics are the same.
    capsys.readouterr()
    assert main(["train", "vctk", "--config", "smoke", "--out-dir", str(smoke_run)]) == 0
    printed = capsys.readouterr().out
    assert printed.count("finished earlier") == 6
    assert "stage 3/6: extract the codes of every split" in printed
    with open(smoke_run / "metrics.json") as f:
        assert json.load(f) == metrics


def test_vq_zoo_export_writes_the_speech_presets(smoke_run, tmp_path, capsys):
    """`vq-zoo export RUN --dest D`, the one export command of a speech run:
    the two presets (the shipped names), each card the speech family's
    words for the run's models and naming that command; `--notes` refused."""
    from vq_zoo import presets
    from vq_zoo.cli import main

    dest = tmp_path / "presets"
    assert main(["export", str(smoke_run), "--dest", str(dest)]) == 0
    vqvae = presets.load_preset(str(dest / "vqvae_spectrogram_small_speech_16k"))
    card = (dest / "vqvae_spectrogram_small_speech_16k" / "README.md").read_text()
    # The smoke decoder: 320 samples per code at 16 kHz (50 codes/s), K=16,
    # voices flite_slt and espeak_us_m3_p35.
    assert ("16 kHz audio to one code per 320 samples (50 codes/s, K=16), decoded with "
            "the speaker") in card
    assert ("vq-zoo convert vqvae_spectrogram_small_speech_16k --input in.wav --speaker "
            "flite_slt --output out.wav") in card
    assert f"\nvq-zoo export {smoke_run} --dest pretrained\n" in card
    assert vqvae.quantizer.num_embeddings == 16
    prior_card = (dest / "gated_pixelcnn_1d_small_speech_16k" / "README.md").read_text()
    assert ("over sequences of 4 codes (0.08 s) of the speech VQ-VAE "
            "`vqvae_spectrogram_small_speech_16k`.") in prior_card
    assert "python -m vq_zoo.recipes" not in card + prior_card
    # `--notes FILE`: the cards' "Notes" section, before the limitations; a
    # missing file is refused before anything is written.
    notes = tmp_path / "n.md"
    notes.write_text("The weights are another run's; *measured* again.\n")
    other = tmp_path / "other"
    assert main(["export", str(smoke_run), "--dest", str(other),
                 "--notes", str(notes)]) == 0
    for name in ("vqvae_spectrogram_small_speech_16k", "gated_pixelcnn_1d_small_speech_16k"):
        text = (other / name / "README.md").read_text()
        assert ("\n## Notes\n\nThe weights are another run's; *measured* again.\n\n"
                "## Limitations") in text
    capsys.readouterr()
    assert main(["export", str(smoke_run), "--dest", str(tmp_path / "third"),
                 "--notes", str(tmp_path / "missing.md")]) == 2
    assert "--notes" in capsys.readouterr().err and not (tmp_path / "third").exists()


def test_convert_and_sample_speech(smoke_run, tmp_path, capsys):
    from vq_zoo.cli import main

    source, _ = audio.read_audio(smoke_run / "corpus" / "wav" / "flite_slt" / "0000.wav")
    source = source[:5000]
    # A 22.05 kHz input: resampled in, the output lasts as long.
    src22 = tmp_path / "in22.wav"
    audio.write_wav(src22, audio.resample(source, 16000, 22050), 22050)
    out = tmp_path / "out.wav"
    args = ["convert", str(smoke_run), "--input", str(src22), "--output", str(out)]
    assert main(args + ["--speaker", "espeak_us_m3_p35"]) == 0
    converted, rate = audio.read_audio(out)
    assert rate == 16000 and abs(converted.size - source.size) <= 1
    capsys.readouterr()
    assert main(args[:3] + [str(tmp_path / "missing.wav")] + args[4:]
                + ["--speaker", "0"]) == 1
    assert "missing.wav not found" in capsys.readouterr().err
    text = tmp_path / "text.wav"
    text.write_text("hello")
    assert main(args[:3] + [str(text)] + args[4:] + ["--speaker", "0"]) == 1
    assert "is not an audio file" in capsys.readouterr().err
    assert main(args + ["--speaker", "bob"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "unknown speaker 'bob'; known speakers: flite_slt, espeak_us_m3_p35" in err
    # `sample` writes one WAV per sample.
    wav = tmp_path / "s.wav"
    assert main(["sample", str(smoke_run), "--num", "2", "--out", str(wav)]) == 0
    for i in range(2):
        a, r = audio.read_audio(tmp_path / f"s_{i}.wav")
        assert r == 16000 and a.size == 4 * 320  # prior_length codes x 320 samples


def test_corpus_dir_is_never_written_into_a_folder_the_recipe_did_not_make(tmp_path, capsys):
    from vq_zoo.cli import main

    mine = tmp_path / "MY_WAVS"
    mine.mkdir()
    (mine / "take1.wav").write_bytes(b"not ours")
    before = sorted(os.listdir(mine))
    code = main(["train", "vctk", "--config", "smoke", "--out-dir", str(tmp_path / "run"),
                 "--set", f"corpus_dir={mine}"])
    err = capsys.readouterr().err
    assert code != 0
    assert f"corpus_dir {mine} holds files but no speech corpus" in err
    assert err.strip().count("\n") == 0
    assert sorted(os.listdir(mine)) == before


def test_corpus_dir_accepts_a_new_folder_and_its_own_corpus(tmp_path):
    from vq_zoo.data import speech_corpus

    speakers = speech_corpus.SPEAKERS[2:3]
    made = speech_corpus.build_corpus(str(tmp_path / "new"), 3, 0, speakers, verbose=False)
    # Its own corpus again (a rerun) and an empty folder are fine.
    assert speech_corpus.build_corpus(str(tmp_path / "new"), 3, 0, speakers,
                                      verbose=False) == made
    (tmp_path / "empty").mkdir()
    speech_corpus.build_corpus(str(tmp_path / "empty"), 3, 0, speakers, verbose=False)
    assert os.path.exists(tmp_path / "empty" / speech_corpus.MANIFEST)
    texts = speech_corpus.sentence_texts(str(tmp_path / "new"), [0, 2])
    assert texts == [s["text"] for s in made["sentences"]][0:3:2]


@pytest.mark.slow
def test_smoke_wavenet_config_end_to_end(tmp_path):
    """The paper's decoder (WaveNet) through every stage, instruments included."""
    import keras

    from vq_zoo.cli import main

    out = tmp_path / "run"
    assert main(["train", "vctk", "--config", "smoke_wavenet", "--out-dir", str(out)]) == 0
    with open(out / "metrics.json") as f:
        metrics = json.load(f)
    assert 0 < metrics["test_reconstruction_bits_per_sample"] < 8.5
    assert "wer_reconstructions" in metrics and "speaker_probe_codes" in metrics
    vqvae = keras.models.load_model(out / "vqvae.keras")
    assert vqvae.decoder.hop_length == 64


def test_shipped_speech_preset_converts_by_name(tmp_path, capsys):
    """The shipped pair through the command line, by preset name: convert
    keeps the length and the rate, sample writes one WAV per sample."""
    pytest.importorskip("librosa")
    from vq_zoo.cli import main

    folder = os.path.join(os.path.dirname(__file__), "..", "..", "pretrained",
                          "vqvae_spectrogram_small_speech_16k")
    source, rate = audio.read_audio(os.path.join(folder, "original_flite_awb.wav"))
    out = tmp_path / "converted.wav"
    assert main(["convert", "vqvae_spectrogram_small_speech_16k", "--input",
                 os.path.join(folder, "original_flite_awb.wav"), "--speaker", "flite_slt",
                 "--output", str(out)]) == 0
    converted, rate_out = audio.read_audio(out)
    assert rate_out == rate == 16000 and converted.size == source.size
    assert 0.01 < np.sqrt(np.mean(converted ** 2)) and np.abs(converted).max() <= 1.0
    assert main(["sample", "vqvae_spectrogram_small_speech_16k", "--num", "2", "--speaker",
                 "flite_rms", "--out", str(tmp_path / "s.wav")]) == 0
    assert os.path.exists(tmp_path / "s_0.wav") and os.path.exists(tmp_path / "s_1.wav")


@pytest.mark.parametrize("vocoder", ["griffin_lim", None])
def test_the_bench_scripts_loader_refuses_a_run_without_the_world_vocoder(tmp_path, vocoder):
    """`evaluation.load_world_run` (bench/speech_postfilter.py,
    bench/speech_conversion_pairs.py) names the run's vocoder before it
    reads any model or WORLD analysis."""
    from vq_zoo.recipes.vctk.evaluation import load_world_run

    config = {} if vocoder is None else {"vocoder": vocoder}
    (tmp_path / "config.json").write_text(json.dumps({"config": config}))
    with pytest.raises(ValueError, match=f"not trained with vocoder=world .*{vocoder!r}"):
        load_world_run(str(tmp_path), "test")
