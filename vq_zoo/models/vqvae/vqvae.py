"""The VQ-VAE model: encoder, vector quantiser, decoder, and its training step."""

import keras
from keras import ops

from vq_zoo import likelihoods
from vq_zoo.layers.base_vector_quantizer import BaseVectorQuantizer
from vq_zoo.metrics.codebook_usage import CodebookUsage
from vq_zoo.models.preset_mixin import PresetMixin
from vq_zoo.models.vqvae.vqvae_image_decoder import VQVAEImageDecoder
from vq_zoo.models.vqvae.vqvae_image_encoder import VQVAEImageEncoder
from vq_zoo.utils.distribute import loss_scale_for_replicas

def _resolve_likelihood(likelihood, data_variance):
    """`"mse"` means MSE divided by `data_variance`; anything else goes to
    `likelihoods.get`."""
    if isinstance(likelihood, str) and likelihood == "mse":
        return likelihoods.MeanSquaredError(data_variance)
    return likelihoods.get(likelihood)


LOSS_NAMES = ("loss", "reconstruction_loss", "codebook_loss", "commitment_loss")


@keras.saving.register_keras_serializable(package="vq_zoo")
class VQVAE(PresetMixin, keras.Model):
    """Vector-quantised variational autoencoder with its own `train_step`.

    `x -> encoder -> z_e -> quantizer -> z_q -> decoder -> p(x | z_q)`. The
    training loss is `reconstruction_loss + codebook_loss + commitment_loss`,
    each term with its own stop-gradients, so the codebook term reaches only
    the codebook, the commitment term only the encoder, and the reconstruction
    term the decoder and, through the straight-through estimator, the encoder.

    `fit` logs `loss`, `reconstruction_loss`, `codebook_loss`,
    `commitment_loss`, `perplexity` (of the global batch) and
    `codebook_usage` (the fraction of codes used so far in the epoch). Under
    `tf.distribute` each replica's loss is scaled to the global batch, and the
    quantiser's statistics are all-reduced, so one step on N replicas equals
    one step on one device with the same global batch.

    Shape contract: `call(x)` maps `(batch, *spatial, channels)` to a
    reconstruction of the same shape; `encode(x)` gives int32 codes
    `(batch, *latent_spatial)`; `decode(codes)` maps them back.

    Args:
        encoder: a layer mapping data to `(..., embedding_dim)`.
        quantizer: a `VectorQuantizer` or `VectorQuantizerEMA`.
        decoder: a layer mapping quantised vectors to the likelihood's
            parameters.
        likelihood: `"mse"` (default), another registered name, or a
            `vq_zoo.likelihoods.Likelihood`. MSE is divided by
            `data_variance`.
        data_variance: float, used when `likelihood="mse"`: the variance of
            the training data (the paper's CIFAR-10 setup). Defaults to 1.0.
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
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not isinstance(quantizer, BaseVectorQuantizer):
            raise ValueError(
                "`quantizer` must be a VectorQuantizer or VectorQuantizerEMA, "
                f"got {type(quantizer).__name__}"
            )
        self.encoder = encoder
        self.quantizer = quantizer
        self.decoder = decoder
        self.likelihood = _resolve_likelihood(likelihood, data_variance)
        self.data_variance = float(data_variance)
        self.trackers = {
            name: keras.metrics.Mean(name=name)
            for name in LOSS_NAMES + ("perplexity",)
        }
        self.codebook_usage = CodebookUsage(quantizer.num_embeddings)

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
        **kwargs,
    ):
        """The paper's image VQ-VAE: strided 4x4 convolutions and residual
        blocks, quantiser with `num_embeddings` codes (EMA by default), and
        the mirrored decoder."""
        from vq_zoo.layers.vector_quantizer import VectorQuantizer
        from vq_zoo.layers.vector_quantizer_ema import VectorQuantizerEMA

        quantizer_kwargs = dict(quantizer_kwargs or {})
        if ema:
            quantizer_kwargs["decay"] = decay
            quantizer_cls = VectorQuantizerEMA
        else:
            quantizer_cls = VectorQuantizer
        lik = _resolve_likelihood(likelihood, data_variance)
        return cls(
            encoder=VQVAEImageEncoder(
                num_hiddens, num_residual_layers, num_residual_hiddens,
                embedding_dim=embedding_dim, num_downsamples=num_downsamples,
                name="encoder",
            ),
            quantizer=quantizer_cls(
                embedding_dim=embedding_dim,
                num_embeddings=num_embeddings,
                commitment_cost=commitment_cost,
                name="quantizer",
                **quantizer_kwargs,
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
        self._forward(ops.zeros((1,) + input_shape[1:], dtype=self.compute_dtype), False)

    # ------------------------------------------------------------- forward
    def _forward(self, x, training):
        z_e = self.encoder(x, training=training)
        vq = self.quantizer(z_e, training=training)
        params = self.decoder(vq["quantized"], training=training)
        return vq, params

    def _loss_terms(self, x, vq, params):
        reconstruction_loss = self.likelihood.loss(x, params)
        loss = reconstruction_loss + vq["codebook_loss"] + vq["commitment_loss"]
        if self.losses:
            loss = loss + ops.sum(ops.stack(self.losses))
        return {
            "loss": loss,
            "reconstruction_loss": reconstruction_loss,
            "codebook_loss": vq["codebook_loss"],
            "commitment_loss": vq["commitment_loss"],
        }

    def call(self, inputs, training=None):
        vq, params = self._forward(inputs, training)
        return self.likelihood.reconstruct(params)

    @staticmethod
    def _unpack(data):
        x = data[0] if isinstance(data, (tuple, list)) else data
        if isinstance(x, dict):
            raise ValueError(
                "VQVAE trains on a tensor of data, or (x,) / (x, y) tuples; got "
                f"a dict with keys {sorted(x)}: map the dataset to its images."
            )
        x = ops.convert_to_tensor(x)
        if not keras.backend.standardize_dtype(x.dtype).startswith(("float", "bfloat")):
            raise ValueError(
                f"VQVAE expects floating-point data (e.g. images scaled to [0, 1]), "
                f"got dtype {x.dtype}: cast and scale it first."
            )
        return x

    def _ensure_built(self, x):
        # A model that only ever runs `train_step` is never `__call__`ed, so
        # Keras would save it unbuilt and drop its weights: build it, eagerly,
        # on the first trace.
        if not self.built:
            import tensorflow as tf

            with tf.init_scope():
                self.build(tuple(x.shape))

    def _record(self, losses, vq):
        for name in LOSS_NAMES:
            self.trackers[name].update_state(losses[name])
        self.trackers["perplexity"].update_state(vq["perplexity"])
        self.codebook_usage.update_state(vq["code_counts"])
        return {m.name: m.result() for m in self.metrics}

    def train_step(self, data):
        import tensorflow as tf

        x = self._unpack(data)
        self._ensure_built(x)
        with tf.GradientTape() as tape:
            vq, params = self._forward(x, training=True)
            losses = self._loss_terms(x, vq, params)
            # Gradients are summed across replicas: scale each replica's
            # mean loss to its share of the global batch.
            scaled = losses["loss"] * loss_scale_for_replicas()
            scaled = self.optimizer.scale_loss(scaled)
        weights = self.trainable_weights
        grads = tape.gradient(scaled, weights)
        self.optimizer.apply_gradients(zip(grads, weights))
        return self._record(losses, vq)

    def test_step(self, data):
        x = self._unpack(data)
        self._ensure_built(x)
        vq, params = self._forward(x, training=False)
        return self._record(self._loss_terms(x, vq, params), vq)

    def predict_step(self, data):
        return self(self._unpack(data), training=False)

    @property
    def metrics(self):
        return list(self.trackers.values()) + [self.codebook_usage]

    # ------------------------------------------------------------ codes
    def encode(self, x):
        """Maps data to int32 code indices, `(batch, *latent_spatial)`."""
        x = ops.convert_to_tensor(x)
        z_e = self.encoder(ops.cast(x, self.compute_dtype), training=False)
        return self.quantizer.encode(z_e)

    def decode(self, indices):
        """Maps int32 code indices back to data space."""
        vectors = self.quantizer.lookup(indices)
        return self.likelihood.reconstruct(self.decoder(vectors, training=False))

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
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("encoder", "quantizer", "decoder", "likelihood"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)
