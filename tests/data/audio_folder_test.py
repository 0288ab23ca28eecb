"""vq_zoo.data.audio_folder on small generated folders of recordings:
resampling and mixing against the analytic signal, speakers, skipped files,
refusals, and the datasets."""

import os

import numpy as np
import pytest
import soundfile as sf

import vq_zoo
from vq_zoo.data.audio_folder import AudioFolder
from vq_zoo.data.audio_folder import AudioFolderError


def tone(freq, seconds, rate, amplitude=0.3):
    t = np.arange(int(round(seconds * rate))) / rate
    return amplitude * np.sin(2 * np.pi * freq * t)


def voices(root, per_speaker=12, speakers=("alice", "bob"), seconds=0.5):
    """Tones of a pitch per speaker in WAV (22.05 kHz stereo), FLAC (16
    kHz) and OGG Vorbis (44.1 kHz)."""
    formats = [("wav", 22050, 2, "PCM_16"), ("flac", 16000, 1, "PCM_24"),
               ("ogg", 44100, 1, "VORBIS")]
    for k, name in enumerate(speakers):
        os.makedirs(os.path.join(root, name), exist_ok=True)
        for i in range(per_speaker):
            ext, rate, channels, subtype = formats[i % 3]
            x = tone(200 + 100 * k, seconds, rate)
            if channels == 2:
                x = np.stack([x, x], -1)
            sf.write(os.path.join(root, name, f"{i:02d}.{ext}"), x, rate, subtype=subtype)
    return root


def test_any_rate_and_channel_count_becomes_mono_at_the_model_rate(tmp_path):
    """A 1 kHz tone at 44.1 kHz whose right channel is silent comes back at
    16 kHz as half the tone (channels averaged), sample for sample against
    the analytic signal away from the edges; FLAC at 8 kHz and OGG at 48 kHz
    give the tone too."""
    root = tmp_path / "v"
    for name in ("a", "b"):
        (root / name).mkdir(parents=True)
        left = tone(1000, 1.0, 44100)
        for copy in range(4):  # enough files for every split
            sf.write(str(root / name / f"stereo{copy}.wav"),
                     np.stack([left, 0 * left], -1), 44100, subtype="FLOAT")
            sf.write(str(root / name / f"low{copy}.flac"), tone(1000, 1.0, 8000), 8000,
                     subtype="PCM_24")
            sf.write(str(root / name / f"high{copy}.ogg"), tone(1000, 1.0, 48000), 48000,
                     subtype="VORBIS")
    folder = AudioFolder.scan(str(root), 16000, 0.2, 0.2, min_seconds=0.1)
    audio = {f.replace("0.", ".").replace("1.", ".").replace("2.", ".").replace("3.", "."): a
             for f, a in zip(folder.files, folder.audios)}
    expected = tone(1000, 1.0, 16000)
    inner = slice(400, 16000 - 400)  # the resampling filter's edges left out
    assert audio["a/stereo.wav"].shape == (16000,)
    np.testing.assert_allclose(audio["a/stereo.wav"][inner], 0.5 * expected[inner],
                               atol=2e-3)
    np.testing.assert_allclose(audio["a/low.flac"][inner], expected[inner], atol=2e-3)
    ogg = audio["a/high.ogg"][inner]
    assert np.corrcoef(ogg, expected[inner])[0, 1] > 0.99  # lossy codec
    assert folder.native_rates == {44100: 8, 8000: 8, 48000: 8}


def test_speakers_are_the_subfolders_and_bad_files_are_skipped_by_name(tmp_path, capsys):
    root = voices(str(tmp_path / "v"), speakers=("bob", "alice", "carol"))
    sf.write(os.path.join(root, "alice", "silent.wav"), np.zeros(8000), 16000)
    sf.write(os.path.join(root, "bob", "empty.wav"), np.zeros(0), 16000)
    sf.write(os.path.join(root, "bob", "short.wav"), tone(300, 0.05, 16000), 16000)
    with open(os.path.join(root, "carol", "broken.ogg"), "wb") as f:
        f.write(b"OggS not really")
    sf.write(os.path.join(root, "loose.wav"), tone(300, 0.5, 16000), 16000)
    (tmp_path / "v" / "notes.txt").write_text("x")
    folder = AudioFolder.scan(root, 16000, verbose=1)
    assert folder.speaker_names == ("alice", "bob", "carol")
    for name, s in zip(folder.files, folder.speakers):
        assert folder.speaker_names[s] == name.split("/")[0]
    assert folder.skipped == {
        "outside the speaker folders": ["loose.wav"],
        "silent (peak below -60 dBFS)": ["alice/silent.wav"],
        "empty (0 samples)": ["bob/empty.wav"],
        "shorter than 0.1 s": ["bob/short.wav"],
        "unreadable (truncated, corrupt or not audio)": ["carol/broken.ogg"],
    }
    assert len(folder.files) == 36 and folder.other_files == 1
    out = capsys.readouterr().out
    assert "36 recordings" in out and "3 speakers: alice, bob, carol" in out
    assert "skipped 1 silent (peak below -60 dBFS): alice/silent.wav" in out


def test_datasets_give_crops_and_every_sample_of_the_held_out_split(tmp_path):
    folder = AudioFolder.scan(voices(str(tmp_path / "v")), 16000)
    x, y = next(iter(folder.dataset("train", crop_length=512, batch_size=4, seed=1)))
    assert x.shape == (4, 512, 1) and y.shape == (4,) and y.dtype == "int32"
    again = next(iter(folder.dataset("train", crop_length=512, batch_size=4, seed=1)))
    np.testing.assert_array_equal(x, again[0])
    # Held out: every utterance in order, cut into chunks, the last padded.
    audios, speakers = folder.split("test")
    chunks = list(folder.dataset("test", crop_length=1000, batch_size=3))
    flat = np.concatenate([np.asarray(c)[..., 0] for c, _ in chunks]).ravel()
    owners = np.concatenate([np.asarray(s) for _, s in chunks])
    expected = np.concatenate([np.pad(a, (0, -a.size % 1000)) for a in audios])
    np.testing.assert_array_equal(flat, expected)
    assert list(owners) == [s for a, s in zip(audios, speakers)
                            for _ in range(-(-a.size // 1000))]
    ds = vq_zoo.data.audio_folder(str(tmp_path / "v"), crop_length=256, batch_size=2)
    assert next(iter(ds))[0].shape == (2, 256, 1)


@pytest.mark.parametrize("make, message", [
    (lambda d: None, "holds no audio files: expected a folder with one subfolder"),
    (lambda d: voices(str(d), speakers=("solo",)),
     "holds one speaker folder (solo): expected a folder with one subfolder of "
     "recordings (.wav, .flac, .ogg) per speaker, two or more"),
    (lambda d: [sf.write(str(d / f"{i}.wav"), tone(200, 0.5, 16000), 16000)
                for i in range(4)], "holds no speaker folder"),
    (lambda d: [(os.makedirs(d / s), sf.write(str(d / s / "z.wav"), np.zeros(800), 16000))
                for s in ("a", "b")],
     "none of its 2 audio files is usable (a/z.wav, b/z.wav): expected WAV, FLAC or OGG"),
    (lambda d: voices(str(d), per_speaker=1), "expected at least one in every split"),
])
def test_bad_folders_are_one_line_naming_the_folder(tmp_path, make, message):
    root = tmp_path / "data"
    root.mkdir()
    make(root)
    with pytest.raises(AudioFolderError) as info:
        AudioFolder.scan(str(root), 16000)
    text = str(info.value)
    assert text.startswith(str(root)) and message in text and "\n" not in text, text
