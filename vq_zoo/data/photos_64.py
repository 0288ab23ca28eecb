"""64x64 crops of real photos: the ones bundled with scikit-learn and
scikit-image, plus (optionally) the sample photos of OpenCV's documentation.

Train, validation and test are split **by source photo** (a stereo pair or a
sequence of one scene counts as one source and stays in one split), so no
validation or test crop overlaps a photo seen in training:

- the bundled photos keep the split of `vq_zoo.data.natural_images`
  (test: `flower`, `coffee`; validation: `chelsea`, `rocket`; train: the
  rest);
- the OpenCV photos (`OPENCV_SPLITS`): test `baboon`, `butterfly`,
  `leuven` (A and B), `smarties`; validation `apple`, `building`,
  `rubberwhale` (1 and 2); train the other 16 scenes. Synthetic images,
  logos, text, cartoons and grey calibration boards are left out.

The OpenCV photos are not in any pip package: `opencv_photos()` fetches the
Debian package `opencv-doc` with `apt-get download` (no root, nothing
installed), unpacks only `examples/data` into a cache folder
(`$VQ_ZOO_HOME/opencv_photos`, default `~/.cache/vq_zoo/opencv_photos`) and
reads the photos from there afterwards. Without apt it fails at once with
what to do.

Example:
>>> train = photo_crops("train", num=512, include_opencv=False)
>>> train.shape, train.dtype
((512, 64, 64, 3), dtype('float32'))
"""

import glob
import os
import shutil
import subprocess
import tempfile

import numpy as np

from vq_zoo.data.natural_images import SPLITS
from vq_zoo.data.natural_images import source_images
from vq_zoo.data.natural_images import split_names
from vq_zoo.utils.checks import check_choice
from vq_zoo.utils.io import atomic_path

OPENCV_PACKAGE = "opencv-doc"
OPENCV_DATA = "usr/share/doc/opencv-doc/examples/data"
# Scene name -> the files of that scene (one source photo, or a stereo pair
# or sequence of one scene, kept together in one split).
OPENCV_SCENES = {
    "aero": ("aero1.jpg", "aero3.jpg"),
    "aloe": ("aloeL.jpg", "aloeR.jpg"),
    "apple": ("apple.jpg",),
    "baboon": ("baboon.jpg",),
    "board": ("board.jpg",),
    "books": ("left.jpg", "right.jpg"),
    "building": ("building.jpg",),
    "butterfly": ("butterfly.jpg",),
    "castle": ("home.jpg",),
    "fruits": ("fruits.jpg",),
    "graffiti": ("graf1.png", "graf3.png"),
    "leuven": ("leuvenA.jpg", "leuvenB.jpg"),
    "licenseplate": ("licenseplate_motion.jpg",),
    "messi": ("messi5.jpg",),
    "notebook": ("ela_original.jpg",),
    "orange": ("orange.jpg",),
    "rubberwhale": ("rubberwhale1.png", "rubberwhale2.png"),
    "smarties": ("smarties.png",),
    "squirrel": ("squirrel_cls.jpg",),
    "starry_night": ("starry_night.jpg",),
    "stuff": ("stuff.jpg",),
}
OPENCV_SPLITS = {
    "test": ("baboon", "butterfly", "leuven", "smarties"),
    "validation": ("apple", "building", "rubberwhale"),
}


def opencv_cache_dir():
    """`$VQ_ZOO_HOME/opencv_photos`, default `~/.cache/vq_zoo/opencv_photos`."""
    from vq_zoo.utils.home import vq_zoo_home

    return os.path.join(vq_zoo_home(), "opencv_photos")


def _scene_files(directory):
    return [os.path.join(directory, f) for files in OPENCV_SCENES.values() for f in files]


