"""Stage 2's map head trained on frames, through stage 1's frozen decoder."""

import keras
from keras import ops

from vq_zoo.models.task import Task


# What `MapHeadTuner` trains: the map head alone, or all of stage 2.
TUNES = ("head", "stage2")


@keras.saving.register_keras_serializable(package="vq_zoo")
class MapHeadTuner(Task):
    """Trains a `DMLabVQVAE`'s map head (or all of it) on the frames its maps
    become.

    Stage 2's map head (`DMLabVQVAE.map_head`: the whole 21x21 map regressed
    from the 3 codes, the `"regression"` decoding) is trained in stage 2 on
    the squared distance of its vectors from the true stage-1 code vectors,
    where every position and every dimension of the codebook's space weighs
    alike. What PSNR measures, and a person sees, is the frame stage 1's
    decoder makes of the stage-1 codes nearest those vectors. This model
    trains the head (`tune="head"`) or all of stage 2 (`tune="stage2"`) on
    that frame:

        maps     = stage 1's codes of the frames x            (frozen)
        vectors  = head(stage 2's quantised codes of maps)
        snapped  = the stage-1 code vectors nearest `vectors`, passed
                   straight through (vectors + stop_gradient(snapped - vectors))
        frame_loss = stage 1's likelihood loss of x given decoder(snapped)
        loss     = frame_loss + object_weight * object_loss
                   + map_weight * map_loss  (+ stage 2's own terms)

    where `object_loss` is stage 1's loss over the pixels of the objects
    alone (a mask given with the frames, e.g. memory-maze's target balls):
    objects cover a few hundredths of a frame, so a loss averaged over the
    frame barely sees them, and 27 bits go to the walls and floor first.

    The straight-through snap makes the loss that of the frames the
    regression decoding gives (the nearest codes' frame), with the gradient
    of the frame at the snapped vectors; `map_loss` keeps the vectors near
    the codes they should snap to. Stage 1 never changes. With
    `tune="head"` neither do stage 2's encoder, codebooks and PixelCNN (the
    tuner's trainable weights are the head's), so the 3 codes of a frame,
    the prior over them and the PixelCNN decodings stay as they were: only
    the regression decoding changes. With `tune="stage2"` the loss adds
    stage 2's own terms (the PixelCNN's NLL of the map, the commitment
    loss; its EMA codebooks update) and every weight of stage 2 trains, the
    head's vectors computed from the training-mode codes, so the codes
    themselves move to what the frames need. The tuned stage 2 is
    `code_vqvae`.

    Shape contract: `fit` takes float frames `(batch, height, width,
    channels)` in stage 1's data range, or `(frames, objects)` with
    `objects` `(batch, height, width)` (1 on an object's pixels, 0
    elsewhere; needed when `object_weight > 0`). Logs `loss`,
    `frame_loss` (stage 1's reconstruction loss, the mean squared error over
    the data variance for its `MeanSquaredError` likelihood),
    `map_loss` and `map_accuracy` (the fraction of positions whose snapped
    code is stage 1's code), with `tune="stage2"` stage 2's
    `reconstruction_loss` and `commitment_loss`, and with `object_weight > 0`
    `object_loss` (the mean over the batch's object pixels; 0 in a batch
    without any) and `weighted_frame_loss` (`frame_loss + object_weight *
    object_loss`, what a best epoch is chosen by).

    Args:
        frame_vqvae: stage 1, a built non-autoregressive `VQVAE` from frames
            to code maps.
        code_vqvae: stage 2, a built `DMLabVQVAE` over those maps with a
            `map_head`.
        map_weight: float >= 0, the weight of stage 2's `map_loss` beside
            the frame loss (in place of stage 2's own `map_weight`).
            Defaults to 1.
        tune: what trains, one of `TUNES`: `"head"` (the default) or
            `"stage2"`.
        object_weight: float >= 0, the weight of the loss over the objects'
            pixels beside the frame's. Defaults to 0 (frames alone).
        **kwargs: base `keras.Model` arguments.

    Example:
    >>> tuner = MapHeadTuner(frame_vqvae, code_vqvae)
    >>> tuner.compile(optimizer=keras.optimizers.Adam(3e-4))
    >>> tuner.fit(frames, epochs=1)        # frames: float (n, 84, 84, 3)
    >>> tuned = tuner.code_vqvae           # decode(..., decoding="regression")
    """

    def __init__(self, frame_vqvae, code_vqvae, map_weight=1.0, tune="head",
                 object_weight=0.0, **kwargs):
        super().__init__(**kwargs)
        if getattr(frame_vqvae, "autoregressive", True) or not hasattr(frame_vqvae,
                                                                     "likelihood"):
            raise ValueError("`frame_vqvae` must be stage 1: a VQVAE decoding frames "
                             f"from its codes, got {type(frame_vqvae).__name__}")
        if getattr(code_vqvae, "map_head", None) is None:
            raise ValueError("`code_vqvae` must be a DMLabVQVAE with a map head "
                             "(trained with stage2_map_weight > 0); "
                             f"got {type(code_vqvae).__name__} without one")
        k1 = frame_vqvae.quantizer.num_embeddings
        if code_vqvae.decoder.num_embeddings != k1:
            raise ValueError(f"stage 2 models maps of {code_vqvae.decoder.num_embeddings} "
                             f"codes, stage 1 has {k1}: they are not one chain")
        for name, value in (("map_weight", map_weight), ("object_weight", object_weight)):
            if (isinstance(value, bool) or not isinstance(value, (int, float))
                    or not value >= 0):
                raise ValueError(f"`{name}` must be a number >= 0, got {value!r}")
        for model in (frame_vqvae, code_vqvae):
            if not model.built:
                raise ValueError(f"MapHeadTuner needs built stages; {model.name} is not")
        if tune not in TUNES:
            raise ValueError(f"`tune` must be one of {TUNES}, got {tune!r}")
        self.frame_vqvae = frame_vqvae
        self.code_vqvae = code_vqvae
        self.map_weight = float(map_weight)
        self.tune = tune
        self.object_weight = float(object_weight)
        names = ("loss", "frame_loss", "map_loss", "map_accuracy")
        if tune == "stage2":
            names += ("reconstruction_loss", "commitment_loss")
        if self.object_weight > 0:
            names += ("object_loss", "weighted_frame_loss")
        self._init_trackers(names)
        self.built = True  # it has no weights of its own

    # Only the head trains; the tuner does not change `trainable` flags of
    # the two stages (they are the run's models, saved and used elsewhere).
    @property
    def trainable_weights(self):
        trained = self.code_vqvae if self.tune == "stage2" else self.code_vqvae.map_head
        return list(trained.trainable_weights)

    @property
    def trainable_variables(self):
        return self.trainable_weights

    def _maps(self, x):
        """Stage 1's int32 code maps of frames `x`."""
        vq1 = self.frame_vqvae
        z_e = vq1.encoder(ops.cast(x, vq1.compute_dtype), training=False)
        maps = ops.cast(vq1.quantizer(z_e, training=False)["encoding_indices"], "int32")
        return ops.stop_gradient(ops.reshape(maps, ops.shape(z_e)[:-1]))

    def _frozen_vectors(self, maps):
        """The map head's vectors of stage 2's quantised codes of `maps`,
        the codes taken as they are (no gradient to stage 2's encoder)."""
        quantized = self.code_vqvae._quantize_latents(maps, False)["quantized"]
        return self.code_vqvae.map_vectors(ops.stop_gradient(quantized))

    def frames(self, vectors):
        """Stage 1's frames of the stage-1 codes nearest `vectors` `(batch,
        height, width, D1)`, with the straight-through gradient; and those
        codes."""
        vq2 = self.code_vqvae
        codes = vq2.nearest_codes(vectors)
        snapped = ops.take(vq2._map_codebook, codes, axis=0)
        passed = vectors + ops.stop_gradient(snapped - vectors)
        vq1 = self.frame_vqvae
        return vq1.decoder(ops.cast(passed, vq1.compute_dtype), training=False), codes

    def _split_data(self, data):
        """`(frames, objects or None)` of a batch."""
        if not isinstance(data, (tuple, list)):
            data = (data,)
        x = data[0]
        objects = data[1] if len(data) > 1 else None
        if self.object_weight > 0 and objects is None:
            raise ValueError("MapHeadTuner(object_weight > 0) trains on (frames, objects) "
                             "batches, objects (batch, height, width) marking each frame's "
                             "object pixels; got frames alone")
        if objects is not None and tuple(objects.shape[1:]) != tuple(x.shape[1:-1]):
            raise ValueError(f"objects {tuple(objects.shape)} must be (batch, height, width) "
                             f"of the frames {tuple(x.shape)}")
        return ops.cast(x, "float32"), objects

    def compute_loss_terms(self, data, training):
        x, objects = self._split_data(data)
        maps = self._maps(x)
        vq2 = self.code_vqvae
        others = {}
        if self.tune == "stage2":
            # Stage 2's own terms on the maps (its codes may move), its map
            # term weighted here instead.
            terms, _, vectors = vq2.loss_terms_and_map(maps, training)
            others = {"reconstruction_loss": terms["reconstruction_loss"],
                      "commitment_loss": terms["commitment_loss"]}
            map_loss = terms["map_loss"]
            rest = terms["loss"] - vq2.map_weight * map_loss
        else:
            vectors = self._frozen_vectors(maps)
            map_loss = vq2.map_vector_loss(vectors, maps)
            rest = 0.0
        params, codes = self.frames(vectors)
        likelihood = self.frame_vqvae.likelihood
        if self.object_weight > 0:
            per_position = likelihood.loss_per_position(x, params)
            frame_loss = ops.mean(per_position)
            mask = ops.cast(objects, "float32")
            object_loss = ops.sum(per_position * mask) / ops.maximum(ops.sum(mask), 1.0)
            weighted = frame_loss + self.object_weight * object_loss
            others.update(object_loss=object_loss, weighted_frame_loss=weighted)
        else:
            frame_loss = weighted = likelihood.loss(x, params)
        scalars = {
            "loss": weighted + self.map_weight * map_loss + rest,
            "frame_loss": frame_loss,
            "map_loss": map_loss,
            "map_accuracy": ops.mean(ops.cast(ops.equal(codes, maps), "float32")),
            **others,
        }
        return scalars, {}

    def call(self, x, training=None):
        """Frames after both stages by the regression decoding."""
        params, _ = self.frames(self._frozen_vectors(self._maps(x)))
        return self.frame_vqvae.likelihood.reconstruct(params)

    def get_config(self):
        config = super().get_config()
        config.update(frame_vqvae=keras.saving.serialize_keras_object(self.frame_vqvae),
                      code_vqvae=keras.saving.serialize_keras_object(self.code_vqvae),
                      map_weight=self.map_weight, tune=self.tune,
                      object_weight=self.object_weight)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("frame_vqvae", "code_vqvae"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)


__all__ = ["MapHeadTuner"]
