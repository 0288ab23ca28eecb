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


def test_a_codebook_that_moves_is_caught(tmp_path, monkeypatch):
    vqvae = model()
    encode = vqvae.encode

    def moving_encode(x):
        vqvae.quantizer.codebook.assign_add(tf.ones_like(vqvae.quantizer.codebook))
        return encode(x)

    monkeypatch.setattr(vqvae, "encode", moving_encode)
    with pytest.raises(RuntimeError, match="codebook changed"):
        codes_lib.write_code_shards(vqvae, tf.data.Dataset.from_tensor_slices(X).batch(8),
                                    str(tmp_path), progress=False)
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
