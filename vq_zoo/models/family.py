"""Model families: the set of models that together make samples (a VQ-VAE
and its prior, a VQ-VAE-2 and one prior per level, ...), as one object.

A family loads itself from a run dir or a preset, samples with its own
conditions, describes its models for their cards and handles its
autoencoder's codes. `vq-zoo sample`, `encode`, `decode`, `convert` and the
card writer (`vq_zoo.model_card`) call this interface and never look at a
family's config keys. Each family lives in its model folder,
`vq_zoo/models/<folder>/family.py`, and registers itself by name with
`@register_family("name")`; the registry finds those files itself, so a new
family is one folder plus its recipe.

Which family a run dir or a preset belongs to is the `family` field its
run record (`config.json` of a run dir) or its `metadata.json` holds; for
run dirs and presets written before that field existed it is derived in
one place, `family_name`.

Example:
>>> family = ModelFamily.from_preset("vqvae_small_mnist_28")   # a VQVAEFamily
>>> samples = family.sample(8, seed=0, temperature=1.0, label=3)
>>> samples.images.shape                                         # (8, 28, 28, 1)
>>> print(family.describe())
"""

import dataclasses
import importlib
import importlib.util
import json
import os
import pkgutil
import zipfile

import numpy as np

from vq_zoo.utils.messages import one_line

# Classes of the speech decoders: a VQ-VAE with one of them is a speech
# VQ-VAE (read from its config, before anything is built).
SPEECH_DECODERS = ("WaveNetDecoder", "SpectrogramDecoder")


class FamilyError(ValueError):
    """A run dir or preset that cannot be loaded or sampled as a family: a
    one-line message naming the file and what was expected."""


class ConditionError(FamilyError):
    """A condition of `sample` that is missing, not for this family, or out
    of range. Conditions are named as `vq-zoo sample` names them (`label=`
    is `--label`, `num_frames=` is `--frames`), so that the command and the
    library say the same thing."""


@dataclasses.dataclass
class Samples:
    """What `ModelFamily.sample` returns.

    Attributes:
        images: float32 `(n, H, W, C)` in [0, 1], laid out `columns` to a row
            (None for audio).
        audio: float32 `(n, T)` in [-1, 1] at `sample_rate` (None for
            images).
        sample_rate: int, the audio's rate.
        columns: images per row of the grid they make.
        codes: the drawn codes (an array, or a dict of arrays per level).
        what: what was drawn, e.g. "4 samples" or "2 rollouts".
        details: an optional sentence about them, in parentheses.
    """

    images: object = None
    audio: object = None
    sample_rate: int = None
    columns: int = 8
    codes: object = None
    what: str = ""
    details: str = ""

    def message(self, where):
        """`Wrote <what> to <where> <details>`: the line `vq-zoo sample`
        prints."""
        return f"Wrote {self.what} to {where}" + (f" {self.details}" if self.details else "")


# ---------------------------------------------------------------- registry
_FAMILIES = {}
_DISCOVERED = []


def register_family(name):
    """Class decorator: registers a `ModelFamily` subclass under `name`, the
    value of the `family` field of its run dirs and presets."""

    def register(cls):
        if not (isinstance(cls, type) and issubclass(cls, ModelFamily)):
            raise TypeError(f"@register_family({name!r}) decorates ModelFamily "
                            f"subclasses, got {cls!r}")
        known = _FAMILIES.get(name)
        if known is not None and known.__qualname__ != cls.__qualname__:
            raise ValueError(f"model family {name!r} is registered twice: "
                             f"{known.__module__}.{known.__qualname__} and "
                             f"{cls.__module__}.{cls.__qualname__}")
        cls.name = name
        _FAMILIES[name] = cls
        return cls

    return register


def _discover():
    """Imports `vq_zoo/models/<folder>/family.py` of every model folder once
    (each registers its family)."""
    if _DISCOVERED:
        return
    import vq_zoo.models as models

    for info in pkgutil.iter_modules(models.__path__):
        if not info.ispkg:
            continue
        module = f"{models.__name__}.{info.name}.family"
        if importlib.util.find_spec(module) is not None:
            importlib.import_module(module)
    _DISCOVERED.append(True)


def families():
    """`{name: family class}` of every registered family, sorted by name."""
    _discover()
    return dict(sorted(_FAMILIES.items()))


