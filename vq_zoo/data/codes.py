"""Extracted codes on disk: TFRecord shards of named arrays plus a manifest.

The code-extraction stage of a pipeline: encode a dataset with a trained
model whose quantisers are frozen, and write, per example, every code level
the model gives (`codes` for a VQ-VAE; `top` and `bottom` for a VQ-VAE-2)
and every array the dataset passes through (`labels`, `speakers`,
`actions`, ...) to `shard-NNNNN.tfrecord` files. Each shard is written to a
temporary name and renamed, so a shard on disk is always whole; an
interrupted extraction resumes at the first missing shard (the input must
then come in the same order, i.e. unshuffled, and the model's codebooks must
be the same: `extracting.json` records their digest). `manifest.json` is
written last and marks the extraction as complete; it names every array
(shape, dtype, and for code levels their codebook size) and the digest of
the codebooks that made the codes.
"""

import hashlib
import json
import os

import numpy as np

from vq_zoo.utils.io import write_atomic

MANIFEST = "manifest.json"
PROGRESS = "extracting.json"


# ------------------------------------------------------------ model access
def model_quantizers(model):
    """The model's quantisers, top level first (`model.quantizers`, or the
    single `model.quantizer` of a VQVAE)."""
    quantizers = getattr(model, "quantizers", None)
    if quantizers:
        return list(quantizers)
    return [model.quantizer]


def model_level_names(model):
    """The names of the model's code levels: `model.level_names`, or
    `("codes",)` for a single quantiser."""
    names = getattr(model, "level_names", None)
    return tuple(names) if names else ("codes",)


def codebook_digest(model):
    """sha256 (hex) of the model's codebooks: `model.codebook_digest()`, or
    the digest of the raw bytes of each codebook, top level first."""
    method = getattr(model, "codebook_digest", None)
    if callable(method):
        return method()
    digest = hashlib.sha256()
    for quantizer in model_quantizers(model):
        digest.update(np.ascontiguousarray(
            np.asarray(quantizer.codebook)).tobytes())
    return digest.hexdigest()


def _level_encoder(model):
    """`x -> {level name: int codes}` for `model`."""
    import tensorflow as tf

    if callable(getattr(model, "encode_levels", None)):
        return tf.function(model.encode_levels, reduce_retracing=True)
    encode = tf.function(model.encode, reduce_retracing=True)
    name, = model_level_names(model)
    return lambda x: {name: encode(x)}


def _shard_path(directory, index):
    return os.path.join(directory, f"shard-{index:05d}.tfrecord")


def _split_batch(batch, input_key):
    """`(inputs, {name: pass-through array})` of one batch."""
    if isinstance(batch, dict):
        if input_key not in batch:
            raise ValueError(
                f"write_code_shards: a dict batch must hold the model input under "
                f"`input_key`={input_key!r}; got keys {sorted(batch)}"
            )
        return batch[input_key], {k: v for k, v in batch.items() if k != input_key}
    if isinstance(batch, (tuple, list)):
        if len(batch) > 2:
            raise ValueError(
                "write_code_shards expects batches of inputs, (inputs, labels) or "
                f"a dict of named arrays; got a tuple of {len(batch)}"
            )
        return batch[0], ({"labels": batch[1]} if len(batch) > 1 else {})
    return batch, {}


def _code_dtype(num_embeddings):
    return np.int16 if num_embeddings <= 32767 else np.int32


