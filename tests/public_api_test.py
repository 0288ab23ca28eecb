"""The public surface is declared once (issue 18.4): every Keras layer or
model the package registers for saving, and the composite models and the
pipeline, are importable from `vq_zoo` itself."""

import importlib
import inspect
import pkgutil

import keras

import vq_zoo

def _registered_classes():
    """Every class defined in a vq_zoo module that Keras knows by a
    `vq_zoo>` registered name (found by walking the package, not from the
    export table)."""
    found = {}
    for info in pkgutil.walk_packages(vq_zoo.__path__, "vq_zoo."):
        if info.name.startswith(("vq_zoo.recipes", "vq_zoo.pretrained", "vq_zoo.cli")):
            continue
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if (inspect.isclass(obj) and obj.__module__ == module.__name__
                    and issubclass(obj, keras.layers.Layer) and not name.startswith("_")
                    and keras.saving.get_registered_object(
                        keras.saving.get_registered_name(obj)) is obj):
                found[name] = obj
    return found


def test_every_registered_class_is_importable_from_vq_zoo():
    classes = _registered_classes()
    assert len(classes) > 20, sorted(classes)  # the walk found the package's layers
    missing = sorted(name for name, cls in classes.items()
                     if getattr(vq_zoo, name, None) is not cls)
    assert not missing, f"registered but not importable from vq_zoo: {missing}"


def test_the_composite_models_and_the_pipeline_are_exported():
    from vq_zoo.models.dmlab.dmlab_two_stage import DMLabTwoStage
    from vq_zoo.models.video.latent_video_model import LatentVideoModel
    from vq_zoo.pipeline.pipeline import Pipeline

    assert (vq_zoo.LatentVideoModel, vq_zoo.DMLabTwoStage, vq_zoo.Pipeline) == (
        LatentVideoModel, DMLabTwoStage, Pipeline)
