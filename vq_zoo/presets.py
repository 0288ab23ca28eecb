"""Presets: a trained model as a folder of plain files, and how to find one.

A preset is a folder holding

    config.json        the Keras serialisation of the model
                       (`keras.saving.serialize_keras_object`, less its
                       `compile_config`)
    model.weights.h5   its weights (`model.save_weights`, no optimizer state)
    metadata.json      versions, class, parameter count, the sha256 of the two
                       files above, the date, and whatever the caller adds
                       (dataset, recipe, config, command, metrics, ...)
    README.md          the model card (`vq_zoo.model_card`), written from
                       the model itself and the run facts in the metadata
    *.png              optional pictures (`samples.png`, ...), listed with
                       their sha256 under `extra_files` in metadata.json

`save_to_preset` writes each file atomically (temporary file + rename), and
metadata.json last: a folder without it is an unfinished save, and a folder
whose files do not match its hashes is refused. `load_preset` never runs
code from the files: the config is deserialised in Keras safe mode (no
lambdas; only registered `vq_zoo` and Keras classes) and the weights are
HDF5 arrays, never pickles.

A handle is one of:
    - a preset name, searched in this order (the first folder
      `<root>/<name>/` holding a metadata.json wins):
        1. the user folder `$VQ_ZOO_HOME/presets/` (default
           `~/.cache/vq_zoo/presets/`), where `vq-zoo export` writes;
        2. the installed package data `vq_zoo.pretrained` (the wheel);
        3. the checkout's `pretrained/`;
    - a name declared in `pretrained/index.json` (a downloadable preset);
    - an `http://`, `https://` or `file://` URL of a `.tar.gz` of a preset
      folder;
    - a directory path.

`pretrained/index.json` declares downloadable presets:

    {"format_version": 1,
     "presets": {"<name>": {"url": "https://.../<name>.tar.gz",
                            "sha256": "<sha256 of the archive>",
                            "class_name": "VQVAE", "dataset": "...",
                            "description": "...", "metrics": {...}}}}

An archive is downloaded once into `<KERAS_HOME>/vq_zoo_presets/` by
`keras.utils.get_file`, which checks its sha256, and extracted; the files
inside are then checked against their own metadata.json like any preset.
`make_preset_archive(directory, path)` writes such an archive and returns
the sha256 to put in the index.
"""

import contextlib
import datetime
import errno
import hashlib
import json
import os
import pathlib
import tarfile
import urllib.parse
import warnings

from vq_zoo.utils.home import HOME_ENV  # noqa: F401 (part of this module's API)
from vq_zoo.utils.home import vq_zoo_home
from vq_zoo.utils.io import TEMP_PREFIX
from vq_zoo.utils.io import atomic_path
from vq_zoo.utils.io import write_atomic

# Keras (and so TensorFlow) is imported only by the functions that build or
# save a model: finding and listing presets reads JSON only.
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.weights.h5"
METADATA_FILE = "metadata.json"
README_FILE = "README.md"
INDEX_FILE = "index.json"
HASHED_FILES = (CONFIG_FILE, WEIGHTS_FILE)
FORMAT_VERSION = 1
CACHE_SUBDIR = "vq_zoo_presets"
URL_SCHEMES = ("http", "https", "file")
RESERVED_METADATA = (
    "format_version",
    "vq_zoo_version",
    "keras_version",
    "tensorflow_version",
    "class_name",
    "parameter_count",
    "files",
    "extra_files",
    "date",
    "weights_float16",
)
# float16's largest finite value is 65504: arrays with larger magnitudes stay
# float32 (and so does anything that is not finite, which the loader refuses).
_FLOAT16_MAX = 65000.0


# ----------------------------------------------------------------- helpers
def _sha256(path, chunk_size=1 << 20):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _json_default(value):
    import dataclasses

    import numpy as np

    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(
        f"metadata value of type {type(value).__name__} is not JSON "
        f"serialisable: {value!r}"
    )


