"""The next-frame prior of a latent video model: a gated PixelCNN over frame
t's codes whose spatial condition (the past frames' codebook vectors and the
action broadcast over the grid) goes through a dilated, action-aware
conditioning network."""

import keras
from keras import ops

from vq_zoo.models.gated_pixelcnn.gated_pixelcnn_prior import GatedPixelCNNPrior
from vq_zoo.utils.checks import check_choice
from vq_zoo.utils.checks import check_int

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

    Classifier-free guidance (Ho & Salimans 2022; discrete actions):
    `null_action=True` adds a "no action" condition, the label `action_dim`
    (one more row of the label embedding, `num_classes = action_dim + 1`)
    with all-zero action channels in the spatial map (no real action's
    one-hot is zero), which the prior learns when its training data replace
    some examples' actions by it (`LatentVideoModel.drop_actions`, the video
    recipe's `action_dropout`). `sample(..., guidance=s)` then draws from
    `l_uncond + s * (l_cond - l_uncond)`: the conditional and the no-action
    logits from one cached pass over a doubled batch
    (`vq_zoo.generation.sampler.guided_step`); `s = 1` is plain conditional
    sampling (exactly), `s > 1` makes the action count more.

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
        null_action: bool, also learn the "no action" condition (label
            `action_dim`, zero action channels) for classifier-free
            guidance; discrete actions only. Defaults to False.
        **kwargs: more `GatedPixelCNNPrior` arguments (`filters`,
            `num_layers`, `kernel_size`, `output_filters`, `attention_every`,
            `dropout`, `name`, ...).

    Example:
    >>> prior = LatentVideoPrior(16, (4, 4), embedding_dim=4, history=2,
    ...                          action_kind="discrete", action_dim=6,
    ...                          filters=8, num_layers=2)
    >>> prior.spatial_condition_shape
    (4, 4, 14)
    >>> guided = LatentVideoPrior(16, (4, 4), embedding_dim=4, history=2,
    ...                           action_dim=6, filters=8, num_layers=2,
    ...                           null_action=True)
    >>> codes = guided.sample(1, condition, guidance=3.0, seed=0)

    References:
        van den Oord, Vinyals, Kavukcuoglu. Neural Discrete Representation
        Learning. arXiv:1711.00937 (section 4.4).
        Yu, Koltun. Multi-Scale Context Aggregation by Dilated Convolutions.
        arXiv:1511.07122.
        Ho, Salimans. Classifier-Free Diffusion Guidance. arXiv:2207.12598.
    """

    def __init__(self, num_embeddings, shape, embedding_dim, history=2,
                 action_kind="discrete", action_dim=6, conditioning_filters=64,
                 conditioning_dilations=(1, 2, 4), null_action=False, **kwargs):
        for name, value in [("embedding_dim", embedding_dim), ("history", history),
                            ("conditioning_filters", conditioning_filters)]:
            check_int(name, value)
        check_choice("action_kind", action_kind, ACTION_KINDS)
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
        if not isinstance(null_action, bool):
            raise ValueError(f"`null_action` must be True or False, got {null_action!r}")
        if null_action and action_kind != "discrete":
            raise ValueError(
                "`null_action` (the no-action condition of classifier-free guidance) "
                f"needs discrete actions, got action_kind={action_kind!r}")
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
        self.null_action = null_action
        super().__init__(
            num_embeddings, shape,
            num_classes=(action_dim + int(null_action) if action_kind == "discrete"
                         else None),
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

    # ---------------------------------------------------------- guidance
    @property
    def null_label(self):
        """The "no action" label (`action_dim`), or None without
        `null_action`."""
        return self.action_dim if self.null_action else None

    def null_condition(self, condition):
        """`condition` (a dict with `"condition"` labels and
        `"spatial_condition"`, as `sample` takes) with every action replaced
        by the "no action" condition: the labels by `null_label`, the
        spatial map's action channels (its last `action_dim`) by zeros; the
        past frames' channels are kept."""
        if not self.null_action:
            raise ValueError(
                "This prior has no 'no action' condition: guidance needs a prior "
                "built with null_action=True and trained with action dropout")
        if not isinstance(condition, dict) or "spatial_condition" not in condition:
            raise ValueError(
                "`condition` must be a dict with keys 'condition' and "
                f"'spatial_condition', got {type(condition).__name__}")
        from vq_zoo.models.video.latent_video_model import with_null_action

        labels, spatial = with_null_action(
            ops.cast(condition["condition"], "int32"),
            ops.cast(condition["spatial_condition"], "float32"), self.action_channels)
        return {"condition": labels, "spatial_condition": spatial}

    def sample(self, num, condition=None, temperature=1.0, seed=None, guidance=1.0):
        """As `GatedPixelCNNPrior.sample`, with classifier-free guidance:
        `guidance` (a float >= 0) is the scale `s` of `l_uncond + s * (l_cond
        - l_uncond)`, the no-action logits from `null_condition`; 1 (the
        default) is plain conditional sampling, the base class's sampler
        itself. Needs `null_action` unless 1. The same seed draws the same
        Gumbel noise at every scale."""
        guidance = _check_guidance(guidance)
        if guidance == 1.0:
            return super().sample(num, condition, temperature, seed)
        null = self.null_condition(condition)
        noise, glob, spatial, temperature = self._sample_args(
            num, condition, temperature, seed)
        null_glob, null_spatial = self._embed_conditions(
            *self._check_condition(null, noise.shape[0]))
        return self._compiled("guided", self._sample_guided, jit_compile=True)(
            noise, ops.concatenate([glob, null_glob], axis=0),
            ops.concatenate([spatial, null_spatial], axis=0), temperature,
            ops.convert_to_tensor(guidance, "float32"))

    def _sample_guided(self, noise, condition, spatial, temperature, guidance):
        from vq_zoo.generation.sampler import guided_step
        from vq_zoo.generation.sampler import sample_with_cache

        num = noise.shape[0]
        positions = self.shape[0] * self.shape[1]
        codes = sample_with_cache(
            guided_step(self.step, guidance),
            self._initial_state(2 * num, condition, spatial),
            ops.reshape(noise, (num, positions, self.num_embeddings)), temperature)
        return ops.reshape(codes, (num,) + self.shape)

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
            "null_action": self.null_action,
        })
        return config


def _check_guidance(guidance):
    import numbers

    number = isinstance(guidance, numbers.Real) and not isinstance(guidance, bool)
    value = float(guidance) if number else float("nan")
    if not (value >= 0 and value < float("inf")):
        raise ValueError(
            f"`guidance` must be a finite number >= 0 (1: no guidance), got {guidance!r}")
    return value


__all__ = ["LatentVideoPrior"]