def fetch_opencv_photos(cache_dir=None, verbose=True):
    """Makes sure the OpenCV sample photos are in `cache_dir` (default
    `opencv_cache_dir()`): `apt-get download opencv-doc` into a scratch
    folder, then only `examples/data` of the package is unpacked
    (`dpkg-deb --fsys-tarfile | tar -x`) and the photos copied. Nothing is
    installed and no root is needed. Returns the folder.

    Raises:
        FileNotFoundError: apt-get or dpkg-deb is not available, or the
            download failed (with the command to run by hand).
    """
    cache_dir = cache_dir or opencv_cache_dir()
    if all(os.path.exists(f) for f in _scene_files(cache_dir)):
        return cache_dir
    manual = (f"On a Debian/Ubuntu machine run `apt-get download {OPENCV_PACKAGE}` and "
              f"`dpkg-deb --fsys-tarfile {OPENCV_PACKAGE}_*.deb | tar -x "
              f"./{OPENCV_DATA}`, then copy that folder's photos to {cache_dir}; or "
              "use a config without the OpenCV photos (--set include_opencv=false).")
    for tool in ("apt-get", "dpkg-deb", "tar"):
        if shutil.which(tool) is None:
            raise FileNotFoundError(
                f"The OpenCV sample photos are not in {cache_dir}, and `{tool}` is not "
                f"available to fetch them. {manual}")
    if verbose:
        print(f"Fetching the OpenCV sample photos (apt-get download {OPENCV_PACKAGE}, "
              f"about 95 MB) into {cache_dir} ...", flush=True)
    with tempfile.TemporaryDirectory() as scratch:
        try:
            subprocess.run(["apt-get", "download", OPENCV_PACKAGE], cwd=scratch,
                           check=True, capture_output=True, timeout=600)
            deb, = glob.glob(os.path.join(scratch, f"{OPENCV_PACKAGE}_*.deb"))
            unpacked = os.path.join(scratch, "unpacked")
            os.makedirs(unpacked)
            tar = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", deb],
                                   stdout=subprocess.PIPE)
            subprocess.run(["tar", "-x", "-C", unpacked, f"./{OPENCV_DATA}"],
                           stdin=tar.stdout, check=True, capture_output=True,
                           timeout=600)
            tar.stdout.close()
            if tar.wait() != 0:
                raise subprocess.CalledProcessError(tar.returncode, "dpkg-deb")
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired,
                ValueError) as e:
            stderr = getattr(e, "stderr", None) or b""
            detail = stderr.decode(errors="replace").strip().splitlines()
            raise FileNotFoundError(
                f"Could not fetch the OpenCV sample photos ({e}"
                + (f": {detail[-1]}" if detail else "") + f"). {manual}") from None
        os.makedirs(cache_dir, exist_ok=True)
        source = os.path.join(unpacked, OPENCV_DATA)
        for path in _scene_files(source):
            if not os.path.exists(path):
                raise FileNotFoundError(
                    f"{OPENCV_PACKAGE} has no {os.path.basename(path)}: the package "
                    f"changed. {manual}")
            with atomic_path(os.path.join(cache_dir, os.path.basename(path))) as tmp:
                shutil.copyfile(path, tmp)
    return cache_dir


def opencv_photos(cache_dir=None, fetch=True):
    """`{scene: [uint8 (H, W, 3) RGB arrays]}` of the OpenCV sample photos
    (`OPENCV_SCENES`), fetched first with `fetch_opencv_photos` when absent
    and `fetch`."""
    from PIL import Image

    cache_dir = cache_dir or opencv_cache_dir()
    if fetch:
        fetch_opencv_photos(cache_dir)
    scenes = {}
    for scene, files in OPENCV_SCENES.items():
        arrays = []
        for name in files:
            path = os.path.join(cache_dir, name)
            if not os.path.exists(path):
                raise FileNotFoundError(
                    f"{path} not found: call vq_zoo.data.photos_64.fetch_opencv_photos()")
            with Image.open(path) as im:
                arrays.append(np.asarray(im.convert("RGB"), np.uint8))
        scenes[scene] = arrays
    return scenes