def _dumps(obj):
    return (json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n").encode()


def _read_json(path):
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Preset file {path} is missing.")
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (ValueError, UnicodeDecodeError, RecursionError) as e:  # nested too deep
        raise ValueError(f"Preset file {path} is not valid JSON: {e}") from None


def _read_json_object(path):
    value = _read_json(path)
    if not isinstance(value, dict):
        kind = {list: "list", str: "string"}.get(type(value), type(value).__name__)
        raise ValueError(
            f"Preset file {path} must hold a JSON object ({{...}}), not a JSON {kind}."
        )
    return value


def _tensorflow_version():
    try:
        import tensorflow as tf

        return tf.__version__
    except ImportError:  # pragma: no cover - the package requires it
        return None


# --------------------------------------------------------------- locations
def _checkout_pretrained():
    return pathlib.Path(__file__).resolve().parent.parent / "pretrained"


def user_presets_dir():
    """The user's preset folder, `$VQ_ZOO_HOME/presets` (default
    `~/.cache/vq_zoo/presets`): where `vq-zoo export` writes; searched first."""
    return vq_zoo_home() / "presets"


def _pretrained_roots():
    """Folders that may hold presets, in search order: the user folder
    (`user_presets_dir()`), the installed package data `vq_zoo.pretrained`
    (a wheel), then the checkout's `pretrained/`."""
    roots = []
    user = user_presets_dir()
    if user.is_dir():
        roots.append(user)
    try:
        import importlib.resources

        root = importlib.resources.files("vq_zoo.pretrained")
        # A namespace package gives a MultiplexedPath; take its folders.
        paths = getattr(root, "_paths", None) or [root]
        for path in paths:
            path = pathlib.Path(os.fspath(path))
            if path.is_dir():
                roots.append(path)
    except (ModuleNotFoundError, TypeError, ValueError):
        pass
    checkout = _checkout_pretrained()
    if checkout.is_dir() and all(checkout.resolve() != r.resolve() for r in roots):
        roots.append(checkout)
    return roots


def _shipped_presets():
    """`{name: folder}` of the shipped presets (first root wins)."""
    found = {}
    for root in _pretrained_roots():
        for child in sorted(root.iterdir()):
            if (
                child.is_dir()
                and not child.name.startswith((".", "_"))
                and (child / METADATA_FILE).is_file()
                and child.name not in found
            ):
                found[child.name] = child
    return found


def _index():
    """`{name: entry}` from the first `index.json` among the roots."""
    for root in _pretrained_roots():
        path = root / INDEX_FILE
        if path.is_file():
            index = _read_json(path)
            presets = index.get("presets", {}) if isinstance(index, dict) else None
            if not isinstance(presets, dict):
                raise ValueError(f"{path} must be an object with a 'presets' object.")
            for name, entry in presets.items():
                if not isinstance(entry, dict) or "url" not in entry:
                    raise ValueError(f"{path}: preset '{name}' needs a 'url'.")
            return presets
    return {}


def list_presets():
    """The available presets, `{name: description}`.

    Each description holds `class_name`, `dataset`, `metrics`, `description`
    (None where unknown), and `path` for a preset folder or `url` for one in
    `pretrained/index.json`. Folders are searched in the order of the module
    docstring (the user folder first); a folder shadows an index entry of
    the same name.
    """
    presets = {}
    for name, entry in sorted(_index().items()):
        presets[name] = {
            "class_name": entry.get("class_name"),
            "dataset": entry.get("dataset"),
            "metrics": entry.get("metrics"),
            "description": entry.get("description"),
            "url": entry["url"],
        }
    for name, folder in sorted(_shipped_presets().items()):
        metadata = _read_json_object(folder / METADATA_FILE)
        presets[name] = {
            "class_name": metadata.get("class_name"),
            "dataset": metadata.get("dataset"),
            "metrics": metadata.get("metrics"),
            "description": metadata.get("description"),
            "path": str(folder),
        }
    return dict(sorted(presets.items()))


def _is_url(handle):
    return isinstance(handle, str) and urllib.parse.urlsplit(handle).scheme in URL_SCHEMES


def _download(url, sha256=None, name=None, cache_dir=None):
    """Downloads and extracts a preset archive once; returns its folder."""
    path = urllib.parse.urlsplit(url).path
    base = os.path.basename(path.rstrip("/")) or "preset"
    stem = base.split(".", 1)[0]
    # The archive's hash in the cache name: a new version is a new entry.
    tag = (sha256 or hashlib.sha256(url.encode()).hexdigest())[:16]
    fname = f"{name or stem}-{tag}.tar.gz"
    import keras

    if cache_dir is not None:
        # get_file treats a missing cache_dir as unwritable and silently
        # falls back to /tmp/.keras.
        os.makedirs(cache_dir, exist_ok=True)
    try:
        folder = keras.utils.get_file(
            fname=fname,
            origin=url,
            file_hash=sha256,
            hash_algorithm="sha256",
            cache_subdir=CACHE_SUBDIR,
            cache_dir=cache_dir,
            extract=True,
        )
    except ValueError as e:
        raise ValueError(
            f"Preset archive {url} does not match its sha256 {sha256}: {e}"
        ) from e
    except Exception as e:
        raise OSError(f"Could not download preset archive {url}: {e}") from e
    folder = pathlib.Path(folder)
    if (folder / METADATA_FILE).is_file():
        return folder
    children = [c for c in folder.iterdir() if c.is_dir()] if folder.is_dir() else []
    if len(children) == 1 and (children[0] / METADATA_FILE).is_file():
        return children[0]
    raise ValueError(
        f"Preset archive {url} does not hold a preset folder (no {METADATA_FILE} "
        f"at its top or in a single folder; extracted to {folder})."
    )


def resolve_preset(handle, cache_dir=None):
    """The local folder of a preset handle (downloading it if needed)."""
    if isinstance(handle, os.PathLike):
        handle = os.fspath(handle)
    if not isinstance(handle, str) or not handle:
        raise ValueError(f"A preset handle is a name, a directory or a URL, got {handle!r}")
    shipped = _shipped_presets()
    if handle in shipped:
        return shipped[handle]
    index = _index()
    if handle in index:
        entry = index[handle]
        return _download(entry["url"], entry.get("sha256"), handle, cache_dir)
    if _is_url(handle):
        return _download(handle, None, None, cache_dir)
    if os.path.isdir(handle):
        return pathlib.Path(handle)
    available = sorted(set(shipped) | set(index))
    raise ValueError(
        f"Unknown preset {handle!r}: not a preset name, an existing directory "
        f"or an http(s)/file URL. Available presets: "
        f"{', '.join(available) if available else '(none)'}."
    )


def companion_handle(source, name):
    """The handle of the preset `name` that the metadata of preset `source`
    names (its companion prior, its VQ-VAE-2 levels, ...): the folder
    `name` beside `source` when `source` is a preset folder and that
    sibling is a preset too (a set exported together with `--dest`), else
    `name` itself (found by name as any preset)."""
    if isinstance(source, os.PathLike):
        source = os.fspath(source)
    if isinstance(source, str) and os.path.isdir(source) and not _is_url(source):
        sibling = pathlib.Path(source).resolve().parent / name
        if (sibling / METADATA_FILE).is_file():
            return str(sibling)
    return name


# ------------------------------------------------------------------ saving
# Room kept free beyond a preset's own files when it is written: HDF5's
# own overhead, the config, card and metadata.
FREE_SPACE_MARGIN = 4 * 2**20


def _check_free_space(directory, model, files):
    """Refuses (OSError ENOSPC, naming the folder) to start writing a preset
    where the disk has no room for it: h5py does not fail cleanly on a full
    disk (it can crash the process mid-write)."""
    import shutil

    import numpy as np

    needed = (sum(int(np.prod(w.shape)) * np.dtype(w.dtype).itemsize
                  for w in model.weights)
              + sum(pathlib.Path(f).stat().st_size for f in (files or {}).values())
              + FREE_SPACE_MARGIN)
    free = shutil.disk_usage(directory).free
    if free < needed:
        raise OSError(errno.ENOSPC,
                      f"No space left for the preset: {needed / 2**20:.1f} MB needed, "
                      f"{free / 2**20:.1f} MB free", str(directory))


def save_to_preset(model, directory, metadata=None, files=None, model_card=None,
                   float16_min_values=None):
    """Writes `model` as a preset folder `directory`.

    Args:
        model: a built `VQVAE`, `GatedPixelCNNPrior`, `GatedPixelCNN1DPrior`
            (or any registered, built Keras model).
        directory: the folder to write (created if needed). An existing
            preset there is replaced: its metadata.json is removed first, so
            the folder is never a valid mix of old and new files, and so are
            its model card and the extra files its metadata lists.
        metadata: optional dict of JSON-serialisable facts to record
            (dataset, data, data_license, recipe, config, command,
            training_invocations, metrics, description, companion_preset,
            ...); the model card shows those it knows (`vq_zoo.model_card`).
        files: optional `{name: source_path}` of extra files to copy into
            the preset (e.g. `{"samples.png": "run/samples.png"}`), hashed
            under `extra_files` in metadata.json.
        model_card: optional README.md text; by default the card is
            written by `vq_zoo.model_card.model_card` from the model itself
            and `metadata`.
        float16_min_values: None (every array float32), or an int: each
            float32 array of at least this many values (the big kernels) is
            stored in float16, which halves its bytes; the loader casts it
            back to the variable's float32. Arrays whose magnitudes float16
            cannot hold stay float32. metadata.json lists the arrays
            (`weights_float16`), so the card can say that the preset's
            figures, measured in float32, are of weights rounded since.

    Returns:
        The metadata written, a dict.
    """
    import keras

    if not isinstance(model, keras.Model):
        raise ValueError(f"save_to_preset expects a keras.Model, got {type(model).__name__}")
    if not model.built:
        raise ValueError(
            f"{type(model).__name__} '{model.name}' is not built, so it has no "
            "weights to save: call `model.build(input_shape)` (e.g. "
            "`model.build((None, 32, 32, 3))`) or run it on data before "
            "`save_to_preset`."
        )
    if float16_min_values is not None and (
            isinstance(float16_min_values, bool) or not isinstance(float16_min_values, int)
            or float16_min_values < 1):
        raise ValueError(f"float16_min_values must be None or an int >= 1, got "
                         f"{float16_min_values!r}")
    metadata = dict(metadata or {})
    clash = sorted(set(metadata) & set(RESERVED_METADATA))
    if clash:
        raise ValueError(
            f"metadata keys {clash} are written by save_to_preset; rename them."
        )
    files = {str(k): pathlib.Path(v) for k, v in (files or {}).items()}
    for name, source in files.items():
        if name != os.path.basename(name) or name in (
                CONFIG_FILE, WEIGHTS_FILE, METADATA_FILE, README_FILE) or name.startswith("."):
            raise ValueError(f"files: {name!r} is not a valid extra file name of a preset.")
        if not source.is_file():
            raise FileNotFoundError(f"files: {source} (for {name}) not found.")
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    _check_free_space(directory, model, files)
    # Temporary files of an earlier save that died mid-write (h5py can
    # crash the process on a full disk, before any clean-up runs).
    for stale in directory.glob(f"{TEMP_PREFIX}*"):
        with contextlib.suppress(OSError):
            stale.unlink()
    # Un-commit an existing preset before changing its files, and drop the
    # files that described it (its card, its pictures).
    old_extra = []
    if (directory / METADATA_FILE).exists():
        try:
            old = _read_json_object(directory / METADATA_FILE)
            old_extra = list((old.get("extra_files") or {}).keys())
        except ValueError:
            pass
        os.remove(directory / METADATA_FILE)
    for name in [README_FILE] + old_extra:
        if name == os.path.basename(name) and (directory / name).is_file():
            os.remove(directory / name)

    config = keras.saving.serialize_keras_object(model)
    config.pop("compile_config", None)  # a preset is a model, not a training run
    config_bytes = _dumps(config)
    # Weights from a copy rebuilt from the config: this leaves the
    # optimizer state out and proves that the config loads in safe mode.
    try:
        clone = _deserialize(json.loads(config_bytes), directory / CONFIG_FILE)
    except ValueError as e:
        raise ValueError(
            f"{type(model).__name__} cannot be saved as a preset: its config "
            f"does not load back in safe mode. {e}"
        ) from e
    if len(clone.weights) != len(model.weights):
        raise ValueError(
            f"{type(model).__name__} rebuilt from its config has "
            f"{len(clone.weights)} weights, the model {len(model.weights)}: "
            "its get_config or build is incomplete."
        )
    clone.set_weights(model.get_weights())
    write_atomic(directory / CONFIG_FILE, config_bytes)
    halved = []
    with atomic_path(directory / WEIGHTS_FILE) as tmp:
        clone.save_weights(tmp, overwrite=True)
        if float16_min_values is not None:
            halved = _store_float16(tmp, float16_min_values)
    for name, source in files.items():
        write_atomic(directory / name, source.read_bytes())

    from vq_zoo.version import __version__

    written = {
        "format_version": FORMAT_VERSION,
        "vq_zoo_version": __version__,
        "keras_version": keras.__version__,
        "tensorflow_version": _tensorflow_version(),
        "class_name": type(model).__name__,
        "parameter_count": int(model.count_params()),
        "files": {name: _sha256(directory / name) for name in HASHED_FILES},
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    if files:
        written["extra_files"] = {name: _sha256(directory / name) for name in files}
    if halved:
        written["weights_float16"] = halved
    written.update(metadata)
    metadata_bytes = _dumps(written)
    if model_card is None:
        from vq_zoo.model_card import model_card as write_card

        # The card of the model as it loads back (the clone), from the
        # metadata as it will read back.
        model_card = write_card(directory.name, clone, json.loads(metadata_bytes),
                                files=list(files))
    del clone
    write_atomic(directory / README_FILE, model_card)
    write_atomic(directory / METADATA_FILE, metadata_bytes)
    return json.loads(metadata_bytes)


def _store_float16(path, min_values):
    """Rewrites the float32 datasets of the weights file `path` that hold at
    least `min_values` values, all finite and within float16's range, as
    float16 (same names and shapes; the rest untouched). Returns
    `[{"array": name, "shape": [...]}, ...]` of those rewritten."""
    import h5py
    import numpy as np

    names = []
    with h5py.File(path, "r+") as f:
        f.visititems(lambda name, obj: names.append(name) if (
            isinstance(obj, h5py.Dataset) and obj.dtype == np.float32
            and obj.size >= min_values) else None)
        halved = []
        for name in names:
            values = f[name][()]
            if not (np.all(np.isfinite(values)) and np.abs(values).max() <= _FLOAT16_MAX):
                continue
            attrs = dict(f[name].attrs)
            del f[name]
            f.create_dataset(name, data=values.astype(np.float16))
            for key, value in attrs.items():
                f[name].attrs[key] = value
            halved.append({"array": name, "shape": list(values.shape)})
    if halved:
        # h5py leaves the freed float32 space in the file: copy it compactly.
        compact = f"{path}.compact"
        with h5py.File(path, "r") as src, h5py.File(compact, "w") as dst:
            for key, value in src.attrs.items():
                dst.attrs[key] = value
            for key in src:
                src.copy(src[key], dst, name=key)
        os.replace(compact, path)
    return halved


def make_preset_archive(directory, archive_path):
    """Writes the preset folder `directory` as a `.tar.gz` at `archive_path`
    (files at the archive's top level) and returns its sha256, the value to
    declare in `pretrained/index.json`."""
    directory = pathlib.Path(directory)
    if not (directory / METADATA_FILE).is_file():
        raise ValueError(f"{directory} is not a preset folder (no {METADATA_FILE}).")
    metadata = _read_json_object(directory / METADATA_FILE)
    extra = [n for n in (metadata.get("extra_files") or {}) if n == os.path.basename(n)]
    with atomic_path(archive_path, suffix=".tar.gz") as tmp:
        with tarfile.open(tmp, "w:gz") as tar:
            for name in (CONFIG_FILE, WEIGHTS_FILE, README_FILE, *extra, METADATA_FILE):
                if (directory / name).is_file():
                    tar.add(directory / name, arcname=name)
    return _sha256(archive_path)


# ------------------------------------------------------------------ loading
def _unsafe_entries(config, where="config"):
    """Paths of lambda / function entries, which safe mode must refuse."""
    found = []
    if isinstance(config, dict):
        if config.get("class_name") == "__lambda__" or (
            config.get("class_name") == "function" and "module" in config
            and not str(config.get("module", "")).startswith(("keras", "vq_zoo"))
        ):
            found.append(where)
        for key, value in config.items():
            found += _unsafe_entries(value, f"{where}.{key}")
    elif isinstance(config, list):
        for i, value in enumerate(config):
            found += _unsafe_entries(value, f"{where}[{i}]")
    return found


def _deserialize(config, path):
    """The model of a config dict, in Keras safe mode whatever the global
    setting (`keras.config.enable_unsafe_deserialization()` is ignored)."""
    import vq_zoo.models  # noqa: F401  registers the vq_zoo classes

    unsafe = _unsafe_entries(config)
    if unsafe:
        raise ValueError(
            f"{path} holds Python code (lambda or function) at {unsafe[0]}; "
            "presets are loaded in safe mode and never run code from a file."
        )
    import keras

    try:
        from keras.src.saving.serialization_lib import SafeModeScope
    except ImportError as e:
        # Safe mode is the security check of a preset: never load without it.
        raise ImportError(
            f"Cannot load {path} safely: this Keras ({keras.__version__}) has no "
            "keras.src.saving.serialization_lib.SafeModeScope, which vq_zoo "
            "uses to enforce safe mode whatever the global setting. Install "
            "the Keras version vq_zoo pins."
        ) from e
    try:
        with SafeModeScope(True):
            return keras.saving.deserialize_keras_object(config, safe_mode=True)
    except Exception as e:
        raise ValueError(f"Could not build the model of {path}: {_root_cause(e)}") from e


def _root_cause(error):
    """The innermost error of a chain, as `Type: message` (first line): Keras
    wraps a layer's own ValueError (e.g. `num_embeddings must be > 0`) into
    a generic "could not be deserialized properly" TypeError per level."""
    chain, seen = [error], {id(error)}
    while True:
        nxt = chain[-1].__cause__ or chain[-1].__context__
        if nxt is None or id(nxt) in seen:
            break
        chain.append(nxt)
        seen.add(id(nxt))
    specific = [e for e in chain if "could not be deserialized" not in str(e)]
    root = specific[-1] if specific else chain[-1]
    text = str(root).strip().splitlines()[0] if str(root).strip() else ""
    if len(text) > 400:
        text = text[:400] + "..."
    return f"{type(root).__name__}: {text}" if text else type(root).__name__


def _check_class(config, metadata, cls, directory):
    import keras

    found = config.get("class_name") if isinstance(config, dict) else None
    if found is None:
        raise ValueError(f"{directory / CONFIG_FILE} has no 'class_name'.")
    if metadata.get("class_name") not in (None, found):
        raise ValueError(
            f"{directory / CONFIG_FILE} holds a {found} but "
            f"{directory / METADATA_FILE} says {metadata['class_name']}."
        )
    if cls is None:
        return
    registered = config.get("registered_name")
    found_cls = keras.saving.get_registered_object(registered) if registered else None
    if found_cls is None:
        matches = found == cls.__name__
    else:
        matches = isinstance(found_cls, type) and issubclass(found_cls, cls)
    if not matches:
        raise ValueError(
            f"Preset {directory} holds a {found} (in {directory / CONFIG_FILE}), "
            f"not a {cls.__name__}: load it with {found}.from_preset or "
            "vq_zoo.load_preset."
        )


def _check_hashes(directory, metadata, names):
    expected = metadata.get("files")
    if not isinstance(expected, dict):
        raise ValueError(f"{directory / METADATA_FILE} has no 'files' sha256 table.")
    for name in names:
        path = directory / name
        if not path.is_file():
            raise FileNotFoundError(f"Preset file {path} is missing.")
        if name not in expected:
            raise ValueError(f"{directory / METADATA_FILE} has no sha256 for {name}.")
        actual = _sha256(path)
        if actual != expected[name]:
            raise ValueError(
                f"Preset file {path} does not match its sha256 in "
                f"{directory / METADATA_FILE}: expected {expected[name]}, got "
                f"{actual}. The file is corrupt or was changed after saving."
            )


def _h5_shapes(path):
    """Shapes of the model's arrays in a weights file, optimizer excluded."""
    import h5py

    shapes = []

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset) and not name.startswith("optimizer/"):
            shapes.append(tuple(obj.shape))

    with h5py.File(path, "r") as f:
        f.visititems(visit)
    return sorted(shapes)


def _load_weights(model, path, config_path):
    try:
        file_shapes = _h5_shapes(path)
    except Exception as e:
        raise ValueError(
            f"Preset file {path} is not a readable HDF5 weights file "
            f"(truncated or corrupt): {e}"
        ) from e
    model_shapes = sorted(tuple(w.shape) for w in model.weights)
    if file_shapes != model_shapes:
        import collections

        missing = list((collections.Counter(model_shapes) - collections.Counter(file_shapes)).elements())
        extra = list((collections.Counter(file_shapes) - collections.Counter(model_shapes)).elements())
        raise ValueError(
            f"The weights in {path} do not fit the model of {config_path}: "
            f"{len(file_shapes)} arrays in the file, {len(model_shapes)} in the "
            f"model; shapes only in the model {missing[:5]}, only in the file "
            f"{extra[:5]}."
        )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model.load_weights(os.fspath(path))
        except Exception as e:
            raise ValueError(
                f"The weights in {path} do not fit the model of {config_path}: {e}"
            ) from e
    # Keras only warns when it skips a part of the file (e.g. a nested
    # container it cannot match): that would be a half-loaded model.
    problems = [
        str(w.message)
        for w in caught
        if issubclass(w.category, UserWarning)
        and not issubclass(w.category, DeprecationWarning)
        and "keras" in w.filename
        and "saving" in w.filename
    ]
    if problems:
        raise ValueError(
            f"The weights in {path} do not fit the model of {config_path}: "
            f"{problems[0]}"
        )
    for w in caught:
        if str(w.message) not in problems and not issubclass(w.category, DeprecationWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    # A NaN or Inf weight (a codebook of a diverged run, say) would load and
    # encode every input as code 0 or decode to black: refused by name.
    import numpy as np

    bad = [w.path for w in model.weights
           if np.issubdtype(np.dtype(w.dtype), np.floating)
           and not np.all(np.isfinite(np.asarray(w.numpy(), np.float64)))]
    if bad:
        raise ValueError(
            f"The weights in {path} hold NaN or Inf values ({len(bad)} of "
            f"{len(model.weights)} arrays, e.g. {', '.join(bad[:3])}): the preset "
            "was saved from a run that diverged, or the file was altered. Use "
            "another preset, or retrain."
        )


def load_preset_metadata(handle, cache_dir=None):
    """The metadata.json of a preset, as a dict."""
    return _read_json_object(resolve_preset(handle, cache_dir) / METADATA_FILE)


def load_preset(handle, cls=None, load_weights=True, cache_dir=None):
    """Builds the model of a preset, with its weights.

    Args:
        handle: a shipped preset name, a name in `pretrained/index.json`, an
            `http(s)://` or `file://` URL of a preset archive, or a
            directory.
        cls: optional class the model must be (or subclass), e.g. `VQVAE`.
        load_weights: bool; False gives the architecture only (freshly
            initialised weights) and does not read model.weights.h5.
        cache_dir: where downloaded archives go (default `$KERAS_HOME`,
            `~/.keras`), under `vq_zoo_presets/`.

    Returns:
        The model. Every check (files present, sha256, class, weights fit
        the config) runs before it is returned; on any failure a ValueError
        or FileNotFoundError names the file and nothing is returned.
    """
    directory = resolve_preset(handle, cache_dir)
    metadata_path = directory / METADATA_FILE
    if not metadata_path.is_file():
        raise FileNotFoundError(
            f"Preset file {metadata_path} is missing: {directory} is not a "
            "preset folder, or its save did not finish."
        )
    metadata = _read_json_object(metadata_path)
    names = HASHED_FILES if load_weights else (CONFIG_FILE,)
    _check_hashes(directory, metadata, names)
    config = _read_json_object(directory / CONFIG_FILE)
    _check_class(config, metadata, cls, directory)
    model = _deserialize(config, directory / CONFIG_FILE)
    if not model.built:
        raise ValueError(
            f"The model of {directory / CONFIG_FILE} is not built after loading "
            "(its 'build_config' is missing)."
        )
    if load_weights:
        _load_weights(model, directory / WEIGHTS_FILE, directory / CONFIG_FILE)
    return model