def write_code_shards(model, dataset, directory, batches_per_shard=64,
                      progress=True, input_key="images", encode_fn=None,
                      num_batches=None):
    """Encodes `dataset` with `model` and writes the codes as TFRecord shards.

    The quantisers are frozen for the extraction (`trainable=False`,
    `training=False`), and the codebooks are checked to be bit-identical
    before and after: an EMA codebook that moved while codes were extracted
    would leave the codes and the decoder out of step (VideoGPT issue 7).

    Args:
        model: a trained `VQVAE` (one level, `codes`) or any model with
            `quantizers`, `level_names` and `encode_levels(x) -> {name: codes}`
            (a `VQVAE2`: `top`, `bottom`).
        dataset: a `tf.data.Dataset` (or iterable) in a fixed order, of
            batches of inputs, of `(inputs, labels)`, or of dicts holding the
            inputs under `input_key` and any other named arrays (`labels`,
            `speakers`, `actions`, ...), which are written as they are.
        directory: output folder.
        batches_per_shard: int, batches per shard file.
        progress: bool, show a progress bar.
        input_key: str, the key of the model input in dict batches.
        encode_fn: callable `inputs -> {name: int codes}` (default: the
            model's levels).
        num_batches: int, the number of batches, for the progress bar
            (default: the dataset's cardinality when it is known).

    Returns:
        The manifest dict (also written to `directory/manifest.json`): the
        `arrays` (name -> shape, dtype, kind "codes" or "data", and
        `num_embeddings` for codes), `levels` (code level names), and, for
        the first level, `code_shape`, `code_dtype`, `num_embeddings`; also
        `num_examples`, `num_shards`, `has_labels`, `codebook_sha256`.

    Example:
    >>> write_code_shards(vqvae, images_and_labels.batch(256), "codes/train")
    >>> code_dataset("codes/train", 64, keys={"codes": "codes",
    ...                                       "condition": "labels"})
    """
    import keras
    import tensorflow as tf

    if batches_per_shard < 1:
        raise ValueError(
            f"`batches_per_shard` must be >= 1, got {batches_per_shard!r}"
        )
    os.makedirs(directory, exist_ok=True)
    manifest_path = os.path.join(directory, MANIFEST)
    if os.path.exists(manifest_path):
        return read_manifest(directory)

    quantizers = model_quantizers(model)
    level_names = model_level_names(model)
    if len(level_names) != len(quantizers):
        raise ValueError(
            f"The model has {len(quantizers)} quantisers but level_names "
            f"{level_names!r}"
        )
    sizes = {n: int(q.num_embeddings) for n, q in zip(level_names, quantizers)}
    digest = codebook_digest(model)
    progress_path = os.path.join(directory, PROGRESS)
    arrays = None
    if os.path.exists(progress_path):
        with open(progress_path) as f:
            state = json.load(f)
        if state["codebook_sha256"] != digest:
            raise ValueError(
                f"The code shards in {directory} were started by another model "
                f"(codebook sha256 {state['codebook_sha256'][:12]}..., this model: "
                f"{digest[:12]}...). Delete {directory} to extract again, or "
                "rerun with --restart (or a new --out-dir)."
            )
        arrays = state.get("arrays")
    if num_batches is None:
        cardinality = getattr(dataset, "cardinality", None)
        if cardinality is not None:
            num_batches = int(cardinality())
            num_batches = num_batches if num_batches >= 0 else None
    encode = encode_fn or _level_encoder(model)

    was_trainable = [q.trainable for q in quantizers]
    for q in quantizers:
        q.trainable = False
    shard, count = 0, 0
    writer = tmp_path = None
    bar = keras.utils.Progbar(num_batches, unit_name="batch") if progress else None
    try:
        for step, batch in enumerate(dataset):
            inputs, passed = _split_batch(batch, input_key)
            shard, batch_in_shard = divmod(step, batches_per_shard)
            if os.path.exists(_shard_path(directory, shard)):
                # Already written by an interrupted run: count and move on.
                count += int(np.shape(inputs)[0])
                if bar:
                    bar.update(step + 1)
                continue
            codes = {k: np.asarray(v) for k, v in encode(tf.convert_to_tensor(inputs)).items()}
            if encode_fn is None and set(codes) != set(level_names):
                raise ValueError(
                    f"The encoder gave levels {sorted(codes)}, expected {list(level_names)}"
                )
            if encode_fn is not None and step == 0:
                # The levels are the ones `encode_fn` gives, in its order; a
                # level not named after a quantiser has the top one's size.
                level_names = tuple(codes)
                sizes = {k: sizes.get(k, int(quantizers[0].num_embeddings))
                         for k in level_names}
            clash = set(codes) & set(passed)
            if clash:
                raise ValueError(
                    f"Dataset arrays {sorted(clash)} have the names of code levels"
                )
            values = {k: v.astype(_code_dtype(sizes[k])) for k, v in codes.items()}
            values.update({k: np.asarray(v) for k, v in passed.items()})
            spec = {
                k: {"shape": list(v.shape[1:]), "dtype": v.dtype.name,
                    "kind": "codes" if k in codes else "data",
                    **({"num_embeddings": sizes[k]} if k in codes else {})}
                for k, v in values.items()
            }
            for k, v in values.items():
                if v.dtype.kind not in "biuf":
                    raise ValueError(f"Array {k!r} has dtype {v.dtype}; expected numbers")
            if arrays is None:
                arrays = {k: spec[k] for k in [*level_names, *passed]}
                write_atomic(progress_path, json.dumps(
                    {"codebook_sha256": digest, "arrays": arrays}).encode())
            elif spec != arrays:
                raise ValueError(
                    f"Batch {step} holds arrays {spec}, earlier batches {arrays}"
                )
            if writer is None:
                tmp_path = _shard_path(directory, shard) + ".tmp"
                writer = tf.io.TFRecordWriter(tmp_path)
            n = int(np.shape(inputs)[0])
            for i in range(n):
                feature = {
                    k: tf.train.Feature(bytes_list=tf.train.BytesList(
                        value=[np.ascontiguousarray(v[i]).tobytes()]))
                    for k, v in values.items()
                }
                writer.write(tf.train.Example(
                    features=tf.train.Features(feature=feature)).SerializeToString())
            count += n
            if batch_in_shard == batches_per_shard - 1:
                writer.close()
                os.replace(tmp_path, _shard_path(directory, shard))
                writer = tmp_path = None
            if bar:
                bar.update(step + 1)
        if writer is not None:
            writer.close()
            os.replace(tmp_path, _shard_path(directory, shard))
            writer = tmp_path = None
    finally:
        if writer is not None:
            writer.close()
        if tmp_path and os.path.exists(tmp_path):
            os.remove(tmp_path)
        for q, trainable in zip(quantizers, was_trainable):
            q.trainable = trainable

    if codebook_digest(model) != digest:
        raise RuntimeError(
            "The codebook changed while codes were being extracted; the codes "
            "on disk do not match the decoder. Nothing was marked complete."
        )
    if count == 0 or arrays is None:
        raise ValueError("write_code_shards: the dataset yielded no batches")
    first = arrays[level_names[0]]
    manifest = {
        "num_examples": count,
        "levels": list(level_names),
        "arrays": arrays,
        "code_shape": first["shape"],
        "code_dtype": first["dtype"],
        "num_embeddings": first["num_embeddings"],
        "has_labels": "labels" in arrays,
        "num_shards": shard + 1,
        "codebook_sha256": digest,
    }
    write_atomic(manifest_path, json.dumps(manifest, indent=2).encode())
    if os.path.exists(progress_path):
        os.remove(progress_path)
    return manifest


