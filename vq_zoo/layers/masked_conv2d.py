"""2D convolution with a raster-order causal mask (PixelCNN types A and B)."""

import keras
import numpy as np
from keras import ops

from vq_zoo.utils.checks import check_choice
from vq_zoo.utils.checks import check_int

MASK_TYPES = ("A", "B", "vertical")


def causal_mask(kernel_size, mask_type):
    """The `(kh, kw)` 0/1 mask of a raster-order causal kernel.

    With the centre at `(kh // 2, kw // 2)`: type `"A"` keeps every row above
    the centre and the centre row left of the centre; `"B"` also keeps the
    centre; `"vertical"` keeps every row up to and including the centre row
    (the vertical stack of the gated PixelCNN, whose output is shifted down by
    one row before it reaches the horizontal stack).
    """
    kh, kw = kernel_size
    ch, cw = kh // 2, kw // 2
    mask = np.zeros((kh, kw), dtype="float32")
    mask[:ch, :] = 1.0
    if mask_type == "vertical":
        mask[ch, :] = 1.0
    else:
        mask[ch, :cw] = 1.0
        if mask_type == "B":
            mask[ch, cw] = 1.0
    return mask


@keras.saving.register_keras_serializable(package="vq_zoo")
class MaskedConv2D(keras.layers.Layer):
    """A "same"-padded 2D convolution whose kernel is masked in raster order.

    The mask multiplies the kernel in every call (the stored kernel is never
    overwritten), so an optimizer update to a masked tap has no effect on the
    output and the causal structure holds for any weights. Type `"A"` hides
    the current position (first layer of a PixelCNN), type `"B"` shows it
    (later layers), `"vertical"` shows whole rows up to the current one (the
    vertical stack of the gated PixelCNN). A `(1, k)` kernel of type A or B is
    the horizontal stack's convolution.

    Shape contract: `(batch, height, width, channels)` to
    `(batch, height, width, filters)`.

    Args:
        filters: int, number of output channels.
        kernel_size: odd int or pair of odd ints `(kh, kw)`.
        mask_type: `"A"`, `"B"` or `"vertical"`. Defaults to `"B"`.
        use_bias: bool. Defaults to True.
        kernel_initializer: initializer of the `(kh, kw, channels, filters)`
            kernel.
        bias_initializer: initializer of the bias.
        **kwargs: base layer arguments.

    Example:
    >>> conv = MaskedConv2D(filters=8, kernel_size=3, mask_type="A")
    >>> tuple(conv(keras.ops.zeros((2, 5, 5, 4))).shape)
    (2, 5, 5, 8)

    References:
        van den Oord, Kalchbrenner, Kavukcuoglu. Pixel Recurrent Neural
        Networks. arXiv:1601.06759.
        van den Oord et al. Conditional Image Generation with PixelCNN
        Decoders. arXiv:1606.05328.
    """

    def __init__(
        self,
        filters,
        kernel_size,
        mask_type="B",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_int("filters", filters)
        if isinstance(kernel_size, int):
            kernel_size = (kernel_size, kernel_size)
        kernel_size = tuple(kernel_size)
        if len(kernel_size) != 2 or any(
            not isinstance(k, int) or k < 1 or k % 2 == 0 for k in kernel_size
        ):
            raise ValueError(
                "`kernel_size` must be an odd int or a pair of odd ints, got "
                f"{kernel_size!r}"
            )
        check_choice("mask_type", mask_type, MASK_TYPES)
        self.filters = filters
        self.kernel_size = kernel_size
        self.mask_type = mask_type
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.mask = causal_mask(kernel_size, mask_type)

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None:
            raise ValueError(
                "MaskedConv2D needs a known number of input channels (last "
                f"axis), got shape {tuple(input_shape)}"
            )
        self.kernel = self.add_weight(
            name="kernel",
            shape=self.kernel_size + (channels, self.filters),
            initializer=self.kernel_initializer,
        )
        self.bias = (
            self.add_weight(
                name="bias", shape=(self.filters,), initializer=self.bias_initializer
            )
            if self.use_bias
            else None
        )

    def masked_kernel(self):
        """The kernel times the mask, as used in `call`."""
        mask = ops.convert_to_tensor(self.mask[:, :, None, None], self.kernel.dtype)
        return ops.cast(self.kernel * mask, self.compute_dtype)

    def call(self, x):
        if len(x.shape) != 4:
            raise ValueError(
                "MaskedConv2D expects input of shape (batch, height, width, "
                f"channels), got {tuple(x.shape)}"
            )
        y = ops.conv(x, self.masked_kernel(), strides=1, padding="same")
        if self.use_bias:
            y = y + ops.cast(self.bias, self.compute_dtype)
        return y

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.filters,)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "kernel_size": self.kernel_size,
                "mask_type": self.mask_type,
                "use_bias": self.use_bias,
                "kernel_initializer": keras.initializers.serialize(
                    self.kernel_initializer
                ),
                "bias_initializer": keras.initializers.serialize(
                    self.bias_initializer
                ),
            }
        )
        return config


__all__ = ["MaskedConv2D"]
