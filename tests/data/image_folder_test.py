"""vq_zoo.data.image_folder against Pillow's reading of the same files, and
its split, classes and refusals on small generated folders."""

import io
import os

import numpy as np
import pytest
from PIL import Image

import vq_zoo
from vq_zoo.data.image_folder import ImageFolder
from vq_zoo.data.image_folder import ImageFolderError
from vq_zoo.data.image_folder import image_folder
from vq_zoo.data.image_folder import label_index
from vq_zoo.data.image_folder import split_of

RNG = np.random.default_rng(0)
RGB = RNG.integers(0, 256, (16, 24, 3), dtype=np.uint8)  # h=16, w=24
ALPHA = RNG.integers(0, 256, (16, 24), dtype=np.uint8)


def _save(path, image, **kwargs):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    image.save(path, **kwargs)


def _formats(root):
    """One 16x24 picture in every format and mode the folder reads."""
    palette = Image.fromarray(RGB).convert("P")
    frames = [palette, Image.fromarray(255 - RGB).convert("P")]
    files = {
        "rgb.png": Image.fromarray(RGB),
        "grey.png": Image.fromarray(RGB[..., 0]),
        "grey16.png": Image.fromarray(RGB[..., 0].astype(np.uint16) * 257 + 3),
        "palette.png": palette,
        "rgba.png": Image.fromarray(np.dstack([RGB, ALPHA])),
        "grey_alpha.png": Image.fromarray(np.dstack([RGB[..., 0], ALPHA]), "LA"),
        "rgb.webp": Image.fromarray(RGB),
        "rgba.webp": Image.fromarray(np.dstack([RGB, ALPHA])),
        "rgb.bmp": Image.fromarray(RGB),
        "palette.bmp": palette,
        "grey.bmp": Image.fromarray(RGB[..., 1]),
    }
    for name, image in files.items():
        _save(os.path.join(root, name), image,
              **({"lossless": True} if name.endswith(".webp") else {}))
    _save(os.path.join(root, "first_frame.gif"), frames[0], save_all=True,
          append_images=frames[1:])
    p = Image.fromarray(RGB).convert("P")
    _save(os.path.join(root, "palette_transparent.png"), p, transparency=int(
        np.asarray(p)[0, 4]))
    _save(os.path.join(root, "photo.jpg"), Image.fromarray(RGB), quality=95)
    return sorted(list(files) + ["first_frame.gif", "palette_transparent.png", "photo.jpg"])


def _pillow_reference(path):
    """The image as Pillow reads it, alpha onto white, RGB in [0, 1] (16-bit
    grey from its raw values)."""
    with Image.open(path) as image:
        image.seek(0)
        if image.mode.startswith("I"):
            grey = np.asarray(image, np.float64) / 65535.0
            return np.repeat(grey[..., None], 3, axis=-1)
        rgba = np.asarray(image.convert("RGBA"), np.float64) / 255.0
    alpha = rgba[..., 3:]
    return rgba[..., :3] * alpha + (1.0 - alpha)


def _all_images(folder, image_size, **kwargs):
    images = list(folder.dataset(None, image_size, batch_size=None, shuffle=False,
                                 **kwargs).as_numpy_iterator())
    return dict(zip(folder.files, images))


def _write_many(root, names, size=(12, 12), colour=None):
    for i, name in enumerate(names):
        pixels = (np.full(size + (3,), colour, np.uint8) if colour is not None else
                  RNG.integers(0, 256, size + (3,), dtype=np.uint8))
        _save(os.path.join(root, name), Image.fromarray(pixels))


