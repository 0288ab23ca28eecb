import dataclasses
import os

import numpy as np
import pytest
import tensorflow_datasets as tfds

from vq_zoo.recipes.imagenet import config as config_lib
from vq_zoo.recipes.imagenet import recipe
from vq_zoo.data import imagenet


def test_smoke_pipeline_on_mocked_imagenet(tmp_path):
    # tfds.testing.mock_data fakes the dataset with no files; the mocked
    # builder reports "not prepared", so let it "download" (a no-op here).
    config = dataclasses.replace(config_lib.CONFIGS["smoke"], download=True)
    with tfds.testing.mock_data(num_examples=64):
        metrics = recipe.main(config, out_dir=str(tmp_path), verbose=0)
    assert metrics["code_shape"] == [8, 8]
    codes = np.load(tmp_path / "sample_codes.npy")
    assert codes.shape == (config.num_samples, 8, 8)
    assert os.path.exists(tmp_path / "codes" / "train" / "manifest.json")


def test_data_pipeline_shapes_and_range():
    with tfds.testing.mock_data(num_examples=20):
        train = imagenet.imagenet_dataset("imagenet_resized/32x32", "train", 24, 8,
                                          training=True, download=True)
        x, y = next(iter(train))
        assert x.shape == (8, 24, 24, 3) and y.dtype == "int32"
        assert 0.0 <= float(np.min(x)) and float(np.max(x)) <= 1.0
        evaluation = imagenet.imagenet_dataset("imagenet_resized/32x32", "validation",
                                               32, 8, training=False, download=True)
        assert sum(int(b[0].shape[0]) for b in evaluation) == 20  # one pass, no drop


def test_missing_manual_download_gives_instructions(tmp_path):
    with pytest.raises(FileNotFoundError, match="ILSVRC2012_img_train.tar"):
        imagenet.imagenet_builder("imagenet2012", data_dir=str(tmp_path))


def test_resized_dataset_is_not_downloaded_unless_asked(tmp_path):
    with pytest.raises(FileNotFoundError, match="tfds build imagenet_resized/64x64"):
        imagenet.imagenet_builder("imagenet_resized/64x64", data_dir=str(tmp_path))


def test_bad_dataset_and_size_are_refused():
    with pytest.raises(ValueError, match="Unknown dataset"):
        imagenet.imagenet_builder("imagenet")
    with tfds.testing.mock_data(num_examples=4):
        with pytest.raises(ValueError, match="would upsample"):
            imagenet.imagenet_dataset("imagenet_resized/32x32", "train", 64, 2,
                                      download=True)
