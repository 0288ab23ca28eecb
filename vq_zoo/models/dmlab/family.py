"""The DeepMind Lab family: frames -> 21x21 codes (stage 1) -> 3 codes
(stage 2), sampled from the 3-code prior (arXiv:1711.00937, section 4.2).
Those are the shipped set's sizes; a set's cards word its own run's."""

import math
import os

import numpy as np

from vq_zoo.models.family import FamilyError
from vq_zoo.models.family import ModelFamily
from vq_zoo.models.family import Samples
from vq_zoo.models.family import generic_facts
from vq_zoo.models.family import load_keras_file
from vq_zoo.models.family import load_preset_model
from vq_zoo.models.family import register_family
from vq_zoo.models.family import run_dir_config

# Roles of the models of a set: the `two_stage_presets` keys of its presets'
# metadata and the `<role>.keras` files of its run dir.
STAGE_ROLES = ("vqvae", "stage2_vqvae", "stage2_prior")
# The shipped set's sizes (config `small`: 84x84 frames, 21x21 maps, 3
# codes of 512, a map head, stage 2 trained on the frames), the words of a
# set whose metadata records no config.
SHIPPED_SIZES = {"image_size": 84, "num_downsamples": 2, "stage2_num_latents": 3,
                 "stage2_num_embeddings": 512, "stage2_map_weight": 3.0,
                 "stage2_head_epochs": 20, "stage2_head_tune": "stage2"}


def load_run_stage(path, role):
    """The model of `role` (a `STAGE_ROLES` name, or `"prior"`) in the dmlab
    run dir `path`: `<role>.keras`, except stage 2 of a run whose
    `stage2_head` stage finished (`stage2_head_epochs` > 0), which is the
    stage 2 that stage tuned (the `code_vqvae` of `stage2_head.keras`), the
    one the run's later stages and report used."""
    if role == "stage2_vqvae" and os.path.exists(os.path.join(path, "stages",
                                                              "stage2_head.json")):
        return load_keras_file(os.path.join(path, "stage2_head.keras")).code_vqvae
    return load_keras_file(os.path.join(path, f"{role}.keras"))


def map_head_training(config, alongside="with it"):
    """How a run's map head was trained, in words, from its recorded
    `config`: beside the PixelCNN (`alongside`'s words), then
    (`stage2_head_epochs` > 0) on the frames through stage 1's decoder,
    alone or with all of stage 2 (`stage2_head_tune`)."""
    epochs = int(config.get("stage2_head_epochs") or 0)
    words = f"trained {alongside}"
    if not epochs:
        return words
    if config["stage2_head_tune"] == "stage2":
        return (f"{words}, then {epochs} epochs more with all of stage 2 on the "
                "frames, through stage 1's decoder")
    return f"{words}, then {epochs} epochs alone on the frames, through stage 1's decoder"


def indefinite_article(number):
    """"a" or "an" before `number` as it is read ("an 8x8 map", "an 11-way",
    "a 21x21 map")."""
    digits = str(int(number))
    spoken_vowel = digits.startswith("8") or (digits.startswith(("11", "18"))
                                               and len(digits) % 3 == 2)
    return "an" if spoken_vowel else "a"


def set_sizes(config=None):
    """What the words of a set say of its sizes, from its run's recorded
    `config` (the shipped set's where it records none): `image` and `map`
    ("84x84", "21x21"), `map_shape` `(21, 21)`, `latents` (stage 2's codes
    per frame), `k` (each stage-2 codebook's size) and `bits` (per frame,
    `latents * log2(k)`, as words: "27"), `map_head` (whether stage 2
    has one: `stage2_map_weight` > 0) and `map_head_training`
    (`map_head_training`'s words)."""
    sizes = dict(SHIPPED_SIZES)
    sizes.update({key: (config or {})[key] for key in SHIPPED_SIZES
                  if (config or {}).get(key) is not None})
    image = int(sizes["image_size"])
    side = image // 2 ** int(sizes["num_downsamples"])
    latents, k = int(sizes["stage2_num_latents"]), int(sizes["stage2_num_embeddings"])
    bits = latents * math.log2(k)
    return {"image": f"{image}x{image}", "map": f"{side}x{side}", "map_shape": (side, side),
            "a_map": f"{indefinite_article(side)} {side}x{side}",
            "latents": latents, "k": k, "map_head": float(sizes["stage2_map_weight"]) > 0,
            "map_head_training": map_head_training(sizes),
            "bits": f"{bits:.0f}" if bits == round(bits) else f"{bits:.1f}"}


