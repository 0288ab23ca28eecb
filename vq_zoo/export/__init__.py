"""Exports of trained models for use outside vq_zoo: `saved_model`
(TensorFlow SavedModels of a VQ-VAE's encoder and decoder, loadable where
vq_zoo is not installed) and `folder_codes` (the codes of a folder of
images in one `.npz`)."""

from vq_zoo.export.folder_codes import encode_folder  # noqa: F401
from vq_zoo.export.saved_model import export_saved_model  # noqa: F401
