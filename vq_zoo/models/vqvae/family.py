"""The image family: a `VQVAE` and a `GatedPixelCNNPrior` over its codes,
optionally class-conditional (arXiv:1711.00937, section 4.1)."""

import numpy as np

from vq_zoo.models.family import ConditionError
from vq_zoo.models.family import FamilyError
from vq_zoo.models.family import ModelFamily
from vq_zoo.models.family import Samples
from vq_zoo.models.family import load_models
from vq_zoo.models.family import register_family
from vq_zoo.models.family import serialized_facts


@register_family("vqvae")
class VQVAEFamily(ModelFamily):
    """A VQ-VAE and its gated PixelCNN prior: draws code maps from the
    prior (given a class label when it is class-conditional) and decodes
    them to images.

    Shape contract: `sample(num, label=...)` returns `Samples` with
    `images` float32 `(num, H, W, C)` in [0, 1] and `codes` int32
    `(num, h, w)`.

    Args:
        vqvae: a trained image `VQVAE`.
        prior: a `GatedPixelCNNPrior` over its codes (the same K).
        class_names: optional names of the prior's classes (a run of
            `vq-zoo train images` records them), so that `label` may be a
            name.

    Example:
    >>> family = VQVAEFamily.from_preset("gated_pixelcnn_small_mnist_28")
    >>> family.sample(10, seed=0, label=7).images.shape     # (10, 28, 28, 1)
    """

    members = ("vqvae", "prior")
    conditions = ("label",)
    autoencoders = ("VQVAE",)

    def __init__(self, vqvae, prior, class_names=None):
        if getattr(vqvae, "quantizer", None) is None:
            raise FamilyError(f"VQVAEFamily needs a VQ-VAE with one level of codes (a "
                              f"`quantizer`), got a {type(vqvae).__name__}")
        if prior.num_embeddings != vqvae.quantizer.num_embeddings:
            raise FamilyError(f"the prior models {prior.num_embeddings} codes, the "
                              f"VQ-VAE has {vqvae.quantizer.num_embeddings}: not a pair")
        self.vqvae = vqvae
        self.prior = prior
        self.class_names = list(class_names) if class_names else None

    @classmethod
    def _from_preset(cls, handle, metadata):
        from vq_zoo.data.image_folder import recorded_class_names

        models = load_models(handle, cls.members)
        return cls(**models, class_names=recorded_class_names(None, metadata))

    @classmethod
    def _from_run_dir(cls, path):
        from vq_zoo.data.image_folder import recorded_class_names

        models = load_models(path, cls.members)
        return cls(**models, class_names=recorded_class_names(path, None))

    def label_condition(self, num, label):
        """The prior's condition for `num` samples of class `label` (an
        index, or a name of `class_names`); None for an unconditional
        prior. ConditionError for a missing, unknown or out-of-range
        label."""
        prior, names = self.prior, self.class_names
        num_classes = getattr(prior, "num_classes", None)
        if not prior.has_condition:
            if label is not None:
                raise ConditionError("this prior is unconditional: drop --label")
            return None
        if label is None:
            raise ConditionError("this prior is class-conditional: pass --label"
                                 + (f" ({', '.join(names)})" if names else
                                    f" (0..{num_classes - 1})" if num_classes else ""))
        if isinstance(label, str):
            from vq_zoo.data.image_folder import label_index

            try:
                label = label_index(label, names, num_classes)
            except ValueError as e:
                raise ConditionError(str(e)) from None
        if num_classes and not 0 <= label < num_classes:
            raise ConditionError(f"--label {label}: this prior's classes are "
                                 f"0..{num_classes - 1}")
        return np.full((num,), label, "int32")

    def sample(self, num, seed=0, temperature=1.0, label=None, **conditions):
        """`num` images from the prior's codes (see the class docstring);
        `label`: the class of every sample, for a class-conditional prior."""
        num = self._check_num(num)
        if conditions.get("speaker") is not None:
            raise ConditionError("--speaker is for speech models: use --label")
        if conditions.get("context") is not None or conditions.get("action") is not None:
            raise ConditionError("--context and --action are for video priors")
        self._refuse("this family", {k: v for k, v in conditions.items()
                                     if k not in ("speaker", "context", "action")})
        condition = self.label_condition(num, label)
        codes = self.prior.sample(num, condition=condition,
                                  temperature=self._temperature(temperature), seed=seed)
        images = np.asarray(self.vqvae.decode(codes))
        return Samples(images=images, codes=np.asarray(codes), columns=8,
                       what=f"{num} samples")

    @classmethod
    def describers(cls):
        from vq_zoo.models.gated_pixelcnn.gated_pixelcnn_prior import GatedPixelCNNPrior
        from vq_zoo.models.vqvae.vqvae import VQVAE

        return {VQVAE: describe_autoencoder, GatedPixelCNNPrior: describe_prior}