def get_family(name, source=None):
    """The family class registered as `name`; a FamilyError naming the known
    ones otherwise (`source`: the run dir or preset that recorded `name`)."""
    known = families()
    if name not in known:
        where = f"{source} records the model family {name!r}, which" if source else \
            f"the model family {name!r}"
        raise FamilyError(f"{where} this vq_zoo does not know (known families: "
                          f"{', '.join(known)}); a newer vq_zoo may have made it")
    return known[name]


# ------------------------------------------------------------- the family
class ModelFamily:
    """The models of one kind of sampler, together: loads from a run dir or
    a preset, samples, and describes itself.

    Subclasses register with `@register_family(name)` and define:
        - `members`: the roles of their models, e.g. `("vqvae", "prior")`;
        - `conditions`: the keyword conditions `sample` takes;
        - `output`: "images" or "audio";
        - `autoencoders`: the class names of their autoencoders;
        - `_from_preset(handle, metadata)` and `_from_run_dir(path)` (the
          families of a VQ-VAE and a prior share `load_models`);
        - `sample(num, seed, temperature, **conditions)` returning `Samples`;
        - `describers()`: `{model class: function(model) -> facts}` for the
          model classes whose card this family words (`describe_member`).
        - optionally `card_intro`, `card_usage`, `card_commands`,
          `card_reconstructions`: what a member's card says it is, how to
          use it and what its reconstructions show (the defaults word a
          one-level VQ-VAE and its prior);
        - optionally the methods on their autoencoder's codes that `vq-zoo
          encode`, `decode` and `convert` call (`code_levels`,
          `encode_images`, `decode_codes`, `convert_speech`, ...; the
          defaults serve a one-level VQ-VAE of images).

    `ModelFamily.from_preset(handle)` and `ModelFamily.from_run_dir(path)`
    return the family the preset or run dir belongs to (as keras-hub's
    `Backbone.from_preset` returns the preset's own class); on a subclass they
    refuse a preset of another family.
    """

    name = None
    members = ()
    conditions = ()
    output = "images"
    # Class names of the autoencoders among the members: a preset of one of
    # them names its prior as its companion, and the other way round.
    autoencoders = ()

    # -------------------------------------------------------- loading
    @classmethod
    def from_preset(cls, handle):
        """The family of the preset `handle` (a name, folder or URL; its
        metadata names the presets of the other members)."""
        metadata = _preset_metadata(handle)
        family = cls._check_family(family_name(handle, metadata), handle)
        return family._from_preset(handle, metadata)

    @classmethod
    def from_run_dir(cls, path):
        """The family of the finished run dir `path` (its `.keras` files)."""
        if not _is_run_dir(path):
            raise FamilyError(f"{path} is not a run dir (a folder holding a run's "
                              ".keras files)")
        family = cls._check_family(family_name(path), path)
        return family._from_run_dir(path)

    @classmethod
    def load(cls, source):
        """`from_run_dir` for a folder without a metadata.json, else
        `from_preset`; a `.keras` file (one model) is refused."""
        if os.path.isfile(source):
            raise FamilyError(f"{source}: pass a run dir or a preset (a .keras file "
                              "holds one model)")
        if _is_run_dir(source):
            return cls.from_run_dir(source)
        return cls.from_preset(source)

    @classmethod
    def _check_family(cls, name, source):
        family = get_family(name, source)
        if cls is not ModelFamily and not issubclass(family, cls):
            raise FamilyError(f"{source} holds a {name!r} model family, not "
                              f"{cls.name!r} (load it with ModelFamily.from_preset "
                              f"or {family.__name__})")
        return family

    @classmethod
    def _from_preset(cls, handle, metadata):
        """By default each member's `.keras` file (`load_models`)."""
        return cls(**load_models(handle, cls.members))

    @classmethod
    def _from_run_dir(cls, path):
        """By default each member's `.keras` file (`load_models`)."""
        return cls(**load_models(path, cls.members))

    # -------------------------------------------------------- sampling
    def sample(self, num, seed=0, temperature=1.0, **conditions):
        """Draws `num` samples; the same seed gives the same samples.
        `temperature` divides the prior's logits (0: greedy decoding).
        Returns `Samples`."""
        raise NotImplementedError

    @staticmethod
    def _temperature(temperature):
        """`temperature` for the samplers: 0 is greedy decoding, the
        samplers' `GREEDY_TEMPERATURE` (each code its most likely value)."""
        from vq_zoo.models.video.latent_video_model import GREEDY_TEMPERATURE

        if not temperature >= 0:
            raise ConditionError(f"--temperature must be a finite number >= 0 (0: "
                                 f"greedy), got {temperature}")
        return GREEDY_TEMPERATURE if temperature == 0 else temperature

    @staticmethod
    def _check_num(num):
        if isinstance(num, bool) or not isinstance(num, (int, np.integer)) or num < 1:
            raise FamilyError(f"`num` must be an integer >= 1, got {num!r}")
        return int(num)

    @staticmethod
    def _refuse(what, conditions, allowed=()):
        """Refuses every condition outside `allowed` for a family that
        takes none of them: `--label` first, then the others."""
        if conditions.get("label") is not None and "label" not in allowed:
            raise ConditionError(f"{what} is unconditional: drop --label")
        for name in ("speaker", "context", "action"):
            if conditions.get(name) is not None and name not in allowed:
                raise ConditionError(f"--{name} is not for {what}")
        unknown = sorted(set(conditions) - {"label", "speaker", "context", "action"}
                         - set(allowed))
        video = [n for n in unknown if n in ("guidance", "consensus")]
        if video:  # the command line's video options, by their flags
            raise ConditionError(f"{' and '.join('--' + n for n in video)} "
                                 f"{'is' if len(video) == 1 else 'are'} for video priors, "
                                 f"not for {what}")
        if unknown:
            raise ConditionError(f"{what} takes no condition {', '.join(unknown)}")

    # -------------------------------------------------------- describing
    def models(self):
        """`{role: model}` of the members this family holds (None left out)."""
        return {role: getattr(self, role) for role in self.members
                if getattr(self, role, None) is not None}

    @classmethod
    def describers(cls):
        """`{model class: function(model) -> facts}`: the member classes
        whose card this family words (see `describe_member`)."""
        return {}

    def architecture(self):
        """A paragraph on the whole family, where its cards have one (the
        speech and video cards); None otherwise."""
        return None

    def describe(self):
        """The family's `architecture()` paragraph, then a line per member,
        `role (Class): architecture N parameters.`: what the members' own
        cards say of each."""
        lines = [text for text in (self.architecture(),) if text]
        lines.append(f"{type(self).__name__} ({self.name}):")
        for role, model in self.models().items():
            facts = describe_member(model)
            lines.append(f"- {role} (`{facts['class_name']}`): {facts['architecture']} "
                         f"{facts['parameter_count']:,} parameters.")
        return "\n".join(lines)

    # -------------------------------------------------------- the card
    # What a preset's card (`vq_zoo.model_card`) says of the model beyond
    # its architecture: a sentence on what it is, the code that loads and
    # uses it, the caption of its reconstructions. Class methods: a card is
    # written for one member as it is saved, often without the others.
    # `facts` are the member's (`describe_member`), `metadata` the preset's
    # (the run's figures: `config`, `metrics`, `companion_preset`, ...);
    # `members`, where the writer holds the whole family (a recipe's
    # exporter), its models by role (`members` of the family), which a
    # family may read for what one member's facts do not say; the generic
    # writer (`vq_zoo.model_card`) passes none. These defaults word a VQ-VAE
    # with one level of codes or its prior, which every family but VQ-VAE-2
    # holds; a member that is neither gets its class.
    @staticmethod
    def _card_role(facts):
        """"vqvae" for an autoencoder (facts name its code dimension D),
        "prior" for a model of codes (K alone), else None."""
        if facts.get("embedding_dim") is not None:
            return "vqvae"
        if facts.get("num_embeddings") is not None:
            return "prior"
        return None

    @classmethod
    def card_intro(cls, name, facts, metadata, members=None):
        """The card's first sentence: what the preset `name` is and which
        preset it works with (`companion_preset` of its metadata)."""
        role, other = cls._card_role(facts), metadata.get("companion_preset")
        codes = "x".join(map(str, facts.get("code_shape") or [])) or "?"
        if role == "vqvae":
            return (f"A VQ-VAE (arXiv:1711.00937): images to {codes} maps of "
                    f"{facts['num_embeddings']} codes."
                    + (f" Its prior over the codes is the preset `{other}`." if other
                       else ""))
        if role == "prior":
            classes = facts.get("num_classes")
            return (f"An autoregressive prior (`{facts['class_name']}`, gated PixelCNN, "
                    f"arXiv:1606.05328) over {codes} maps of {facts['num_embeddings']} codes"
                    + (f" of the VQ-VAE preset `{other}`" if other else "")
                    + (f", conditioned on the class label (0..{classes - 1})."
                       if classes else ", unconditional."))
        return f"A `{facts['class_name']}` preset of vq_zoo."

    @classmethod
    def card_usage(cls, name, facts, metadata, members=None):
        """The lines of the card's Python example: load the preset `name`
        (and its companion) and use it."""
        role, other = cls._card_role(facts), metadata.get("companion_preset")
        if role == "vqvae":
            shape = ", ".join(map(str, facts.get("input_shape") or ["h", "w", "c"]))
            return ["import vq_zoo",
                    f"vqvae = vq_zoo.VQVAE.from_preset(\"{name}\")",
                    f"codes = vqvae.encode(images)   # images in [0, 1], (n, {shape})",
                    "recon = vqvae.decode(codes)"]
        if role == "prior":
            usage = ["import vq_zoo"]
            if other:
                usage.append(f"vqvae = vq_zoo.VQVAE.from_preset(\"{other}\")")
            usage.append(f"prior = vq_zoo.{facts['class_name']}.from_preset(\"{name}\")")
            if facts.get("num_classes"):
                n = min(int(facts["num_classes"]), 10)
                usage.append(f"codes = prior.sample({n}, condition=list(range({n})), seed=0)")
            else:
                usage.append("codes = prior.sample(16, seed=0)")
            if other:
                usage.append("images = vqvae.decode(codes)")
            return usage
        return ["import vq_zoo", f"model = vq_zoo.load_preset(\"{name}\")"]

    @classmethod
    def card_commands(cls, name, facts, metadata, members=None):
        """The lines of the card's shell example (`vq-zoo` commands on the
        preset `name`), after the Python one; none by default."""
        return []

    @classmethod
    def card_reconstructions(cls, facts, metadata=None, members=None):
        """The caption of the card's `reconstructions.png`."""
        return "Held-out images (odd rows) and their reconstructions (even rows):"

    # -------------------------------------------------------- codes
    # What `vq-zoo encode`, `decode` and `convert` do with the family's
    # autoencoder alone (`load_autoencoder`: its prior is not loaded).
    # Class methods of the autoencoder `vqvae`; these defaults serve a
    # VQ-VAE with one level of codes (its `encoder` and `quantizer`).
    @classmethod
    def codes_model(cls, vqvae, source):
        """What `vq-zoo encode` and `decode` use of the autoencoder `vqvae`
        loaded from `source`: by default itself; a family whose codes need
        more (DeepMind Lab's stage 2 decodes to stage 1's codes) adds it."""
        return vqvae

    @classmethod
    def check_image_autoencoder(cls, vqvae, source):
        """A FamilyError unless `vqvae` (loaded from `source`) encodes
        images: a VQ-VAE of integer inputs encodes another model's codes."""
        if getattr(vqvae, "input_classes", None) is not None:
            raise FamilyError(f"{source} encodes maps of {vqvae.input_classes} integer "
                              "codes (another model's codes), not images")

    @classmethod
    def check_image_size(cls, vqvae, source, height, width):
        """A FamilyError unless `vqvae` (of `source`) encodes images of
        `height` x `width`; by default any size its downsampling divides
        (the CLI checks that)."""

    @classmethod
    def code_levels(cls, vqvae):
        """The names of the code levels of an autoencoder that has several
        (its codes are a dict level -> array, a `.npz`), else None (one
        array, a `.npy`)."""
        return None

    @classmethod
    def downsampling(cls, vqvae, image_shape):
        """`(fh, fw)`: image pixels per code down and across, for images of
        the shape `(H, W, C)` it was trained on."""
        height, width, channels = image_shape
        code_h, code_w = vqvae.encoder.compute_output_shape((1, height, width, channels))[1:3]
        return height // code_h, width // code_w

    @classmethod
    def code_rank(cls, vqvae, image_shape):
        """The spatial axes of one code map (2 for images of `image_shape`)."""
        return len(vqvae.encoder.compute_output_shape((1, *image_shape))) - 2

    @classmethod
    def num_codes(cls, vqvae, level=None):
        """K, the codebook size of `level` (one of `code_levels`; None: the
        one level)."""
        return vqvae.quantizer.num_embeddings

    @classmethod
    def encode_images(cls, vqvae, images):
        """The codes of float `images` `(n, H, W, C)` in [0, 1]: an int
        array, or a dict level -> array (see `code_levels`)."""
        return np.asarray(vqvae.encode(images))

    @classmethod
    def decode_codes(cls, vqvae, codes):
        """Images (float `(n, H, W, C)` in [0, 1]) from int32 `codes` as
        `encode_images` gives them (a dict may leave lower levels out)."""
        return np.asarray(vqvae.decode(codes))

    @classmethod
    def convert_speech(cls, vqvae, source, path, speaker, seed=0, temperature=1.0):
        """`(audio, sample_rate)`: the utterance in the audio file `path`
        spoken by `speaker`. A FamilyError (one line) for a model that is
        not a speech VQ-VAE, a bad file or an unknown speaker."""
        raise FamilyError(f"{source} is not a speech VQ-VAE (no speaker-conditioned "
                          "speech decoder)")

    # What `vq-zoo export --format saved_model` writes of the autoencoder.
    saved_model_refusal = None

    @classmethod
    def export_saved_model(cls, vqvae, dest, source, class_names=None, overwrite=False):
        """Writes the autoencoder `vqvae` (of `source`) as TensorFlow
        SavedModels of its encoder and decoder under `dest`
        (`vq_zoo.export.saved_model`, the default for image autoencoders);
        returns the description written to `export.json`. A FamilyError
        (one line, `saved_model_refusal`) for a family that has none."""
        from vq_zoo.export.saved_model import export_saved_model

        if cls.saved_model_refusal:
            raise FamilyError(f"{source} holds a {cls.name} model: "
                              f"{cls.saved_model_refusal}")
        return export_saved_model(vqvae, dest, class_names=class_names, overwrite=overwrite,
                                  source=source)


