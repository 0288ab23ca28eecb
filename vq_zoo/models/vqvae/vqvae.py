"""The VQ-VAE model: encoder, vector quantiser and a decoder that may be
autoregressive and conditioned."""


import keras
import numpy as np
from keras import ops

from vq_zoo import likelihoods
from vq_zoo.models.quantized_model import QuantizedModel
from vq_zoo.models.vqvae.vqvae_image_decoder import VQVAEImageDecoder
from vq_zoo.models.vqvae.vqvae_image_encoder import VQVAEImageEncoder


def _resolve_likelihood(likelihood, data_variance):
    """`"mse"` means MSE divided by `data_variance`; anything else goes to
    `likelihoods.get`. Returns `(likelihood, data_variance)`, the variance
    read back from an MSE likelihood instance (one source of truth)."""
    if isinstance(likelihood, str) and likelihood == "mse":
        return likelihoods.MeanSquaredError(data_variance), float(data_variance)
    likelihood = likelihoods.get(likelihood)
    if isinstance(likelihood, likelihoods.MeanSquaredError):
        if data_variance not in (None, 1.0) and float(data_variance) != likelihood.data_variance:
            raise ValueError(
                f"`data_variance`={data_variance} disagrees with the likelihood's "
                f"MeanSquaredError(data_variance={likelihood.data_variance}); "
                "give it once."
            )
        return likelihood, likelihood.data_variance
    return likelihood, 1.0 if data_variance is None else float(data_variance)


def _quantizer_class(ema, decay, quantizer_kwargs):
    """`(class, kwargs)` of the quantisers of `VQVAE.image_model` and
    `VQVAE2`: `VectorQuantizerEMA` with `decay` added to a copy of
    `quantizer_kwargs` when `ema`, else `VectorQuantizer` with the copy."""
    from vq_zoo.layers.vector_quantizer import VectorQuantizer
    from vq_zoo.layers.vector_quantizer_ema import VectorQuantizerEMA

    quantizer_kwargs = dict(quantizer_kwargs or {})
    if not ema:
        return VectorQuantizer, quantizer_kwargs
    quantizer_kwargs["decay"] = decay
    return VectorQuantizerEMA, quantizer_kwargs


def _make_quantizer(quantizer, ema, decay, quantizer_kwargs, embedding_dim,
                    num_embeddings, commitment_cost, name):
    """The quantizer layer of `VQVAE.image_model` and `VQVAE2`: `quantizer`
    None keeps the paper's choice by `ema` (`_quantizer_class`); a name of
    `QUANTIZER_NAMES` ("vq", "ema", "fsq", "lfq", "rvq") goes to
    `make_quantizer` with `quantizer_kwargs` (an "rvq" has EMA stages when
    `ema`)."""
    if quantizer is None:
        cls, kwargs = _quantizer_class(ema, decay, quantizer_kwargs)
        return cls(embedding_dim=embedding_dim, num_embeddings=num_embeddings,
                   commitment_cost=commitment_cost, name=name, **kwargs)
    from vq_zoo.layers.quantizer_outputs import make_quantizer

    kwargs = dict(quantizer_kwargs or {})
    decay = kwargs.pop("decay", decay)
    if quantizer == "rvq":
        kwargs.setdefault("ema", ema)
    return make_quantizer(quantizer, embedding_dim, num_embeddings,
                          commitment_cost=commitment_cost, decay=decay,
                          name=name, **kwargs)


def code_map(quantizer, codes):
    """A quantizer's codes as the model's code map. A residual quantizer's
    `(batch, ..., W, N)` stage codes become `(batch, ..., W * N)`: each
    position's N codes side by side, first stage first, so a prior reads
    them in raster order as one sequence (position by position, coarse
    stage first); other quantizers' codes are unchanged."""
    n = getattr(quantizer, "num_quantizers", None)
    if n is None:
        return codes
    shape = ops.shape(codes)
    return ops.reshape(codes, tuple(shape[:-2]) + (shape[-2] * n,))


