"""A speaker classifier on code latents, and the confusion loss that trains
the encoder to make the codes useless for telling the speaker."""

import keras
from keras import ops

from vq_zoo.utils.checks import check_int


@keras.saving.register_keras_serializable(package="vq_zoo")
class SpeakerAdversary(keras.layers.Layer):
    """Speaker logits of a clip from its latents: a per-step MLP (`hidden`
    units, ReLU) to `num_speakers` logits, averaged over the steps (a
    bag-of-codes classifier, like a probe on code histograms).

    `losses(latents, speakers)` gives two terms: the classifier's own
    cross-entropy on the latents with their gradient stopped (it learns to
    tell the speaker, the encoder is untouched), and `weight` times the
    confusion loss, the cross-entropy between the uniform distribution and
    the classifier's prediction computed with the classifier's weights
    frozen (the encoder alone is pushed to make every speaker equally
    likely). Uniform, rather than a reversed gradient (Ganin et al.), since
    a reversed gradient lets the encoder fool the classifier by flipping the
    speaker, which keeps the information. The decoder gets the speaker as a
    condition, so the codes lose nothing it needs.

    Shape contract: `(batch, steps, dim)` to logits `(batch, num_speakers)`.

    Args:
        num_speakers: int.
        hidden: int, units of the hidden layer. Defaults to 128.
        weight: float >= 0, the confusion loss's weight. Defaults to 0.5.
        **kwargs: base layer arguments.

    Example:
    >>> adversary = SpeakerAdversary(num_speakers=4, hidden=8)
    >>> tuple(adversary(keras.ops.zeros((2, 5, 3))).shape)
    (2, 4)

    References:
        Ganin et al. Domain-Adversarial Training of Neural Networks.
        arXiv:1505.07818.
        Tzeng et al. Simultaneous Deep Transfer Across Domains and Tasks
        (the confusion loss). arXiv:1510.02192.
    """

    def __init__(self, num_speakers, hidden=128, weight=0.5, **kwargs):
        super().__init__(**kwargs)
        self.num_speakers = check_int("num_speakers", num_speakers, numpy=True)
        self.hidden = check_int("hidden", hidden, numpy=True)
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight < 0:
            raise ValueError(f"`weight` must be a number >= 0, got {weight!r}")
        self.weight = float(weight)
        self.hidden_layer = keras.layers.Dense(self.hidden, activation="relu",
                                               dtype=self.dtype_policy, name="hidden")
        self.logits_layer = keras.layers.Dense(self.num_speakers, dtype=self.dtype_policy,
                                               name="logits")

    def build(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(f"SpeakerAdversary expects (batch, steps, dim), got "
                             f"{tuple(input_shape)}")
        self.hidden_layer.build(input_shape)
        self.logits_layer.build(tuple(input_shape[:-1]) + (self.hidden,))

    def call(self, latents):
        return ops.mean(self.logits_layer(self.hidden_layer(latents)), axis=1)

    def _frozen_logits(self, latents):
        h = self.hidden_layer
        o = self.logits_layer
        x = ops.relu(ops.matmul(latents, ops.stop_gradient(h.kernel))
                     + ops.stop_gradient(h.bias))
        x = ops.matmul(x, ops.stop_gradient(o.kernel)) + ops.stop_gradient(o.bias)
        return ops.mean(x, axis=1)

    def losses_of(self, latents, speakers):
        """`(classifier_loss, weighted_confusion_loss)`, float32 scalars."""
        import keras

        latents = ops.cast(latents, self.compute_dtype)
        logits = ops.cast(self(ops.stop_gradient(latents)), "float32")
        classifier = ops.mean(keras.losses.sparse_categorical_crossentropy(
            ops.cast(speakers, "int32"), logits, from_logits=True))
        frozen = ops.cast(self._frozen_logits(latents), "float32")
        # Cross-entropy to the uniform distribution: logsumexp - mean.
        confusion = ops.mean(ops.logsumexp(frozen, axis=-1) - ops.mean(frozen, axis=-1))
        return classifier, self.weight * confusion

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_speakers)

    def get_config(self):
        config = super().get_config()
        config.update(num_speakers=self.num_speakers, hidden=self.hidden,
                      weight=self.weight)
        return config


__all__ = ["SpeakerAdversary"]