def autoencoder_family(model):
    """The family class whose autoencoder `model` is: the family whose
    `autoencoders` names its class (or, failing that, the nearest base
    class one names); where several name it (a `VQVAE`: the image, video
    and speech families), the one `_derived_family` reads from the model's
    config; `ModelFamily` (one level of codes) where none does."""
    known = families()
    for klass in type(model).__mro__:
        named = [name for name, family in known.items()
                 if klass.__name__ in family.autoencoders]
        if len(named) > 1:
            derived = _derived_family(metadata={"class_name": klass.__name__}, model=model)
            named = [derived] if derived in named else named
        if named:
            return known[named[0]]
    return ModelFamily


def load_autoencoder(source):
    """`(family class, model)`: the autoencoder of a run dir (its
    `vqvae.keras`), a `.keras` file or a preset (a prior's companion), its
    prior not loaded, and the family whose autoencoder it is
    (`autoencoder_family`), as that family's `codes_model` gives it.
    FamilyError (one line) for anything missing or unreadable."""
    model = load_models(source, ("vqvae",))["vqvae"]
    family = autoencoder_family(model)
    return family, family.codes_model(model, source)


def describe_member(model):
    """Facts about one model for its card (`class_name`, `parameter_count`,
    `architecture`, and per kind `input_shape`, `code_shape`,
    `num_embeddings`, `embedding_dim`, `num_classes`, ...), worded by the
    family that declares the model's class (the nearest class in its MRO
    wins); a model no family words gets its class and parameter count."""
    best, describe = None, None
    mro = type(model).__mro__
    for family in families().values():
        for cls, function in family.describers().items():
            if cls in mro and (best is None or mro.index(cls) < mro.index(best)):
                best, describe = cls, function
    if describe is not None:
        return describe(model)
    return generic_facts(model)


