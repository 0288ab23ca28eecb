"""Extracted VQ-VAE codes on disk: TFRecord shards plus a manifest.

Stage 2 of the two-stage pipeline: encode a dataset with a trained VQ-VAE
whose quantiser is frozen, and write the integer code maps (and labels, when
the dataset has them) to `shard-NNNNN.tfrecord` files. Each shard is written
to a temporary name and renamed, so a shard on disk is always whole; an
interrupted extraction resumes at the first missing shard (the input must
then come in the same order, i.e. unshuffled). `manifest.json` is written
last and marks the extraction as complete.
"""

import hashlib
import json
import os

import numpy as np

from vq_zoo.utils.images import write_atomic

MANIFEST = "manifest.json"


def _codebook_digest(vqvae):
    codebook = np.ascontiguousarray(vqvae.quantizer.codebook.numpy())
    return hashlib.sha256(codebook.tobytes()).hexdigest()


def _shard_path(directory, index):
    return os.path.join(directory, f"shard-{index:05d}.tfrecord")


def _split_batch(batch):
    if isinstance(batch, dict):
        raise ValueError(
            "write_code_shards expects batches of images or (images, labels); "
            f"got a dict with keys {sorted(batch)}"
        )
    if isinstance(batch, (tuple, list)):
        return batch[0], (batch[1] if len(batch) > 1 else None)
    return batch, None


def write_code_shards(vqvae, dataset, directory, batches_per_shard=64,
                      progress=True):
    """Encodes `dataset` with `vqvae` and writes the codes as TFRecord shards.

    The quantiser is frozen for the extraction (`trainable=False`,
    `training=False`), and its codebook is checked to be bit-identical
    before and after: an EMA codebook that moved while codes were extracted
    would leave the codes and the decoder out of step (VideoGPT issue 7).

    Args:
        vqvae: a trained `VQVAE`.
        dataset: a `tf.data.Dataset` (or iterable) of batches of images, or
            of `(images, labels)` with int labels; in a fixed order.
        directory: output folder.
        batches_per_shard: int, batches per shard file.
        progress: bool, show a progress bar.

    Returns:
        The manifest dict (also written to `directory/manifest.json`).
    """
    import tensorflow as tf
    import keras

    if batches_per_shard < 1:
        raise ValueError(
            f"`batches_per_shard` must be >= 1, got {batches_per_shard!r}"
        )
    os.makedirs(directory, exist_ok=True)
    manifest_path = os.path.join(directory, MANIFEST)
    if os.path.exists(manifest_path):
        with open(manifest_path) as f:
            return json.load(f)

    was_trainable = vqvae.quantizer.trainable
    vqvae.quantizer.trainable = False
    digest = _codebook_digest(vqvae)
    code_dtype = np.int16 if vqvae.quantizer.num_embeddings <= 32767 else np.int32
    encode = tf.function(vqvae.encode, reduce_retracing=True)

    shard, batch_in_shard, count = 0, 0, 0
    writer = None
    tmp_path = None
    code_shape = None
    has_labels = None
    bar = keras.utils.Progbar(None, unit_name="batch") if progress else None
    try:
        for step, batch in enumerate(dataset):
            images, labels = _split_batch(batch)
            if has_labels is None:
                has_labels = labels is not None
            shard = step // batches_per_shard
            batch_in_shard = step % batches_per_shard
            done = os.path.exists(_shard_path(directory, shard))
            if done:
                # Already written by an interrupted run: count and move on.
                count += int(np.shape(images)[0])
                if code_shape is None:
                    code_shape = list(vqvae.encoder.compute_output_shape(
                        (1,) + tuple(np.shape(images)[1:]))[1:-1])
                if bar:
                    bar.update(step + 1)
                continue
            if writer is None:
                tmp_path = _shard_path(directory, shard) + ".tmp"
                writer = tf.io.TFRecordWriter(tmp_path)
            codes = encode(tf.convert_to_tensor(images)).numpy().astype(code_dtype)
            code_shape = list(codes.shape[1:])
            labels_np = None if labels is None else np.asarray(labels).reshape(-1)
            for i in range(codes.shape[0]):
                feature = {
                    "codes": tf.train.Feature(
                        bytes_list=tf.train.BytesList(value=[codes[i].tobytes()])
                    )
                }
                if labels_np is not None:
                    feature["label"] = tf.train.Feature(
                        int64_list=tf.train.Int64List(value=[int(labels_np[i])])
                    )
                example = tf.train.Example(
                    features=tf.train.Features(feature=feature)
                )
                writer.write(example.SerializeToString())
            count += codes.shape[0]
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
        vqvae.quantizer.trainable = was_trainable

    if _codebook_digest(vqvae) != digest:
        raise RuntimeError(
            "The codebook changed while codes were being extracted; the codes "
            "on disk do not match the decoder. Nothing was marked complete."
        )
    if count == 0:
        raise ValueError("write_code_shards: the dataset yielded no batches")
    manifest = {
        "num_examples": count,
        "code_shape": code_shape,
        "code_dtype": np.dtype(code_dtype).name,
        "num_embeddings": vqvae.quantizer.num_embeddings,
        "has_labels": bool(has_labels),
        "num_shards": shard + 1,
        "codebook_sha256": digest,
    }
    write_atomic(manifest_path, json.dumps(manifest, indent=2).encode())
    return manifest


