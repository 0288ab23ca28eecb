"""recipes/audio: a generated folder of three speakers' recordings through
the speech recipe's pipeline (one smoke run), then convert and sample by
speaker name; bad folders refused with no run dir left."""

import json
import os

import keras
import numpy as np
import pytest
import soundfile as sf

from tests.data.audio_folder_test import tone
from vq_zoo import cli
from vq_zoo.recipes.audio import recipe
from vq_zoo.recipes.audio.config import CONFIGS

SMOKE = CONFIGS["smoke"]


def make_voices(root, per_speaker=10, seed=0):
    """Three speakers (pitches 120, 220, 300 Hz with vibrato), 1.2-2 s each,
    as WAV at 22.05 kHz stereo, FLAC at 16 kHz and OGG at 44.1 kHz."""
    rng = np.random.default_rng(seed)
    formats = [("wav", 22050, 2), ("flac", 16000, 1), ("ogg", 44100, 1)]
    for name, pitch in (("alice", 220.0), ("bob", 120.0), ("carol", 300.0)):
        os.makedirs(os.path.join(root, name), exist_ok=True)
        for i in range(per_speaker):
            ext, rate, channels = formats[i % 3]
            x = tone(pitch * rng.uniform(0.95, 1.05), rng.uniform(1.2, 2.0), rate)
            x = x + 0.01 * rng.normal(size=x.size)
            sf.write(os.path.join(root, name, f"{i:02d}.{ext}"),
                     np.stack([x, x], -1) if channels == 2 else x, rate)
    sf.write(os.path.join(root, "bob", "silence.wav"), np.zeros(16000), 16000)
    return root


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    base = tmp_path_factory.mktemp("audio")
    data = make_voices(str(base / "voices"))
    out = str(base / "run")
    assert cli.main(["train", "audio", "--config", "smoke", "--data-dir", data,
                     "--out-dir", out]) == 0
    return data, out


def test_the_speech_pipeline_runs_on_the_folder(run):
    data, out = run
    for name in ("vqvae.keras", "prior.keras", "metrics.json", "data.json"):
        assert os.path.exists(os.path.join(out, name)), name
    record = json.load(open(os.path.join(out, "data.json")))
    assert record["speakers"] == ["alice", "bob", "carol"]
    assert record["skipped"] == {"silent (peak below -60 dBFS)": {
        "count": 1, "first": ["bob/silence.wav"]}}
    assert record["sample_rate"] == SMOKE.sample_rate
    vqvae = keras.models.load_model(os.path.join(out, "vqvae.keras"))
    assert list(vqvae.decoder.speaker_names) == ["alice", "bob", "carol"]
    # The recorded split is the files' (a fresh scan agrees).
    from vq_zoo.data.audio_folder import AudioFolder

    fresh = AudioFolder.scan(data, SMOKE.sample_rate, min_seconds=SMOKE.min_seconds)
    assert record["files"] == list(fresh.files) and record["splits"] == list(fresh.splits)


def test_convert_and_sample_take_the_folder_names(run, tmp_path, capsys):
    _, out = run
    source = tmp_path / "in.wav"
    sf.write(str(source), tone(220, 0.5, 16000), 16000)
    target = tmp_path / "out.wav"
    assert cli.main(["convert", out, "--input", str(source), "--speaker", "carol",
                     "--output", str(target)]) == 0
    audio, rate = sf.read(str(target))
    assert rate == SMOKE.sample_rate and audio.size > 0 and np.isfinite(audio).all()
    assert cli.main(["sample", out, "--speaker", "bob", "--num", "1",
                     "--out", str(tmp_path / "s.wav")]) == 0
    assert cli.main(["convert", out, "--input", str(source), "--speaker", "dave",
                     "--output", str(target)]) == 1
    assert "alice, bob, carol" in capsys.readouterr().err


def test_a_changed_folder_is_refused_on_resume(run, tmp_path):
    data, out = run
    extra = os.path.join(data, "alice", "zz_new.wav")
    sf.write(extra, tone(220, 1.5, 16000), 16000)
    try:
        with pytest.raises(OSError, match="has changed since this run began"):
            recipe.main(SMOKE, out_dir=out, data_dir=data, verbose=0)
    finally:
        os.remove(extra)


@pytest.mark.parametrize("setup, message", [
    (lambda d: (d / "notes.txt").write_text("no audio here"),
     "holds no audio files (1 files of other types): expected a folder"),
    (lambda d: (os.makedirs(d / "solo"),
                sf.write(str(d / "solo" / "a.wav"), tone(200, 1, 16000), 16000)),
     "holds one speaker folder (solo)"),
])
def test_bad_folders_are_one_line_with_no_run_dir(tmp_path, capsys, setup, message):
    data = tmp_path / "data"
    data.mkdir()
    setup(data)
    out = tmp_path / "run"
    assert cli.main(["train", "audio", "--config", "smoke", "--data-dir", str(data),
                     "--out-dir", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("vq-zoo: error: ") and message in err and err.count("\n") == 1
    assert not out.exists()


def test_the_default_is_the_speech_preset_config_without_parallel_pairs(tmp_path, capsys):
    import dataclasses

    from vq_zoo.recipes.vctk.config import CONFIGS as SPEECH

    ours = dataclasses.asdict(CONFIGS["default"])
    theirs = dataclasses.asdict(SPEECH["small"])
    assert theirs["swap_weight"] > 0 and ours["swap_weight"] == 0
    assert {k: v for k, v in ours.items() if k in theirs and k not in ("data", "swap_weight")} \
        == {k: v for k, v in theirs.items() if k not in ("data", "swap_weight")}
    data = make_voices(str(tmp_path / "voices"), per_speaker=3)
    out = tmp_path / "run"
    assert cli.main(["train", "audio", "--config", "smoke", "--data-dir", data,
                     "--out-dir", str(out), "--set", "swap_weight=0.5"]) == 2
    err = capsys.readouterr().err
    assert "swap_weight=0.5 trains conversions on parallel readings" in err
    assert err.count("\n") == 1 and not out.exists()