def opencv_split_names(split):
    """The OpenCV scenes of `split`."""
    check_choice("split", split, SPLITS)
    if split in OPENCV_SPLITS:
        return list(OPENCV_SPLITS[split])
    held_out = {s for names in OPENCV_SPLITS.values() for s in names}
    return [s for s in OPENCV_SCENES if s not in held_out]


def split_photos(split, include_opencv=True, cache_dir=None):
    """`{source name: [photos]}` of `split`: the bundled photos of that split
    (`vq_zoo.data.natural_images.split_names`), and with `include_opencv`
    the OpenCV scenes of `OPENCV_SPLITS` (prefixed `opencv/`)."""
    bundled = source_images()
    names = split_names(split, bundled)
    # The stereo pair of the motorcycle is one scene.
    photos = {n: [bundled[n]] for n in names}
    if include_opencv:
        scenes = opencv_photos(cache_dir)
        for scene in opencv_split_names(split):
            photos[f"opencv/{scene}"] = scenes[scene]
    return photos


def downscale(image, factor):
    """`image` (uint8 H, W, 3) averaged over `factor` x `factor` blocks."""
    if factor == 1:
        return image
    h, w = (image.shape[0] // factor) * factor, (image.shape[1] // factor) * factor
    blocks = image[:h, :w].astype(np.float32).reshape(h // factor, factor, w // factor,
                                                      factor, image.shape[2])
    return blocks.mean(axis=(1, 3)).round().astype(np.uint8)


def random_crops(photos, num, size, scales=(2, 4), seed=0):
    """`num` random `size` x `size` crops (random horizontal flips) of the
    list of uint8 `photos`, each downscaled by one of `scales`; every photo
    and scale is drawn equally often in expectation. float32 in [0, 1]."""
    if not isinstance(num, int) or num < 1 or not isinstance(size, int) or size < 1:
        raise ValueError(f"`num` and `size` must be integers >= 1, got {num!r}, {size!r}")
    pyramid = [downscale(p, f) for p in photos for f in scales]
    pyramid = [p for p in pyramid if min(p.shape[:2]) >= size]
    if not pyramid:
        raise ValueError(f"No photo is {size}x{size} or larger at scales {scales}")
    rng = np.random.default_rng(seed)
    out = np.empty((num, size, size, 3), np.uint8)
    for i, k in enumerate(rng.integers(0, len(pyramid), size=num)):
        im = pyramid[k]
        y = rng.integers(0, im.shape[0] - size + 1)
        x = rng.integers(0, im.shape[1] - size + 1)
        crop = im[y:y + size, x:x + size]
        out[i] = crop[:, ::-1] if rng.random() < 0.5 else crop
    return out.astype(np.float32) / 255.0


def photo_crops(split="train", num=4096, size=64, scales=(2, 4), seed=0,
                include_opencv=True, cache_dir=None):
    """Random crops of the photos of `split`, float32 `(num, size, size, 3)`
    in [0, 1].

    Args:
        split: "train", "validation" or "test" (disjoint source photos).
        num: int, number of crops.
        size: int, crop side in pixels.
        scales: downscaling factors drawn from (2: half resolution), so a
            crop shows more of a scene than a full-resolution one would.
        seed: int, random seed.
        include_opencv: bool, add the OpenCV sample photos (fetched with
            apt when absent, see `fetch_opencv_photos`); False: the photos
            of scikit-learn and scikit-image only (no apt needed).
        cache_dir: folder of the OpenCV photos (default
            `opencv_cache_dir()`).
    """
    photos = split_photos(split, include_opencv, cache_dir)
    flat = [p for group in photos.values() for p in group]
    return random_crops(flat, num, size, scales, seed)


__all__ = ["photo_crops", "split_photos", "random_crops", "opencv_photos",
           "fetch_opencv_photos", "opencv_cache_dir", "OPENCV_SCENES",
           "OPENCV_SPLITS"]
