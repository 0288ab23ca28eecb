"""A finished run as presets: what `vq-zoo export RUN_DIR` does.

`vq-zoo export` reads the run's `config.json` (the pipeline records it for
a run started by `vq-zoo train`), finds the recipe that made it
(`vq_zoo.recipe.get_recipe`) and calls its `export`. The default,
`export_run_presets`, writes the VQ-VAE and its prior (a VQ-VAE-2 run: one
prior per level) as preset folders with the generic model card, the run's
config, command, invocations and held-out metrics, and its pictures; the
recipes whose models need their own cards (speech, DeepMind Lab, video)
override `Recipe.export` in their `export_presets.py`.
"""

import json
import os

from vq_zoo.export.saved_model import ExportError
from vq_zoo.utils.messages import one_line


class RunExportError(ExportError):
    """A run that cannot be exported as asked (one-line message; `status`:
    the command's exit status, 2 where an argument is missing)."""

    def __init__(self, message, status=1):
        super().__init__(message)
        self.status = status


def read_run_json(run_dir, name, hint):
    """The JSON object `run_dir/name`, or a `RunExportError` saying it is
    missing (with `hint`), not JSON, or not an object."""
    path = os.path.join(run_dir, name)
    if not os.path.exists(path):
        raise RunExportError(f"{path} not found ({hint})")
    try:
        with open(path) as f:
            value = json.load(f)
    except (ValueError, RecursionError) as e:  # RecursionError: nested too deep
        raise RunExportError(f"{path} is not valid JSON: {one_line(e)}") from None
    if not isinstance(value, dict):
        raise RunExportError(f"{path} must hold a JSON object")
    return value


def run_recipe_name(run_dir):
    """The recipe a run dir's `config.json` names, or None (no readable
    record)."""
    try:
        return read_run_json(run_dir, "config.json", "").get("recipe")
    except RunExportError:
        return None


def prior_levels(run_dir):
    """The `prior_<level>.keras` files of a VQ-VAE-2 run dir (level names,
    sorted), or an empty list."""
    if not os.path.isdir(run_dir) or os.path.isfile(os.path.join(run_dir, "metadata.json")):
        return []
    return [name[len("prior_"):-len(".keras")] for name in sorted(os.listdir(run_dir))
            if name.startswith("prior_") and name.endswith(".keras")]


def load_run_models(run_dir, kinds):
    """`{kind: model}`: `run_dir/<kind>.keras` for each of `kinds`; a missing,
    truncated or unloadable file is one line (`RunExportError`)."""
    import zipfile

    import keras

    from vq_zoo import VQVAE  # noqa: F401 (every vq_zoo class registered with Keras)

    models = {}
    for kind in kinds:
        path = os.path.join(run_dir, f"{kind}.keras")
        if not os.path.exists(path):
            raise RunExportError(f"{path} not found (is the run finished?)")
        if not zipfile.is_zipfile(path):
            raise RunExportError(f"{path} is truncated or corrupt: not a complete "
                                 ".keras (zip) file")
        try:
            models[kind] = keras.models.load_model(path)
        except Exception as e:
            raise RunExportError(f"could not load {path}: {one_line(e)}") from None
    return models


def read_notes(request):
    """The text of the Markdown file `request.notes` (`vq-zoo export
    --notes FILE`: what the run dir does not record, for the cards of the
    recipes that carry notes), or "" where none is given; a
    `RunExportError` for a file that cannot be read as UTF-8 text."""
    path = getattr(request, "notes", None)
    if not path:
        return ""
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except FileNotFoundError:
        raise RunExportError(f"--notes {path}: file not found (expected a Markdown "
                             "file of notes for the cards)", 2) from None
    except (OSError, UnicodeDecodeError) as e:
        raise RunExportError(f"--notes {path}: cannot read it as UTF-8 text: "
                             f"{getattr(e, 'strerror', None) or one_line(e)}", 2) from None


def refuse_notes(request, recipe_name):
    """A `RunExportError` (status 2) where `request` passes `--notes` to a
    recipe whose cards carry none."""
    if getattr(request, "notes", None):
        run = f"a {recipe_name} run" if recipe_name else "this run"
        raise RunExportError(f"--notes: the cards of {run} carry no notes (the dmlab, "
                             "video and vctk recipes' do); drop --notes", 2)


def fixed_names_destination(request, names, recipe_name):
    """For a recipe whose presets have fixed `names`: the destination
    folder of `request` (None: the user's presets folder), after refusing
    other names and, unless `request.overwrite`, preset folders already
    there (`RunExportError`, one line)."""
    from vq_zoo import presets

    asked = [getattr(request, k, None) for k in
             ("vqvae_preset", "prior_preset", "bottom_prior_preset")]
    other = [n for n in asked if n and n not in names]
    if other:
        raise RunExportError(
            f"a {recipe_name} run exports as the presets {', '.join(names)}; "
            f"{', '.join(other)} cannot be chosen (pass no preset names)", 2)
    dest = request.dest or str(presets.user_presets_dir())
    taken = [os.path.join(dest, n) for n in names
             if os.path.exists(os.path.join(dest, n)) and (
                 not os.path.isdir(os.path.join(dest, n))
                 or os.listdir(os.path.join(dest, n)))]
    if taken and not request.overwrite:
        raise RunExportError(
            f"{', '.join(taken)} already exist{'s' if len(taken) == 1 else ''}"
            "; pass --overwrite to replace the preset there")
    return dest


