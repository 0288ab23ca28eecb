"""DeepMind Lab's second stage: a VQ-VAE from code maps to a few codes,
one codebook per code, with a PixelCNN decoder."""

import math

import keras
import numpy as np
from keras import ops

from vq_zoo.models.vqvae.vqvae import VQVAE
from vq_zoo.utils.checks import check_choice
from vq_zoo.utils.checks import check_int

# What a corrupted decoder input code becomes (`DMLabVQVAE.input_noise_source`).
INPUT_NOISE_SOURCES = ("random", "model")
# How `DMLabVQVAE.decode` makes a map from the codes.
DECODINGS = ("sample", "greedy", "consensus", "regression")


@keras.saving.register_keras_serializable(package="vq_zoo")
class DMLabVQVAE(VQVAE):
    """A `VQVAE` over int code maps whose encoder gives `num_latents`
    vectors, **each quantised by its own codebook**, decoded by an
    autoregressive decoder conditioned globally on all of them.

    The second stage of the DeepMind Lab model (arXiv:1711.00937, section
    4.2): a 21x21 map of stage-1 codes (K=512) is encoded to 3 vectors; the
    `i`-th is quantised by codebook `i` (K=512 each), so a frame is 3 x 9 =
    27 bits; a gated PixelCNN over the 21x21 codes, conditioned on the 3
    quantised vectors flattened into its global `condition` (`condition_dim
    = 3 * embedding_dim`), models `p(map | 3 codes)` with a K-way
    categorical likelihood. Everything else is `VQVAE`'s autoregressive,
    integer-input path (`input_classes`, `latent_conditioning="global"`):
    the decoder is teacher-forced in training and sampled by `decode`.

    The codes are `QuantizedModel` levels, one per codebook (`level_names`,
    default `("code1", "code2", "code3")`): `fit` logs
    `perplexity_<level>` and `codebook_usage_<level>` for each, and the
    summed `codebook_loss` / `commitment_loss`; `encode(x)` gives a dict
    from level to int32 codes `(batch,)`, `encode_sequence(x)` the int32
    `(batch, num_latents)` array a prior models; `decode` takes either.

    Shape contract: `call(x)` maps int maps `(batch, height, width)` to the
    decoder's teacher-forced logits `(batch, height, width, K)`;
    `decode(codes)` samples int32 maps `(batch, height, width)`
    (`decoding="greedy"`: the most likely code at each position in turn;
    `"consensus"`: the code most of `num_samples` sampled maps agree on).

    Args:
        encoder: a layer mapping int maps to `(batch, num_latents,
            embedding_dim)` (e.g. `CodeMapEncoder`).
        quantizers: a list of `num_latents` `VectorQuantizer` /
            `VectorQuantizerEMA` layers of one `embedding_dim`.
        decoder: an autoregressive prior over the maps (a
            `GatedPixelCNNPrior` with `condition_dim = num_latents *
            embedding_dim` and `num_embeddings` the maps' K).
        level_names: names of the codes, one per quantizer. Defaults to
            `("code1", ..., "code<num_latents>")`.
        input_classes: K of the input maps. Defaults to the decoder's
            `num_embeddings`.
        condition_decoder: the layer making the decoder's spatial condition
            from the quantised vectors (`LatentMapDecoder`), when the
            decoder takes one.
        input_noise: in `[0, 1)`: in training, this fraction of the
            decoder's teacher-forced input codes (drawn independently at
            each position) is replaced, while the targets stay the true
            codes and the conditions made from the quantised vectors are
            untouched, so that the decoder learns to read its conditions
            when the codes before a position are wrong, as they are when it
            decodes from its own choices (exposure bias; scheduled
            sampling, arXiv:1506.03099). 0 (the default) is plain teacher
            forcing. Evaluation, `call` outside `fit` and `decode` never
            corrupt.
        input_noise_source: what a replaced code becomes: `"random"`, a
            code drawn uniformly from `[0, K)`; `"model"`, a code sampled
            (temperature 1) from the decoder's own teacher-forced
            distribution at that position, computed in one extra pass
            without gradient (parallel scheduled sampling,
            arXiv:1906.04331).
        input_noise_seed: seed of the corruption's random draws.
        map_head: a layer from the quantised vectors `(batch, num_latents,
            embedding_dim)` to `(batch, height, width, D1)` (a
            `LatentMapDecoder` with `channels` = D1): a second,
            non-autoregressive decoder that regresses the stage-1 code
            vectors of the whole map from the codes alone. Trained beside
            the PixelCNN (`map_weight` x `map_loss`), it makes the codes
            carry the map's layout: the PixelCNN, teacher-forced, reads most
            of a position from the true codes before it and needs little
            from the 3 codes, but this head has nothing else.
            `decode(decoding="regression")` gives the map of the stage-1
            codes nearest to its vectors.
        map_codebook: float `(K, D1)`, the stage-1 codebook (the vectors
            the maps' codes stand for), with `map_head`.
        map_weight: float > 0 with `map_head`: the weight of `map_loss`,
            the squared error of the head's vectors from the true codes'
            vectors divided by the codebook's variance (predicting the
            codebook's mean vector everywhere scores about 1).
        **kwargs: `VQVAE` / base `keras.Model` arguments
            (`latent_conditioning` must stay `"global"`).

    Example:
    >>> model = DMLabVQVAE.code_map_model(num_embeddings=16, shape=(6, 6),
    ...     embedding_dim=4, latent_num_embeddings=8, filters=8,
    ...     hidden_units=16, decoder_filters=8, decoder_layers=2)
    >>> maps = keras.random.randint((4, 6, 6), 0, 16)
    >>> tuple(model.encode_sequence(maps).shape)
    (4, 3)
    >>> tuple(model.decode(model.encode(maps), seed=0).shape)
    (4, 6, 6)

    References:
        van den Oord, Vinyals, Kavukcuoglu. Neural Discrete Representation
        Learning. arXiv:1711.00937 (section 4.2).
    """

    def __init__(self, encoder, quantizers, decoder, level_names=None,
                 input_classes=None, condition_decoder=None, input_noise=0.0,
                 input_noise_source="random", input_noise_seed=None, map_head=None,
                 map_codebook=None, map_weight=0.0, **kwargs):
        quantizers = list(quantizers)
        if (isinstance(input_noise, bool) or not isinstance(input_noise, (int, float))
                or not 0 <= input_noise < 1):
            raise ValueError(
                f"`input_noise` must be a fraction in [0, 1), got {input_noise!r}")
        check_choice("input_noise_source", input_noise_source, INPUT_NOISE_SOURCES)
        if not quantizers:
            raise ValueError("`quantizers` must hold at least one quantizer, got none")
        dims = sorted({int(q.embedding_dim) for q in quantizers})
        if len(dims) != 1:
            raise ValueError(
                f"Every quantizer must have one `embedding_dim`, got {dims}")
        if kwargs.setdefault("latent_conditioning", "global") != "global":
            raise ValueError(
                "DMLabVQVAE conditions its decoder globally on the quantised "
                "vectors: `latent_conditioning` must be 'global', got "
                f"{kwargs['latent_conditioning']!r}")
        if not getattr(decoder, "autoregressive", False):
            raise ValueError(
                "DMLabVQVAE's decoder must be an autoregressive prior over the code "
                f"maps (GatedPixelCNNPrior), got {type(decoder).__name__}")
        if input_classes is None:
            input_classes = decoder.num_embeddings
        expected = len(quantizers) * dims[0]
        if decoder.condition_dim != expected:
            raise ValueError(
                f"The decoder's `condition_dim` must be num_latents * embedding_dim = "
                f"{len(quantizers)} * {dims[0]} = {expected}, got "
                f"{decoder.condition_dim}")
        if condition_decoder is None and decoder.has_spatial_condition:
            raise ValueError(
                "The decoder takes a spatial condition: give the `condition_decoder` "
                "that makes it from the quantised vectors (e.g. LatentMapDecoder).")
        if condition_decoder is not None:
            made = (tuple(decoder.shape) + (getattr(condition_decoder, "channels", None),))
            if decoder.spatial_condition_classes is not None or (
                    decoder.spatial_condition_shape != made):
                raise ValueError(
                    "The decoder's `spatial_condition_shape` must be the "
                    f"condition_decoder's output (height, width, channels) = {made}, "
                    f"got {decoder.spatial_condition_shape}")
        super().__init__(encoder, quantizers[0], decoder,
                         input_classes=input_classes, **kwargs)
        # The first codebook is VQVAE's `quantizer`; the others follow it.
        self.other_quantizers = quantizers[1:]
        self.num_latents = len(quantizers)
        if level_names is None:
            level_names = tuple(f"code{i + 1}" for i in range(self.num_latents))
        self._init_levels(level_names, quantizers)
        # Tracked after the quantizers: the variables of models without it
        # keep their names and order.
        self.condition_decoder = condition_decoder
        self.input_noise = float(input_noise)
        self.input_noise_source = input_noise_source
        self.input_noise_seed = input_noise_seed
        if self.input_noise > 0:
            # Made only when used: its state is a variable, and the
            # variables of models without noise stay as they were.
            self.input_noise_generator = keras.random.SeedGenerator(
                input_noise_seed, name="input_noise_generator")
        self._init_map_head(map_head, map_codebook, map_weight)

    def _init_map_head(self, map_head, map_codebook, map_weight):
        if (map_head is None) != (map_codebook is None):
            raise ValueError("`map_head` and `map_codebook` go together: give both "
                             "or neither")
        if isinstance(map_weight, bool) or not isinstance(map_weight, (int, float)) or (
                map_weight < 0 or (map_head is not None and map_weight == 0)):
            raise ValueError("`map_weight` must be a number > 0 with a `map_head` (and 0 "
                             f"without one), got {map_weight!r}")
        self.map_head = map_head
        self.map_weight = float(map_weight) if map_head is not None else 0.0
        if map_head is None:
            if map_weight:
                raise ValueError(f"`map_weight`={map_weight!r} needs a `map_head`")
            return
        codebook = np.asarray(map_codebook, np.float32)
        k = self.decoder.num_embeddings
        channels = getattr(map_head, "channels", None)
        if codebook.ndim != 2 or codebook.shape[0] != k or not np.isfinite(codebook).all():
            raise ValueError(f"`map_codebook` must be the maps' codebook, finite (K={k}, "
                             f"D), got shape {codebook.shape}")
        if channels is not None and channels != codebook.shape[1]:
            raise ValueError(f"`map_head` gives {channels} channels, the codebook's "
                             f"vectors have {codebook.shape[1]}")
        spread = float(codebook.var(0).sum())
        if spread <= 0:
            raise ValueError("`map_codebook` holds one vector K times: nothing to regress")
        self.map_codebook = codebook
        self._map_codebook = ops.convert_to_tensor(codebook)
        self._map_spread = spread
        self._init_trackers(
            tuple(self.trackers) + ("map_loss",),
            {name: t.num_embeddings for name, t in self.usage_trackers.items()})

    @classmethod
    def code_map_model(cls, num_embeddings=512, shape=(21, 21), num_latents=3,
                       embedding_dim=64, latent_num_embeddings=512, filters=64,
                       num_downsamples=2, hidden_units=256, decoder_filters=64,
                       decoder_layers=6, commitment_cost=0.25, ema=True, decay=0.99,
                       quantizer_kwargs=None, spatial_channels=0,
                       conditioning_layers=None, decoder_dropout=0.0, map_codebook=None,
                       map_weight=0.0, **kwargs):
        """The paper's second stage: `CodeMapEncoder` over `shape` maps of
        `num_embeddings` codes to `num_latents` vectors, one EMA (or
        gradient) codebook of `latent_num_embeddings` codes each, and a
        `GatedPixelCNNPrior` decoder conditioned on all of them. Built.

        `spatial_channels` > 0 also conditions the decoder at every position
        on a `(height, width, spatial_channels)` map that a
        `LatentMapDecoder` (`hidden_units` wide) makes from the quantised
        vectors, passed through `conditioning_layers` residual 3x3 layers
        in the decoder; 0 (the default) keeps the global condition only.
        `decoder_dropout` drops the decoder's horizontal stream in
        training. `input_noise`, `input_noise_source` and
        `input_noise_seed` (in `kwargs`) corrupt the decoder's inputs in
        training (see the class). `map_codebook` (the stage-1 codebook,
        `(num_embeddings, D1)`) with `map_weight` > 0 adds the `map_head`
        (a `LatentMapDecoder` of `D1` channels, `hidden_units` wide)."""
        from vq_zoo.layers.vector_quantizer import VectorQuantizer
        from vq_zoo.layers.vector_quantizer_ema import VectorQuantizerEMA
        from vq_zoo.models.dmlab.code_map_encoder import CodeMapEncoder
        from vq_zoo.models.gated_pixelcnn.gated_pixelcnn_prior import GatedPixelCNNPrior

        quantizer_kwargs = dict(quantizer_kwargs or {})
        if ema:
            quantizer_kwargs["decay"] = decay
        quantizer_cls = VectorQuantizerEMA if ema else VectorQuantizer
        seed = quantizer_kwargs.pop("seed", None)
        quantizers = [
            quantizer_cls(embedding_dim=embedding_dim, num_embeddings=latent_num_embeddings,
                          commitment_cost=commitment_cost, name=f"quantizer{i + 1}",
                          seed=None if seed is None else seed + i, **quantizer_kwargs)
            for i in range(num_latents)
        ]
        from vq_zoo.models.dmlab.latent_map_decoder import LatentMapDecoder

        check_int("spatial_channels", spatial_channels, 0)
        spatial = dict(spatial_condition_shape=tuple(shape) + (spatial_channels,),
                       conditioning_layers=conditioning_layers) if spatial_channels else {}
        model = cls(
            encoder=CodeMapEncoder(num_embeddings, num_latents, embedding_dim, filters,
                                   num_downsamples, hidden_units, name="encoder"),
            quantizers=quantizers,
            decoder=GatedPixelCNNPrior(
                num_embeddings=num_embeddings, shape=tuple(shape),
                filters=decoder_filters, num_layers=decoder_layers,
                condition_dim=num_latents * embedding_dim, dropout=decoder_dropout,
                name="decoder", **spatial),
            condition_decoder=LatentMapDecoder(
                tuple(shape), spatial_channels, hidden_units,
                name="condition_decoder") if spatial_channels else None,
            map_head=None if map_codebook is None else LatentMapDecoder(
                tuple(shape), int(np.shape(map_codebook)[-1]), hidden_units,
                name="map_head"),
            map_codebook=map_codebook, map_weight=map_weight,
            **kwargs,
        )
        model.build((None,) + tuple(shape))
        return model

    def build(self, input_shape):
        super().build(input_shape)
        if self.map_head is not None and not self.map_head.built:
            self.map_head.build((None, self.num_latents, self.quantizer.embedding_dim))

    @property
    def quantizers(self):
        return [self.quantizer, *self.other_quantizers]

    @property
    def num_embeddings(self):
        """The codebook sizes, in level order."""
        return [q.num_embeddings for q in self.quantizers]

    @property
    def bits_per_example(self):
        """The bottleneck's size: `sum(log2(K_i))` bits (27 for 3 x 512)."""
        return float(sum(math.log2(k) for k in self.num_embeddings))

    # ------------------------------------------------------------ forward
    def _latents(self, x, training):
        z_e = self.encoder(x, training=training)
        if len(z_e.shape) != 3 or z_e.shape[1] != self.num_latents:
            raise ValueError(
                f"The encoder must give (batch, {self.num_latents}, embedding_dim) "
                f"vectors, one per codebook; got shape {tuple(z_e.shape)}")
        return z_e

    def _quantize_latents(self, x, training):
        z_e = self._latents(x, training)
        levels = [q(z_e[:, i], training=training) for i, q in enumerate(self.quantizers)]
        return {
            "quantized": ops.stack([v["quantized"] for v in levels], axis=1),
            "encoding_indices": ops.stack([v["encoding_indices"] for v in levels], axis=1),
            "levels": levels,
        }

    @property
    def conditional(self):
        # The decoder's spatial condition (if any) comes from the codes, not
        # from the data.
        return False

    def _decoder_inputs(self, z_q, condition):
        # The flattened size is static (VQVAE's reshape to (batch, -1) loses
        # it in a graph with an unknown batch, and the decoder checks it).
        inputs = super()._decoder_inputs(z_q, condition)
        inputs["condition"] = ops.reshape(
            inputs["condition"], (-1, self.num_latents * self.quantizer.embedding_dim))
        if self.condition_decoder is not None:
            inputs["spatial_condition"] = ops.cast(
                self.condition_decoder(ops.cast(z_q, self.compute_dtype)), "float32")
        return inputs

    def _forward(self, x, training, condition=None):
        vq = self._quantize_latents(x, training)
        inputs = self._decoder_inputs(vq["quantized"], condition)
        codes = self._targets(x)
        if training and self.input_noise > 0:
            codes = self.corrupt_codes(codes, inputs)
        inputs["codes"] = codes
        return vq, self.decoder(inputs, training=training)

    def corrupt_codes(self, codes, conditions, seed=None):
        """The decoder's training inputs: int maps `codes` with a fraction
        `input_noise` of the positions (each drawn independently) replaced
        as `input_noise_source` says; `conditions` is the decoder's
        conditioning dict (`condition`, `spatial_condition`), read by the
        `"model"` source. `seed`: an int (stateless draws) or a
        `keras.random.SeedGenerator`; defaults to the model's generator.

        Causal: the code given at a position depends only on the true codes
        before it (and itself), so the decoder's logits at a position still
        see only the true codes before it."""
        codes = ops.cast(codes, "int32")
        if seed is None:
            seed = getattr(self, "input_noise_generator", None)
            if seed is None:
                raise ValueError("`corrupt_codes` needs a `seed` when the model's "
                                 "`input_noise` is 0")
        seeds = (seed, seed) if not isinstance(seed, int) else (seed, seed + 1)
        k = self.decoder.num_embeddings
        shape = ops.shape(codes)
        replace = keras.random.uniform(shape, seed=seeds[0]) < self.input_noise
        if self.input_noise_source == "random":
            other = keras.random.randint(shape, 0, k, seed=seeds[1], dtype="int32")
        else:
            logits = ops.stop_gradient(ops.cast(
                self.decoder({**conditions, "codes": codes}, training=False), "float32"))
            # Gumbel-max: the noise at a position does not depend on the
            # logits, so a draw changes only where its own logits change.
            u = keras.random.uniform(ops.shape(logits), minval=1e-7, maxval=1.0,
                                     seed=seeds[1])
            other = ops.cast(ops.argmax(logits - ops.log(-ops.log(u)), axis=-1), "int32")
        return ops.where(replace, other, codes)

    def compute_loss_terms(self, data, training):
        scalars, counts, _ = self.loss_terms_and_map(data, training)
        return scalars, counts

    def loss_terms_and_map(self, data, training):
        """`compute_loss_terms`' `(scalars, code_counts)` and the map head's
        vectors of the batch (`map_vectors` of its quantised codes, with
        their gradient; None without a head)."""
        x, condition = self._unpack(data)
        vq, logits = self._forward(x, training, condition)
        scalars, counts = self._vq_scalars(self._reconstruction_loss(x, logits),
                                           vq["levels"])
        vectors = None
        if self.map_head is not None:
            vectors = self.map_vectors(vq["quantized"])
            scalars["map_loss"] = self.map_vector_loss(vectors, self._targets(x))
            scalars["loss"] = scalars["loss"] + self.map_weight * scalars["map_loss"]
        return scalars, counts, vectors

    def map_vectors(self, quantized):
        """The map head's stage-1 code vectors, float32 `(batch, height,
        width, D1)`, from quantised vectors `(batch, num_latents,
        embedding_dim)`."""
        if self.map_head is None:
            raise ValueError("this model has no `map_head`: it cannot regress maps")
        return ops.cast(self.map_head(ops.cast(quantized, self.compute_dtype)), "float32")

    def map_loss(self, quantized, maps):
        """`map_weight`'s term: the mean squared distance of the head's
        vectors from those of the true codes `maps` (int `(batch, height,
        width)`), over the codebook's variance (its summed per-dimension
        variance: predicting the mean vector everywhere scores about 1
        when every code is as frequent)."""
        return self.map_vector_loss(self.map_vectors(quantized), maps)

    def map_vector_loss(self, vectors, maps):
        """`map_loss` of the head's vectors `vectors` `(batch, height,
        width, D1)` given the true codes `maps`."""
        target = ops.take(self._map_codebook, ops.cast(maps, "int32"), axis=0)
        sq = ops.sum(ops.square(vectors - target), axis=-1)
        return ops.mean(sq) / self._map_spread

    def nearest_codes(self, vectors):
        """int32 maps `(batch, height, width)`: the stage-1 code nearest (in
        squared distance) to each vector of `(batch, height, width, D1)`."""
        c = self._map_codebook
        d = (ops.sum(ops.square(vectors), -1, keepdims=True)
             - 2 * ops.einsum("bhwd,kd->bhwk", vectors, c) + ops.sum(ops.square(c), -1))
        return ops.cast(ops.argmin(d, axis=-1), "int32")

    # ------------------------------------------------------------ codes
    def encode_levels(self, x):
        x = self._check_inputs(x, "encode")
        z_e = self._latents(x, False)
        return {n: q.encode(z_e[:, i])
                for i, (n, q) in enumerate(zip(self.level_names, self.quantizers))}

    def encode_sequence(self, x):
        """int32 `(batch, num_latents)`: the codes in level order, the
        sequence a length-`num_latents` prior models."""
        codes = self.encode_levels(x)
        return ops.stack([codes[n] for n in self.level_names], axis=1)

    def _code_columns(self, codes):
        if not isinstance(codes, (dict, list, tuple)):
            array = ops.convert_to_tensor(codes)
            if len(array.shape) != 2 or array.shape[1] != self.num_latents:
                raise ValueError(
                    f"Expected codes (batch, {self.num_latents}) or a dict of the "
                    f"levels {list(self.level_names)}, got shape {tuple(array.shape)}")
            return [array[:, i] for i in range(self.num_latents)]
        return [ops.convert_to_tensor(c) for c in self._codes_by_level(codes)]

    def lookup(self, codes):
        """The quantised vectors `(batch, num_latents, embedding_dim)` of
        codes (a dict of levels, a list in level order, or `(batch,
        num_latents)` ints)."""
        columns = self._code_columns(codes)
        for name, c, q in zip(self.level_names, columns, self.quantizers):
            dtype = keras.backend.standardize_dtype(c.dtype)
            if not dtype.startswith(("int", "uint")):
                raise ValueError(f"The codes of level {name!r} must be integers, got {dtype}")
            values = np.asarray(c)
            if values.size and (values.min() < 0 or values.max() >= q.num_embeddings):
                raise ValueError(
                    f"The codes of level {name!r} must be in [0, {q.num_embeddings}), "
                    f"got values in [{values.min()}, {values.max()}]")
        return ops.stack([q.lookup(ops.cast(c, "int32"))
                          for c, q in zip(columns, self.quantizers)], axis=1)

    def decode(self, indices, condition=None, seed=None, temperature=1.0, greedy=False,
               decoding=None, num_samples=16):
        """int32 code maps `(batch, height, width)` from the decoder given
        the codes (a dict of levels, a list, or `(batch, num_latents)`
        ints), by one of `DECODINGS`:

        - `"sample"` (the default): one map drawn by the cached sampler at
          `temperature`, with `seed`;
        - `"greedy"` (or `greedy=True`): the most likely code at each
          position in raster order given the codes chosen before it (no
          noise, no seed);
        - `"consensus"`: `num_samples` maps drawn as `decode_samples` does
          and, at each position, the code most of them agree on
          (`vq_zoo.generation.consensus_codes`): the minimum-Bayes-risk map
          for the fraction of positions wrong. `num_samples=1` is
          `"sample"` with the same seed, bit for bit;
        - `"regression"` (a model with a `map_head` only): at each
          position the stage-1 code nearest the head's vector (no
          PixelCNN, no noise, one pass).
        """
        if decoding is None:
            decoding = "greedy" if greedy else "sample"
        elif greedy and decoding != "greedy":
            raise ValueError(f"`greedy=True` contradicts `decoding={decoding!r}`; "
                             "give one of them")
        check_choice("decoding", decoding, DECODINGS)
        if decoding == "consensus":
            from vq_zoo.generation.consensus import consensus_codes

            samples = self.decode_samples(indices, num_samples, condition, seed, temperature)
            return consensus_codes(samples, self.decoder.num_embeddings)
        if decoding == "regression" and self.map_head is None:
            raise ValueError("decoding='regression' needs a model trained with a "
                             "`map_head` (stage2_map_weight > 0); this one has none")
        vectors = self.lookup(indices)
        if vectors.shape[0] == 0:
            raise ValueError("DMLabVQVAE.decode got an empty batch of codes.")
        if decoding == "regression":
            return self.nearest_codes(self.map_vectors(vectors))
        inputs = self._decoder_inputs(vectors, condition)
        if decoding == "greedy":
            return self._greedy(inputs)
        return self.decoder.sample(int(vectors.shape[0]), condition=inputs,
                                   temperature=temperature, seed=seed)

    def decode_samples(self, indices, num_samples, condition=None, seed=None,
                       temperature=1.0):
        """`num_samples` maps drawn for each example's codes, int32
        `(batch, num_samples, height, width)`, by one call of the cached
        sampler on the codes repeated (draw `j` of example `i` is row
        `i * num_samples + j` of that call, so one draw is `decode`'s
        sample for the same seed). The sampler holds `batch * num_samples`
        maps at once."""
        num_samples = check_int("num_samples", num_samples, numpy=True)
        vectors = self.lookup(indices)
        batch = int(vectors.shape[0])
        if batch == 0:
            raise ValueError("DMLabVQVAE.decode got an empty batch of codes.")
        if condition is not None:
            condition = ops.repeat(condition, num_samples, axis=0)
        inputs = self._decoder_inputs(ops.repeat(vectors, num_samples, axis=0), condition)
        maps = self.decoder.sample(batch * num_samples, condition=inputs,
                                   temperature=temperature, seed=seed)
        return ops.reshape(maps, (batch, num_samples) + tuple(self.decoder.shape))

    def _greedy(self, inputs):
        from vq_zoo.generation.sampler import compile_loop
        from vq_zoo.generation.sampler import sample_with_cache

        decoder = self.decoder
        positions = int(np.prod(decoder.shape))
        cache = self.__dict__.setdefault("_greedy_fns", {})
        if "greedy" not in cache:
            def run(condition):
                num = condition["condition"].shape[0]
                state = decoder.initial_state(num, condition)
                # Zero noise: each draw is the argmax of the logits.
                zeros = ops.zeros((num, positions, decoder.num_embeddings), "float32")
                codes = sample_with_cache(decoder.step, state, zeros)
                return ops.reshape(codes, (num,) + tuple(decoder.shape))

            cache["greedy"] = compile_loop(run)
        return cache["greedy"](inputs)

    # ------------------------------------------------------------ config
    def get_config(self):
        config = super().get_config()
        config.pop("quantizer")
        config.pop("latent_conditioning", None)
        config["quantizers"] = [keras.saving.serialize_keras_object(q)
                                for q in self.quantizers]
        config["level_names"] = list(self.level_names)
        if self.condition_decoder is not None:
            config["condition_decoder"] = keras.saving.serialize_keras_object(
                self.condition_decoder)
        if self.input_noise > 0:
            config.update(input_noise=self.input_noise,
                          input_noise_source=self.input_noise_source,
                          input_noise_seed=self.input_noise_seed)
        if self.map_head is not None:
            config.update(map_head=keras.saving.serialize_keras_object(self.map_head),
                          map_codebook=self.map_codebook.tolist(),
                          map_weight=self.map_weight)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("encoder", "decoder", "likelihood"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        config["quantizers"] = [keras.saving.deserialize_keras_object(q)
                                for q in config["quantizers"]]
        for key in ("condition_decoder", "map_head"):
            if config.get(key) is not None:
                config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)


__all__ = ["DMLabVQVAE"]
