"""The DeepMind Lab family: frames -> 21x21 codes (stage 1) -> 3 codes
(stage 2), sampled from the 3-code prior (arXiv:1711.00937, section 4.2)."""

import os

import numpy as np

from vq_zoo.models.family import FamilyError
from vq_zoo.models.family import ModelFamily
from vq_zoo.models.family import Samples
from vq_zoo.models.family import generic_facts
from vq_zoo.models.family import load_keras_file
from vq_zoo.models.family import load_preset_model
from vq_zoo.models.family import register_family

# Roles of the models of a set: the `two_stage_presets` keys of its presets'
# metadata and the `<role>.keras` files of its run dir.
STAGE_ROLES = ("vqvae", "stage2_vqvae", "stage2_prior")


@register_family("dmlab")
class DMLabFamily(ModelFamily):
    """DeepMind Lab's two stages (`DMLabTwoStage`): 3 codes from the stage-2
    prior, a 21x21 map from stage 2's PixelCNN decoder, a frame from stage
    1's decoder; unconditional.

    Shape contract: `sample(num)` returns `Samples` with `images` float32
    `(num, 84, 84, 3)` in [0, 1] and `codes` int32 `(num, 3)`.

    Args:
        chain: a `DMLabTwoStage` with its `code_prior`.

    Loads from any stage-2 preset of a set (its metadata's
    `two_stage_presets` names the stage-1 VQ-VAE, the stage-2 VQ-VAE and the
    stage-2 prior) or from a run dir of the `dmlab` recipe (`vqvae.keras`,
    `stage2_vqvae.keras`, `stage2_prior.keras`).

    Example:
    >>> family = DMLabFamily.from_preset("gated_pixelcnn_1d_small_memory_maze_3")
    >>> family.sample(8, seed=0).images.shape      # (8, 84, 84, 3)
    """

    members = ("frame_vqvae", "code_vqvae", "code_prior")
    autoencoders = ("DMLabVQVAE",)

    def __init__(self, chain):
        if chain.code_prior is None:
            raise FamilyError("DMLabFamily needs a DMLabTwoStage with its `code_prior`")
        self.chain = chain
        self.frame_vqvae = chain.frame_vqvae
        self.code_vqvae = chain.code_vqvae
        self.code_prior = chain.code_prior

    @classmethod
    def _from_preset(cls, handle, metadata):
        from vq_zoo.models.dmlab.dmlab_two_stage import DMLabTwoStage
        from vq_zoo.presets import companion_handle

        names = metadata.get("two_stage_presets") or {}
        missing = [role for role in STAGE_ROLES if not names.get(role)]
        if missing:
            raise FamilyError(f"preset {handle} names no {missing[0]} in the "
                              "two_stage_presets of its metadata.json")
        return cls(DMLabTwoStage(*(load_preset_model(companion_handle(handle, names[role]))
                                   for role in STAGE_ROLES)))

    @classmethod
    def _from_run_dir(cls, path):
        from vq_zoo.models.dmlab.dmlab_two_stage import DMLabTwoStage

        return cls(DMLabTwoStage(*(load_keras_file(os.path.join(path, f"{role}.keras"))
                                   for role in STAGE_ROLES)))

    def sample(self, num, seed=0, temperature=1.0, **conditions):
        """`num` frames through both stages (see the class docstring); the
        codes are drawn with `seed`, the maps with `seed + 1`."""
        num = self._check_num(num)
        self._refuse("the DeepMind Lab two-stage model", conditions)
        frames, codes, maps = self.chain.sample(num, seed=seed,
                                                temperature=self._temperature(temperature))
        return Samples(images=np.asarray(frames), codes=codes, columns=8,
                       what=f"{num} frames",
                       details=f"({codes.shape[1]} codes each, decoded to "
                               f"{maps.shape[1]}x{maps.shape[2]} stage-1 maps, then to "
                               "frames)")

    @classmethod
    def describers(cls):
        from vq_zoo.models.dmlab.dmlab_vqvae import DMLabVQVAE

        # The stage-2 model's card is worded by its recipe
        # (recipes/dmlab/export_presets.py); the default card states its
        # class and size, not a VQVAE's encoder and quantizer it lacks.
        return {DMLabVQVAE: generic_facts}


__all__ = ["DMLabFamily"]
