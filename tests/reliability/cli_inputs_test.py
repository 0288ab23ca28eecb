"""The command line's inputs that ended in tracebacks, unbounded reads or
work thrown away (issue 23.6 and 23.9): a truncated `.npz`, a few-KB `.npz`
claiming millions of codes, a `metadata.json` nested too deep, an
unwritable `--output` found only after the whole conversion; and
`--temperature 0`, greedy decoding, which the cards of the video presets
evaluate but the command refused."""

import shutil
import wave

import numpy as np
import pytest

from tests.cli_test import golden_pair  # noqa: F401 (a fixture)
from vq_zoo import cli


def _error_line(capsys):
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("vq-zoo: error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_a_truncated_npz_is_one_line(golden_pair, tmp_path, capsys):  # noqa: F811
    # Before: zipfile.BadZipFile, a traceback.
    path = tmp_path / "codes.npz"
    np.savez_compressed(path, codes=np.zeros((4, 2, 2), np.int64))
    path.write_bytes(path.read_bytes()[:-40])
    status = cli.main(["decode", str(path), "--model", "tiny_vqvae",
                       "--out", str(tmp_path / "d.png")])
    assert status == 1  # a CliError
    assert "truncated or corrupt" in _error_line(capsys)
    assert not (tmp_path / "d.png").exists()


def test_codes_are_counted_from_the_headers_before_loading(golden_pair, tmp_path,  # noqa: F811
                                                           capsys, monkeypatch):
    # 18 million zeros compress to a few KB; the limit is read from the
    # header, so the array is never loaded (np.load would fail the test).
    path = tmp_path / "codes.npz"
    np.savez_compressed(path, codes=np.zeros((1100, 128, 128), np.uint8))
    assert path.stat().st_size < 100_000

    def no_load(*args, **kwargs):
        raise AssertionError("the codes were loaded before their size was checked")

    monkeypatch.setattr(np, "load", no_load)
    status = cli.main(["decode", str(path), "--model", "tiny_vqvae",
                       "--out", str(tmp_path / "d.png")])
    assert status == 1  # a CliError
    line = _error_line(capsys)
    assert f"holds {1100 * 128 * 128} codes" in line and "at most 16777216" in line, line


def test_a_metadata_json_nested_too_deep_is_one_line(golden_pair, tmp_path, capsys):  # noqa: F811
    # Before: RecursionError from json.load, a traceback.
    folder = tmp_path / "preset"
    shutil.copytree(golden_pair / "presets" / "tiny_vqvae", folder)
    (folder / "metadata.json").write_text("[" * 200_000 + "]" * 200_000)
    status = cli.main(["sample", str(folder), "--num", "1", "--out", str(tmp_path / "s.png")])
    assert status == 1  # a CliError
    line = _error_line(capsys)
    assert "metadata.json is not valid JSON" in line, line


@pytest.mark.parametrize("output,message", [
    ("missing_folder/out.wav", "does not exist"),
    (".", "is a folder"),
])
def test_an_unwritable_output_is_refused_before_the_conversion(golden_pair, tmp_path,  # noqa: F811
                                                               capsys, monkeypatch,
                                                               output, message):
    audio = tmp_path / "in.wav"
    with wave.open(str(audio), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(np.zeros(1600, np.int16).tobytes())

    def no_model(*args, **kwargs):
        raise AssertionError("the model was loaded before --output was checked")

    monkeypatch.setattr(cli, "_load_autoencoder", no_model)
    monkeypatch.chdir(tmp_path)
    target = output if output != "." else str(tmp_path / "folder.wav")
    if output == ".":
        (tmp_path / "folder.wav").mkdir()
    status = cli.main(["convert", "tiny_vqvae", "--input", str(audio), "--speaker", "0",
                       "--output", target])
    assert status == 1  # a CliError
    assert message in _error_line(capsys)


def test_temperature_zero_is_greedy(golden_pair, tmp_path, capsys):  # noqa: F811
    # Greedy decoding ignores the seed: two seeds give the same samples; at
    # temperature 1 they differ (the control).
    def sample(seed, temperature):
        out = tmp_path / f"s{seed}_{temperature}.png"
        assert cli.main(["sample", "tiny_vqvae", "--num", "4", "--seed", str(seed),
                         "--temperature", str(temperature), "--out", str(out)]) == 0
        return out.read_bytes()

    assert sample(1, 0) == sample(2, 0)
    assert sample(1, 1) != sample(2, 1)
