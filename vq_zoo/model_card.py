"""The model card (README.md) of a preset, written from the model itself.

Everything the card says about the model (class, codebook size K and
dimension D, code shape, layers, likelihood, conditioning, parameter count)
is read from the saved model's Keras config (`config.json`) and weights,
never from a recipe config that may not match it. What the model cannot
know comes from the run metadata passed in (see `model_card`): the data and
its licence (the recipe's data card, see `data_card`), the command, the
measured hardware and wall time, the held-out metrics. What the preset is,
the code that uses it and the caption of its reconstructions are its model
family's words (`ModelFamily.card_intro`, `card_usage`, `card_commands`,
`card_reconstructions`; the family from `vq_zoo.models.family.card_family`).
"""

from vq_zoo.recipe import DATA_CARD_KEYS  # noqa: F401 (where it was)

METRIC_ROWS = (
    ("test_mse", "reconstruction MSE, images in [0, 1]"),
    ("test_psnr_db", "reconstruction PSNR (dB)"),
    ("test_perplexity", "code perplexity (of {K})"),
    ("test_codebook_usage", "fraction of codes used"),
    ("test_prior_bits_per_code", "prior bits per code (NLL, base 2)"),
    ("test_bits_per_dim", "bits/dim, -(log p(x|z) + log p(z)) / (dims ln 2)"),
    # VQ-VAE-2 (recipes/vqvae2): test_mse / test_psnr_db are from all levels.
    ("test_mse_top_only", "reconstruction MSE from the top level only"),
    ("test_psnr_db_top_only", "reconstruction PSNR (dB) from the top level only"),
    ("test_mse_bundled_photos", "reconstruction MSE, all levels, on the test crops "
                                "of the bundled photos alone"),
    ("test_perplexity_top", "top code perplexity"),
    ("test_perplexity_bottom", "bottom code perplexity"),
    ("test_codebook_usage_top", "fraction of top codes used"),
    ("test_codebook_usage_bottom", "fraction of bottom codes used"),
    ("test_prior_bits_per_code_top", "top prior bits per code"),
    ("test_prior_bits_per_code_bottom", "bottom prior bits per code (given the top)"),
)


def data_card(recipe_name, config=None):
    """What a recipe says about its data: `{"dataset", "data", "license"}`
    (and `"limitations"` where it lists some), for the run's `config`.

    Asked of the registered recipe (`vq_zoo.recipe.get_recipe(name)
    .data_card(config)`, its keys checked); a recipe no longer registered
    (a run made by a recipe since removed) gets a pointer at its folder.
    """
    from vq_zoo.recipe import get_recipe

    try:
        recipe = get_recipe(recipe_name)
    except ValueError:
        return dict(dataset=recipe_name, data=f"See `recipes/{recipe_name}/`.",
                    license="See the recipe's data source.")
    return recipe.checked_data_card(config)


# ------------------------------------------------------------ model facts
# The wording shared by the families' describers (`describers()` in
# vq_zoo/models/<folder>/family.py), which say what each model class is.
def plural(n, word):
    return f"{n} {word}" + ("" if n == 1 else "s")


def nested_config(config, key):
    """The `config` of a nested serialised object, or {}."""
    value = config.get(key)
    if isinstance(value, dict):
        return value.get("config", value) or {}
    return {}


def likelihood_phrase(serialized, data_variance):
    """How a serialised likelihood scores reconstructions, in words."""
    name = serialized.get("class_name") if isinstance(serialized, dict) else None
    config = serialized.get("config", {}) if isinstance(serialized, dict) else {}
    if name == "MeanSquaredError":
        variance = config.get("data_variance", data_variance)
        extra = f" {variance:.4g}" if isinstance(variance, (int, float)) else ""
        return ("a mean-squared-error reconstruction loss divided by the data "
                f"variance{extra} (continuous outputs, not a distribution over "
                "the 256 pixel values: no bits/dim)")
    if name == "Categorical":
        return (f"a {config.get('num_bins', 256)}-way categorical likelihood "
                "per 8-bit value")
    if name == "LogisticMixture":
        return (f"a discretised mixture of {config.get('num_mixtures')} "
                "logistics per pixel over 8-bit values")
    return f"a `{name}` likelihood"


def describe_model(model):
    """Facts about `model` from its own config and weights, a dict:
    `class_name`, `parameter_count`, `input_shape` (VQ-VAE), `code_shape`,
    `num_embeddings` (K), `embedding_dim` (D), `num_classes`, and
    `architecture` (a sentence). The model family that declares the model's
    class words them (`vq_zoo.models.family.describe_member`); a model of
    another layout gets its class and parameter count only."""
    from vq_zoo.models.family import describe_member

    try:
        return describe_member(model)
    except (AttributeError, KeyError, TypeError, ValueError):
        return {"class_name": type(model).__name__,
                "parameter_count": int(model.count_params()),
                "architecture": f"A `{type(model).__name__}`."}


# ------------------------------------------------------------------ card
def _format_metric(value):
    return f"{value:.4g}" if isinstance(value, (int, float)) else str(value)


