"""The VQ-VAE-2 family: a `VQVAE2` and one gated PixelCNN prior per level,
each lower level's prior given the codes of the level above
(arXiv:1906.00446)."""

import os

import numpy as np

from vq_zoo.models.family import FamilyError
from vq_zoo.models.family import ModelFamily
from vq_zoo.models.family import Samples
from vq_zoo.models.family import load_keras_file
from vq_zoo.models.family import load_preset_model
from vq_zoo.models.family import register_family
from vq_zoo.models.family import run_dir_levels
from vq_zoo.models.family import serialized_facts


@register_family("vqvae2")
class VQVAE2Family(ModelFamily):
    """A VQ-VAE-2 and its priors: samples every level top first (the top
    prior unconditionally, each lower one given the level above) and
    decodes them together; unconditional.

    Shape contract: `sample(num)` returns `Samples` with `images` float32
    `(num, H, W, C)` in [0, 1] and `codes` a dict level -> int32
    `(num, h, w)`, top first.

    Args:
        vqvae: a trained `VQVAE2`.
        priors: dict level name -> prior, for every name of
            `vqvae.level_names` (top first).

    Loads from a run dir (`vqvae.keras`, `prior_<level>.keras`) or from any
    preset of an exported set (its metadata names `vqvae_preset`,
    `prior_preset` for the top level and `<level>_prior_preset` for the
    others).

    Example:
    >>> family = VQVAE2Family.from_preset("vqvae2_small_natural_64")
    >>> family.sample(4, seed=0).codes["bottom"].shape      # (4, 16, 16)
    """

    members = ("vqvae",)
    autoencoders = ("VQVAE2",)

    def __init__(self, vqvae, priors):
        levels = list(vqvae.level_names)
        missing = [level for level in levels if level not in priors]
        if missing:
            raise FamilyError(f"VQVAE2Family needs a prior for every level "
                              f"({', '.join(levels)}); missing {', '.join(missing)}")
        self.vqvae = vqvae
        self.priors = {level: priors[level] for level in levels}

    @classmethod
    def _from_run_dir(cls, path):
        vqvae = load_keras_file(os.path.join(path, "vqvae.keras"))
        levels = list(vqvae.level_names)
        found = run_dir_levels(path)
        missing = [level for level in levels if level not in found]
        if missing:
            raise FamilyError(f"{path}: no prior_{missing[0]}.keras (is the run "
                              "finished?)")
        return cls(vqvae, {level: load_keras_file(os.path.join(path, f"prior_{level}.keras"))
                           for level in levels})

    @classmethod
    def _from_preset(cls, handle, metadata):
        from vq_zoo.presets import companion_handle

        name = handle if metadata.get("class_name") == "VQVAE2" else metadata.get(
            "vqvae_preset")
        if not name:
            raise FamilyError(f"preset {handle} names no vqvae_preset in its metadata.json")
        vqvae = load_preset_model(companion_handle(handle, name))
        priors = {}
        for i, level in enumerate(vqvae.level_names):
            key = "prior_preset" if i == 0 else f"{level}_prior_preset"
            if not metadata.get(key):
                raise FamilyError(f"preset {handle} names no {key} (the {level} "
                                  "level's prior) in its metadata.json")
            priors[level] = load_preset_model(companion_handle(handle, metadata[key]))
        return cls(vqvae, priors)

    def models(self):
        return {"vqvae": self.vqvae, **{f"{level} prior": prior
                                        for level, prior in self.priors.items()}}

    def sample(self, num, seed=0, temperature=1.0, **conditions):
        """`num` images from codes drawn level by level (level `i` with seed
        `seed + i`); see the class docstring."""
        from vq_zoo.models.vqvae2.sampling import sample_levels

        num = self._check_num(num)
        self._refuse("a VQ-VAE-2", conditions)
        codes = sample_levels(self.priors, num, seed, self._temperature(temperature))
        images = np.asarray(self.vqvae.decode(codes))
        shapes = ", ".join(f"{level} {'x'.join(map(str, codes[level].shape[1:]))}"
                           for level in self.priors)
        return Samples(images=images, codes=codes, columns=8,
                       what=f"{num} samples ({shapes} codes each)")

    @classmethod
    def describers(cls):
        from vq_zoo.models.vqvae2.vqvae2 import VQVAE2

        return {VQVAE2: describe_vqvae2}

    # -------------------------------------------------------- the card
    # A preset of an exported set names the three (`vqvae_preset`,
    # `prior_preset`, `bottom_prior_preset`); one saved on its own gets the
    # default words.
    @staticmethod
    def _card_set(metadata):
        """`(vqvae, top prior, bottom prior)` preset names of an exported
        set, or None."""
        bottom = metadata.get("bottom_prior_preset")
        return (metadata.get("vqvae_preset"), metadata.get("prior_preset"), bottom) \
            if bottom else None

    @classmethod
    def card_intro(cls, name, facts, metadata, members=None):
        if not cls._card_set(metadata):
            return super().card_intro(name, facts, metadata)
        vq, top, bottom = cls._card_set(metadata)
        role = ("the VQ-VAE-2" if name == vq else "the top prior" if name == top
                else "the bottom prior")
        if facts["class_name"] in cls.autoencoders:
            text = (f"A VQ-VAE-2 (arXiv:1906.00446): images to "
                    f"{len(facts.get('level_code_shapes') or {})} levels of codes.")
        else:
            codes = "x".join(map(str, facts.get("code_shape") or [])) or "?"
            text = (f"An autoregressive prior (`{facts['class_name']}`, gated PixelCNN, "
                    f"arXiv:1606.05328) over {codes} maps of "
                    f"{facts.get('num_embeddings')} codes of the VQ-VAE-2 preset `{vq}`.")
        return text + (f" This preset is {role} of three that work together: `{vq}` "
                       f"(VQ-VAE-2), `{top}` (top prior), `{bottom}` (bottom prior, "
                       "given the top codes).")

    @classmethod
    def card_usage(cls, name, facts, metadata, members=None):
        if not cls._card_set(metadata):
            return super().card_usage(name, facts, metadata)
        vq, top, bottom = cls._card_set(metadata)
        return ["import vq_zoo",
                f"vqvae = vq_zoo.VQVAE2.from_preset(\"{vq}\")",
                f"top_prior = vq_zoo.GatedPixelCNNPrior.from_preset(\"{top}\")",
                f"bottom_prior = vq_zoo.GatedPixelCNNPrior.from_preset(\"{bottom}\")",
                "top = top_prior.sample(16, seed=0)",
                "bottom = bottom_prior.sample(16, condition=top, seed=1)",
                "images = vqvae.decode({\"top\": top, \"bottom\": bottom})",
                "codes = vqvae.encode(images)    # {\"top\": ..., \"bottom\": ...}",
                "top_only = vqvae.decode({\"top\": codes[\"top\"]})"]

    # -------------------------------------------------------- codes
    # One array per level, top first (a dict; a `.npz` for the command).
    @classmethod
    def code_levels(cls, vqvae):
        names = list(vqvae.level_names)
        return names if len(names) > 1 else None

    @classmethod
    def downsampling(cls, vqvae, image_shape):
        return int(vqvae.downsampling), int(vqvae.downsampling)

    @classmethod
    def num_codes(cls, vqvae, level=None):
        return int(vqvae.num_embeddings[list(vqvae.level_names).index(level)])

    @classmethod
    def encode_images(cls, vqvae, images):
        return {k: np.asarray(v) for k, v in vqvae.encode_levels(images).items()}

    @classmethod
    def card_reconstructions(cls, facts, metadata=None, members=None):
        if facts["class_name"] not in cls.autoencoders:
            return super().card_reconstructions(facts)
        return ("Held-out test images in groups of rows: originals, decoded from the "
                "top level only (lower levels replaced by their codebook's mean "
                "vector), decoded from all levels:")


