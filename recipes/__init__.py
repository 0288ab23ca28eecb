"""The recipes: one folder each, with `config.py` (`CONFIGS`, named frozen
configs, no TensorFlow), `recipe.py` (the `Recipe` subclass registered under
the folder's name: data card, stages, `run(context)`, report, export) and a
`README.md`. Importing this package registers every recipe with
`vq_zoo.recipe` (`get_recipe(name)`); the order here is `vq-zoo list`'s."""

import importlib

_FOLDERS = ("natural_images", "imagenet", "mnist", "vctk", "vqvae2", "audio", "dmlab",
            "images", "video")
for _folder in _FOLDERS:
    importlib.import_module(f"vq_zoo.recipes.{_folder}.recipe")


def _registry():
    from vq_zoo import recipe

    return recipe


# `{name: summary}` of the registered recipes.
RECIPES = {name: _registry().get_recipe(name).summary
           for name in _registry().recipe_names()}


def get_recipe(name):
    """`(recipe_module, CONFIGS)` for a recipe name: the module that
    declares the registered `Recipe` (its builders and checks) and its
    named configs. The `Recipe` itself: `vq_zoo.recipe.get_recipe(name)`."""
    import sys

    recipe = _registry().get_recipe(name)
    return sys.modules[type(recipe).__module__], recipe.configs


def get_configs(name):
    """The named configs of a recipe, without importing TensorFlow."""
    return _registry().get_recipe(name).configs


def data_dir_use(name, config):
    """What `--data-dir` is to `config` of recipe `name` (a phrase), or None
    when that config reads no data dir. Without importing TensorFlow."""
    return _registry().get_recipe(name).data_dir_use(config)


def data_dir_readers():
    """`{recipe: [configs that read --data-dir]}` for every recipe that has one."""
    return _registry().data_dir_readers()
