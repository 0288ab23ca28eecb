"""ImageNet VQ-VAE with a class-conditional gated PixelCNN prior (paper
section 4.2: 128x128x3 images to 32x32x1 codes, K=512).

    vq-zoo train imagenet --config paper --data-dir ~/tensorflow_datasets \
        --strategy mirrored

Stages (each resumes on its own): train the VQ-VAE, extract train and
validation codes with the quantiser frozen, train the class-conditional
prior, sample one image per class for a few classes, decode.
"""

import numpy as np

from vq_zoo.data.imagenet import imagenet_dataset
from vq_zoo.data.imagenet import num_classes
from vq_zoo.recipe import Recipe
from vq_zoo.recipe import register_recipe
from vq_zoo.recipes import common
from vq_zoo.recipes.imagenet.config import CONFIGS
from vq_zoo.recipes.imagenet.config import data_dir_use

# What the model cards say about this recipe's data (`vq_zoo.model_card`).
DATA_CARD = dict(
    dataset="imagenet",
    data="ImageNet (ILSVRC 2012) from tensorflow-datasets: `imagenet2012` "
         "(the two ILSVRC tar files placed in `<data-dir>/downloads/manual`) "
         "or `imagenet_resized/64x64` / `32x32`; trained on the train split, "
         "measured on the validation split (`vq_zoo.data.imagenet`).",
    license="ImageNet terms of access (non-commercial research and "
            "educational use); see image-net.org.",
)



@register_recipe
class ImageNetRecipe(Recipe):
    name = "imagenet"
    family = "vqvae"
    summary = ("Paper section 4.2: 128x128 ImageNet to 32x32 codes, K=512, "
               "class-conditional gated PixelCNN prior (tfds imagenet2012, "
               "or imagenet_resized)")
    configs = CONFIGS
    data = DATA_CARD
    data_dir_use = staticmethod(data_dir_use)

    def run(self, context):
        config, data_dir = context.config, context.data_dir
        # Opened first: the run dir is locked, its config checked and the
        # seeds set before any data is made.
        with context.open_pipeline() as pipe:
            size, name = config.image_size, config.dataset

            def data(split, batch_size, training):
                return imagenet_dataset(name, split, size, batch_size, data_dir,
                                        training=training, seed=config.seed,
                                        download=config.download)

            classes = num_classes(name, data_dir, config.download)
            train = data("train", config.batch_size, training=True)
            evaluation = data("validation", 256, training=False).take(
                max(1, config.eval_examples // 256))
            variance = config.data_variance or float(np.var(np.concatenate(
                [np.asarray(x) for x, _ in train.take(config.variance_batches)])))

            vqvae = pipe.train_vqvae(
                lambda: common.build_vqvae(config, variance, (size, size, 3)),
                train.map(lambda x, y: x),
                epochs=config.vqvae_epochs,
                steps_per_epoch=config.vqvae_steps_per_epoch,
                validation_data=evaluation.map(lambda x, y: x),
                sample=next(iter(evaluation))[0][:16],
            )
            extract_train = data("train", 256, training=False)
            if config.extract_train_batches:
                extract_train = extract_train.take(config.extract_train_batches)
            manifests = pipe.extract_codes(
                vqvae, {"train": extract_train, "validation": evaluation})
            prior = common.train_prior_stage(
                pipe, config, vqvae, manifests,
                config.prior_steps_per_epoch
                or manifests["train"]["num_examples"] // config.prior_batch_size,
                num_classes=classes)
            labels = np.arange(config.num_samples, dtype="int32") % classes
            pipe.sample(vqvae, prior, config.num_samples, condition=labels,
                        seed=config.seed)
            test_images = np.concatenate([np.asarray(x) for x, _ in evaluation])
            return common.report(pipe, vqvae, prior, test_images,
                                 pipe.code_data("validation", 256), config.num_embeddings)


main = ImageNetRecipe().main  # `main(config, out_dir, ...)`, as before
