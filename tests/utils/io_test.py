"""Atomic writes: the umask decides the mode (as for a plain open), the old
file survives a failed write, and no temporary file is left behind."""

import os
import stat

import pytest

from vq_zoo.utils import io


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_mode_follows_the_umask_like_open(tmp_path, umask):
    old = os.umask(umask)
    try:
        with open(tmp_path / "plain", "w") as f:  # the reference: open()
            f.write("x")
        io.write_atomic(tmp_path / "atomic", "x")
        with io.atomic_path(tmp_path / "via_path.bin") as tmp:
            with open(tmp, "wb") as f:
                f.write(b"x")
    finally:
        os.umask(old)
    assert mode(tmp_path / "atomic") == mode(tmp_path / "plain")
    assert mode(tmp_path / "via_path.bin") == mode(tmp_path / "plain")
    assert io.current_umask() == old


def test_bytes_and_text(tmp_path):
    io.write_atomic(tmp_path / "a" / "b.txt", "héllo")  # folder created
    assert (tmp_path / "a" / "b.txt").read_bytes() == "héllo".encode()
    io.write_atomic(str(tmp_path / "c.bin"), b"\x00\x01")
    assert (tmp_path / "c.bin").read_bytes() == b"\x00\x01"


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "model.weights.h5"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="disk full"):
        with io.atomic_path(target) as tmp:
            assert tmp.endswith(".weights.h5")  # Keras checks the suffix
            assert os.path.dirname(tmp) == str(tmp_path)
            with open(tmp, "wb") as f:
                f.write(b"half")
            raise RuntimeError("disk full")
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["model.weights.h5"]
    io.write_atomic(target, b"new")
    assert target.read_bytes() == b"new"
    assert os.listdir(tmp_path) == ["model.weights.h5"]
