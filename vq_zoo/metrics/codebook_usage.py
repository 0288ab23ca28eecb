"""Fraction of the codebook used over an epoch."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="vq_zoo")
class CodebookUsage(keras.metrics.Metric):
    """Fraction of codes used at least once since the last reset.

    Batch perplexity only says how evenly one batch spreads over the codes;
    this metric accumulates the code counts of every batch of the epoch
    (Keras resets it each epoch), so a codebook that rotates through a few
    codes per batch is not mistaken for a healthy one. Feed it the global
    (all-reduced) counts a quantiser returns as `"code_counts"`: the result is
    then the same on every replica.

    Args:
        num_embeddings: int, codebook size `K`.
        name: metric name. Defaults to `"codebook_usage"`.

    Example:
    >>> m = CodebookUsage(4)
    >>> m.update_state([3.0, 0.0, 1.0, 0.0])
    >>> float(m.result())
    0.5
    """

    def __init__(self, num_embeddings, name="codebook_usage", **kwargs):
        super().__init__(name=name, **kwargs)
        self.num_embeddings = num_embeddings
        self.counts = self.add_variable(
            shape=(num_embeddings,), initializer="zeros", name="counts"
        )

    def update_state(self, code_counts):
        code_counts = ops.cast(ops.convert_to_tensor(code_counts), self.dtype)
        self.counts.assign_add(code_counts)

    def result(self):
        return ops.mean(ops.cast(self.counts > 0, self.dtype))

    def reset_state(self):
        self.counts.assign(ops.zeros((self.num_embeddings,), dtype=self.dtype))

    def get_config(self):
        return {"num_embeddings": self.num_embeddings, "name": self.name}
