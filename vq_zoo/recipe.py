"""Recipes as objects: each folder under `recipes/` declares one `Recipe`.

A recipe is what `vq-zoo train NAME` runs: its named configs, what a model
card says about its data, its stages, `run` (the stages in the run dir's
pipeline), the closing report, and the export of a finished run as presets.
Each `recipes/<name>/recipe.py` declares one subclass and registers it by
name, as tf-models' experiment factory registers its experiments:

    @register_recipe
    class NaturalImagesRecipe(Recipe):
        name = "natural_images"
        summary = "32x32 patches of bundled photos; VQ-VAE + prior"
        configs = CONFIGS
        data = DATA_CARD

        def run(self, context):
            with context.open_pipeline() as pipe:
                ...
                return metrics

The registry is filled by importing `vq_zoo.recipes`, which imports every
recipe folder; the library asks `get_recipe(name)` and never imports a
recipe module by name. Nothing here imports TensorFlow: the command line
lists recipes, configs and their checks before it loads.
"""

import dataclasses
import importlib
import inspect
import json
import os

# The data card's keys (what a model card says about the data).
DATA_CARD_KEYS = ("dataset", "data", "license")

_REGISTRY = {}  # name -> Recipe subclass, in registration order
_INSTANCES = {}


def _source(cls):
    try:
        return os.path.realpath(inspect.getsourcefile(cls) or "")
    except TypeError:  # defined in a REPL
        return None


def register_recipe(cls):
    """Class decorator: registers the `Recipe` subclass `cls` under
    `cls.name`. A second class under a name already taken is refused (a
    `ValueError` naming both); the same class imported twice under two
    package names (`recipes.x` and `vq_zoo.recipes.x` in a checkout) is
    kept once."""
    if not (isinstance(cls, type) and issubclass(cls, Recipe)):
        raise TypeError(f"@register_recipe decorates a Recipe subclass, got {cls!r}")
    name = cls.name
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"{cls.__module__}.{cls.__qualname__}: `name` must be an "
                         f"identifier (the `vq-zoo train` argument), got {name!r}")
    held = _REGISTRY.get(name)
    if held is not None and held is not cls:
        if held.__qualname__ == cls.__qualname__ and _source(held) and \
                _source(held) == _source(cls):
            return cls
        raise ValueError(
            f"recipe {name!r} is registered twice: by {held.__module__}."
            f"{held.__qualname__} and by {cls.__module__}.{cls.__qualname__}; "
            "give one of them another `name`")
    _REGISTRY[name] = cls
    return cls


def unregister_recipe(name):
    """Removes recipe `name` from the registry (for tests)."""
    _REGISTRY.pop(name, None)
    _INSTANCES.pop(name, None)


def _load():
    # The recipes package imports every recipe folder, each registering its
    # recipe (tf-models' registry imports).
    importlib.import_module("vq_zoo.recipes")


def recipe_names():
    """The registered recipes' names, in registration order."""
    _load()
    return list(_REGISTRY)


def get_recipe(name):
    """The registered `Recipe` named `name`; a `ValueError` naming the
    registered ones for another name."""
    _load()
    if name not in _REGISTRY:
        raise ValueError(
            f"Unknown recipe {name!r}; choose one of: {', '.join(sorted(_REGISTRY))}")
    if name not in _INSTANCES or type(_INSTANCES[name]) is not _REGISTRY[name]:
        _INSTANCES[name] = _REGISTRY[name]()
    return _INSTANCES[name]


def data_dir_readers():
    """`{recipe: [configs that read --data-dir]}` for every registered recipe
    that has one."""
    readers = {}
    for name in recipe_names():
        recipe = get_recipe(name)
        taking = [c for c, config in recipe.configs.items() if recipe.data_dir_use(config)]
        if taking:
            readers[name] = taking
    return readers