def read_manifest(directory):
    path = os.path.join(directory, MANIFEST)
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"No {MANIFEST} in {directory}: the code extraction did not "
            "finish (run the extract stage again; it resumes)."
        )
    with open(path) as f:
        return json.load(f)


def code_dataset(directory, batch_size, shuffle=False, seed=None,
                 repeat=False, with_labels=None):
    """Reads code shards back as a `tf.data.Dataset`.

    Yields int32 code maps `(batch, *code_shape)`, or, when the shards hold
    labels and `with_labels` is not False, dicts
    `{"codes": codes, "condition": labels}` (the input format of the priors).

    Args:
        directory: a folder written by `write_code_shards`.
        batch_size: int, batch size (the global batch under a strategy).
        shuffle: bool, shuffle examples (buffered).
        seed: int or None, shuffle seed.
        repeat: bool, repeat forever.
        with_labels: None (use labels if present), True or False.
    """
    import tensorflow as tf

    manifest = read_manifest(directory)
    if with_labels and not manifest["has_labels"]:
        raise ValueError(f"The codes in {directory} have no labels.")
    use_labels = manifest["has_labels"] if with_labels is None else with_labels
    files = [_shard_path(directory, i) for i in range(manifest["num_shards"])]
    missing = [f for f in files if not os.path.exists(f)]
    if missing:
        raise FileNotFoundError(f"Missing code shards: {missing[:3]}")
    dtype = tf.as_dtype(manifest["code_dtype"])
    shape = manifest["code_shape"]
    spec = {"codes": tf.io.FixedLenFeature([], tf.string)}
    if use_labels:
        spec["label"] = tf.io.FixedLenFeature([], tf.int64)

    def parse(record):
        ex = tf.io.parse_single_example(record, spec)
        codes = tf.reshape(tf.io.decode_raw(ex["codes"], dtype), shape)
        codes = tf.cast(codes, tf.int32)
        if use_labels:
            return {"codes": codes, "condition": tf.cast(ex["label"], tf.int32)}
        return codes

    ds = tf.data.TFRecordDataset(files, num_parallel_reads=tf.data.AUTOTUNE)
    ds = ds.map(parse, num_parallel_calls=tf.data.AUTOTUNE)
    if shuffle:
        ds = ds.shuffle(min(manifest["num_examples"], 10000), seed=seed)
    if repeat:
        ds = ds.repeat()
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)