def _upgrade(manifest):
    """A manifest of the one-array format (codes + optional int64 `label`
    feature) in the named-array form."""
    if "arrays" in manifest:
        return manifest
    arrays = {"codes": {"shape": manifest["code_shape"], "dtype": manifest["code_dtype"],
                        "kind": "codes", "num_embeddings": manifest["num_embeddings"]}}
    if manifest.get("has_labels"):
        arrays["labels"] = {"shape": [], "dtype": "int64", "kind": "data",
                            "feature": "label", "encoding": "int64"}
    return dict(manifest, levels=["codes"], arrays=arrays)


def read_manifest(directory):
    path = os.path.join(directory, MANIFEST)
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"No {MANIFEST} in {directory}: the code extraction did not "
            "finish (run the extract stage again; it resumes)."
        )
    with open(path) as f:
        return _upgrade(json.load(f))


def code_dataset(directory, batch_size, shuffle=False, seed=None,
                 repeat=False, with_labels=None, keys=None, drop_remainder=False):
    """Reads code shards back as a `tf.data.Dataset` of known cardinality.

    Which arrays each batch holds (all cast to int32 except float data):

    - `keys=None`: with one code level, that level's codes `(batch,
      *code_shape)`, or, when the shards hold `labels` and `with_labels` is
      not False, `{"codes": codes, "condition": labels}` (the input format
      of the priors); with several levels, a dict of every array.
    - `keys="top"`: that array alone.
    - `keys=("top", "labels")`: a dict of those arrays.
    - `keys={"codes": "bottom", "spatial_condition": "top"}`: a dict of the
      stored arrays under new names (e.g. a conditional prior's inputs).

    Args:
        directory: a folder written by `write_code_shards`.
        batch_size: int, batch size (the global batch under a strategy).
        shuffle: bool, shuffle examples (buffered).
        seed: int or None, shuffle seed.
        repeat: bool, repeat forever.
        with_labels: None (use labels if present), True or False; only with
            `keys=None`.
        keys: which arrays, see above.
        drop_remainder: bool, drop a last partial batch.
    """
    import tensorflow as tf

    manifest = read_manifest(directory)
    arrays = manifest["arrays"]
    levels = manifest["levels"]
    if keys is None:
        if with_labels and "labels" not in arrays:
            raise ValueError(f"The codes in {directory} have no labels.")
        use_labels = "labels" in arrays and with_labels is not False
        if len(levels) == 1:
            keys = ({"codes": levels[0], "condition": "labels"} if use_labels
                    else levels[0])
        else:
            keys = [k for k in arrays if use_labels or k != "labels"]
    if isinstance(keys, str):
        wanted, single = {keys: keys}, keys
    elif isinstance(keys, dict):
        wanted, single = dict(keys), None
    else:
        wanted, single = {k: k for k in keys}, None
    unknown = sorted(set(wanted.values()) - set(arrays))
    if unknown:
        raise ValueError(
            f"`keys`: {directory} holds no array {unknown}; it holds {sorted(arrays)}"
        )
    files = [_shard_path(directory, i) for i in range(manifest["num_shards"])]
    missing = [f for f in files if not os.path.exists(f)]
    if missing:
        raise FileNotFoundError(f"Missing code shards: {missing[:3]}")
    stored = sorted(set(wanted.values()))
    spec = {}
    for name in stored:
        info = arrays[name]
        feature = info.get("feature", name)
        spec[feature] = tf.io.FixedLenFeature(
            [], tf.int64 if info.get("encoding") == "int64" else tf.string)

    def parse(record):
        ex = tf.io.parse_single_example(record, spec)
        values = {}
        for name in stored:
            info = arrays[name]
            raw = ex[info.get("feature", name)]
            if info.get("encoding") == "int64":
                value = raw
            else:
                value = tf.reshape(tf.io.decode_raw(raw, tf.as_dtype(info["dtype"])),
                                   info["shape"])
            kind = np.dtype(info["dtype"]).kind
            values[name] = tf.cast(value, tf.float32 if kind == "f" else tf.int32)
        if single is not None:
            return values[single]
        return {out: values[name] for out, name in wanted.items()}

    ds = tf.data.TFRecordDataset(files)
    # TFRecord files have no length: state it, so progress bars have a total
    # from the first epoch on.
    ds = ds.apply(tf.data.experimental.assert_cardinality(manifest["num_examples"]))
    ds = ds.map(parse, num_parallel_calls=tf.data.AUTOTUNE)
    if shuffle:
        ds = ds.shuffle(min(manifest["num_examples"], 10000), seed=seed)
    if repeat:
        ds = ds.repeat()
    return ds.batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)
