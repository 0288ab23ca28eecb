"""ResidualStack: the same function as `relu`-based residual blocks (values
and gradients, bit for bit in eager mode), a graph TensorFlow's remapper can
fuse, and integer arguments that refuse bools."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from vq_zoo.layers.residual_stack import ResidualStack
from vq_zoo.models.vqvae.vqvae_image_decoder import VQVAEImageDecoder
from vq_zoo.models.vqvae.vqvae_image_encoder import VQVAEImageEncoder


def reference(stack, x):
    """The paper's blocks written out with `tf.nn.relu` on the stack's own
    convolutions: `x <- x + conv1(relu(conv3(relu(x))))`, then `relu`."""
    for conv3, conv1 in stack.blocks:
        x = x + conv1(tf.nn.relu(conv3(tf.nn.relu(x))))
    return tf.nn.relu(x)


def values_and_grads(fn, stack, x):
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = fn(stack, x)
        # A loss whose gradient is non-zero and uneven.
        loss = tf.reduce_sum(y * tf.reshape(tf.range(tf.size(y), dtype=y.dtype), y.shape))
    return [y] + tape.gradient(loss, [x] + stack.trainable_weights)


@pytest.mark.parametrize("num_residual_layers", [0, 1, 3])
def test_same_values_and_gradients_as_relu_blocks(num_residual_layers):
    keras.utils.set_random_seed(1)
    stack = ResidualStack(8, num_residual_layers, 4)
    x = np.random.default_rng(0).normal(size=(2, 5, 5, 8)).astype("float32")
    # Exact zeros on the residual stream, where ReLU's gradient is 0 (a
    # `maximum(x, 0)` autodiff would pass it): zero inputs and biases keep
    # the stream at 0 in the first rows.
    x[:, :2] = 0.0
    x = tf.constant(x)
    stack.build(x.shape)
    got = values_and_grads(lambda s, v: s(v), stack, x)
    want = values_and_grads(reference, stack, x)
    assert float(tf.reduce_sum(tf.cast(got[0] == 0.0, "float32"))) > 0
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g.numpy(), w.numpy())


def test_stream_relu_matches_relu_on_special_values():
    from vq_zoo.layers.residual_stack import _stream_relu

    x = tf.constant([np.nan, -0.0, 0.0, -1.5, 2.0, np.inf, -np.inf], "float32")
    upstream = tf.constant([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, np.nan], "float32")
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        got, want = _stream_relu(x), tf.nn.relu(x)
    np.testing.assert_array_equal(got.numpy(), want.numpy())
    np.testing.assert_array_equal(np.signbit(got.numpy()), np.signbit(want.numpy()))
    np.testing.assert_array_equal(
        tape.gradient(got, x, upstream).numpy(), tape.gradient(want, x, upstream).numpy()
    )


def test_graph_has_no_relu_on_a_shared_sum():
    """The remapper's failing pattern: a `Relu` reading an `AddV2` that has
    another consumer (it fuses the pair and deletes the sum, then fails the
    whole pass). The stack's training graph must not contain it, while the
    stock formulation does (so the check can fail)."""
    stack = ResidualStack(8, 3, 4)
    x = tf.zeros((2, 4, 4, 8))
    stack.build(x.shape)

    def offending(fn):
        def step(x):
            with tf.GradientTape() as tape:
                y = fn(stack, x)
                loss = tf.reduce_sum(y * y)
            return tape.gradient(loss, stack.trainable_weights)

        graph = tf.function(step).get_concrete_function(x).graph.as_graph_def()
        consumers = {}
        for node in graph.node:
            for name in node.input:
                consumers.setdefault(name.split(":")[0], set()).add(node.name)
        ops_ = {node.name: node.op for node in graph.node}
        return [
            node.name
            for node in graph.node
            if node.op == "Relu"
            and ops_.get(node.input[0].split(":")[0]) == "AddV2"
            and len(consumers[node.input[0].split(":")[0]]) > 1
        ]

    assert offending(lambda s, v: s(v)) == []
    assert len(offending(reference)) == 2


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(num_hiddens=True, num_residual_layers=1, num_residual_hiddens=4), "num_hiddens"),
        (dict(num_hiddens=8, num_residual_layers=False, num_residual_hiddens=4),
         "num_residual_layers"),
        (dict(num_hiddens=8, num_residual_layers=1, num_residual_hiddens=True),
         "num_residual_hiddens"),
    ],
)
def test_residual_stack_refuses_bools(kwargs, name):
    with pytest.raises(ValueError, match=rf"`{name}` must be an integer >= \d\. "
                       rf"Received: {name}=(True|False) \(a bool is not accepted"):
        ResidualStack(**kwargs)


def test_residual_stack_refuses_bad_values():
    with pytest.raises(ValueError, match=r"`num_residual_layers` must be an integer >= 0. "
                       r"Received: num_residual_layers=-1$"):
        ResidualStack(8, -1, 4)
    with pytest.raises(ValueError, match=r"`num_hiddens` must be an integer >= 1. "
                       r"Received: num_hiddens=2.0$"):
        ResidualStack(2.0, 1, 4)
    with pytest.raises(ValueError, match=r"`rank` must be 1, 2 or 3, got True"):
        ResidualStack(8, 1, 4, rank=True)
    # Booleans are the only ints refused: 0 blocks is a valid stack.
    assert ResidualStack(8, 0, 4).num_residual_layers == 0


@pytest.mark.parametrize("cls, last", [
    (VQVAEImageEncoder, ("embedding_dim", "num_downsamples")),
    (VQVAEImageDecoder, ("output_channels", "num_upsamples")),
])
def test_encoder_and_decoder_refuse_bools(cls, last):
    good = dict(num_hiddens=8, num_residual_layers=1, num_residual_hiddens=4)
    good.update({last[0]: 3, last[1]: 1})
    cls(**good)
    for name in good:
        with pytest.raises(ValueError, match=rf"`{name}` must be an integer >= \d\. "
                           rf"Received: {name}=True \(a bool is not accepted"):
            cls(**{**good, name: True})
