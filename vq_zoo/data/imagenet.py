"""ImageNet through tensorflow-datasets: `imagenet2012` (manual download),
`imagenet_resized/64x64` and `imagenet_resized/32x32`.

A missing dataset fails at once with what to do, never with tfds's
download-and-retry loop: `imagenet2012` needs the two ILSVRC tar files in the
manual directory (tfds's own instructions are shown), and the resized
variants are downloaded only when `download=True`.
"""

import os

DATASETS = ("imagenet2012", "imagenet_resized/64x64", "imagenet_resized/32x32")
NATIVE_SIZE = {"imagenet_resized/64x64": 64, "imagenet_resized/32x32": 32}


def imagenet_builder(name, data_dir=None, download=False):
    """A prepared tfds builder for `name`, or a clear error."""
    import tensorflow_datasets as tfds

    if name not in DATASETS:
        raise ValueError(f"Unknown dataset {name!r}; choose one of {DATASETS}")
    data_dir = os.path.expanduser(data_dir or os.path.join("~", "tensorflow_datasets"))
    builder = tfds.builder(name, data_dir=data_dir)
    if name == "imagenet2012":
        manual_dir = os.path.join(data_dir, "downloads", "manual")
        try:
            # Returns at once when prepared; with the tar files present it
            # prepares the dataset; without them tfds raises with its
            # instructions in a fraction of a second.
            builder.download_and_prepare(
                download_config=tfds.download.DownloadConfig(manual_dir=manual_dir)
            )
        except AssertionError as e:
            raise FileNotFoundError(
                f"imagenet2012 is not prepared in {data_dir}. {e}\n"
                f"Put the files in {manual_dir} (or pass --data-dir), or use "
                "--set dataset=imagenet_resized/64x64."
            ) from None
        return builder
    if not builder.is_prepared():
        if not download:
            raise FileNotFoundError(
                f"{name} is not prepared in {data_dir}. Prepare it with "
                f"`tfds build {name} --data_dir {data_dir}` on a machine with "
                "network access, or pass download=True (--set download=true)."
            )
        builder.download_and_prepare()
    return builder


def imagenet_dataset(name, split, image_size, batch_size, data_dir=None,
                     training=True, seed=0, download=False, num_parallel=None):
    """Batches of `(images, labels)`: float32 images in [0, 1] of
    `image_size` x `image_size`, int32 labels.

    Training: shorter side resized to `image_size`, random square crop,
    random horizontal flip, shuffled, repeated. Evaluation: shorter side
    resized, centre crop, one pass in a fixed order. Decoding and
    augmentation run in parallel and batches are prefetched; `batch_size` is
    the global batch.
    """
    import tensorflow as tf

    builder = imagenet_builder(name, data_dir, download)
    native = NATIVE_SIZE.get(name)
    if native is not None and image_size > native:
        raise ValueError(
            f"{name} has {native}x{native} images; image_size={image_size} "
            f"would upsample. Use image_size <= {native} or imagenet2012."
        )
    parallel = num_parallel or tf.data.AUTOTUNE
    options = tf.data.Options()
    options.deterministic = not training
    ds = builder.as_dataset(split=split, as_supervised=True,
                            shuffle_files=training,
                            read_config=None)
    ds = ds.with_options(options)

    def prepare(image, label):
        image = tf.image.convert_image_dtype(image, tf.float32)
        shape = tf.cast(tf.shape(image)[:2], tf.float32)
        scale = image_size / tf.reduce_min(shape)
        new = tf.cast(tf.math.ceil(shape * scale), tf.int32)
        image = tf.image.resize(image, new, antialias=True)
        if training:
            image = tf.image.random_crop(image, (image_size, image_size, 3))
            image = tf.image.random_flip_left_right(image)
        else:
            image = tf.image.resize_with_crop_or_pad(image, image_size, image_size)
        return tf.clip_by_value(image, 0.0, 1.0), tf.cast(label, tf.int32)

    if training:
        ds = ds.shuffle(10 * batch_size, seed=seed).repeat()
    ds = ds.map(prepare, num_parallel_calls=parallel)
    return ds.batch(batch_size, drop_remainder=training).prefetch(tf.data.AUTOTUNE)


def num_classes(name, data_dir=None, download=False):
    builder = imagenet_builder(name, data_dir, download)
    return builder.info.features["label"].num_classes