def describe_autoencoder(model):
    """Card facts of a one-level VQ-VAE (an encoder, a `quantizer`, a
    decoder): input and code shapes, K, D, and a sentence on each part."""
    from vq_zoo.model_card import likelihood_phrase
    from vq_zoo.model_card import nested_config
    from vq_zoo.model_card import plural

    facts, serialized = serialized_facts(model)
    config = serialized.get("config", {})
    enc, dec = nested_config(config, "encoder"), nested_config(config, "decoder")
    quant = nested_config(config, "quantizer")
    quant_class = config["quantizer"].get("class_name", "")
    input_shape = (serialized.get("build_config") or {}).get("input_shape")
    code_shape = None
    if input_shape:
        try:
            out = model.encoder.compute_output_shape(tuple(input_shape))
            code_shape = [int(d) for d in out[1:-1]]
        except Exception:  # noqa: BLE001 (an encoder without compute_output_shape)
            factor = 2 ** int(enc.get("num_downsamples", 0))
            code_shape = [d // factor for d in input_shape[1:-1]]
    K, D = quant.get("num_embeddings"), quant.get("embedding_dim")
    facts.update(input_shape=input_shape and list(input_shape[1:]),
                 code_shape=code_shape, num_embeddings=K, embedding_dim=D)
    parts = []
    if "num_downsamples" in enc:
        parts.append(
            f"Encoder: {plural(enc['num_downsamples'], 'strided 4x4 convolution')}"
            f" of {enc.get('num_hiddens')} hidden units, "
            f"{plural(enc.get('num_residual_layers', 0), 'residual block')}"
            f" of {enc.get('num_residual_hiddens')} units")
    quantizer = (f"quantiser `{quant_class}`: K={K} codes of dimension D={D}, "
                 f"commitment_cost {quant.get('commitment_cost')}")
    if "EMA" in quant_class:
        quantizer += f", EMA decay {quant.get('decay')}"
    if quant.get("dead_code_threshold"):
        quantizer += f", dead-code restarts below {quant['dead_code_threshold']}"
    parts.append(quantizer)
    decoder = "the mirrored decoder"
    if "num_upsamples" in dec:
        decoder = (f"decoder: {plural(dec.get('num_residual_layers', 0), 'residual block')}, "
                   f"{plural(dec['num_upsamples'], 'transposed convolution')}")
    parts.append(f"{decoder}, with "
                 + likelihood_phrase(config.get("likelihood"), config.get("data_variance")))
    shape = "x".join(map(str, input_shape[1:])) if input_shape else "?"
    codes = "x".join(map(str, code_shape)) if code_shape else "?"
    facts["architecture"] = f"{shape} inputs to {codes} codes. " + "; ".join(parts) + "."
    return facts


def describe_prior(model):
    """Card facts of a gated PixelCNN prior over code maps: its code shape,
    K, layers and what it is conditioned on."""
    from vq_zoo.model_card import plural

    facts, serialized = serialized_facts(model)
    config = serialized.get("config", {})
    shape = config.get("shape") or config.get("length")
    shape = list(shape) if isinstance(shape, (list, tuple)) else [shape]
    facts.update(code_shape=shape, num_embeddings=config["num_embeddings"])
    text = (f"{plural(config['num_layers'], 'gated PixelCNN layer')} of "
            f"{config.get('filters')} filters (kernel {config.get('kernel_size')}), "
            f"a {config['num_embeddings']}-way softmax per code position of a "
            f"{'x'.join(map(str, shape))} code map")
    if config.get("num_classes"):
        text += f"; conditioned on a class label (0..{config['num_classes'] - 1})"
    elif config.get("condition_dim"):
        text += f"; conditioned on a {config['condition_dim']}-dim vector"
    elif config.get("spatial_condition_classes"):
        cond = "x".join(map(str, (config.get("spatial_condition_shape") or [])[:2]))
        text += (f"; conditioned on a {cond} map of "
                 f"{config['spatial_condition_classes']} codes (the level above)"
                 + (f" through a residual conditioning stack of "
                    f"{plural(config['conditioning_layers'], 'layer')}"
                    if config.get("conditioning_layers") else ""))
    else:
        text += "; unconditional"
    if config.get("attention_every"):
        text += (f"; causal self-attention ({config.get('num_heads')} heads) after "
                 f"every {config['attention_every']} layers")
    facts["architecture"] = text + "."
    return facts


__all__ = ["VQVAEFamily", "describe_autoencoder", "describe_prior"]
