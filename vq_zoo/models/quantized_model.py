"""What every vector-quantised model shares: one or more levels of codes."""

import hashlib

import numpy as np
from keras import ops

from vq_zoo.layers.base_vector_quantizer import BaseVectorQuantizer
from vq_zoo.models.task import Task

LOSS_NAMES = ("loss", "reconstruction_loss", "codebook_loss", "commitment_loss")


class QuantizedModel(Task):
    """Base of `VQVAE` and `VQVAE2`: a `Task` with named levels of codes.

    A model with one level (`level_names=("codes",)`) logs `perplexity` and
    `codebook_usage`; a model with several (VQ-VAE-2's `("top", "bottom")`)
    logs `perplexity_<level>` and `codebook_usage_<level>` for each, plus the
    summed `codebook_loss` and `commitment_loss` of all levels.

    `fit` warns once (`CodebookCollapseWarning`, with the fix) when fewer
    than 10% of a level's codes are used in an epoch (`CodebookHealth`;
    pass your own instance in `callbacks` to change the threshold).

    Codes: `encode_levels(x)` always returns a dict from level name to int32
    codes, top level first; `encode(x)` returns the codes themselves for a
    one-level model and that dict otherwise. `codebook_digest()` fingerprints
    every codebook (the pipeline checks that codes on disk were made by the
    model it loads).
    """

    def _init_levels(self, level_names, quantizers):
        level_names = tuple(level_names)
        if len(level_names) != len(quantizers) or len(set(level_names)) != len(level_names):
            raise ValueError(
                f"Need one distinct level name per quantizer, got {level_names} "
                f"for {len(quantizers)} quantizers"
            )
        from vq_zoo.layers.quantizer_outputs import quantizer_classes

        for name, q in zip(level_names, quantizers):
            if not isinstance(q, quantizer_classes()):
                raise ValueError(
                    f"The quantizer of level {name!r} must be a VectorQuantizer or "
                    "VectorQuantizerEMA (or a FiniteScalarQuantizer, "
                    "LookupFreeQuantizer, ResidualVectorQuantizer), got "
                    f"{type(q).__name__}"
                )
        self.level_names = level_names
        self._init_trackers(
            LOSS_NAMES + tuple(self._level_metric("perplexity", n) for n in level_names),
            {self._level_metric("codebook_usage", n): q.num_embeddings
             for n, q in zip(level_names, quantizers)},
        )

    def fit(self, *args, callbacks=None, **kwargs):
        # A collapsed codebook trains without an error: say so, once.
        from vq_zoo.training.codebook_health import CodebookHealth

        callbacks = list(callbacks or [])
        if not any(isinstance(c, CodebookHealth) for c in callbacks):
            callbacks.append(CodebookHealth())
        return super().fit(*args, callbacks=callbacks, **kwargs)

    def _level_metric(self, metric, level):
        return metric if len(self.level_names) == 1 else f"{metric}_{level}"

    @property
    def quantizers(self):
        """The quantizer layers, top level first (one per level name)."""
        raise NotImplementedError

    def _vq_scalars(self, reconstruction_loss, vqs):
        """The loss terms and per-level statistics of one batch; `vqs` are
        the quantizers' output dicts in level order."""
        codebook_loss = sum(vq["codebook_loss"] for vq in vqs)
        commitment_loss = sum(vq["commitment_loss"] for vq in vqs)
        scalars = {
            "loss": reconstruction_loss + codebook_loss + commitment_loss,
            "reconstruction_loss": reconstruction_loss,
            "codebook_loss": codebook_loss,
            "commitment_loss": commitment_loss,
        }
        counts = {}
        for name, vq in zip(self.level_names, vqs):
            scalars[self._level_metric("perplexity", name)] = vq["perplexity"]
            counts[self._level_metric("codebook_usage", name)] = vq["code_counts"]
        return scalars, counts

    def codebook_digest(self):
        """sha256 (hex) of every level's codebook, in level order."""
        h = hashlib.sha256()
        for q in self.quantizers:
            h.update(np.ascontiguousarray(ops.convert_to_numpy(q.codebook)).tobytes())
        return h.hexdigest()

    def encode_levels(self, x, **kwargs):
        """Dict from level name to int32 codes, top level first."""
        raise NotImplementedError

    def encode(self, x, **kwargs):
        codes = self.encode_levels(x, **kwargs)
        return codes[self.level_names[0]] if len(self.level_names) == 1 else codes

    def _codes_by_level(self, codes):
        """Accepts the codes of every level as a dict, a list/tuple in level
        order, or (one level) the codes alone."""
        if isinstance(codes, dict):
            missing = [n for n in self.level_names if n not in codes]
            extra = sorted(set(codes) - set(self.level_names))
            if missing or extra:
                raise ValueError(
                    f"Expected codes for the levels {list(self.level_names)}, got "
                    f"keys {sorted(codes)}"
                )
            return [codes[n] for n in self.level_names]
        if isinstance(codes, (list, tuple)):
            if len(codes) != len(self.level_names):
                raise ValueError(
                    f"Expected {len(self.level_names)} code maps "
                    f"({list(self.level_names)}), got {len(codes)}"
                )
            return list(codes)
        if len(self.level_names) != 1:
            raise ValueError(
                f"This model has {len(self.level_names)} levels "
                f"{list(self.level_names)}: pass a dict of code maps."
            )
        return [codes]


__all__ = ["QuantizedModel", "LOSS_NAMES"]