def model_card(name, model, metadata, files=()):
    """The README.md text of the preset `name`.

    Args:
        name: the preset's name.
        model: the saved model (its config and weights are described).
        metadata: the preset's metadata dict (as `save_to_preset` writes it:
            versions, date, and the caller's run facts, all optional):
            `description`, `dataset`, `data`, `data_license`, `recipe`,
            `config_name`, `command`, `export_command`, `companion_preset`,
            `training_invocations` (each with `wall_time_s`, `hardware`),
            `metrics`, `metrics_split`.
        files: the extra files of the preset folder (`samples.png`,
            `reconstructions.png`), shown in the card when present.
    """
    from vq_zoo.models.family import card_family

    facts = describe_model(model)
    family = card_family(model, metadata)
    files = set(files)
    lines = [f"# {name}", "", family.card_intro(name, facts, metadata)]
    usage = family.card_usage(name, facts, metadata)
    if metadata.get("description"):
        lines += ["", f"Description: {metadata['description']}"]
    lines += ["", "```python", *usage, "```"]
    commands = family.card_commands(name, facts, metadata)
    if commands:
        lines += ["", "```bash", *commands, "```"]
    lines += ["", "## Architecture", "",
              f"{facts['architecture']} {facts['parameter_count']:,} parameters. "
              "Full Keras config: `config.json`."]
    if metadata.get("recipe"):
        lines[-1] += (f" Trained by the recipe `recipes/{metadata['recipe']}/`"
                      + (f" (config `{metadata['config_name']}`; the run's full config "
                         "is `config` in metadata.json)." if metadata.get("config_name")
                         else "."))
    halved = metadata.get("weights_float16") or []
    if halved:
        import math

        values = sum(math.prod(h["shape"]) for h in halved)
        lines[-1] += (f" {len(halved)} of its arrays ({values:,} values) are stored in "
                      "float16 (`weights_float16` in metadata.json) and load back as float32; "
                      "figures measured on the trained model are of its weights before that "
                      "rounding.")
    if metadata.get("data") or metadata.get("dataset"):
        lines += ["", "## Data", "", metadata.get("data") or f"`{metadata['dataset']}`."]
        if metadata.get("data_license"):
            lines += ["", f"Data license: {metadata['data_license']}"]
    if metadata.get("command"):
        lines += ["", "## Training", "", "```bash", metadata["command"]]
        if metadata.get("export_command"):
            lines.append(metadata["export_command"])
        lines.append("```")
        invocations = metadata.get("training_invocations") or []
        if invocations:
            wall = sum(i.get("wall_time_s", 0) or 0 for i in invocations)
            hardware = sorted({i["hardware"] for i in invocations if i.get("hardware")})
            lines += ["", f"Hardware (measured): {'; '.join(hardware) or 'not recorded'}. "
                      f"Wall time {wall / 60:.1f} min for the whole pipeline (VQ-VAE, "
                      "code extraction, prior, samples, report)"
                      + (f", in {len(invocations)} invocations." if len(invocations) > 1
                         else ".")]
    metrics = metadata.get("metrics") or {}
    rows = [(k, label) for k, label in METRIC_ROWS if k in metrics]
    if rows:
        lines += ["", "## Held-out metrics", "",
                  f"Measured at the end of the run ({metadata.get('metrics_split', 'held-out split')}) "
                  "and written to the run's metrics.json; rerunning the training command "
                  "on the finished run dir loads the trained stages and measures again.",
                  "", "| metric | value |", "|---|---|"]
        for key, label in rows:
            label = label.format(K=facts.get("num_embeddings"))
            lines.append(f"| {label} (`{key}`) | {_format_metric(metrics[key])} |")
    pictures = []
    if "samples.png" in files:
        pictures += ["Samples (prior, decoded by the VQ-VAE"
                     + ("; one row per class" if facts.get("num_classes") else "")
                     + "):", "", "![samples](samples.png)", ""]
    if "reconstructions.png" in files:
        pictures += [family.card_reconstructions(facts, metadata), "",
                     "![reconstructions](reconstructions.png)", ""]
    if pictures:
        lines += [""] + pictures[:-1]
    if metadata.get("recipe"):
        lines += ["", "## Limitations", "",
                  "- A small model trained briefly, to show the format and give a "
                  "working starting point: not the paper's scale, settings or "
                  "results, and not tuned.",
                  "- Measured on one held-out split, once (no error bars)"
                  + ("; the bits/dim is the joint VQ-VAE + prior figure of this pair "
                     "of presets only." if "test_bits_per_dim" in metrics else "."),
                  "- Expect nothing outside the domain of the data above."]
        lines += [f"- {item}" for item in metadata.get("limitations") or []]
    versions = [f"vq_zoo {metadata['vq_zoo_version']}" if metadata.get("vq_zoo_version") else None,
                f"Keras {metadata['keras_version']}" if metadata.get("keras_version") else None,
                f"TensorFlow {metadata['tensorflow_version']}"
                if metadata.get("tensorflow_version") else None]
    versions = ", ".join(v for v in versions if v)
    lines += ["", "Code license: Apache-2.0"
              + (f" ({versions}; saved {metadata['date']})." if metadata.get("date") and versions
                 else "."), ""]
    return "\n".join(lines)