def serialized_facts(model):
    """`(facts, serialized)`: the facts every card states (`class_name`,
    `parameter_count`, `num_classes`) and the model's Keras serialisation,
    which the describers read (the saved config, not the recipe's)."""
    import keras

    serialized = keras.saving.serialize_keras_object(model)
    facts = {"class_name": type(model).__name__,
             "parameter_count": int(model.count_params()),
             "num_classes": serialized.get("config", {}).get("num_classes")}
    return facts, serialized


def generic_facts(model):
    """The facts of a model no family words: its class and size."""
    facts, _ = serialized_facts(model)
    facts["architecture"] = f"A `{facts['class_name']}`."
    return facts


# -------------------------------------------------- which family, for old files
def family_name(source, metadata=None):
    """The family of a run dir or preset: its recorded `family` field (the
    run record's `config.json` of a run dir, `metadata.json` of a preset),
    else derived from the files of one written before that field existed."""
    if _is_run_dir(source):
        record = _read_json(os.path.join(source, "config.json"))
        if isinstance(record, dict) and record.get("family"):
            return record["family"]
        return _derived_family(run_dir=source)
    metadata = _preset_metadata(source) if metadata is None else metadata
    if metadata.get("family"):
        return metadata["family"]
    return _derived_family(preset=source, metadata=metadata)


