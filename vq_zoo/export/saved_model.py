"""A VQ-VAE's encoder and decoder as TensorFlow SavedModels for serving.

    vq-zoo export RUN --format saved_model --dest DIR

writes

- `DIR/encoder/`: signature `encode` (also `serving_default`): `images`,
  float32 `(batch, height, width, channels)` in [0, 1] -> one int32 code map
  per level (`codes`; a VQ-VAE-2: `top`, `bottom`, ...).
- `DIR/decoder/`: signature `decode` (also `serving_default`): the code
  maps, int32, one input per level named as above -> `images`, float32 in
  [0, 1].
- `DIR/export.json`: the shapes, levels, codebook sizes and the run's
  class names, for a client that has only these files.

They are Keras `ExportArchive`s (what `model.export` writes) of the model's
`encode_levels` and `decode`, so they need only TensorFlow:

    import tensorflow as tf
    encoder = tf.saved_model.load("DIR/encoder")
    codes = encoder.signatures["encode"](images=images)["codes"]
    images = tf.saved_model.load("DIR/decoder").signatures["decode"](codes=codes)["images"]

The folder is written under a temporary name and renamed when complete.
"""

import json
import os
import shutil
import tempfile

import numpy as np


class ExportError(ValueError):
    """A model or destination the export refuses (one-line message)."""


def image_shape(vqvae):
    """`(height, width, channels)` the model was built for."""
    shape = (vqvae.get_build_config() or {}).get("input_shape")
    if not shape or len(shape) != 4 or any(d is None for d in shape[1:]):
        raise ExportError("this model records no image input shape (height, width, "
                          "channels) in its build config: expected an image VQ-VAE")
    return tuple(int(d) for d in shape[1:])


def _check_exportable(vqvae):
    if getattr(vqvae, "input_classes", None) is not None:
        raise ExportError("this model encodes maps of integer codes (another model's "
                          "codes), not images: expected an image VQ-VAE")
    if getattr(vqvae, "conditional", False) or getattr(vqvae, "autoregressive", False):
        raise ExportError("this model's decoder is conditional or autoregressive (it "
                          "samples): expected an image VQ-VAE with a feed-forward "
                          "decoder")


def export_saved_model(vqvae, dest, class_names=None, overwrite=False, source=None):
    """Writes `dest/encoder`, `dest/decoder` and `dest/export.json`.

    Args:
        vqvae: a trained image `VQVAE` or `VQVAE2`.
        dest: the folder to create (refused if it exists and is not empty,
            unless `overwrite`).
        class_names: names of the run's classes, recorded in export.json.
        source: where the model came from (a run dir), recorded.

    Returns:
        The description written to export.json (a dict).
    """
    import keras
    import tensorflow as tf

    from vq_zoo.data.codes import model_level_names

    _check_exportable(vqvae)
    shape = image_shape(vqvae)
    levels = list(model_level_names(vqvae))
    dest = os.fspath(dest)
    if os.path.exists(dest) and (not os.path.isdir(dest) or os.listdir(dest)):
        if not overwrite:
            raise ExportError(f"{dest} already exists and is not empty: expected a new "
                              "folder (or pass --overwrite to replace it)")
    probe = vqvae.encode_levels(np.zeros((1,) + shape, np.float32))
    code_shapes = {k: tuple(int(d) for d in probe[k].shape[1:]) for k in levels}
    quantizers = list(getattr(vqvae, "quantizers", None) or [vqvae.quantizer])
    num_embeddings = {k: int(q.num_embeddings) for k, q in zip(levels, quantizers)}

    def encode(images):
        codes = vqvae.encode_levels(images)
        return {k: tf.cast(codes[k], tf.int32) for k in levels}

    def decode(*codes):
        given = dict(zip(levels, codes))
        images = vqvae.decode(given if len(levels) > 1 else given[levels[0]])
        return {"images": tf.cast(images, tf.float32)}

    parent = os.path.dirname(os.path.abspath(dest)) or "."
    os.makedirs(parent, exist_ok=True)
    scratch = tempfile.mkdtemp(prefix=f".{os.path.basename(dest)}.", dir=parent)
    try:
        for name, fn, spec in (
                ("encode", encode,
                 [tf.TensorSpec((None,) + shape, tf.float32, name="images")]),
                ("decode", decode,
                 [tf.TensorSpec((None,) + code_shapes[k], tf.int32, name=k)
                  for k in levels])):
            archive = keras.export.ExportArchive()
            archive.track(vqvae)
            archive.add_endpoint(name, fn, input_signature=spec)
            folder = "encoder" if name == "encode" else "decoder"
            archive.write_out(os.path.join(scratch, folder), verbose=False)
        description = {
            "format": "tf_saved_model",
            "encoder": {"path": "encoder", "signature": "encode",
                        "inputs": {"images": {"shape": [None, *shape],
                                              "dtype": "float32", "range": [0.0, 1.0]}},
                        "outputs": {k: {"shape": [None, *code_shapes[k]],
                                        "dtype": "int32"} for k in levels}},
            "decoder": {"path": "decoder", "signature": "decode",
                        "inputs": {k: {"shape": [None, *code_shapes[k]], "dtype": "int32",
                                       "range": [0, num_embeddings[k] - 1]}
                                   for k in levels},
                        "outputs": {"images": {"shape": [None, *shape],
                                               "dtype": "float32"}}},
            "levels": levels,
            "num_embeddings": num_embeddings,
            "class_names": list(class_names) if class_names else None,
            "model": type(vqvae).__name__,
            "source": source,
        }
        with open(os.path.join(scratch, "export.json"), "w") as f:
            json.dump(description, f, indent=2)
            f.write("\n")
        if os.path.lexists(dest):
            old = dest + ".old"
            shutil.rmtree(old, ignore_errors=True)
            os.replace(dest, old)
            os.replace(scratch, dest)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(scratch, dest)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return description


__all__ = ["export_saved_model", "ExportError", "image_shape"]
