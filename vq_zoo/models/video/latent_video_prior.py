"""The next-frame prior of a latent video model: a gated PixelCNN over frame
t's codes whose spatial condition (the past frames' codebook vectors and the
action broadcast over the grid) goes through a dilated, action-aware
conditioning network."""

import keras
from keras import ops

from vq_zoo.models.gated_pixelcnn.gated_pixelcnn_prior import GatedPixelCNNPrior

ACTION_KINDS = (None, "discrete", "continuous")


def _parse_dilations(dilations):
    if isinstance(dilations, str):
        try:
            dilations = tuple(int(d) for d in dilations.split(",") if d.strip())
        except ValueError:
            dilations = None
    if (not isinstance(dilations, (tuple, list)) or not dilations
            or any(isinstance(d, bool) or not isinstance(d, int) or d < 1
                   for d in dilations)):
        raise ValueError(
            "`conditioning_dilations` must be a non-empty sequence of integers >= 1 "
            f"(or a string such as '1,2,4'), got {dilations!r}")
    return tuple(int(d) for d in dilations)


@keras.saving.register_keras_serializable(package="vq_zoo")
class LatentVideoPrior(GatedPixelCNNPrior):
    """`GatedPixelCNNPrior` over frame t's `(h, w)` codes given the last
    `history` frames and the action taken at frame t-1.

    The spatial condition is a float map `(h, w, history * embedding_dim +
    action_channels)`: the past frames' codebook vectors stacked along the
    channels, oldest first, then the action broadcast over the grid (a
    one-hot of `action_dim` channels for discrete actions, the vector for
    continuous ones; none for `action_kind=None`). Before the gated blocks
    read it (each through its own 1x1 projection, at every position) it
    goes through a conditioning network that can move content across the
    grid as the action commands (a turn pans the view by several codes):
    a 1x1 convolution to `conditioning_filters` channels, then one residual
    block per entry of `conditioning_dilations`, `h + conv1x1(relu(conv3x3
    _dilated([relu(h), action])))` (the action is concatenated again at
    every block, so each block's units can switch on per action), then a
    zero-initialised 1x1 projection added to the map (the network starts
    as the identity). The receptive field is `1 + 2 * sum(dilations)`
    codes wide. The action is also a global condition of every gated block
    (`num_classes` / `condition_dim`, as in `GatedPixelCNNPrior`).

    The network runs once per frame: the cached sampler computes the
    conditioning terms once, before the frame's positions are drawn.

    Shape contract: as `GatedPixelCNNPrior`, with `call({"codes": (batch,
    h, w) ints, "condition": (batch,) ints or (batch, action_dim) floats,
    "spatial_condition": (batch, h, w, channels) floats})` (no "condition"
    without actions). `LatentVideoModel` builds these inputs.

    Args:
        num_embeddings: int, the frame VQ-VAE's number of codes.
        shape: `(h, w)` of its code maps.
        embedding_dim: int, its codebook vectors' size.
        history: int >= 1, past frames seen.
        action_kind: "discrete", "continuous" or None.
        action_dim: int >= 1, number of discrete actions or the vector's
            size (ignored without actions).
        conditioning_filters: int >= 1, channels of the conditioning
            network.
        conditioning_dilations: sequence of ints >= 1 (or a string "1,2,4"),
            one residual block per entry.
        **kwargs: more `GatedPixelCNNPrior` arguments (`filters`,
            `num_layers`, `kernel_size`, `output_filters`, `attention_every`,
            `dropout`, `name`, ...).

    Example:
    >>> prior = LatentVideoPrior(16, (4, 4), embedding_dim=4, history=2,
    ...                          action_kind="discrete", action_dim=6,
    ...                          filters=8, num_layers=2)
    >>> prior.spatial_condition_shape
    (4, 4, 14)

    References:
        van den Oord, Vinyals, Kavukcuoglu. Neural Discrete Representation
        Learning. arXiv:1711.00937 (section 4.4).
        Yu, Koltun. Multi-Scale Context Aggregation by Dilated Convolutions.
        arXiv:1511.07122.
    """

    def __init__(self, num_embeddings, shape, embedding_dim, history=2,
                 action_kind="discrete", action_dim=6, conditioning_filters=64,
                 conditioning_dilations=(1, 2, 4), **kwargs):
        for name, value in [("embedding_dim", embedding_dim), ("history", history),
                            ("conditioning_filters", conditioning_filters)]:
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"`{name}` must be an integer >= 1, got {value!r}")
        if action_kind not in ACTION_KINDS:
            raise ValueError(
                f"`action_kind` must be one of {ACTION_KINDS}, got {action_kind!r}")
        if action_kind is not None and (
                isinstance(action_dim, bool) or not isinstance(action_dim, int)
                or action_dim < 1):
            raise ValueError(f"`action_dim` must be an integer >= 1, got {action_dim!r}")
        for derived in ("condition_dim", "num_classes", "spatial_condition_shape",
                        "spatial_condition_classes", "conditioning_layers"):
            if kwargs.pop(derived, None) is not None:
                raise ValueError(
                    f"`{derived}` is set by LatentVideoPrior itself (from "
                    "`embedding_dim`, `history`, `action_kind` and `action_dim`)")
        dilations = _parse_dilations(conditioning_dilations)
        shape = tuple(shape) if isinstance(shape, (tuple, list)) else shape
        channels = (action_dim if action_kind is not None else 0)
        # Read by `build`, which the base class's `__init__` calls.
        self.embedding_dim = embedding_dim
        self.history_frames = history
        self.action_kind = action_kind
        self.action_dim = action_dim if action_kind is not None else None
        self.action_channels = channels
        self.conditioning_filters = conditioning_filters
        self.conditioning_dilations = dilations
        super().__init__(
            num_embeddings, shape,
            num_classes=action_dim if action_kind == "discrete" else None,
            condition_dim=action_dim if action_kind == "continuous" else None,
            spatial_condition_shape=tuple(shape) + (history * embedding_dim + channels,),
            **kwargs)

    def build(self, input_shape=None):
        if self.built:
            return
        # The conditioning network, made here because the base class's
        # `__init__` builds the model (a forward pass on a dummy batch).
        if not hasattr(self, "motion_in"):
            f, width = self.conditioning_filters, self.spatial_condition_shape[-1]
            self.motion_in = keras.layers.Conv2D(
                f, 1, dtype=self.dtype_policy, name="motion_in")
            self.motion_convs = [
                keras.layers.Conv2D(f, 3, padding="same", dilation_rate=d,
                                    dtype=self.dtype_policy, name=f"motion_conv{i}")
                for i, d in enumerate(self.conditioning_dilations)]
            self.motion_mixes = [
                keras.layers.Conv2D(f, 1, dtype=self.dtype_policy, name=f"motion_mix{i}")
                for i in range(len(self.conditioning_dilations))]
            self.motion_out = keras.layers.Conv2D(
                width, 1, kernel_initializer="zeros", dtype=self.dtype_policy,
                name="motion_out")
        super().build(input_shape)

    def _condition_stack(self, spatial):
        if spatial is None:
            return spatial
        a = self.action_channels
        action = spatial[..., -a:] if a else None
        h = self.motion_in(spatial)
        for conv, mix in zip(self.motion_convs, self.motion_mixes):
            y = keras.activations.relu(h)
            if action is not None:
                y = ops.concatenate([y, action], axis=-1)
            h = h + mix(keras.activations.relu(conv(y)))
        return spatial + self.motion_out(keras.activations.relu(h))

    def get_config(self):
        config = super().get_config()
        for derived in ("condition_dim", "num_classes", "spatial_condition_shape",
                        "spatial_condition_classes", "conditioning_layers"):
            config.pop(derived, None)
        config.update({
            "embedding_dim": self.embedding_dim,
            "history": self.history_frames,
            "action_kind": self.action_kind,
            "action_dim": self.action_dim if self.action_kind is not None else 1,
            "conditioning_filters": self.conditioning_filters,
            "conditioning_dilations": list(self.conditioning_dilations),
        })
        return config


__all__ = ["LatentVideoPrior"]