def card_family(model, metadata):
    """The family class that words the card of `model`, saved as a preset
    with `metadata`: the family it records, else (none, or one this vq_zoo
    does not know) the one its metadata and the model's own config show
    (`_derived_family`; its companion presets are not read, they may not be
    written yet)."""
    known = families()
    if metadata.get("family") in known:
        return known[metadata["family"]]
    return known[_derived_family(metadata={"class_name": type(model).__name__, **metadata},
                                 model=model)]


def _autoencoder_classes():
    """The class names of every family's autoencoders."""
    return {name for family in families().values() for name in family.autoencoders}


def _derived_family(run_dir=None, preset=None, metadata=None, model=None):
    """The family of a run dir or preset that records none (all those of
    vq_zoo 0.x): the one place that reads the kind of model from the files.

    - DeepMind Lab: a stage-2 preset (`DMLabVQVAE` or the 3-code
      `GatedPixelCNN1DPrior`) of a set naming `two_stage_presets`, or a run
      dir holding `stage2_prior.keras`;
    - VQ-VAE-2: a preset of the `vqvae2` recipe, a `VQVAE2` or a set naming
      `bottom_prior_preset`, or a run dir of `prior_<level>.keras` files;
    - else a VQ-VAE and a prior: speech when the VQ-VAE's decoder is a
      speech decoder, video when the prior takes a spatial condition (the
      past frames), else images (also when a file cannot be read: the
      image family's loader then names it).

    `model`: the preset's own model, as it is being saved, read instead of
    the preset's files (its companion's are then not read).
    """
    configs = {}
    if run_dir is not None:
        if run_dir_levels(run_dir):
            return "vqvae2"
        if os.path.isfile(os.path.join(run_dir, "stage2_prior.keras")):
            return "dmlab"
        for kind in ("vqvae", "prior"):
            configs[kind] = _keras_file_config(os.path.join(run_dir, f"{kind}.keras"))
    else:
        cls = metadata.get("class_name")
        if metadata.get("two_stage_presets") and cls in ("DMLabVQVAE",
                                                         "GatedPixelCNN1DPrior"):
            return "dmlab"
        if (metadata.get("recipe") == "vqvae2" or cls == "VQVAE2"
                or metadata.get("bottom_prior_preset")):
            return "vqvae2"
        if model is not None:
            import keras

            kind = "vqvae" if cls in _autoencoder_classes() else "prior"
            configs[kind] = keras.saving.serialize_keras_object(model)
        else:
            for kind, handle in _pair_handles(preset, metadata).items():
                configs[kind] = _preset_config(handle)
    vqvae = (configs.get("vqvae") or {}).get("config") or {}
    decoder = vqvae.get("decoder")
    if isinstance(decoder, dict) and decoder.get("class_name") in SPEECH_DECODERS:
        return "speech"
    prior = configs.get("prior") or {}
    if prior.get("class_name") == "LatentVideoPrior" or (
            (prior.get("config") or {}).get("spatial_condition_shape") is not None):
        return "video"
    return "vqvae"