def export_run_presets(run_dir, request, recipe=None):
    """Writes the run in `run_dir` as presets with the generic model card.

    Args:
        run_dir: a finished run (`config.json`, `metrics.json`,
            `vqvae.keras`, `prior.keras` or `prior_<level>.keras`).
        request: `vq-zoo export`'s arguments, checked there: `vqvae_preset`,
            `prior_preset`, `bottom_prior_preset` (a VQ-VAE-2 run), `dest`
            (None: the user's presets folder), `upscale`, `overwrite`;
            `notes` is refused (the generic card carries none).
        recipe: the `Recipe` that made the run (its data card), or None for
            a recipe no longer registered.

    Returns:
        0. Raises `RunExportError` (one line) where it cannot.
    """
    import pathlib
    import tempfile

    from vq_zoo import presets
    from vq_zoo.data.image_folder import recorded_class_names
    from vq_zoo.model_card import data_card
    from vq_zoo.utils.images import upscaled_png

    vqvae_preset, prior_preset = request.vqvae_preset, request.prior_preset
    refuse_notes(request, getattr(recipe, "name", None))
    if not vqvae_preset or not prior_preset:
        raise RunExportError("--format preset needs --vqvae-preset and --prior-preset", 2)
    bottom_prior_preset = request.bottom_prior_preset
    # A VQ-VAE-2 run has one prior per level: kind -> the run's file stem.
    prior_kinds = ("prior_top", "prior_bottom") if bottom_prior_preset else ("prior",)
    dest = pathlib.Path(request.dest) if request.dest else presets.user_presets_dir()
    names = dict(zip(("vqvae",) + prior_kinds,
                     (vqvae_preset, prior_preset, bottom_prior_preset)))
    folders = {kind: dest / name for kind, name in names.items()}
    taken = [str(f) for f in folders.values() if f.exists() and (
        not f.is_dir() or any(f.iterdir()))]
    if taken and not request.overwrite:
        raise RunExportError(
            f"{', '.join(taken)} already exist{'s' if len(taken) == 1 else ''}"
            "; pass --overwrite to replace the preset there")
    run = read_run_json(run_dir, "config.json",
                        "a run made by `vq-zoo train` records its config there")
    metrics = read_run_json(run_dir, "metrics.json", "is the run finished?")
    levels = prior_levels(run_dir)
    if levels and not bottom_prior_preset:
        raise RunExportError(f"{run_dir} is a VQ-VAE-2 run (priors "
                             f"{', '.join(f'prior_{lv}.keras' for lv in levels)}): "
                             "pass --bottom-prior-preset NAME too", 2)
    models = load_run_models(run_dir, ("vqvae",) + prior_kinds)
    recipe_name = run.get("recipe")
    data = (recipe.checked_data_card(run.get("config")) if recipe is not None
            else data_card(recipe_name, run.get("config")))
    export_command = (f"vq-zoo export {run_dir} --vqvae-preset {vqvae_preset} "
                      f"--prior-preset {prior_preset}"
                      + (f" --bottom-prior-preset {bottom_prior_preset}"
                         if bottom_prior_preset else ""))
    is_run_dir = os.path.isdir(run_dir) and not os.path.isfile(
        os.path.join(run_dir, "metadata.json"))
    class_names = recorded_class_names(run_dir if is_run_dir else None, None)
    common = {
        "dataset": data["dataset"],
        "data": data["data"],
        "data_license": data["license"],
        "metrics_split": "held-out test split",
        "recipe": recipe_name,
        **({"family": run["family"]} if run.get("family") else {}),
        "config_name": run.get("config_name"),
        "config": run.get("config"),
        "command": run.get("command"),
        "export_command": export_command,
        "training_invocations": run.get("invocations", []),
        "metrics": metrics,
        "metrics_command": run.get("command"),
        "vqvae_preset": vqvae_preset,
        "prior_preset": prior_preset,
        "run_dir_name": run_dir,
        **({"class_names": class_names} if class_names else {}),
        **({"bottom_prior_preset": bottom_prior_preset,
            "limitations": data.get("limitations", [])}
           if bottom_prior_preset else {}),
    }
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise RunExportError(f"cannot write to {dest}: {e.strerror or one_line(e)}") from None
    with tempfile.TemporaryDirectory() as scratch:
        for kind in ("vqvae",) + prior_kinds:
            pictures = (("samples.png", "reconstructions.png") if kind == "vqvae"
                        else ("samples.png",))
            other = prior_preset if kind == "vqvae" else vqvae_preset
            level = f"{kind[len('prior_'):]} " if kind != "prior" else ""
            description = ((f"VQ-VAE-2 on {data['dataset']}" if prior_kinds != ("prior",)
                            else f"VQ-VAE on {data['dataset']}") if kind == "vqvae" else
                           f"gated PixelCNN prior over the {level}codes of {other}")
            files = {}
            for picture in pictures:
                source = os.path.join(run_dir, picture)
                if os.path.exists(source):
                    files[picture] = os.path.join(scratch, f"{kind}-{picture}")
                    with open(files[picture], "wb") as f:
                        f.write(upscaled_png(source, request.upscale))
            if folders[kind].exists() and not folders[kind].is_dir():
                raise RunExportError(f"{folders[kind]} is a file, not a preset folder")
            try:
                presets.save_to_preset(
                    models[kind], folders[kind],
                    dict(common, description=description, companion_preset=other),
                    files=files)
            except OSError as e:
                raise RunExportError(f"cannot write {folders[kind]}: "
                                     f"{e.strerror or one_line(e)}") from None
            print(f"Wrote preset {folders[kind]}")
    return 0


__all__ = ["export_run_presets", "fixed_names_destination", "RunExportError",
           "read_notes", "read_run_json", "refuse_notes", "run_recipe_name"]
