"""The recipe registry: one `Recipe` per folder under recipes/, by name."""

import dataclasses
import os
import sys

import pytest

from vq_zoo.recipe import Recipe
from vq_zoo.recipe import get_recipe
from vq_zoo.recipe import recipe_names
from vq_zoo.recipe import register_recipe
from vq_zoo.recipe import unregister_recipe

RECIPES_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                           "recipes")


@pytest.fixture
def toy_name():
    yield "toy_registry_test"
    unregister_recipe("toy_registry_test")


def test_every_recipe_folder_is_registered_under_its_name_with_a_readme():
    folders = sorted(f for f in os.listdir(RECIPES_DIR)
                     if os.path.isfile(os.path.join(RECIPES_DIR, f, "recipe.py")))
    assert sorted(recipe_names()) == folders
    for name in folders:
        recipe = get_recipe(name)
        assert recipe.name == name and type(recipe).__module__ == f"vq_zoo.recipes.{name}.recipe"
        assert recipe.summary and recipe.configs, name
        assert os.path.isfile(os.path.join(RECIPES_DIR, name, "README.md")), name
        # Each config says whether it reads --data-dir and has a data card.
        for config in recipe.configs.values():
            use = recipe.data_dir_use(config)
            assert use is None or (isinstance(use, str) and use), (name, use)
            assert set(recipe.checked_data_card(config)) >= {"dataset", "data", "license"}


def test_every_config_of_every_recipe_names_a_registered_family():
    from vq_zoo.models.family import families

    known = set(families())
    for name in recipe_names():
        recipe = get_recipe(name)
        for config_name, config in recipe.configs.items():
            assert recipe.family_of(config) in known, (name, config_name)
    # The images recipe trains VQ-VAE-2 when its config says so.
    images = get_recipe("images")
    config = images.configs["smoke"]
    assert images.family_of(config) == "vqvae"
    assert images.family_of(dataclasses.replace(config, model="vqvae2")) == "vqvae2"


def test_a_second_recipe_under_a_taken_name_is_refused_naming_both(toy_name):
    @register_recipe
    class First(Recipe):
        name = toy_name

    class Second(Recipe):
        name = toy_name

    with pytest.raises(ValueError) as info:
        register_recipe(Second)
    message = str(info.value)
    assert f"recipe {toy_name!r} is registered twice" in message
    assert f"{__name__}.test_a_second_recipe_under_a_taken_name_is_refused_naming_both." \
           "<locals>.First" in message and "<locals>.Second" in message
    assert "another `name`" in message
    # The first one stays registered.
    assert type(get_recipe(toy_name)) is First
    # A shipped recipe's name is taken too.
    Second.name = "natural_images"
    with pytest.raises(ValueError, match="'natural_images' is registered twice"):
        register_recipe(Second)
    assert type(get_recipe("natural_images")).__name__ == "NaturalImagesRecipe"


def test_the_same_class_imported_twice_is_kept_once(toy_name, tmp_path, monkeypatch):
    """A checkout can import one recipe module as `recipes.x.recipe` and as
    `vq_zoo.recipes.x.recipe`: two class objects of one source file."""
    import importlib.util

    path = tmp_path / "toy_recipe.py"
    path.write_text("from vq_zoo.recipe import Recipe, register_recipe\n\n\n"
                    "@register_recipe\n"
                    f"class Toy(Recipe):\n    name = {toy_name!r}\n")
    classes = []
    for module_name in ("toy_a.recipe", "toy_b.recipe"):
        spec = importlib.util.spec_from_file_location(module_name, path)
        module = importlib.util.module_from_spec(spec)
        monkeypatch.setitem(sys.modules, module_name, module)
        spec.loader.exec_module(module)
        classes.append(module.Toy)
    assert classes[0] is not classes[1]
    assert type(get_recipe(toy_name)) is classes[0]


@pytest.mark.parametrize("bad, message", [
    ("not-an-identifier", "`name` must be an identifier"),
    (None, "`name` must be an identifier"),
])
def test_a_recipe_without_a_usable_name_is_refused(bad, message):
    class Nameless(Recipe):
        name = bad

    with pytest.raises(ValueError, match=message):
        register_recipe(Nameless)
    with pytest.raises(TypeError, match="decorates a Recipe subclass"):
        register_recipe(object)


def test_an_unknown_recipe_lists_the_known_ones():
    with pytest.raises(ValueError) as info:
        get_recipe("nope")
    assert str(info.value) == ("Unknown recipe 'nope'; choose one of: "
                               + ", ".join(sorted(recipe_names())))
    assert "natural_images" in str(info.value) and "video" in str(info.value)


def test_a_data_card_missing_keys_is_named(toy_name):
    @register_recipe
    class Toy(Recipe):
        name = toy_name
        data = {"dataset": "toy", "data": "Eight images."}

    with pytest.raises(ValueError, match=f"recipe {toy_name!r}: its data card needs the "
                                         "keys dataset, data, license; missing license"):
        get_recipe(toy_name).checked_data_card()


def test_config_names_the_choices_and_applies_overrides():
    recipe = get_recipe("natural_images")
    name, config = recipe.config(None, ["batch_size=16"])
    assert name == "default" and config.batch_size == 16
    assert config == dataclasses.replace(recipe.configs["default"], batch_size=16)
    with pytest.raises(ValueError, match="choose one of: default, paper, smoke"):
        recipe.config("big")
    assert get_recipe("vctk").default_config_name() == "paper"  # no `default`


def test_config_problem_is_one_line_naming_the_recipe_and_config():
    recipe = get_recipe("natural_images")
    config = dataclasses.replace(recipe.configs["smoke"], image_size=30)
    problem = recipe.config_problem("smoke", config)
    assert problem == ("config 'smoke' of recipe 'natural_images' cannot run (ValueError): "
                       "image_size=30 must be a multiple of 2**num_downsamples = 4 "
                       "(num_downsamples=2)")
    assert recipe.config_problem("smoke", recipe.configs["smoke"]) is None
