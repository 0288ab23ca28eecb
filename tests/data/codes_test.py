import json
import os

import numpy as np
import pytest
import tensorflow as tf

from vq_zoo.data import codes as codes_lib
from vq_zoo.models.vqvae.vqvae import VQVAE

RNG = np.random.default_rng(4)
X = RNG.uniform(size=(40, 16, 16, 3)).astype("float32")
Y = RNG.integers(0, 5, size=40).astype("int32")


def model():
    m = VQVAE.image_model(num_hiddens=16, num_residual_layers=1,
                          num_residual_hiddens=8, embedding_dim=8,
                          num_embeddings=32)
    m.build((None, 16, 16, 3))
    return m


def test_round_trip_with_labels(tmp_path):
    vqvae = model()
    ds = tf.data.Dataset.from_tensor_slices((X, Y)).batch(8)
    manifest = codes_lib.write_code_shards(vqvae, ds, str(tmp_path), batches_per_shard=2,
                                           progress=False)
    assert manifest["num_examples"] == 40 and manifest["num_shards"] == 3
    assert manifest["code_shape"] == [4, 4] and manifest["has_labels"]
    batches = list(codes_lib.code_dataset(str(tmp_path), batch_size=40))
    assert len(batches) == 1
    np.testing.assert_array_equal(batches[0]["codes"], vqvae.encode(X))
    np.testing.assert_array_equal(batches[0]["condition"], Y)
    only_codes = next(iter(codes_lib.code_dataset(str(tmp_path), 40, with_labels=False)))
    np.testing.assert_array_equal(only_codes, vqvae.encode(X))


def test_extraction_freezes_the_ema_codebook(tmp_path):
    vqvae = model()
    before = [w.numpy().copy() for w in vqvae.quantizer.weights]
    codes_lib.write_code_shards(vqvae, tf.data.Dataset.from_tensor_slices(X).batch(8),
                                str(tmp_path), progress=False)
    for a, w in zip(before, vqvae.quantizer.weights):
        np.testing.assert_array_equal(a, w.numpy())
    assert vqvae.quantizer.trainable


def test_a_codebook_that_moves_is_caught(tmp_path):
    vqvae = model()
    encode = vqvae.encode

    def moving_encode(x):
        vqvae.quantizer.codebook.assign_add(tf.ones_like(vqvae.quantizer.codebook))
        return {"codes": encode(x)}

    with pytest.raises(RuntimeError, match="codebook changed"):
        codes_lib.write_code_shards(vqvae, tf.data.Dataset.from_tensor_slices(X).batch(8),
                                    str(tmp_path), progress=False, encode_fn=moving_encode)
    assert not os.path.exists(tmp_path / "manifest.json")
    with pytest.raises(FileNotFoundError, match="did not finish"):
        codes_lib.code_dataset(str(tmp_path), 8)


def test_interrupted_extraction_resumes_at_the_missing_shard(tmp_path):
    vqvae = model()
    ds = tf.data.Dataset.from_tensor_slices((X, Y)).batch(8)
    codes_lib.write_code_shards(vqvae, ds, str(tmp_path), batches_per_shard=2, progress=False)
    reference = list(codes_lib.code_dataset(str(tmp_path), 40))[0]
    first = (tmp_path / "shard-00000.tfrecord").stat().st_mtime_ns
    os.remove(tmp_path / "manifest.json")
    os.remove(tmp_path / "shard-00002.tfrecord")
    manifest = codes_lib.write_code_shards(vqvae, ds, str(tmp_path), batches_per_shard=2,
                                           progress=False)
    assert manifest["num_examples"] == 40
    assert (tmp_path / "shard-00000.tfrecord").stat().st_mtime_ns == first  # not rewritten
    again = list(codes_lib.code_dataset(str(tmp_path), 40))[0]
    np.testing.assert_array_equal(again["codes"], reference["codes"])
    np.testing.assert_array_equal(again["condition"], reference["condition"])


