"""A layer made of sub-layers applied one after another."""

import keras


class LayerChain(keras.layers.Layer):
    """Base of layers that apply `self.chain()` in order (the VQ-VAE encoder
    and decoder): builds each sub-layer on the previous one's output shape,
    so the whole chain is built, with every weight, from an input shape
    alone. Subclasses create their sub-layers in `__init__`, return them from
    `chain()`, and may check the input shape in `check_input_shape`."""

    def chain(self):
        raise NotImplementedError

    def check_input_shape(self, input_shape):
        """Raises a ValueError for an input shape the layer cannot take."""

    def build(self, input_shape):
        self.check_input_shape(input_shape)
        shape = input_shape
        for layer in self.chain():
            layer.build(shape)
            shape = layer.compute_output_shape(shape)

    def call(self, x):
        for layer in self.chain():
            x = layer(x)
        return x

    def compute_output_shape(self, input_shape):
        shape = input_shape
        for layer in self.chain():
            shape = layer.compute_output_shape(shape)
        return tuple(shape)