def set_roles(config=None):
    """What each preset of a set is (its card's first sentence and its
    metadata's description), by its `two_stage_presets` role, in the sizes
    of its run's recorded `config` (`set_sizes`)."""
    s = set_sizes(config)
    vectors = "vector" if s["latents"] == 1 else "vectors"
    return {
        "vqvae": f"Stage 1 of the DeepMind Lab model: a VQ-VAE from {s['image']} RGB frames "
                 f"to {s['map']} maps of codes.",
        "prior": f"Stage 1's gated PixelCNN prior over the {s['map']} code maps (the "
                 "one-stage baseline's prior).",
        "stage2_vqvae": f"Stage 2 of the DeepMind Lab model (`DMLabVQVAE`): an encoder from "
                        f"{s['a_map']} code map to {s['latents']} latent {vectors}, each quantised "
                        f"by its own codebook of {s['k']} ({s['bits']} bits per frame), and "
                        f"a gated PixelCNN decoder over the {s['map']} codes conditioned on "
                        f"the {s['latents']} quantised {vectors}" + (
                            f", with a map head beside it ({s['map_head_training']}) that "
                            "regresses the stage-1 code vectors of the whole map from them"
                            if s["map_head"] else "") + ".",
        "stage2_prior": f"The prior over stage 2's {s['latents']} codes: a causal gated 1D "
                        f"network of length {s['latents']} over one shared vocabulary of "
                        f"{s['k']} tokens.",
    }


def stage1_num_embeddings(config):
    """Stage 1's K in a run's recorded `config`: after its codebook merge
    (`vqvae_merge_codes`) where it had one; None where it records none."""
    return (config or {}).get("vqvae_merge_codes") or (config or {}).get("num_embeddings")


# The shipped set's words (what its presets' metadata records).
SET_ROLES = set_roles()


