"""The 1D causal gated block (WaveNet style) for sequences of codes."""

import keras
from keras import ops

from vq_zoo.utils.checks import check_int

from vq_zoo.layers.gated_pixelcnn_block import gate


@keras.saving.register_keras_serializable(package="vq_zoo")
class CausalGatedBlock(keras.layers.Layer):
    """A dilated causal convolution with the gated PixelCNN's gate,
    residual and skip connections, as in WaveNet.

    `z = tanh(W_f * x + V_f c) * sigmoid(W_g * x + V_g c)`; the block returns
    `x + W_r z` and the skip `W_s z`. The convolution is causal: the output at
    time `t` sees inputs `t, t - d, ..., t - (k - 1) d`. (A model makes the
    whole stack strictly causal by shifting its input one step right.) `c` is
    an optional global vector added at every step (speaker, action) and an
    optional local condition sequence added through a 1x1 convolution.

    Shape contract: `call(x, condition=None, local_condition=None)` with `x` of
    shape `(batch, time, filters)`, `condition` `(batch, condition_dim)` and
    `local_condition` `(batch, time, local_condition_dim)` returns
    `(out, skip)`, both `(batch, time, filters)`.

    Incremental use (WaveNet generation): `state = block.initial_state(batch,
    condition)`, then `(out_t, skip_t), state = block.step(x_t, state, t,
    local_condition_t)` for `t = 0, 1, ...`; the state is a queue of the last
    `dilation_rate * (kernel_size - 1)` inputs, so a step costs
    `kernel_size` taps, not the receptive field.

    Args:
        filters: int, channels of the input and output.
        kernel_size: int >= 1, taps of the causal convolution. Defaults to 2.
        dilation_rate: int >= 1, spacing of the taps. Defaults to 1.
        condition_dim: int or None, size of the global condition vector.
        local_condition_dim: int or None, channels of the local condition.
        **kwargs: base layer arguments.

    Example:
    >>> block = CausalGatedBlock(filters=8, dilation_rate=2)
    >>> out, skip = block(keras.ops.zeros((2, 10, 8)))
    >>> tuple(out.shape)
    (2, 10, 8)

    References:
        van den Oord et al. WaveNet: A Generative Model for Raw Audio.
        arXiv:1609.03499.
        Paine et al. Fast Wavenet Generation Algorithm. arXiv:1611.09482.
        van den Oord et al. Conditional Image Generation with PixelCNN
        Decoders. arXiv:1606.05328.
    """

    def __init__(
        self,
        filters,
        kernel_size=2,
        dilation_rate=1,
        condition_dim=None,
        local_condition_dim=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        for name, value in [
            ("filters", filters),
            ("kernel_size", kernel_size),
            ("dilation_rate", dilation_rate),
        ]:
            check_int(name, value)
        for name, value in [
            ("condition_dim", condition_dim),
            ("local_condition_dim", local_condition_dim),
        ]:
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(
                    f"`{name}` must be None or an integer >= 1, got {value!r}"
                )
        self.filters = filters
        self.kernel_size = kernel_size
        self.dilation_rate = dilation_rate
        self.condition_dim = condition_dim
        self.local_condition_dim = local_condition_dim

        def dense(units, name, use_bias=True):
            return keras.layers.Dense(
                units, use_bias=use_bias, dtype=self.dtype_policy, name=name
            )

        self.causal_conv = keras.layers.Conv1D(
            2 * filters, kernel_size, dilation_rate=dilation_rate,
            padding="causal", dtype=self.dtype_policy, name="causal_conv",
        )
        self.residual_output = dense(filters, "residual_output")
        self.skip_output = dense(filters, "skip_output")
        self.global_condition = (
            dense(2 * filters, "global_condition", False)
            if condition_dim is not None
            else None
        )
        self.local_condition = (
            dense(2 * filters, "local_condition", False)
            if local_condition_dim is not None
            else None
        )

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) != 3 or input_shape[-1] != self.filters:
            raise ValueError(
                f"CausalGatedBlock expects (batch, time, {self.filters}) inputs "
                f"(`filters` channels), got shape {input_shape}"
            )
        self.causal_conv.build(input_shape)
        self.residual_output.build(input_shape)
        self.skip_output.build(input_shape)
        if self.condition_dim is not None:
            self.global_condition.build((None, self.condition_dim))
        if self.local_condition_dim is not None:
            self.local_condition.build(input_shape[:-1] + (self.local_condition_dim,))

    @property
    def receptive_field(self):
        """Number of input steps the output at one step sees."""
        return (self.kernel_size - 1) * self.dilation_rate + 1

    def condition_terms(self, condition=None, local_condition=None):
        """The conditioning added to the pre-activations, broadcastable to
        `(batch, time, 2 * filters)` (0 without conditioning); it does not
        depend on the codes, so a sampler computes it once."""
        term = 0.0
        if self.condition_dim is not None:
            if condition is None:
                raise ValueError(
                    f"This block was built with `condition_dim`={self.condition_dim}; "
                    "pass `condition`."
                )
            term = self.global_condition(condition)[:, None, :]
        if self.local_condition_dim is not None:
            if local_condition is None:
                raise ValueError(
                    "This block was built with `local_condition_dim`="
                    f"{self.local_condition_dim}; pass `local_condition`."
                )
            term = term + self.local_condition(local_condition)
        return term

    def gated_output(self, x, pre):
        """`(x + W_r z, W_s z)` from the pre-activations `pre` (with the
        conditioning already added): shared by `call` and the samplers."""
        z = gate(pre)
        return x + self.residual_output(z), self.skip_output(z)

    def call(self, x, condition=None, local_condition=None):
        pre = self.causal_conv(x) + self.condition_terms(condition, local_condition)
        return self.gated_output(x, pre)

    # ---------------------------------------------------------- stepping
    @property
    def queue_length(self):
        """Past inputs the block keeps while stepping: `dilation_rate *
        (kernel_size - 1)`."""
        return self.dilation_rate * (self.kernel_size - 1)

    def initial_state(self, batch_size, condition=None, dtype=None):
        """The block's cache before the first step (Fast WaveNet's queue).

        Args:
            batch_size: int or scalar tensor.
            condition: `(batch, condition_dim)` global condition, or None;
                its projection is computed here once.
            dtype: dtype of the queue. Defaults to the compute dtype.

        Returns:
            A dict: `"queue"`, `(batch, queue_length, filters)`, the last
            `queue_length` inputs in a ring indexed by time (zeros before
            the start), and with a global condition its projection
            `"global_term"`, `(batch, 2 * filters)`.
        """
        dtype = dtype or self.compute_dtype
        state = {"queue": ops.zeros((batch_size, self.queue_length, self.filters), dtype)}
        if self.condition_dim is not None:
            if condition is None:
                raise ValueError(
                    f"This block was built with `condition_dim`={self.condition_dim}; "
                    "pass `condition`."
                )
            state["global_term"] = ops.cast(self.global_condition(condition), dtype)
        return state

    def step(self, inputs, state, index, local_condition=None):
        """One time step: the output of `call` at `index` from the input at
        `index` and the cached past inputs, in `O(kernel_size)` work whatever
        the dilation (Paine et al. 2016).

        Args:
            inputs: `(batch, filters)`, the input at time `index`.
            state: the block's cache (`initial_state`, then each step's).
            index: int scalar, the time step (0, 1, 2, ... in order).
            local_condition: `(batch, local_condition_dim)`, the local
                condition at `index`; required with `local_condition_dim`.

        Returns:
            `((out, skip), state)`, outputs `(batch, filters)`.
        """
        queue = state["queue"]
        dtype = queue.dtype
        inputs = ops.cast(inputs, dtype)
        k, d, length = self.kernel_size, self.dilation_rate, self.queue_length
        kernel = ops.cast(self.causal_conv.kernel, dtype)
        pre = ops.matmul(inputs, kernel[k - 1]) + ops.cast(self.causal_conv.bias, dtype)
        if length:
            # Tap m sees time index - (k - 1 - m) * d, kept at that time mod
            # length; times before 0 land on slots not yet written (zeros).
            times = index - (k - 1 - ops.arange(k - 1, dtype="int32")) * d
            past = ops.take(queue, times % length, axis=1)
            pre = pre + ops.einsum("bkc,kco->bo", past, kernel[: k - 1])
            queue = ops.slice_update(queue, (0, index % length, 0), inputs[:, None])
        if "global_term" in state:
            pre = pre + state["global_term"]
        if self.local_condition_dim is not None:
            if local_condition is None:
                raise ValueError(
                    "This block was built with `local_condition_dim`="
                    f"{self.local_condition_dim}; pass `local_condition`."
                )
            pre = pre + ops.cast(self.local_condition(local_condition), dtype)
        return self.gated_output(inputs, pre), dict(state, queue=queue)

    def compute_output_shape(self, input_shape, *args, **kwargs):
        shape = tuple(input_shape)
        return shape, shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "kernel_size": self.kernel_size,
                "dilation_rate": self.dilation_rate,
                "condition_dim": self.condition_dim,
                "local_condition_dim": self.local_condition_dim,
            }
        )
        return config


__all__ = ["CausalGatedBlock"]