class Recipe:
    """One training recipe: configs, data card, stages, run, report, export.

    Subclasses set the class attributes and implement `run`; the other
    methods have defaults that fit an image VQ-VAE + prior recipe.

    Attributes:
        name: the recipe's name (`vq-zoo train NAME`, `runs/NAME-CONFIG`).
        summary: one line for `vq-zoo list` and `vq-zoo train --help`.
        configs: `{config name: frozen dataclass}`, no TensorFlow to import.
        data: the data card, `{"dataset", "data", "license"}` (and an
            optional `"limitations"` list); or override `data_card(config)`.
        stages: the names of the run's stages in order (None: the paper's
            `vqvae`, `codes`, `prior`, `sample`); or override
            `stage_names(config)`.
        artefacts: the run dir's files the closing report names.
        family: the model family (`vq_zoo.models.family`) its runs train,
            recorded in the run's `config.json` and the exported presets'
            `metadata.json`; or override `family_of(config)` when the
            config chooses it.

    Example:

    >>> recipe = get_recipe("natural_images")
    >>> config = recipe.configs["smoke"]
    >>> metrics = recipe.main(config, "runs/natural_images-smoke")
    """

    name = None
    summary = ""
    configs = None
    data = None
    stages = None
    artefacts = ("vqvae.keras", "prior.keras", "samples.png", "reconstructions.png",
                 "metrics.json")
    family = None

    def family_of(self, config):
        """The model family a run of `config` trains (a name of
        `vq_zoo.models.family.families()`)."""
        del config  # one family for every config unless a recipe says otherwise
        return self.family

    # ------------------------------------------------------------ configs
    def default_config_name(self):
        """`default` where the recipe has one, else `paper`."""
        return "default" if "default" in self.configs else "paper"

    def config(self, config_name=None, overrides=()):
        """`(name, config)`: the named config (default
        `default_config_name()`) with `--set key=value` `overrides`
        applied; a `ValueError` naming the choices or the bad value."""
        from vq_zoo.utils.config import apply_overrides
        from vq_zoo.utils.config import get_config

        config_name = config_name or self.default_config_name()
        return config_name, apply_overrides(get_config(self.configs, config_name),
                                            list(overrides))

    def data_dir_use(self, config):
        """What `--data-dir` is to `config` (a phrase), or None when that
        config reads none. Each recipe says (its config module's
        `data_dir_use`)."""
        raise NotImplementedError(
            f"recipe {self.name!r} does not say whether it reads --data-dir "
            "(it defines no data_dir_use(config))")

    def check_config(self, config, data_dir=None):
        """Raises (any error: it is the config's) when `config` cannot run,
        before any run dir exists. The default checks that the image
        recipes' downsamplings divide `image_size` (whole code maps);
        recipes with more to check (their models built on blank inputs, the
        episodes on disk) override it."""
        del data_dir
        if hasattr(config, "image_size") and hasattr(config, "num_downsamples"):
            scale = 2 ** config.num_downsamples
            if config.image_size % scale:
                raise ValueError(
                    f"image_size={config.image_size} must be a multiple of "
                    f"2**num_downsamples = {scale} (num_downsamples={config.num_downsamples})")

    def config_problem(self, config_name, config, data_dir=None):
        """One line saying why `config` cannot run (`check_config`), or
        None."""
        try:
            self.check_config(config, data_dir)
        except Exception as e:  # any error at set-up is the user's config
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            return (f"config {config_name!r} of recipe {self.name!r} cannot run "
                    f"({type(e).__name__}): {first}")
        return None

    # ---------------------------------------------------------- data card
    def data_card(self, config=None):
        """What the model cards say about the data: `{"dataset", "data",
        "license"}` (and `"limitations"` where the recipe lists some), for
        the run's `config` (the dataclass or its recorded dict)."""
        del config
        if self.data is None:
            return dict(dataset=self.name, data=f"See `recipes/{self.name}/`.",
                        license="See the recipe's data source.")
        return self.data

    def checked_data_card(self, config=None):
        """`data_card(config)`, its keys checked: a `ValueError` naming the
        missing ones."""
        card = self.data_card(config)
        missing = [k for k in DATA_CARD_KEYS if k not in card]
        if missing:
            raise ValueError(f"recipe {self.name!r}: its data card needs the keys "
                             f"{', '.join(DATA_CARD_KEYS)}; missing {', '.join(missing)}")
        return {k: card[k] for k in DATA_CARD_KEYS + ("limitations",) if k in card}

    # ---------------------------------------------------------------- run
    def stage_names(self, config):
        """The run's stages in order."""
        del config
        if self.stages is None:
            from vq_zoo.pipeline.two_stage_pipeline import STAGES

            return list(STAGES)
        return list(self.stages)

    def run(self, context):
        """Runs (or resumes) every stage in `context.open_pipeline(...)`
        and returns the held-out metrics (a dict)."""
        raise NotImplementedError(f"recipe {self.name!r} defines no run(context)")

    def train(self, context):
        """`run(context)`, then with `context.verbose` the closing
        `report`. Returns the metrics."""
        metrics = self.run(context)
        if context.verbose:
            self.report(context, metrics)
        return metrics

    def main(self, config, out_dir, strategy=None, data_dir=None, log_dir=None,
             verbose=1, extra_callbacks=None, restart=False):
        """Trains `config` into `out_dir` (the Python form of `vq-zoo
        train`): a `RunContext` of these arguments, `train`. Returns the
        metrics."""
        from vq_zoo.pipeline.run_context import RunContext

        return self.train(RunContext(
            self, config, out_dir, strategy=strategy, data_dir=data_dir,
            log_dir=log_dir, verbose=verbose, extra_callbacks=extra_callbacks,
            restart=restart))

    # ------------------------------------------------------------- report
    def artefact_names(self, config):
        """The files of a finished run that the closing report names."""
        del config
        return list(self.artefacts)

    def report(self, context, metrics):
        """The closing message of a run: its metrics, where its artefacts
        are, how to watch its logs."""
        print(json.dumps(metrics, indent=2))
        print(f"Artefacts in {context.out_dir}: "
              + ", ".join(self.artefact_names(context.config)))
        print(f"Watch training with: tensorboard --logdir {context.log_dir}", flush=True)

    # ------------------------------------------------------------- export
    def export(self, run_dir, request):
        """Writes the finished run in `run_dir` as presets; returns the exit
        status. `request` holds `vq-zoo export`'s arguments (`dest`,
        `vqvae_preset`, `prior_preset`, `bottom_prior_preset`, `upscale`,
        `overwrite`). The default writes the VQ-VAE and its prior(s) with
        the generic model card (`vq_zoo.export.run_presets`); a recipe
        with its own cards overrides it."""
        from vq_zoo.export.run_presets import export_run_presets

        return export_run_presets(run_dir, request, self)


def as_config(recipe, config):
    """`config` (a recorded dict, or None) as the recipe's config dataclass,
    unknown keys dropped and missing ones at the `default` (else first)
    config's values; a dataclass is returned as it is."""
    if config is None or dataclasses.is_dataclass(config):
        return config
    base = recipe.configs.get("default") or next(iter(recipe.configs.values()))
    known = {f.name for f in dataclasses.fields(type(base))}
    return dataclasses.replace(base, **{k: v for k, v in config.items() if k in known})


__all__ = ["Recipe", "register_recipe", "get_recipe", "recipe_names",
           "unregister_recipe", "data_dir_readers", "DATA_CARD_KEYS"]
