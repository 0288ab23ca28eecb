"""`python -m vq_zoo.recipes.vctk.revoice`: a finished WORLD speech run's
synthesis settings changed without training, on a run dir laid out as the
pipeline writes it (a tiny model; no training): the weights stay the
file's, the records follow the new file, the audio stages are dropped, and
what is refused is refused before anything is written."""

import hashlib
import json
import os

import keras
import numpy as np

from vq_zoo.models.spectrogram.spectrogram_vqvae import SpectrogramVQVAE
from vq_zoo.recipes.vctk import revoice


def _sha(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def _run(tmp_path, recipe="vctk", vocoder="world"):
    keras.utils.set_random_seed(0)
    model = SpectrogramVQVAE.speech_model(
        num_speakers=2, num_hiddens=8, embedding_dim=4, num_embeddings=8, encoder_layers=1,
        num_mels=16, filters=8, num_blocks=2, speaker_names=("a", "b"), crop_length=3200,
        seed=0, pitch_condition=True, pitch_statistics=((4.7, 0.2), (5.5, 0.1)),
        vocoder="world", num_bands=20, num_aperiodicity_bands=4, envelope_sharpening=1.0)
    run = tmp_path / "run"
    (run / "stages").mkdir(parents=True)
    model.save(run / "vqvae.keras")
    digest = _sha(run / "vqvae.keras")
    config = {"vocoder": vocoder, "synthesis_upsample": 1, "envelope_sharpening": 1.0}
    records = {
        "config.json": {"recipe": recipe, "config_name": "small", "config": config,
                        "command": "vq-zoo train vctk --config small --out-dir run",
                        "invocations": []},
        "stages/run.json": {"config": config, "stages": ["vqvae", "codes", "prior", "sample",
                                                         "report"]},
        "stages/vqvae.json": {"kind": "train", "file": "vqvae.keras", "digest": digest,
                              "inputs": {}},
        "stages/codes.json": {"digest": "c0", "inputs": {"vqvae": digest}},
        "stages/prior.json": {"digest": "p0", "inputs": {"codes": "c0"}},
        "stages/sample.json": {"digest": "s0", "inputs": {"vqvae": digest, "prior": "p0"}},
        "stages/report.json": {"digest": "r0", "inputs": {"vqvae": digest, "prior": "p0"}},
    }
    for name, record in records.items():
        (run / name).write_text(json.dumps(record))
    (run / "metrics.json").write_text("{}")
    return run, model, digest


def test_revoice_keeps_the_weights_and_makes_the_audio_stages_run_again(tmp_path, capsys):
    run, model, old = _run(tmp_path)
    assert revoice.main([str(run), "--synthesis-upsample", "2"]) == 0
    said = capsys.readouterr().out
    assert (f"vq-zoo train vctk --config small --out-dir {run} --set synthesis_upsample=2"
            in said)
    again = keras.models.load_model(run / "vqvae.keras")
    assert again.decoder.synthesis_upsample == 2
    assert again.decoder.envelope_sharpening == 1.0           # left as it was
    for a, b in zip(model.weights, again.weights):
        np.testing.assert_array_equal(np.array(a), np.array(b))
    new = _sha(run / "vqvae.keras")
    assert new != old
    stages = run / "stages"
    assert json.loads((stages / "vqvae.json").read_text())["digest"] == new
    assert json.loads((stages / "codes.json").read_text())["inputs"] == {"vqvae": new}
    assert json.loads((stages / "prior.json").read_text())["inputs"] == {"codes": "c0"}
    assert not (stages / "sample.json").exists() and not (stages / "report.json").exists()
    assert not (run / "metrics.json").exists()
    for name in ("config.json", "stages/run.json"):
        assert json.loads((run / name).read_text())["config"]["synthesis_upsample"] == 2
    # The decoded audio is the re-voiced decoder's: the same as a decoder
    # built with the setting from the start.
    codes = np.zeros((1, 10), "int32")
    pitch = np.zeros((1, 20, 2), "float32")
    pitch[..., 1] = 1.0
    direct = keras.models.load_model(run / "vqvae.keras")
    model.decoder.synthesis_upsample = 2
    np.testing.assert_array_equal(np.asarray(direct.decode(codes, condition=[1], pitch=pitch)),
                                  np.asarray(model.decode(codes, condition=[1], pitch=pitch)))


def test_a_revoice_that_died_before_its_records_is_mended_by_running_it_again(tmp_path):
    run, _, old = _run(tmp_path)
    records = {p: (run / p).read_bytes() for p in ("stages/vqvae.json", "stages/codes.json")}
    revoice.revoice(str(run), synthesis_upsample=2)
    for p, b in records.items():   # as if it had died after replacing vqvae.keras
        (run / p).write_bytes(b)
    revoice.revoice(str(run), synthesis_upsample=2)
    new = _sha(run / "vqvae.keras")
    assert json.loads((run / "stages" / "vqvae.json").read_text())["digest"] == new
    assert json.loads((run / "stages" / "codes.json").read_text())["inputs"] == {"vqvae": new}


def test_revoice_refuses_in_one_line_and_writes_nothing(tmp_path, capsys):
    run, _, old = _run(tmp_path)
    before = {p: (run / p).read_bytes() for p in ("config.json", "stages/vqvae.json")}
    assert revoice.main([str(run), "--synthesis-upsample", "3"]) == 2  # 160 % 3
    assert "synthesis_upsample" in capsys.readouterr().err
    assert revoice.main([str(run)]) == 2                                 # nothing to set
    assert "give one or more of" in capsys.readouterr().err
    assert _sha(run / "vqvae.keras") == old
    assert all((run / p).read_bytes() == b for p, b in before.items())
    assert (run / "stages" / "report.json").exists()
    other, _, _ = _run(tmp_path / "o", vocoder="griffin_lim")
    assert revoice.main([str(other), "--synthesis-upsample", "2"]) == 2
    assert "only a vctk run with vocoder='world'" in capsys.readouterr().err
    assert revoice.main([str(tmp_path / "none"), "--envelope-sharpening", "1"]) == 2
    assert "is not a finished speech run" in capsys.readouterr().err


def test_the_printed_command_is_the_run_s_own_with_the_new_settings():
    command = revoice._command(
        "vq-zoo train vctk --config small --out-dir /elsewhere --set cycle_weight=1.0 "
        "--set synthesis_upsample=1", "runs/copy", {"synthesis_upsample": 2})
    assert command == ("vq-zoo train vctk --config small --out-dir runs/copy --set "
                       "cycle_weight=1.0 --set synthesis_upsample=2")
    assert revoice._command(None, "r", {"envelope_sharpening": 1.5}) == (
        "vq-zoo train vctk --out-dir r --set envelope_sharpening=1.5")