def describe_vqvae2(model):
    """Card facts of a `VQVAE2`: each level's code map and K, and a sentence
    on its encoders, codebooks and decoder."""
    from vq_zoo.model_card import likelihood_phrase
    from vq_zoo.model_card import plural

    facts, serialized = serialized_facts(model)
    config = serialized.get("config", {})
    input_shape = (serialized.get("build_config") or {}).get("input_shape")
    levels = list(getattr(model, "level_names", ()))
    ks = list(config["num_embeddings"])
    stride = 2 ** int(config["bottom_downsamples"])
    shapes = {}
    for i, level in enumerate(reversed(levels)):
        if input_shape:
            shapes[level] = [d // (stride * 2 ** i) for d in input_shape[1:-1]]
    facts.update(input_shape=input_shape and list(input_shape[1:]),
                 code_shape=shapes.get(levels[0]), num_embeddings=ks[0],
                 embedding_dim=config.get("embedding_dim"), level_code_shapes=shapes)
    shape = "x".join(map(str, input_shape[1:])) if input_shape else "?"
    maps = ", ".join(f"{n} {'x'.join(map(str, shapes.get(n, ['?'])))} (K={k})"
                     for n, k in zip(levels, ks))
    facts["architecture"] = (
        f"{shape} inputs to {len(levels)} code maps: {maps}, D={config.get('embedding_dim')} "
        f"per level. Encoders and decoders of {config.get('num_hiddens')} hidden units "
        f"with {plural(config.get('num_residual_layers', 0), 'residual block')} of "
        f"{config.get('num_residual_hiddens')} units; the bottom encoder downsamples "
        f"{stride}x, each level above 2x more; quantised top-down (each level sees a "
        f"decoding of the levels above), {'EMA ' if config.get('ema') else ''}codebooks "
        f"(commitment_cost {config.get('commitment_cost')}); the decoder sees every "
        "level, with " + likelihood_phrase(config.get("likelihood"),
                                           config.get("data_variance")) + ".")
    return facts


__all__ = ["VQVAE2Family", "describe_vqvae2"]
