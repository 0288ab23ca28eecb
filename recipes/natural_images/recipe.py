"""VQ-VAE + gated PixelCNN prior on natural-image patches, end to end.

    vq-zoo train natural_images [--config default|paper|smoke] [--set key=value]

Stages (each resumes on its own): train the VQ-VAE, extract codes with the
quantiser frozen, train the prior on them, sample and decode.

Data, split by source photo (`vq_zoo.data.natural_images`): training patches
from `astronaut`, `china`, `hubble_deep_field`, `immunohistochemistry`,
`motorcycle_left`, `motorcycle_right` and `retina`; validation patches
(monitored during training: `val_*` in the logs) from `chelsea` and
`rocket`; test patches (the report, `metrics.json`) from `flower` and
`coffee`, never seen while training or validating. Each training patch's
colours are rotated about the grey axis by a random angle (`hue_rotation`,
`vq_zoo.data.natural_images.rotate_hues`): about two thirds of the training
photos' saturated pixels are red or orange and almost none green, teal or
magenta, and a model trained on them alone returned those hues as navy and
orange. The report adds the reconstruction error per hue bin of the test
patches and of a synthetic colour wheel (`vq_zoo.metrics.colour`).
"""


from vq_zoo.data.natural_images import natural_patches, rotate_hues
from vq_zoo.recipe import Recipe
from vq_zoo.recipe import register_recipe
from vq_zoo.recipes import common
from vq_zoo.recipes.natural_images.config import CONFIGS
from vq_zoo.recipes.natural_images.config import data_dir_use

# What the model cards say about this recipe's data (`vq_zoo.model_card`).
DATA_CARD = dict(
    dataset="natural_patches_32",
    data="32x32 RGB patches cut at random (scales 1 and 1/2, random flips) "
         "from the photos bundled with scikit-learn and scikit-image "
         "(`vq_zoo.data.natural_images.natural_patches`), split by source "
         "photo into three disjoint sets: test patches come from `flower` and "
         "`coffee` only, validation patches (monitored during training) from "
         "`chelsea` and `rocket`, training patches from the other photos, "
         "each training patch's colours rotated about the grey axis by a "
         "random angle (`hue_rotation`; the training photos hold almost no "
         "green, teal or magenta).",
    license="Photos: astronaut, rocket, hubble_deep_field (public domain), "
            "chelsea, coffee, retina (CC0), immunohistochemistry (no known "
            "copyright restrictions), per scikit-image's docstrings; "
            "motorcycle (Middlebury 2014 stereo benchmark); china and flower "
            "(CC BY 2.0, Flickr users danielbuechele and vultilion, per "
            "scikit-learn's `datasets/images/README.txt`).",
)



@register_recipe
class NaturalImagesRecipe(Recipe):
    name = "natural_images"
    family = "vqvae"
    summary = ("Embedded default: 32x32 patches of bundled photos, no download; "
               "VQ-VAE + gated PixelCNN prior")
    configs = CONFIGS
    data = DATA_CARD
    data_dir_use = staticmethod(data_dir_use)

    def run(self, context):
        # The photos ship inside scikit-learn and scikit-image: no data dir.
        config = context.config
        # Opened first: the run dir is locked, its config checked and the
        # seeds set before any data is made.
        with context.open_pipeline() as pipe:
            size = config.image_size
            train = natural_patches("train", config.train_patches, size, seed=config.seed)
            if config.hue_rotation:
                train = rotate_hues(train, seed=config.seed + 3)
            valid = natural_patches("validation", config.validation_patches, size,
                                    seed=config.seed + 2)
            test = natural_patches("test", config.test_patches, size, seed=config.seed + 1)

            vqvae, prior = common.train_in_memory(
                pipe, config, {"train": train, "validation": valid, "test": test},
                sample=valid[:16])
            pipe.sample(vqvae, prior, config.num_samples, seed=config.seed)
            return common.report(pipe, vqvae, prior, test, pipe.code_data("test", 256),
                                 config.num_embeddings)


main = NaturalImagesRecipe().main  # `main(config, out_dir, ...)`, as before