def test_named_levels_and_pass_through_arrays(tmp_path):
    """Two code levels (as a VQ-VAE-2 gives) and dataset arrays written
    together and read back, selected and renamed, element for element."""
    vqvae = model()
    speakers = RNG.integers(0, 3, size=40).astype("int32")
    actions = RNG.normal(size=(40, 2)).astype("float32")
    ds = tf.data.Dataset.from_tensor_slices(
        {"images": X, "labels": Y, "speakers": speakers, "actions": actions}).batch(16)

    def two_levels(x):
        codes = vqvae.encode(x)
        return {"top": codes[:, ::2, ::2], "bottom": codes}

    manifest = codes_lib.write_code_shards(vqvae, ds, str(tmp_path), batches_per_shard=2,
                                           progress=False, encode_fn=two_levels)
    assert manifest["num_examples"] == 40 and manifest["num_shards"] == 2
    assert manifest["arrays"]["top"]["shape"] == [2, 2]
    assert manifest["arrays"]["bottom"]["shape"] == [4, 4]
    assert manifest["arrays"]["actions"]["dtype"] == "float32"
    codes = np.asarray(vqvae.encode(X))
    data = codes_lib.code_dataset(str(tmp_path), 40,
                                  keys={"codes": "bottom", "spatial_condition": "top"})
    assert int(data.cardinality()) == 1
    batch = next(iter(data))
    assert sorted(batch) == ["codes", "spatial_condition"]
    np.testing.assert_array_equal(batch["codes"], codes)
    np.testing.assert_array_equal(batch["spatial_condition"], codes[:, ::2, ::2])
    everything = next(iter(codes_lib.code_dataset(str(tmp_path), 40)))
    np.testing.assert_array_equal(everything["speakers"], speakers)
    np.testing.assert_array_equal(everything["labels"], Y)
    np.testing.assert_array_equal(everything["actions"], actions)
    top = next(iter(codes_lib.code_dataset(str(tmp_path), 40, keys="top")))
    np.testing.assert_array_equal(top, codes[:, ::2, ::2])
    with pytest.raises(ValueError, match=r"holds no array \['middle'\]"):
        codes_lib.code_dataset(str(tmp_path), 8, keys=["middle"])


def test_the_total_is_known_from_the_first_epoch(tmp_path):
    vqvae = model()
    codes_lib.write_code_shards(vqvae, tf.data.Dataset.from_tensor_slices(X).batch(8),
                                str(tmp_path), batches_per_shard=2, progress=False)
    for batch_size, drop, expected in ((16, False, 3), (16, True, 2), (8, False, 5)):
        ds = codes_lib.code_dataset(str(tmp_path), batch_size, drop_remainder=drop)
        assert int(ds.cardinality()) == expected == len(list(ds))


def test_shards_started_by_another_codebook_are_refused(tmp_path):
    ds = tf.data.Dataset.from_tensor_slices(X).batch(8)
    first = model()
    codes_lib.write_code_shards(first, ds, str(tmp_path), batches_per_shard=2,
                                progress=False)
    # As if interrupted after the first shard, then resumed with a new model.
    progress = json.dumps({"codebook_sha256": codes_lib.codebook_digest(first),
                           "arrays": codes_lib.read_manifest(str(tmp_path))["arrays"]})
    os.remove(tmp_path / "manifest.json")
    (tmp_path / codes_lib.PROGRESS).write_text(progress)
    other = model()
    assert codes_lib.codebook_digest(other) != codes_lib.codebook_digest(first)
    with pytest.raises(ValueError, match="started by another model"):
        codes_lib.write_code_shards(other, ds, str(tmp_path), batches_per_shard=2,
                                    progress=False)


def test_codebook_digest_is_the_sha256_of_the_codebook_bytes():
    import hashlib

    vqvae = model()
    expected = hashlib.sha256(np.ascontiguousarray(
        np.asarray(vqvae.quantizer.codebook, np.float32)).tobytes()).hexdigest()
    assert codes_lib.codebook_digest(vqvae) == expected


def test_one_array_shards_of_earlier_runs_still_read(tmp_path):
    """The format before named arrays: `codes` bytes and an int64 `label`
    feature, described by `code_shape`/`has_labels` in the manifest."""
    codes = RNG.integers(0, 32, size=(6, 4, 4)).astype("int16")
    labels = np.arange(6)
    with tf.io.TFRecordWriter(str(tmp_path / "shard-00000.tfrecord")) as writer:
        for c, y in zip(codes, labels):
            feature = {
                "codes": tf.train.Feature(bytes_list=tf.train.BytesList(value=[c.tobytes()])),
                "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[int(y)])),
            }
            writer.write(tf.train.Example(
                features=tf.train.Features(feature=feature)).SerializeToString())
    (tmp_path / "manifest.json").write_text(json.dumps({
        "num_examples": 6, "code_shape": [4, 4], "code_dtype": "int16",
        "num_embeddings": 32, "has_labels": True, "num_shards": 1,
        "codebook_sha256": "0" * 64}))
    batch = next(iter(codes_lib.code_dataset(str(tmp_path), 6)))
    np.testing.assert_array_equal(batch["codes"], codes)
    np.testing.assert_array_equal(batch["condition"], labels)