# ------------------------------------------------------------- decoding
def test_every_format_and_mode_equals_pillow_on_the_central_square(tmp_path):
    """16x24 pictures give their central 16x16 square (columns 4..19), no
    resampling: lossless formats equal Pillow's pixels (alpha composited onto
    white, palettes expanded, 16-bit grey at full precision, a GIF's first
    frame) to float rounding; the JPEG within its decoders' differences."""
    names = _formats(str(tmp_path))
    folder = ImageFolder.scan(str(tmp_path), require_splits=False)
    assert list(folder.files) == names and folder.skipped == {}
    assert folder.channels == 3  # some are in colour
    images = _all_images(folder, 16)
    for name in names:
        expected = _pillow_reference(os.path.join(str(tmp_path), name))[:, 4:20]
        got = images[name]
        assert got.shape == (16, 16, 3) and got.dtype == np.float32, name
        if name.endswith(".jpg"):  # two JPEG decoders: upsampling differs
            assert np.abs(got - expected).mean() < 2 / 255, name
            assert np.abs(got - expected).max() < 12 / 255, name
        else:
            np.testing.assert_allclose(got, expected, atol=1e-6, err_msg=name)
    # The alpha really was used: the transparent palette entry is white.
    with Image.open(str(tmp_path / "palette_transparent.png")) as image:
        index = np.asarray(image)[:, 4:20]
        clear = index == image.info["transparency"]
    assert clear.any()
    assert np.all(images["palette_transparent.png"][clear] == 1.0)


def test_grey_folder_has_one_channel_equal_to_the_grey_values(tmp_path):
    for i in range(3):
        _save(str(tmp_path / f"g{i}.png"), Image.fromarray(RGB[..., i]))
    _save(str(tmp_path / "g16.png"), Image.fromarray(RGB[..., 0].astype(np.uint16) * 257))
    folder = ImageFolder.scan(str(tmp_path), require_splits=False)
    assert folder.channels == 1
    images = _all_images(folder, 16)
    for i in range(3):
        np.testing.assert_allclose(images[f"g{i}.png"][..., 0],
                                   RGB[:, 4:20, i] / 255.0, atol=1e-6)
    np.testing.assert_allclose(images["g16.png"][..., 0], RGB[:, 4:20, 0] / 255.0,
                               atol=1e-6)
    # channels=3 forced: the grey value repeated.
    rgb = _all_images(ImageFolder.scan(str(tmp_path), channels=3,
                                       require_splits=False), 16)
    np.testing.assert_array_equal(rgb["g1.png"], np.repeat(images["g1.png"], 3, -1))
    # channels=1 on colour: ITU-R 601 luma, as Pillow's convert("L").
    _save(str(tmp_path / "colour.png"), Image.fromarray(RGB))
    grey = _all_images(ImageFolder.scan(str(tmp_path), channels=1,
                                        require_splits=False), 16)["colour.png"]
    luma = np.asarray(Image.fromarray(RGB).convert("L"), np.float64)[:, 4:20] / 255.0
    np.testing.assert_allclose(grey[..., 0], luma, atol=1 / 255 + 1e-6)


def test_resizing_keeps_the_central_square_only_and_agrees_with_pillow(tmp_path):
    """A 30x60 picture whose central 30x30 square is a smooth gradient and
    whose outer columns are pure red: resized to 15x15 no red is left, and
    the result is within a small margin of Pillow's bilinear reduction of the
    same square (another resampler)."""
    y, x = np.mgrid[:30, :30]
    square = np.stack([0.5 * x / 29.0, y / 29.0, (x + y) / 58.0], -1)
    wide = np.zeros((30, 60, 3))
    wide[..., 0] = 1.0
    wide[:, 15:45] = square
    pixels = (wide * 255 + 0.5).astype(np.uint8)
    _save(str(tmp_path / "wide.png"), Image.fromarray(pixels))
    _save(str(tmp_path / "red.png"), Image.fromarray(
        np.tile(np.array([255, 0, 0], np.uint8), (7, 9, 1))))
    folder = ImageFolder.scan(str(tmp_path), require_splits=False)
    images = _all_images(folder, 15)
    reference = np.asarray(Image.fromarray(pixels[:, 15:45]).resize(
        (15, 15), Image.BILINEAR), np.float64) / 255.0
    assert np.abs(images["wide.png"] - reference).max() < 0.03
    assert images["wide.png"][..., 0].max() < 0.55  # no red column got in
    # The same as a JPEG four times the size: decoded at 1/4 scale in the
    # DCT domain (the square, 120 pixels from column 60, falls on whole
    # pixels there), then resized; close to Pillow too, no red.
    big = np.repeat(np.repeat(pixels, 4, axis=0), 4, axis=1)
    _save(str(tmp_path / "wide.jpg"), Image.fromarray(big), quality=95)
    jpeg = _all_images(ImageFolder.scan(str(tmp_path), require_splits=False), 15)
    assert np.abs(jpeg["wide.jpg"] - reference).max() < 0.06
    assert np.abs(jpeg["wide.jpg"] - reference).mean() < 0.01
    assert jpeg["wide.jpg"][..., 0].max() < 0.55
    # A smaller image is upscaled; a flat colour stays that colour.
    np.testing.assert_allclose(images["red.png"], np.broadcast_to([1.0, 0, 0], (15, 15, 3)),
                               atol=1e-6)