def stage_codes(quantizer, codes):
    """The inverse of `code_map`: a model's code map to the quantizer's
    codes."""
    n = getattr(quantizer, "num_quantizers", None)
    if n is None:
        return codes
    codes = ops.convert_to_tensor(codes)
    width = codes.shape[-1]
    if len(codes.shape) < 2 or width is None or width % n:
        raise ValueError(
            f"The code map of a ResidualVectorQuantizer with num_quantizers={n} "
            "holds each position's stage codes side by side: its last axis "
            f"must be a multiple of {n}, got shape {tuple(codes.shape)}"
        )
    shape = ops.shape(codes)
    return ops.reshape(codes, tuple(shape[:-1]) + (width // n, n))


def _is_float(dtype):
    return keras.backend.standardize_dtype(dtype).startswith(("float", "bfloat"))


def _is_int(dtype):
    return keras.backend.standardize_dtype(dtype).startswith(("int", "uint"))


@keras.saving.register_keras_serializable(package="vq_zoo")
class VQVAE(QuantizedModel):
    """Vector-quantised variational autoencoder, trained by the shared `Task`
    step.

    `x -> encoder -> z_e -> quantizer -> z_q -> decoder -> p(x | z_q)`. The
    training loss is `reconstruction_loss + codebook_loss + commitment_loss`,
    each term with its own stop-gradients, so the codebook term reaches only
    the codebook, the commitment term only the encoder, and the reconstruction
    term the decoder and, through the straight-through estimator, the encoder.

    The decoder is either
        - a layer mapping `z_q` to the likelihood's parameters (the image
          models), or
        - an autoregressive prior (`GatedPixelCNNPrior`,
          `GatedPixelCNN1DPrior`: anything with `autoregressive = True`)
          over integer targets, teacher-forced in training and sampled by
          `decode`. `z_q` conditions it locally (`latent_conditioning=
          "local"`: its `spatial_condition`, upsampled to the targets'
          resolution, as WaveNet's codes) or globally (`"global"`: `z_q`
          flattened into its condition vector, as DeepMind Lab's second
          stage, whose 3 codes condition a PixelCNN over 21x21 codes). A
          decoder with a global condition of its own (speaker, action,
          label) takes it from `(x, condition)` batches in `fit` and from
          `condition=` in `decode`. The targets are `x` itself for integer
          inputs, or `likelihood.targets(x)` (e.g. mu-law ints of audio).

    With `input_classes=K` the inputs are integers in `[0, K)` (the codes of
    another model, embedded by the encoder), e.g. the second stage of the
    DeepMind Lab model; a plain decoder then needs the `"categorical"`
    likelihood's K-way logits.

    `fit` logs `loss`, `reconstruction_loss`, `codebook_loss`,
    `commitment_loss`, `perplexity` (of the global batch), `codebook_usage`
    (the fraction of codes used so far in the epoch) and `skipped_updates`.

    Shape contract: `call(x)` maps `(batch, *spatial, channels)` to a
    reconstruction of the same shape (an autoregressive decoder: its
    teacher-forced logits); `encode(x)` gives int32 codes
    `(batch, *latent_spatial)`; `decode(codes)` maps them back.

    Args:
        encoder: a layer mapping data to `(..., embedding_dim)`.
        quantizer: a `VectorQuantizer`, `VectorQuantizerEMA`,
            `FiniteScalarQuantizer`, `LookupFreeQuantizer` or
            `ResidualVectorQuantizer`. A residual quantizer's N stage codes
            of a position sit side by side in the code map (`code_map`):
            `encode` gives `(batch, *latent_spatial[:-1], W * N)`, the
            prior models them as one raster sequence.
        decoder: a layer mapping quantised vectors to the likelihood's
            parameters, or an autoregressive prior (see above).
        likelihood: `"mse"` (default), another registered name, or a
            `vq_zoo.likelihoods.Likelihood`. MSE is divided by
            `data_variance`. Unused by an autoregressive decoder over
            integer inputs.
        data_variance: float, used when `likelihood="mse"`: the variance of
            the training data (the paper's CIFAR-10 setup). Defaults to 1.0;
            read from a `MeanSquaredError` instance when one is given.
        input_classes: None (float inputs) or int K: integer inputs in
            `[0, K)`.
        latent_conditioning: `"local"` or `"global"`, how `z_q` reaches an
            autoregressive decoder. Defaults to `"local"`.
        **kwargs: base `keras.Model` arguments.

    Example:
    >>> model = VQVAE.image_model(num_hiddens=16, num_residual_hiddens=8,
    ...                           embedding_dim=8, num_embeddings=32)
    >>> model.compile(optimizer="adam")
    >>> x = keras.random.uniform((8, 16, 16, 3))
    >>> history = model.fit(x, epochs=1, verbose=0)
    >>> tuple(model.encode(x).shape)
    (8, 4, 4)

    References:
        van den Oord, Vinyals, Kavukcuoglu. Neural Discrete Representation
        Learning. arXiv:1711.00937.
    """

    def __init__(
        self,
        encoder,
        quantizer,
        decoder,
        likelihood="mse",
        data_variance=1.0,
        input_classes=None,
        latent_conditioning="local",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if input_classes is not None and (
            isinstance(input_classes, bool)
            or not isinstance(input_classes, (int, np.integer))
            or input_classes < 2
        ):
            raise ValueError(
                f"`input_classes` must be None or an integer >= 2, got {input_classes!r}"
            )
        if latent_conditioning not in ("local", "global"):
            raise ValueError(
                "`latent_conditioning` must be 'local' or 'global', got "
                f"{latent_conditioning!r}"
            )
        self.encoder = encoder
        self.quantizer = quantizer
        self.decoder = decoder
        self.likelihood, self.data_variance = _resolve_likelihood(likelihood, data_variance)
        self.input_classes = None if input_classes is None else int(input_classes)
        self.latent_conditioning = latent_conditioning
        self.autoregressive = bool(getattr(decoder, "autoregressive", False))
        if self.autoregressive:
            self._check_autoregressive_decoder()
        self._init_levels(("codes",), [quantizer])

    def _check_autoregressive_decoder(self):
        dec = self.decoder
        if self.latent_conditioning == "local" and not dec.has_spatial_condition:
            raise ValueError(
                "An autoregressive decoder with latent_conditioning='local' needs a "
                "float `spatial_condition_shape` (the quantised latents' shape)."
            )
        if self.latent_conditioning == "local" and dec.spatial_condition_classes is not None:
            raise ValueError(
                "The decoder's spatial condition must be float latents, not "
                "`spatial_condition_classes`."
            )
        if self.latent_conditioning == "global":
            if dec.condition_dim is None or dec.num_classes is not None:
                raise ValueError(
                    "An autoregressive decoder with latent_conditioning='global' "
                    "needs a float `condition_dim` (the flattened latents' size) "
                    "and no `num_classes`."
                )
        if self.input_classes is None and not hasattr(self.likelihood, "targets"):
            raise ValueError(
                "An autoregressive decoder models integer targets: give "
                "`input_classes` (integer inputs) or a likelihood with "
                "`targets(x)` (e.g. mu-law audio)."
            )
        if self.input_classes is not None and dec.num_embeddings != self.input_classes:
            raise ValueError(
                f"The decoder models {dec.num_embeddings} classes but "
                f"`input_classes`={self.input_classes}."
            )

    @property
    def quantizers(self):
        return [self.quantizer]

    @property
    def conditional(self):
        """Whether the data carry a condition (speaker, action, label) for
        the decoder: `fit` then takes `(x, condition)` batches."""
        if not self.autoregressive:
            return False
        if self.latent_conditioning == "global":
            return self.decoder.has_spatial_condition
        return self.decoder.has_condition

    @classmethod
    def image_model(
        cls,
        num_hiddens=128,
        num_residual_layers=2,
        num_residual_hiddens=32,
        embedding_dim=64,
        num_embeddings=512,
        num_downsamples=2,
        channels=3,
        commitment_cost=0.25,
        ema=True,
        decay=0.99,
        likelihood="mse",
        data_variance=1.0,
        quantizer_kwargs=None,
        quantizer=None,
        **kwargs,
    ):
        """The paper's image VQ-VAE: strided 4x4 convolutions and residual
        blocks, quantiser with `num_embeddings` codes (EMA by default), and
        the mirrored decoder.

        `quantizer` chooses another quantiser by name: "vq", "ema", "fsq"
        (`quantizer_kwargs=dict(levels=(8, 5, 5, 5))`), "lfq"
        (`num_embeddings` a power of 2) or "rvq"
        (`quantizer_kwargs=dict(num_quantizers=4)`, EMA stages when `ema`);
        see `vq_zoo.layers.quantizer_outputs.make_quantizer`. None (the
        default) is the paper's: EMA when `ema`, else plain VQ."""
        lik, data_variance = _resolve_likelihood(likelihood, data_variance)
        return cls(
            encoder=VQVAEImageEncoder(
                num_hiddens, num_residual_layers, num_residual_hiddens,
                embedding_dim=embedding_dim, num_downsamples=num_downsamples,
                name="encoder",
            ),
            quantizer=_make_quantizer(
                quantizer, ema, decay, quantizer_kwargs, embedding_dim,
                num_embeddings, commitment_cost, name="quantizer",
            ),
            decoder=VQVAEImageDecoder(
                num_hiddens, num_residual_layers, num_residual_hiddens,
                output_channels=lik.output_channels(channels),
                num_upsamples=num_downsamples,
                name="decoder",
            ),
            likelihood=lik,
            data_variance=data_variance,
            **kwargs,
        )

    # --------------------------------------------------------------- build
    def build(self, input_shape):
        input_shape = tuple(input_shape)
        if any(d is None for d in input_shape[1:]):
            raise ValueError(
                "VQVAE.build needs every dimension but the batch, got "
                f"{input_shape}"
            )
        dtype = "int32" if self.input_classes is not None else self.compute_dtype
        x = ops.zeros((1,) + input_shape[1:], dtype=dtype)
        vq = self._quantize_latents(x, False)
        if not self.autoregressive:
            self.decoder(vq["quantized"], training=False)

    def _build_from_data(self, data):
        # A model that only ever runs `train_step` is never `__call__`ed, so
        # Keras would save it unbuilt and drop its weights: build it, eagerly,
        # on the first trace.
        if not self.built:
            import tensorflow as tf

            x, _ = self._unpack(data)
            with tf.init_scope():
                self.build(tuple(x.shape))

    # ------------------------------------------------------------- inputs
    def _check_inputs(self, x, where):
        x = ops.convert_to_tensor(x)
        dtype = keras.backend.standardize_dtype(x.dtype)
        if self.input_classes is not None:
            if not _is_int(dtype):
                raise ValueError(
                    f"VQVAE.{where} expects integer inputs in [0, {self.input_classes}) "
                    f"(`input_classes`), got dtype {dtype}"
                )
            from vq_zoo.utils.checks import checked_int_range

            return checked_int_range(x, self.input_classes, "inputs")
        if not _is_float(dtype):
            raise ValueError(
                f"VQVAE.{where} expects floating-point data (e.g. images scaled to "
                f"[0, 1]), got dtype {dtype}: cast and scale it first (uint8 "
                "images: x / 255)."
            )
        return x

    def _unpack(self, data):
        if isinstance(data, (tuple, list)) and len(data) == 1 and isinstance(
            data[0], (tuple, list)
        ):
            data = data[0]  # fit((x, condition)) as well as fit(x, condition)
        if isinstance(data, (tuple, list)):
            x = data[0]
            condition = data[1] if len(data) > 1 and self.conditional else None
        else:
            x, condition = data, None
        if isinstance(x, dict):
            raise ValueError(
                "VQVAE trains on a tensor of data, or (x,) / (x, condition) tuples; "
                f"got a dict with keys {sorted(x)}: map the dataset to its inputs."
            )
        if self.conditional and condition is None:
            raise ValueError(
                "This VQVAE's decoder is conditional (speaker, action, label): "
                "give (x, condition) batches."
            )
        return self._check_inputs(x, "fit"), condition

    def _batch_ranges(self, data):
        x, condition = self._unpack(data)
        ranges = []
        if self.input_classes is not None:
            ranges.append((x, self.input_classes, "inputs"))
        if condition is not None:
            classes = (self.decoder.spatial_condition_classes
                       if self.latent_conditioning == "global" else self.decoder.num_classes)
            if classes is not None:
                ranges.append((ops.convert_to_tensor(condition), classes, "condition"))
        return ranges

    def _batch_assertions(self, data):
        from vq_zoo.likelihoods.mu_law import MuLaw
        from vq_zoo.utils.checks import audio_peak_assertions

        checks = super()._batch_assertions(data)
        if isinstance(self.likelihood, MuLaw):  # audio: refuse unscaled integer PCM
            checks += audio_peak_assertions(self._unpack(data)[0])
        return checks

    # ------------------------------------------------------------- forward
    def _quantize_latents(self, x, training):
        if self.input_classes is None:
            x = ops.cast(x, self.compute_dtype)
        z_e = self.encoder(x, training=training)
        return self.quantizer(z_e, training=training)

    def _decoder_inputs(self, z_q, condition):
        """The decoder's conditioning dict from the latents and the data's
        condition."""
        if self.latent_conditioning == "global":
            # The flattened size from the static shape: with a dynamic batch,
            # (batch, -1) would leave the condition's width unknown.
            flat = ops.reshape(z_q, (-1, int(np.prod(z_q.shape[1:]))))
            inputs = {"condition": ops.cast(flat, "float32")}
            if condition is not None:
                inputs["spatial_condition"] = condition
            return inputs
        inputs = {"spatial_condition": ops.cast(z_q, "float32")}
        if condition is not None:
            inputs["condition"] = condition
        return inputs

    def _targets(self, x):
        if self.input_classes is not None:
            return ops.cast(x, "int32")
        return self.likelihood.targets(x)

    def _forward(self, x, training, condition=None):
        """`(vq, params)`: the quantizer's outputs and the decoder's output
        (likelihood parameters, or an autoregressive decoder's logits)."""
        vq = self._quantize_latents(x, training)
        if not self.autoregressive:
            return vq, self.decoder(vq["quantized"], training=training)
        inputs = self._decoder_inputs(vq["quantized"], condition)
        inputs["codes"] = self._targets(x)
        return vq, self.decoder(inputs, training=training)

    def _reconstruction_loss(self, x, params):
        if self.autoregressive:
            return ops.mean(
                keras.losses.sparse_categorical_crossentropy(
                    self._targets(x), ops.cast(params, "float32"), from_logits=True
                )
            )
        recon_shape = tuple(self.likelihood.reconstruct(params).shape[1:])
        if None not in recon_shape and recon_shape != tuple(x.shape[1:]):
            raise ValueError(
                f"The decoder reconstructs data of shape {recon_shape} but the data "
                f"have shape {tuple(x.shape[1:])}: build the model for the data's "
                "shape and channels (e.g. `image_model(channels=...)`)."
            )
        return self.likelihood.loss(x, params)

    def _loss_terms(self, x, vq, params):
        return self._vq_scalars(self._reconstruction_loss(x, params), [vq])[0]

    def compute_loss_terms(self, data, training):
        x, condition = self._unpack(data)
        vq, params = self._forward(x, training, condition)
        return self._vq_scalars(self._reconstruction_loss(x, params), [vq])

    def call(self, inputs, training=None):
        if isinstance(inputs, (tuple, list)):
            x, condition = self._unpack(inputs)
        else:
            x, condition = self._check_inputs(inputs, "call"), None
        vq, params = self._forward(x, training, condition)
        return params if self.autoregressive else self.likelihood.reconstruct(params)

    def predict_step(self, data):
        x, condition = self._unpack(data)
        vq, params = self._forward(x, False, condition)
        return params if self.autoregressive else self.likelihood.reconstruct(params)

    # ------------------------------------------------------------ codes
    def encode_levels(self, x):
        x = self._check_inputs(x, "encode")
        z_e = self.encoder(
            x if self.input_classes is not None else ops.cast(x, self.compute_dtype),
            training=False,
        )
        return {"codes": code_map(self.quantizer, self.quantizer.encode(z_e))}

    def latents(self, codes):
        """The quantised latents `z_q` of a code map (as `encode` gives it),
        in the compute dtype: the quantizer's `lookup` of its codes."""
        return self.quantizer.lookup(stage_codes(self.quantizer, codes))

    def decode(self, indices, condition=None, seed=None, temperature=1.0):
        """Maps int32 code indices back to data space. An autoregressive
        decoder samples (with `condition`, `seed`, `temperature`); its
        targets are mapped back to data by `likelihood.from_targets` when
        the inputs are not integers."""
        (indices,) = self._codes_by_level(indices)
        indices = ops.convert_to_tensor(indices)
        if indices.shape[0] == 0:
            raise ValueError("VQVAE.decode got an empty batch of codes.")
        vectors = self.latents(indices)
        if not self.autoregressive:
            return self.likelihood.reconstruct(self.decoder(vectors, training=False))
        num = int(vectors.shape[0])
        cond = self._decoder_inputs(vectors, condition)
        targets = self.decoder.sample(num, condition=cond, temperature=temperature, seed=seed)
        if self.input_classes is not None:
            return targets
        return self.likelihood.from_targets(targets)

    # ------------------------------------------------------------ config
    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "encoder": keras.saving.serialize_keras_object(self.encoder),
                "quantizer": keras.saving.serialize_keras_object(self.quantizer),
                "decoder": keras.saving.serialize_keras_object(self.decoder),
                "likelihood": keras.saving.serialize_keras_object(self.likelihood),
                "data_variance": self.data_variance,
            }
        )
        if self.input_classes is not None:
            config["input_classes"] = self.input_classes
        if self.latent_conditioning != "local":
            config["latent_conditioning"] = self.latent_conditioning
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("encoder", "quantizer", "decoder", "likelihood"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)


__all__ = ["VQVAE"]