# ------------------------------------------------------- loading members
def _is_run_dir(path):
    return os.path.isdir(path) and not os.path.isfile(os.path.join(path, "metadata.json"))


def run_dir_levels(path):
    """The `prior_<level>.keras` files of a VQ-VAE-2 run dir (level names in
    no order), or an empty list."""
    if not _is_run_dir(path):
        return []
    return [name[len("prior_"):-len(".keras")] for name in sorted(os.listdir(path))
            if name.startswith("prior_") and name.endswith(".keras")]


def _read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError, RecursionError):
        return None


def _keras_file_config(path):
    """The config of a `.keras` file, read from its zip without building
    anything; None if it cannot be read."""
    try:
        with zipfile.ZipFile(path) as archive:
            return json.loads(archive.read("config.json"))
    except (OSError, KeyError, ValueError, RecursionError, zipfile.BadZipFile):
        return None


def _preset_metadata(source):
    from vq_zoo import presets

    try:
        return presets.load_preset_metadata(source)
    except (ValueError, OSError) as e:
        raise FamilyError(f"{source} is not a run dir, a .keras file or a preset: "
                          f"{one_line(e)}") from None


def _preset_config(handle):
    from vq_zoo import presets

    try:
        path = presets.resolve_preset(handle) / presets.CONFIG_FILE
    except (ValueError, OSError):
        return None
    return _read_json(path)