def test_dataset_is_what_fit_takes_and_caching_changes_nothing(tmp_path):
    _write_many(str(tmp_path / "a"), [f"{i:02d}.png" for i in range(20)])
    _write_many(str(tmp_path / "b"), [f"{i:02d}.jpg" for i in range(20)])
    folder = ImageFolder.scan(str(tmp_path))
    for split in ("validation", "test"):
        cached = list(folder.dataset(split, 8, 4, cache=True).as_numpy_iterator())
        streamed = list(folder.dataset(split, 8, 4, cache=False).as_numpy_iterator())
        for (x, y), (u, v) in zip(cached, streamed):
            np.testing.assert_array_equal(x, u)
            np.testing.assert_array_equal(y, v)
    # Shuffled, seeded training batches: the same seed gives the same order.
    first = [y for _, y in folder.dataset("train", 8, 4, seed=3).take(3)]
    again = [y for _, y in folder.dataset("train", 8, 4, seed=3).take(3)]
    np.testing.assert_array_equal(np.concatenate(first), np.concatenate(again))
    # The public one-call form, as fit receives it.
    ds = vq_zoo.data.image_folder(str(tmp_path), image_size=8, split="train",
                                  batch_size=4)
    x, y = next(iter(ds))
    assert x.shape == (4, 8, 8, 3) and x.dtype == "float32" and y.dtype == "int32"
    assert 0.0 <= float(np.min(x)) and float(np.max(x)) <= 1.0


# -------------------------------------------------------- labels, split
def test_first_level_subfolders_are_classes_and_loose_files_are_skipped(tmp_path, capsys):
    _write_many(str(tmp_path / "zebra" / "deep" / "deeper"), ["z1.png", "z2.png"])
    _write_many(str(tmp_path / "zebra"), [f"z{i}.jpg" for i in range(10)])
    _write_many(str(tmp_path / "ant"), [f"a{i}.png" for i in range(12)])
    _write_many(str(tmp_path), ["loose.png"])
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / ".hidden").mkdir()
    _write_many(str(tmp_path / ".hidden"), ["h.png"])
    folder = ImageFolder.scan(str(tmp_path), verbose=1)
    assert folder.class_names == ("ant", "zebra")
    assert folder.skipped == {"outside the class folders": ["loose.png"]}
    assert folder.other_files == 1
    assert len(folder.files) == 24 and not any(".hidden" in f for f in folder.files)
    for name, label in zip(folder.files, folder.labels):
        assert folder.class_names[label] == name.split("/")[0]
    out = capsys.readouterr().out
    assert "24 images" in out and "skipped 1 outside the class folders: loose.png" in out
    # One subfolder: no classes.
    single = tmp_path / "single"
    _write_many(str(single / "only"), [f"{i}.png" for i in range(30)])
    assert ImageFolder.scan(str(single), require_splits=False).labels is None


