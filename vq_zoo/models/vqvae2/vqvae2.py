"""VQ-VAE-2: a hierarchy of code maps, each level conditioned on the ones
above it."""

import keras
import numpy as np
from keras import ops

from vq_zoo.models.quantized_model import QuantizedModel
from vq_zoo.models.vqvae.vqvae import _is_float
from vq_zoo.models.vqvae.vqvae import _make_quantizer
from vq_zoo.models.vqvae.vqvae import code_map
from vq_zoo.models.vqvae.vqvae import stage_codes
from vq_zoo.models.vqvae.vqvae import _resolve_likelihood
from vq_zoo.models.vqvae.vqvae_image_decoder import VQVAEImageDecoder
from vq_zoo.models.vqvae.vqvae_image_encoder import VQVAEImageEncoder
from vq_zoo.utils.checks import check_integer


def level_names_for(num_levels):
    """`("top", "bottom")`, `("top", "middle", "bottom")`, then
    `("top", "middle1", ..., "bottom")`."""
    if num_levels == 2:
        return ("top", "bottom")
    if num_levels == 3:
        return ("top", "middle", "bottom")
    middles = tuple(f"middle{i}" for i in range(1, num_levels - 1))
    return ("top",) + middles + ("bottom",)


def _mean_latent(q):
    """The mean of a level's quantised vectors over its codes, uniformly:
    the latent that carries no information about the image. For the
    paper's quantisers the mean of the codebook (as before the other
    quantisers came); for a residual quantizer the sum of its stages'."""
    plain = not (getattr(q, "projected", False) or getattr(q, "use_cosine_similarity", False))
    if hasattr(q, "stages"):
        return sum(_mean_latent(stage) for stage in q.stages)
    if plain and hasattr(q, "codebook_trainable"):
        return ops.mean(ops.convert_to_tensor(q.codebook), axis=0)
    every = ops.arange(q.num_embeddings, dtype="int32")
    return ops.mean(ops.cast(q.lookup(every), "float32"), axis=0)