def decoding_words(metrics):
    """How a report decoded the stage-2 map its `test_stage2_psnr_db` is of
    (`stage2_decoding` of its metrics; runs before the choice existed
    decoded it greedily)."""
    decoding = metrics.get("stage2_decoding", "greedy")
    if decoding == "consensus":
        return f"consensus of {metrics['stage2_decoding_samples']} sampled maps"
    return {"greedy": "greedy map", "sample": "sampled map",
            "regression": "map regressed from the codes (map head)"}[decoding]


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
    saved_model_refusal = ("the DeepMind Lab stage 2 has no SavedModel export (its "
                           "decoder samples the map); export stage 1 from its run dir")

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
        from vq_zoo.models.dmlab.dmlab_two_stage import recorded_decoding
        from vq_zoo.presets import companion_handle

        names = metadata.get("two_stage_presets") or {}
        missing = [role for role in STAGE_ROLES if not names.get(role)]
        if missing:
            raise FamilyError(f"preset {handle} names no {missing[0]} in the "
                              "two_stage_presets of its metadata.json")
        return cls(DMLabTwoStage(*(load_preset_model(companion_handle(handle, names[role]))
                                   for role in STAGE_ROLES),
                                 **recorded_decoding(metadata.get("config") or {})))

    @classmethod
    def _from_run_dir(cls, path):
        from vq_zoo.models.dmlab.dmlab_two_stage import DMLabTwoStage
        from vq_zoo.models.dmlab.dmlab_two_stage import recorded_decoding

        return cls(DMLabTwoStage(*(load_run_stage(path, role) for role in STAGE_ROLES),
                                 **recorded_decoding(run_dir_config(path))))

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
                               f"{maps.shape[1]}x{maps.shape[2]} stage-1 maps "
                               f"({self._decoding_words()}), then to frames)")

    def _decoding_words(self):
        chain = self.chain
        return decoding_words({"stage2_decoding": chain.decoding or "sample",
                               "stage2_decoding_samples": chain.num_samples})

    # ------------------------------------------------------------ the card
    # The four presets of a set (`two_stage_presets` of their metadata:
    # stage 1, its map prior, stage 2, the 3-code prior) share one card
    # text: each says what it is in the set, how the set chains, and what
    # the pictures show. A preset of no set is worded as the base family.
    @staticmethod
    def _set_role(name, metadata):
        names = metadata.get("two_stage_presets") or {}
        return next((role for role, preset in names.items() if preset == name), None)

    @classmethod
    def card_intro(cls, name, facts, metadata, members=None):
        role = cls._set_role(name, metadata)
        if role not in SET_ROLES:
            return super().card_intro(name, facts, metadata)
        others = ", ".join(f"`{n}`" for r, n in metadata["two_stage_presets"].items()
                           if r != role)
        config = metadata.get("config") or {}
        data = ("**on memory-maze frames,\nnot DeepMind Lab** (DeepMind Lab itself needs a "
                "download this project does\nnot make)"
                if config.get("dataset", "memory_maze") == "memory_maze"
                else "on DeepMind Lab frames\n(tfds `dmlab`)")
        # The sizes of the set's run (its recorded config), the shipped
        # set's where none is recorded.
        sizes = set_sizes(config)
        first = set_roles(config)[role]
        if role == "vqvae":  # its K, after any merge
            k1 = facts.get("num_embeddings") or stage1_num_embeddings(config)
            if k1:
                first = first.replace("maps of codes", f"maps of K={k1} codes")
        return f"""{first}

One of four presets that together are the two-stage DeepMind Lab model of
van den Oord, Vinyals, Kavukcuoglu, *Neural Discrete Representation
Learning* (arXiv:1711.00937, section 4.2), trained {data}: the others are {others}. Chain them with
`vq_zoo.models.dmlab.DMLabTwoStage` (frame -> {sizes['map']} codes -> {sizes['latents']} codes and
back; {sizes['latents']}-code prior -> {sizes['map']} map -> frame)."""

    @classmethod
    def card_reconstructions(cls, facts, metadata=None, members=None):
        """What the set's `reconstructions.png` and `samples.png` show, the
        stage-2 row (27-bit for the shipped set) decoded as the run's report
        decoded it (its metrics), in the sizes of the run's config."""
        metrics = (metadata or {}).get("metrics")
        if not metrics or not (metadata or {}).get("two_stage_presets"):
            return super().card_reconstructions(facts)
        s = set_sizes(metadata.get("config"))
        objects = ("" if "test_object_frames" not in metrics else """
`objects.png` (in the stage-1 and stage-2 presets): the same 4 rows for up to 16
test frames that show a target ball (at least 30 of its pixels), spread over the
test episodes.""")
        return f"""`reconstructions.png` (in the stage-1 and stage-2 presets): groups of 4 rows,
test frames | stage-1 reconstructions ({s['map']} codes) | {s['bits']}-bit
reconstructions with the {decoding_words(metrics)} | {s['bits']}-bit reconstructions with a sampled
map. `samples.png`: frames decoded from the {s['latents']}-code prior's samples ({s['latents']} codes
-> a sampled {s['map']} map -> stage 1's decoder); `vq-zoo sample` decodes each
map by the {decoding_words(metrics)} instead.{objects}"""

    # ------------------------------------------------------------ codes
    # `vq-zoo encode` / `decode` with a stage-2 preset of a set: frames to
    # its 3 codes and back through both stages (`DMLabTwoStage`: stage 1
    # from the set, the map decoded as the set's run was configured to).
    # A stage-2 model alone (a .keras file, a preset of no set) encodes
    # stage 1's maps, not images, and is refused as before.
    @classmethod
    def codes_model(cls, vqvae, source):
        from vq_zoo import presets
        from vq_zoo.models.dmlab.dmlab_two_stage import DMLabTwoStage
        from vq_zoo.models.dmlab.dmlab_two_stage import recorded_decoding

        if os.path.isfile(source) or os.path.isdir(source) and not os.path.isfile(
                os.path.join(source, presets.METADATA_FILE)):
            return vqvae
        metadata = presets.load_preset_metadata(source)
        names = metadata.get("two_stage_presets") or {}
        if not names.get("vqvae"):
            return vqvae
        frame_vqvae = load_preset_model(presets.companion_handle(source, names["vqvae"]))
        return DMLabTwoStage(frame_vqvae, vqvae,
                             **recorded_decoding(metadata.get("config") or {}))

    @classmethod
    def check_image_autoencoder(cls, vqvae, source):
        from vq_zoo.models.dmlab.dmlab_two_stage import DMLabTwoStage

        if not isinstance(vqvae, DMLabTwoStage):
            super().check_image_autoencoder(vqvae, source)

    @classmethod
    def check_image_size(cls, chain, source, height, width):
        trained = tuple(chain.get_build_config()["input_shape"][1:3])
        if (height, width) != trained:
            raise FamilyError(f"{source} encodes {trained[0]}x{trained[1]} frames (to "
                              f"{chain.code_vqvae.num_latents} codes each), got "
                              f"{height}x{width} images")

    @classmethod
    def downsampling(cls, chain, image_shape):
        """A whole frame to one row of codes."""
        return tuple(image_shape[:2])

    @classmethod
    def code_rank(cls, chain, image_shape):
        return 1

    @classmethod
    def num_codes(cls, chain, level=None):
        """The smallest codebook's K (every column's codes are below it)."""
        return min(int(k) for k in chain.code_vqvae.num_embeddings)

    @classmethod
    def encode_images(cls, chain, images):
        return chain.encode(images)

    @classmethod
    def decode_codes(cls, chain, codes):
        """Frames through both stages, each map decoded by the chain's
        decoding (the set's configured one: consensus of 16 draws for the
        shipped set), with seed 0."""
        return chain.decode(codes, seed=0)

    @classmethod
    def describers(cls):
        from vq_zoo.models.dmlab.dmlab_vqvae import DMLabVQVAE

        # The stage-2 model's architecture is its set's card's "Model"
        # section (recipes/dmlab/export_presets.py, from the run's config);
        # the default card states its class and size, not a VQVAE's encoder
        # and quantizer it lacks.
        return {DMLabVQVAE: generic_facts}


__all__ = ["DMLabFamily", "SET_ROLES", "SHIPPED_SIZES", "decoding_words",
           "indefinite_article", "set_roles",
           "set_sizes", "stage1_num_embeddings"]
