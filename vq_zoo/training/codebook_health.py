"""A warning, once per `fit`, when a codebook has collapsed."""

import warnings

import keras


class CodebookCollapseWarning(UserWarning):
    """Category of the warning `CodebookHealth` gives."""


class CodebookHealth(keras.callbacks.Callback):
    """Warns once, in plain words and with the fix, when the fraction of
    codes used in an epoch (`codebook_usage`, or `codebook_usage_<level>`)
    falls below `min_usage`.

    A collapsed codebook (a few codes doing all the work) trains without an
    error and looks fine in the loss; it is the most common way a VQ-VAE
    silently fails. Every `fit` of a `VQVAE` / `VQVAE2` adds this callback
    unless one is given.

    Args:
        min_usage: float in (0, 1), the usage below which to warn. Defaults
            to 0.1 (under 10% of the codes used).
    """

    def __init__(self, min_usage=0.1):
        super().__init__()
        if isinstance(min_usage, bool) or not 0 < float(min_usage) < 1:
            raise ValueError(f"`min_usage` must be in (0, 1), got {min_usage!r}")
        self.min_usage = float(min_usage)
        self.warned = False

    def on_train_begin(self, logs=None):
        self.warned = False

    def on_epoch_end(self, epoch, logs=None):
        if self.warned or not logs:
            return
        low = {
            name: float(value) for name, value in logs.items()
            if name.startswith("codebook_usage") and float(value) < self.min_usage
        }
        if not low:
            return
        self.warned = True
        sizes = {}
        for q, level in zip(getattr(self.model, "quantizers", []),
                            getattr(self.model, "level_names", [])):
            name = "codebook_usage" if len(self.model.level_names) == 1 else f"codebook_usage_{level}"
            sizes[name] = q.num_embeddings
        parts = [
            f"{value:.1%} of the {sizes.get(name, '?')} codes ({name})"
            for name, value in sorted(low.items())
        ]
        warnings.warn(
            f"Codebook collapse: only {', '.join(parts)} were used in epoch "
            f"{epoch + 1}, so most codes carry no information. Fix: restart dead "
            "codes and initialise the codebook from the data, e.g. "
            "`quantizer_kwargs=dict(kmeans_init=True, dead_code_threshold=1.0)` "
            "(a code used less than once a batch restarts; the README's quickstart "
            "measures it against the weaker 0.01, which collapsed), or use a "
            "smaller `num_embeddings` or a lower learning rate. (This warning is "
            "given once per fit.)",
            CodebookCollapseWarning, stacklevel=2,
        )


__all__ = ["CodebookHealth", "CodebookCollapseWarning"]