@keras.saving.register_keras_serializable(package="vq_zoo")
class VQVAE2(QuantizedModel):
    """Hierarchical VQ-VAE (Razavi, van den Oord, Vinyals 2019), with any
    number of levels (2 by default), trained by the shared `Task` step.

    Encoding runs bottom-up, then quantises top-down (the paper's
    algorithm 1): the bottom encoder maps the image to features `h_0` at
    `1 / 2**bottom_downsamples` of its size, and each further encoder halves
    them again, `h_l = E_l(h_{l-1})`. The top level is quantised from its
    features alone; every lower level `l` from its features concatenated
    with `u_{l+1}`, a decoding of the quantised levels above it to level
    `l`'s resolution (`h_bottom = E_bottom(x, e_top)`). The decoder sees every
    level: each upper level's quantised map is upsampled to the bottom
    resolution by a transposed convolution and concatenated with the bottom
    one, `x_hat = D(e_top, e_bottom)`. At 256x256 with the defaults the
    bottom codes are 64x64 and the top 32x32, K=512 and D=64 per level
    (the paper's ImageNet model).

    Levels are named top first: `("top", "bottom")`, `("top", "middle",
    "bottom")`, ... `encode(x)` returns a dict from level name to int32 code
    maps; `decode(codes)` takes it back. `decode` with only the upper levels
    (a dict without some lower levels) replaces each missing level's
    quantised map by its codebook's mean vector at every position, the
    input that carries no information about the image: comparing it with
    the full decoding shows what each level adds. `fit` logs `loss`,
    `reconstruction_loss`, `codebook_loss`, `commitment_loss` (summed over
    levels), `perplexity_<level>`, `codebook_usage_<level>` and
    `skipped_updates`.

    Shape contract: `call(x)` maps `(batch, H, W, channels)` (H and W
    multiples of `2**(bottom_downsamples + num_levels - 1)`) to a
    reconstruction of the same shape.

    Args:
        num_levels: int >= 2, number of code maps. Defaults to 2.
        num_hiddens: int, channels of the encoders and decoders. Defaults
            to 128.
        num_residual_layers: int >= 0, residual blocks per encoder/decoder.
            Defaults to 2.
        num_residual_hiddens: int, channels inside a residual block.
            Defaults to 32.
        embedding_dim: int, `D` of every level. Defaults to 64.
        num_embeddings: int or a sequence of ints (top first), `K` per level.
            Defaults to 512.
        channels: int, image channels. Defaults to 3.
        bottom_downsamples: int >= 1, stride-2 convolutions of the bottom
            encoder (2: the bottom codes are 1/4 of the image's size).
        commitment_cost: float, beta of every level. Defaults to 0.25.
        ema: bool, EMA codebooks (the paper's). Defaults to True.
        decay: float, EMA decay. Defaults to 0.99.
        likelihood: as in `VQVAE` ("mse", "categorical", ...).
        data_variance: float, divides the MSE. Defaults to 1.0.
        quantizer_kwargs: dict of further quantizer arguments
            (`dead_code_threshold`, `kmeans_init`, `seed`, ...).
        quantizer: None (the paper's: EMA when `ema`, else VQ) or the name
            of every level's quantiser: "vq", "ema", "fsq", "lfq", "rvq"
            (as `VQVAE.image_model`; `quantizer_kwargs` holds `levels` or
            `num_quantizers`). A residual quantizer's stage codes sit side
            by side in each level's code map (`vqvae.code_map`).
        **kwargs: base `keras.Model` arguments.

    Example:
    >>> model = VQVAE2(num_hiddens=16, num_residual_layers=1,
    ...                num_residual_hiddens=8, embedding_dim=8,
    ...                num_embeddings=32)
    >>> model.compile(optimizer="adam")
    >>> x = keras.random.uniform((4, 32, 32, 3))
    >>> history = model.fit(x, epochs=1, verbose=0)
    >>> {k: tuple(v.shape) for k, v in model.encode(x).items()}
    {'top': (4, 4, 4), 'bottom': (4, 8, 8)}

    References:
        Razavi, van den Oord, Vinyals. Generating Diverse High-Fidelity
        Images with VQ-VAE-2. arXiv:1906.00446.
    """

    def __init__(
        self,
        num_levels=2,
        num_hiddens=128,
        num_residual_layers=2,
        num_residual_hiddens=32,
        embedding_dim=64,
        num_embeddings=512,
        channels=3,
        bottom_downsamples=2,
        commitment_cost=0.25,
        ema=True,
        decay=0.99,
        likelihood="mse",
        data_variance=1.0,
        quantizer_kwargs=None,
        quantizer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_integer("num_levels", num_levels, 2)
        for name, value, minimum in [
            ("num_hiddens", num_hiddens, 1),
            ("num_residual_layers", num_residual_layers, 0),
            ("num_residual_hiddens", num_residual_hiddens, 1),
            ("embedding_dim", embedding_dim, 1),
            ("channels", channels, 1),
            ("bottom_downsamples", bottom_downsamples, 1),
        ]:
            check_integer(name, value, minimum)
        if isinstance(num_embeddings, (list, tuple)):
            num_embeddings = [int(k) for k in num_embeddings]
            if len(num_embeddings) != num_levels:
                raise ValueError(
                    f"`num_embeddings` needs one size per level (top first), got "
                    f"{num_embeddings} for {num_levels} levels"
                )
        else:
            num_embeddings = [num_embeddings] * num_levels
        for k in num_embeddings:
            check_integer("num_embeddings", k, 1)
        self.num_levels = num_levels
        self.num_hiddens = num_hiddens
        self.num_residual_layers = num_residual_layers
        self.num_residual_hiddens = num_residual_hiddens
        self.embedding_dim = embedding_dim
        self.num_embeddings = list(num_embeddings)
        self.channels = channels
        self.bottom_downsamples = bottom_downsamples
        self.commitment_cost = commitment_cost
        self.ema = bool(ema)
        self.decay = decay
        self.quantizer_kwargs = dict(quantizer_kwargs or {})
        self.quantizer_name = quantizer
        self.likelihood, self.data_variance = _resolve_likelihood(likelihood, data_variance)
        names = level_names_for(num_levels)
        res = (num_hiddens, num_residual_layers, num_residual_hiddens)
        # Index 0 is the bottom level in every list below.
        self.level_encoders = [
            VQVAEImageEncoder(
                *res, embedding_dim=num_hiddens,
                num_downsamples=bottom_downsamples if i == 0 else 1,
                name=f"encoder_{names[-1 - i]}",
            )
            for i in range(num_levels)
        ]
        self.pre_quantization = [
            keras.layers.Conv2D(embedding_dim, 1, name=f"pre_quantization_{names[-1 - i]}")
            for i in range(num_levels)
        ]
        self.level_quantizers = [
            _make_quantizer(quantizer, self.ema, decay, self.quantizer_kwargs,
                            embedding_dim, num_embeddings[-1 - i], commitment_cost,
                            name=f"quantizer_{names[-1 - i]}")
            for i in range(num_levels)
        ]
        # condition_decoders[l - 1] decodes levels >= l to level l - 1's size.
        self.condition_decoders = [
            VQVAEImageDecoder(*res, output_channels=embedding_dim, num_upsamples=1,
                              name=f"condition_decoder_{names[-1 - i]}")
            for i in range(1, num_levels)
        ]
        # upsamplers[l - 1] takes level l's latents to the bottom's size.
        self.upsamplers = [
            keras.layers.Conv2DTranspose(
                embedding_dim, 2 * 2**i, strides=2**i, padding="same",
                name=f"upsample_{names[-1 - i]}",
            )
            for i in range(1, num_levels)
        ]
        self.decoder = VQVAEImageDecoder(
            *res, output_channels=self.likelihood.output_channels(channels),
            num_upsamples=bottom_downsamples, name="decoder",
        )
        self._init_levels(names, self.quantizers)

    @classmethod
    def image_model(cls, **kwargs):
        """The same as the constructor (for symmetry with `VQVAE`)."""
        return cls(**kwargs)

    @property
    def quantizers(self):
        return list(reversed(self.level_quantizers))

    @property
    def downsampling(self):
        """Stride of the top level relative to the image."""
        return 2 ** (self.bottom_downsamples + self.num_levels - 1)

    # --------------------------------------------------------------- build
    def build(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) != 4 or any(d is None for d in input_shape[1:]):
            raise ValueError(
                "VQVAE2.build needs (batch, height, width, channels) with every "
                f"dimension but the batch, got {input_shape}"
            )
        self._check_shape(input_shape)
        x = ops.zeros((1,) + input_shape[1:], self.compute_dtype)
        vqs = self._quantize_levels(x, False)
        self.decoder_params([vq["quantized"] for vq in vqs])

    def _check_shape(self, shape):
        h, w, c = shape[1:]
        if h % self.downsampling or w % self.downsampling:
            raise ValueError(
                f"VQVAE2 with {self.num_levels} levels and bottom_downsamples="
                f"{self.bottom_downsamples} needs height and width divisible by "
                f"{self.downsampling}, got {h}x{w}"
            )
        if c != self.channels:
            raise ValueError(f"VQVAE2 expects {self.channels} channels, got {c}")

    def _build_from_data(self, data):
        if not self.built:
            import tensorflow as tf

            with tf.init_scope():
                self.build(tuple(self._unpack(data).shape))

    def _unpack(self, data):
        x = data[0] if isinstance(data, (tuple, list)) else data
        return self._check_inputs(x, "fit")

    def _check_inputs(self, x, where):
        x = ops.convert_to_tensor(x)
        if not _is_float(x.dtype):
            raise ValueError(
                f"VQVAE2.{where} expects floating-point images (e.g. scaled to [0, 1]), "
                f"got dtype {keras.backend.standardize_dtype(x.dtype)}: cast and scale "
                "it first (uint8 images: x / 255)."
            )
        if len(x.shape) != 4:
            raise ValueError(
                f"VQVAE2.{where} expects images (batch, height, width, channels), "
                f"got shape {tuple(x.shape)}"
            )
        self._check_shape(tuple(x.shape))
        return ops.cast(x, self.compute_dtype)

    # ------------------------------------------------------------- forward
    def _features(self, x, training):
        h = [self.level_encoders[0](x, training=training)]
        for enc in self.level_encoders[1:]:
            h.append(enc(h[-1], training=training))
        return h

    def _quantize_levels(self, x, training, quantize_fn=None):
        """Top-down quantisation; returns the quantizers' outputs bottom
        first. `quantize_fn(level, z)` replaces the layer call (encode)."""
        h = self._features(x, training)
        vqs = [None] * self.num_levels
        above = None
        for i in reversed(range(self.num_levels)):
            inputs = h[i] if above is None else ops.concatenate([h[i], above], -1)
            z = self.pre_quantization[i](inputs)
            if quantize_fn is None:
                vqs[i] = self.level_quantizers[i](z, training=training)
            else:
                vqs[i] = quantize_fn(i, z)
            if i > 0:
                q = ops.cast(vqs[i]["quantized"], self.compute_dtype)
                dec_in = q if above is None else ops.concatenate([q, above], -1)
                above = self.condition_decoders[i - 1](dec_in, training=training)
        return vqs

    def decoder_params(self, latents, training=False):
        """The decoder's output from every level's quantised map (bottom
        first)."""
        parts = [ops.cast(latents[0], self.compute_dtype)]
        for i in range(1, self.num_levels):
            parts.append(self.upsamplers[i - 1](ops.cast(latents[i], self.compute_dtype)))
        return self.decoder(ops.concatenate(parts, -1), training=training)

    def compute_loss_terms(self, data, training):
        x = self._unpack(data)
        vqs = self._quantize_levels(x, training)
        params = self.decoder_params([vq["quantized"] for vq in vqs], training)
        reconstruction = self.likelihood.loss(x, params)
        # The QuantizedModel reports levels top first.
        return self._vq_scalars(reconstruction, list(reversed(vqs)))

    def call(self, inputs, training=None):
        x = self._check_inputs(inputs, "call")
        vqs = self._quantize_levels(x, training)
        params = self.decoder_params([vq["quantized"] for vq in vqs], training)
        return self.likelihood.reconstruct(params)

    def predict_step(self, data):
        return self(self._unpack(data), training=False)

    # ------------------------------------------------------------ codes
    def encode_levels(self, x):
        x = self._check_inputs(x, "encode")

        def quantize(i, z):
            q = self.level_quantizers[i]
            codes = q.encode(z)
            return {"encoding_indices": codes, "quantized": q.lookup(codes)}

        vqs = self._quantize_levels(x, False, quantize)
        return {
            name: code_map(self.level_quantizers[self.num_levels - 1 - k],
                           vqs[self.num_levels - 1 - k]["encoding_indices"])
            for k, name in enumerate(self.level_names)
        }

    def decode(self, codes):
        """Images from a dict of code maps (level name -> int codes). Lower
        levels may be left out (their latents become their codebook's mean
        vector); the top level must be given."""
        if not isinstance(codes, dict):
            codes = dict(zip(self.level_names, self._codes_by_level(codes)))
        unknown = sorted(set(codes) - set(self.level_names))
        if unknown or self.level_names[0] not in codes:
            raise ValueError(
                f"`codes` must map level names {list(self.level_names)} (the top "
                f"at least) to code maps, got keys {sorted(codes)}"
            )
        given = [n in codes for n in self.level_names]
        if given != sorted(given, reverse=True):
            raise ValueError(
                "Only lower levels may be left out: give the levels "
                f"{list(self.level_names)} from the top down, got {sorted(codes)}"
            )
        top = ops.convert_to_tensor(codes[self.level_names[0]])
        if len(top.shape) != 3 or top.shape[0] == 0:
            raise ValueError(
                f"The top codes must be a non-empty (batch, h, w) map, got {tuple(top.shape)}"
            )
        batch, th = tuple(top.shape[:2])
        tw = stage_codes(self.level_quantizers[-1], top).shape[2]
        latents = []  # bottom first
        for i in range(self.num_levels):
            name = self.level_names[self.num_levels - 1 - i]
            q = self.level_quantizers[i]
            scale = 2 ** (self.num_levels - 1 - i)
            shape = (batch, th * scale, tw * scale)
            if name in codes:
                c = ops.convert_to_tensor(codes[name])
                n = getattr(q, "num_quantizers", 1)
                expected = shape[:2] + (shape[2] * n,)
                if tuple(c.shape) != expected:
                    raise ValueError(
                        f"The {name} codes must have shape {expected} for top codes of "
                        f"shape {tuple(codes[self.level_names[0]].shape)}, got "
                        f"{tuple(c.shape)}"
                    )
                latents.append(q.lookup(stage_codes(q, c)))
            else:
                mean = _mean_latent(q)
                latents.append(ops.broadcast_to(mean, shape + (self.embedding_dim,)))
        return self.likelihood.reconstruct(self.decoder_params(latents))

    # ------------------------------------------------------------ config
    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_levels": self.num_levels,
                "num_hiddens": self.num_hiddens,
                "num_residual_layers": self.num_residual_layers,
                "num_residual_hiddens": self.num_residual_hiddens,
                "embedding_dim": self.embedding_dim,
                "num_embeddings": list(self.num_embeddings),
                "channels": self.channels,
                "bottom_downsamples": self.bottom_downsamples,
                "commitment_cost": self.commitment_cost,
                "ema": self.ema,
                "decay": self.decay,
                "likelihood": keras.saving.serialize_keras_object(self.likelihood),
                "data_variance": self.data_variance,
                "quantizer_kwargs": dict(self.quantizer_kwargs),
            }
        )
        if self.quantizer_name is not None:
            config["quantizer"] = self.quantizer_name
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["likelihood"] = keras.saving.deserialize_keras_object(config["likelihood"])
        return cls(**config)


__all__ = ["VQVAE2", "level_names_for"]
