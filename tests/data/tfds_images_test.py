"""vq_zoo.data.tfds_images on tfds.testing.mock_data (no download)."""

import numpy as np
import pytest
import tensorflow_datasets as tfds

from vq_zoo.data.image_folder import ImageFolderError
from vq_zoo.data.tfds_images import TFDSImages


def test_a_mocked_image_dataset_gives_prepared_images_and_class_names(tmp_path):
    with tfds.testing.mock_data(num_examples=12):
        source = TFDSImages.open("beans", data_dir=str(tmp_path))
        assert source.class_names == ("angular_leaf_spot", "bean_rust", "healthy")
        assert source.channels == 3
        images, labels = next(iter(source.dataset("train", 24, 6)))
        # mnist: one channel, so "auto" gives grey images.
        grey = TFDSImages.open("mnist", data_dir=str(tmp_path))
        digits = next(iter(grey.dataset("test", 16, 4, with_labels=False)))
    assert images.shape == (6, 24, 24, 3) and images.dtype == "float32"
    assert 0.0 <= float(np.min(images)) and float(np.max(images)) <= 1.0
    assert labels.dtype == "int32" and set(np.asarray(labels)) <= {0, 1, 2}
    assert grey.channels == 1 and digits.shape == (4, 16, 16, 1)


def test_missing_held_out_splits_are_cut_from_the_end_of_train():
    specs = TFDSImages._split_specs(["train", "test"], 0.1, 0.2)
    assert specs == {"train": "train[:90%]", "validation": "train[90%:100%]",
                     "test": "test"}
    specs = TFDSImages._split_specs(["train"], 0.1, 0.2)
    assert specs == {"train": "train[:70%]", "validation": "train[70%:80%]",
                     "test": "train[80%:100%]"}
    specs = TFDSImages._split_specs(["train", "validation", "test"], 0.1, 0.2)
    assert specs == {"train": "train", "validation": "validation", "test": "test"}


@pytest.mark.parametrize("name, message", [
    ("cifr10", "tensorflow-datasets has no dataset 'cifr10' (did you mean tfds:cifar10"),
    ("glue/cola", "it has no `image` feature (its features: sentence, label, idx); "
                  "expected a dataset of images"),
])
def test_unknown_names_and_datasets_without_images_are_one_line(tmp_path, name, message):
    with pytest.raises(ImageFolderError) as info:
        TFDSImages.open(name, data_dir=str(tmp_path))
    assert message in str(info.value) and "\n" not in str(info.value)
    assert str(info.value).startswith(f"--set dataset=tfds:{name}: ")


def test_a_dataset_not_prepared_fails_at_once_with_the_command(tmp_path):
    source = TFDSImages.open("mnist", data_dir=str(tmp_path))
    with pytest.raises(ImageFolderError) as info:
        source.dataset("train")
    assert f"not prepared in {tmp_path}" in str(info.value)
    assert f"tfds build mnist --data_dir {tmp_path}" in str(info.value)
