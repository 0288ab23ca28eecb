"""Mean squared error, normalised by the data variance."""

import keras
from keras import ops

from vq_zoo.likelihoods.likelihood import Likelihood
from vq_zoo.likelihoods.likelihood import register


@register("mse")
@keras.saving.register_keras_serializable(package="vq_zoo")
class MeanSquaredError(Likelihood):
    """`mean((x - x_hat) ** 2) / data_variance`: the VQ-VAE paper's CIFAR-10
    reconstruction loss (a Gaussian decoder with fixed variance, up to
    constants).

    Args:
        data_variance: float > 0, the variance of the training data; 1.0
            gives plain MSE.
    """

    def __init__(self, data_variance=1.0):
        if not data_variance > 0:
            raise ValueError(
                "`data_variance` must be > 0. "
                f"Received: data_variance={data_variance!r}"
            )
        self.data_variance = float(data_variance)

    def output_channels(self, channels):
        return channels

    def loss(self, x, params):
        x = ops.cast(x, "float32")
        params = ops.cast(params, "float32")
        return ops.mean(ops.square(x - params)) / self.data_variance

    def loss_per_position(self, x, params):
        x = ops.cast(x, "float32")
        params = ops.cast(params, "float32")
        return ops.mean(ops.square(x - params), axis=-1) / self.data_variance

    def reconstruct(self, params):
        return params

    def get_config(self):
        return {"data_variance": self.data_variance}