def _pair_handles(source, metadata):
    """`{"vqvae": handle, "prior": handle}` of a preset and the companion
    its metadata names (one key when it names none)."""
    from vq_zoo import presets

    is_vqvae = metadata.get("class_name") in _autoencoder_classes()
    handles = {"vqvae" if is_vqvae else "prior": source}
    other = "prior" if is_vqvae else "vqvae"
    companion = metadata.get("companion_preset") or metadata.get(f"{other}_preset")
    if companion:
        handles.setdefault(other, presets.companion_handle(source, companion))
    return handles


def load_keras_file(path):
    """The model of a `.keras` file; a FamilyError naming a missing,
    truncated or unloadable file."""
    import keras

    if not os.path.exists(path):
        raise FamilyError(f"{path} not found (is the run finished?)")
    if not zipfile.is_zipfile(path):
        raise FamilyError(f"{path} is truncated or corrupt: not a complete .keras "
                          "(zip) file")
    try:
        return keras.models.load_model(path)
    except Exception as e:  # noqa: BLE001 (Keras raises many kinds; one line)
        raise FamilyError(f"could not load {path}: {one_line(e)}") from None


def load_preset_model(handle):
    """The model of the preset `handle`; a FamilyError (one line) if it
    cannot be loaded."""
    from vq_zoo import presets

    try:
        return presets.load_preset(handle)
    except (ValueError, OSError, ImportError) as e:
        raise FamilyError(one_line(e)) from None


def run_dir_config(path):
    """The config a run dir records (its `config.json` run record, else the
    pipeline's `stages/run.json`), or {} where it records none."""
    for name in ("config.json", os.path.join("stages", "run.json")):
        try:
            with open(os.path.join(path, name)) as f:
                config = json.load(f).get("config")
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(config, dict):
            return config
    return {}


def load_models(source, kinds):
    """`{kind: model}` for `kinds` ("vqvae", "prior") from a run dir (its
    `<kind>.keras`), a `.keras` file (a VQ-VAE) or a preset (name, folder or
    URL; the companion preset its metadata names gives the other model).
    FamilyError (one line) for anything missing or unreadable."""
    kinds = tuple(kinds)
    if os.path.isfile(source):
        if kinds != ("vqvae",):
            raise FamilyError(f"{source}: pass a run dir or a preset (a .keras file "
                              "holds one model)")
        return {"vqvae": load_keras_file(source)}
    if _is_run_dir(source):
        return {kind: load_keras_file(os.path.join(source, f"{kind}.keras"))
                for kind in kinds}
    metadata = _preset_metadata(source)
    handles = _pair_handles(source, metadata)
    models = {}
    for kind in kinds:
        if kind not in handles:
            other = "prior" if "vqvae" in handles else "vqvae"
            raise FamilyError(
                f"preset {source} holds a {metadata.get('class_name')} and names no "
                f"{other} preset (companion_preset in its metadata.json)")
        models[kind] = load_preset_model(handles[kind])
    return models


__all__ = ["ConditionError", "FamilyError", "ModelFamily", "Samples", "autoencoder_family",
           "card_family", "describe_member", "families", "family_name", "generic_facts",
           "get_family", "load_autoencoder", "load_keras_file", "load_models",
           "load_preset_model", "register_family", "run_dir_config", "run_dir_levels",
           "serialized_facts"]