def test_split_follows_the_path_hash_and_never_moves_a_file(tmp_path):
    """The fractions hold on many paths (binomial bounds); a file keeps its
    split when files are added; the splits are disjoint and cover the
    folder."""
    paths = [f"class_{i % 7}/img_{i}.jpg" for i in range(20000)]
    splits = [split_of(p, 0.1, 0.2) for p in paths]
    for name, p in (("validation", 0.1), ("test", 0.2), ("train", 0.7)):
        share = splits.count(name) / len(paths)
        assert abs(share - p) < 4 * np.sqrt(p * (1 - p) / len(paths)), (name, share)
    small = tmp_path / "small"
    big = tmp_path / "big"
    names = [f"{i:03d}.png" for i in range(40)]
    _write_many(str(small), names)
    _write_many(str(big), names + [f"extra_{i}.png" for i in range(40)])
    a = ImageFolder.scan(str(small), 0.2, 0.2)
    b = ImageFolder.scan(str(big), 0.2, 0.2)
    where = dict(zip(b.files, b.splits))
    assert all(where[f] == s for f, s in zip(a.files, a.splits))
    parts = [set(a.split_files(s)[0]) for s in ("train", "validation", "test")]
    assert sum(map(len, parts)) == len(a.files) == len(set.union(*parts))
    # Recorded and read back: the same split.
    record = str(tmp_path / "data.json")
    a.write(record)
    assert ImageFolder.read(record, str(small)) == a
    with pytest.raises(ImageFolderError, match="records the images of"):
        ImageFolder.read(record, str(big))


# ----------------------------------------------------------- bad input
def test_unreadable_files_are_skipped_with_a_count_and_their_names(tmp_path, capsys):
    _write_many(str(tmp_path), [f"ok_{i:02d}.png" for i in range(40)], size=(20, 20))
    good_png = (tmp_path / "ok_00.png").read_bytes()
    buffer = io.BytesIO()
    Image.fromarray(RGB).save(buffer, "JPEG")
    (tmp_path / "cut.png").write_bytes(good_png[: len(good_png) // 2])
    (tmp_path / "cut.jpg").write_bytes(buffer.getvalue()[:300])
    (tmp_path / "empty.webp").write_bytes(b"")
    (tmp_path / "text.gif").write_text("GIF? no, a text file")
    folder = ImageFolder.scan(str(tmp_path), verbose=1)
    skipped = folder.skipped["unreadable (truncated, corrupt or not an image)"]
    assert skipped == ["cut.jpg", "cut.png", "empty.webp", "text.gif"]
    assert len(folder.files) == 40
    assert "skipped 4 unreadable (truncated, corrupt or not an image): cut.jpg, " \
        "cut.png, empty.webp, text.gif" in capsys.readouterr().out


@pytest.mark.parametrize("make, message", [
    (lambda d: None, "holds no image files: expected a folder of images"),
    (lambda d: (d / "a.txt").write_text("x"),
     "holds no image files (1 files of other types): expected a folder of images"),
    (lambda d: [(d / f"{i}.png").write_bytes(b"\x89PNG broken") for i in range(7)],
     "none of its 7 image files could be read (0.png, 1.png, 2.png, 3.png, 4.png, ... "
     "(2 more)): expected PNG, JPEG, WebP, BMP or GIF images"),
    (lambda d: _write_many(str(d), ["a.png", "b.png", "c.png"]),
     "expected at least one in every split"),
])
def test_bad_folders_are_one_line_naming_the_folder(tmp_path, make, message):
    folder = tmp_path / "data"
    folder.mkdir()
    make(folder)
    with pytest.raises(ImageFolderError) as info:
        ImageFolder.scan(str(folder))
    text = str(info.value)
    assert text.startswith(str(folder)) and message in text and "\n" not in text, text
    assert isinstance(info.value, OSError)  # the CLI's one-line error


def test_a_missing_folder_and_bad_arguments_are_refused(tmp_path):
    with pytest.raises(ImageFolderError, match="is not a folder: expected a folder"):
        ImageFolder.scan(str(tmp_path / "nope"))
    with pytest.raises(ValueError, match="their sum below 1"):
        ImageFolder.scan(str(tmp_path), 0.6, 0.5)
    assert label_index("2", None) == 2
    assert label_index("zebra", ["ant", "zebra"]) == 1
    with pytest.raises(ValueError, match="--label cow: this prior's classes are ant, zebra"):
        label_index("cow", ["ant", "zebra"])
