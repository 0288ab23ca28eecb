"""Action-conditioned video in the latent space of a per-frame VQ-VAE
(arXiv:1711.00937, section 4.4)."""

import numpy as np

from vq_zoo.generation.consensus import consensus_codes
from vq_zoo.models._frames import frames_to_floats
from vq_zoo.utils.checks import check_int

ACTION_KINDS = (None, "discrete", "continuous")
# What `temperature=0` (greedy decoding) passes to the prior's sampler.
GREEDY_TEMPERATURE = 1e-6


def stack_history(codebook, codes):
    """The prior's spatial condition from the codes of the past frames.

    Each past frame's int code map is replaced by its codebook vectors and
    the frames are stacked along the channels, oldest first:
    `(..., k, h, w)` int codes -> `(..., h, w, k * embedding_dim)` floats.
    Works on NumPy arrays and on tensors (inside `tf.data` maps too).

    Args:
        codebook: `(num_embeddings, embedding_dim)` floats (the frame
            VQ-VAE's codebook, frozen once the VQ-VAE is trained).
        codes: int codes `(..., k, h, w)`.
    """
    from keras import ops

    vectors = ops.take(ops.convert_to_tensor(codebook, "float32"),
                       ops.cast(codes, "int32"), axis=0)  # (..., k, h, w, d)
    rank = len(vectors.shape)
    k, d = vectors.shape[-4], vectors.shape[-1]
    perm = list(range(rank - 4)) + [rank - 3, rank - 2, rank - 4, rank - 1]
    vectors = ops.transpose(vectors, perm)  # (..., h, w, k, d)
    shape = ops.shape(vectors)
    return ops.reshape(vectors, tuple(shape[:-2]) + (k * d,))


def with_action_channels(spatial, actions, action_kind, action_dim):
    """The spatial condition of a `LatentVideoPrior`: the stacked history
    `(..., h, w, k * D)` with the action broadcast over the grid appended
    as channels (discrete actions `(...)` ints as one-hots of `action_dim`,
    continuous ones `(..., action_dim)` as they are), `(..., h, w, k * D +
    action_dim)`. The discrete label `action_dim` is "no action" (the null
    condition of classifier-free guidance): all-zero channels. Works on
    NumPy arrays and tensors."""
    from keras import ops

    if action_kind == "discrete":
        # One class more, then dropped: the "no action" label gives zeros.
        a = ops.one_hot(ops.cast(actions, "int32"), action_dim + 1,
                        dtype="float32")[..., :action_dim]
    else:
        a = ops.cast(actions, "float32")
    a = a[..., None, None, :]
    shape = ops.shape(spatial)
    a = ops.broadcast_to(a, tuple(shape[:-1]) + (action_dim,))
    return ops.concatenate([ops.cast(spatial, "float32"), a], axis=-1)


def with_null_action(labels, spatial, action_dim, where=None):
    """Prior conditions with the action replaced by "no action" (the null
    condition of classifier-free guidance): `(labels, spatial)` where each
    chosen example's label is `action_dim` and the last `action_dim`
    channels of its spatial map (the action's one-hot) are zeros; the past
    frames' channels and the other examples are unchanged. `where` is a
    bool `(batch,)` choosing the examples, None for all of them. Dtypes are
    kept. Works on NumPy arrays and tensors (and in `tf.data` maps)."""
    from keras import ops

    labels, spatial = ops.convert_to_tensor(labels), ops.convert_to_tensor(spatial)
    channels = spatial.shape[-1]
    is_action = ops.arange(channels) >= channels - action_dim
    null_label = ops.cast(action_dim, labels.dtype)
    if where is None:
        return (ops.full(ops.shape(labels), null_label, labels.dtype),
                ops.where(is_action, ops.zeros_like(spatial), spatial))
    chosen = ops.logical_and(ops.reshape(where, (-1, 1, 1, 1)), is_action)
    return (ops.where(where, null_label, labels),
            ops.where(chosen, ops.zeros_like(spatial), spatial))


def drop_actions(inputs, rate, seed, action_dim):
    """Action dropout for classifier-free guidance: a batch of prior
    inputs (a dict of tensors, `condition` int labels `(batch,)` and
    `spatial_condition` `(batch, h, w, channels)` whose last `action_dim`
    channels are the action's one-hot) with each example's action replaced,
    with probability `rate`, by "no action" (`with_null_action`). The codes
    and the past frames' channels are unchanged. Draws with TensorFlow's
    stateless RNG from `seed` (a pair of ints or an int tensor of shape
    `(2,)`), for `tf.data` maps: the same seed drops the same examples."""
    import tensorflow as tf

    if not 0.0 <= float(rate) < 1.0:
        raise ValueError(f"`rate` must be in [0, 1), got {rate!r}")
    labels = tf.convert_to_tensor(inputs["condition"])
    dropped = tf.random.stateless_uniform(tf.shape(labels)[:1], seed) < rate
    out = dict(inputs)
    out["condition"], out["spatial_condition"] = with_null_action(
        labels, inputs["spatial_condition"], action_dim, where=dropped)
    return out


class LatentVideoModel:
    """Video prediction in latent space: a per-frame 2D `VQVAE` and a
    `GatedPixelCNNPrior` over the next frame's codes given the past
    frames' codes and the action; holds no weights of its own (both parts
    train with the shared `Task` step, each by its own `fit`).

    - `vqvae`: frames `(batch, H, W, C)` in `[0, 1]` to int32 code maps
      `(batch, h, w)` and back.
    - `prior`: a `LatentVideoPrior` (a `GatedPixelCNNPrior`) over `(h, w)`
      maps of the VQ-VAE's `num_embeddings` codes (built by
      `build_prior`), modelling `p(z_t | z_{t-k..t-1}, a_{t-1})` in raster
      order within the frame:
        - spatial condition: the last `k = history` frames' code maps, each
          code replaced by its (frozen) codebook vector and stacked along
          the channels (`stack_history`), then the action taken at frame
          t-1 broadcast over the grid (`with_action_channels`), a float map
          `(h, w, k * embedding_dim + action_dim)` read through the prior's
          dilated, action-aware conditioning network (so that the action
          can move content across the grid); the current frame enters only
          through the prior's causal code stack;
        - global condition: the same action (`frames[t]` shows its
          effect): discrete actions as int labels embedded by the prior
          (`num_classes`), continuous actions as float vectors projected by
          each gated block (`condition_dim`); none for the
          action-unconditional variant.
      A plain `GatedPixelCNNPrior` with the history alone as its spatial
      condition (the presets before `LatentVideoPrior`) is accepted too.

    The history `k` and the kind of action are read from the prior's config
    (`history`, `action_kind`, `action_dim`; for a plain prior
    `spatial_condition_shape[-1] // embedding_dim`, `num_classes`,
    `condition_dim`), so a saved pair of models is all there is to load.

    Shape contract of `rollout(context_frames, actions)`: `context_frames`
    `(batch, c, H, W, C)` (uint8, or floats in `[0, 1]`) with `c >= k`,
    `actions` `(batch, n)` ints or `(batch, n, action_dim)` floats, where
    `actions[:, i]` is the action taken at the frame before generated frame
    `i` (the last context frame for `i = 0`); returns float32 frames
    `(batch, n, H, W, C)`, decoded only once every frame's codes are drawn.

    Args:
        vqvae: a trained image `VQVAE` (one level of codes).
        prior: a `LatentVideoPrior` made by `build_prior` for it.

    Example:
    >>> video = LatentVideoModel(vqvae, prior)
    >>> frames = video.rollout(context, actions, seed=0)   # (b, 10, H, W, C)

    References:
        van den Oord, Vinyals, Kavukcuoglu. Neural Discrete Representation
        Learning. arXiv:1711.00937 (section 4.4).
        van den Oord et al. Conditional Image Generation with PixelCNN
        Decoders. arXiv:1606.05328.
    """

    def __init__(self, vqvae, prior):
        from vq_zoo.models.video.latent_video_prior import LatentVideoPrior

        quantizer = vqvae.quantizer
        shape = tuple(prior.spatial_condition_shape or ())
        dim = int(quantizer.embedding_dim)
        # A LatentVideoPrior appends the action to the spatial map; a plain
        # GatedPixelCNNPrior (the presets before it) takes the history only.
        self._action_channels = int(getattr(prior, "action_channels", 0))
        if isinstance(prior, LatentVideoPrior) and prior.embedding_dim != dim:
            raise ValueError(
                f"The prior reads codebook vectors of {prior.embedding_dim} values but "
                f"the VQ-VAE's have {dim} (`embedding_dim` must agree)")
        shape = shape[:-1] + (shape[-1] - self._action_channels,) if shape else shape
        if (len(shape) != 3 or prior.spatial_condition_classes is not None
                or shape[-1] % dim or tuple(shape[:2]) != tuple(prior.shape)):
            raise ValueError(
                "`prior` must be a GatedPixelCNNPrior conditioned on a float map "
                f"(h, w, history * {dim}) of the past frames' codebook vectors at "
                f"the code resolution (see LatentVideoModel.build_prior), got "
                f"spatial_condition_shape={prior.spatial_condition_shape!r}, "
                f"spatial_condition_classes={prior.spatial_condition_classes!r}")
        if prior.num_embeddings != quantizer.num_embeddings:
            raise ValueError(
                f"The prior models {prior.num_embeddings} codes but the VQ-VAE has "
                f"{quantizer.num_embeddings} (`num_embeddings` must agree)")
        from keras import ops

        self.vqvae = vqvae
        self.prior = prior
        self._codebook = np.asarray(ops.convert_to_numpy(quantizer.codebook), np.float32)
        self.history = shape[-1] // dim
        # A guidance-ready LatentVideoPrior has one label more ("no action").
        self.null_action = bool(getattr(prior, "null_action", False))
        if prior.num_classes is not None:
            self.action_kind = "discrete"
            self.action_dim = int(prior.num_classes) - int(self.null_action)
        elif prior.condition_dim is not None:
            self.action_kind, self.action_dim = "continuous", int(prior.condition_dim)
        else:
            self.action_kind, self.action_dim = None, None

    @classmethod
    def from_preset(cls, vqvae_preset, prior_preset, cache_dir=None):
        """The model of a shipped preset pair, e.g.
        `LatentVideoModel.from_preset("vqvae_small_memory_maze_64",
        "gated_pixelcnn_video_small_memory_maze_64")`."""
        from vq_zoo.models.gated_pixelcnn.gated_pixelcnn_prior import GatedPixelCNNPrior
        from vq_zoo.models.vqvae.vqvae import VQVAE

        # GatedPixelCNNPrior.from_preset loads its subclass LatentVideoPrior too.
        return cls(VQVAE.from_preset(vqvae_preset, cache_dir=cache_dir),
                   GatedPixelCNNPrior.from_preset(prior_preset, cache_dir=cache_dir))

    # ---------------------------------------------------------- building
    @staticmethod
    def build_prior(num_embeddings, code_shape, embedding_dim, history=2,
                    action_kind="discrete", action_dim=6, filters=64,
                    num_layers=6, conditioning_filters=64,
                    conditioning_dilations=(1, 2, 4), **kwargs):
        """The `LatentVideoPrior` of a latent video model.

        Args:
            num_embeddings, embedding_dim: the frame VQ-VAE's codebook size.
            code_shape: `(h, w)` of its code maps.
            history: int >= 1, past frames the prior sees (`k`).
            action_kind: "discrete" (int actions in `[0, action_dim)`),
                "continuous" (float vectors of `action_dim`) or None (no
                action: the unconditional variant).
            action_dim: number of discrete actions or size of the vector.
            filters, num_layers: the gated PixelCNN's size.
            conditioning_filters, conditioning_dilations: the conditioning
                network over the past frames and the action (one residual
                dilated 3x3 block per dilation).
            **kwargs may also hold `null_action=True`: the "no action"
                condition that classifier-free guidance needs (see
                `LatentVideoPrior`; `drop_actions` in training).
            **kwargs: more `GatedPixelCNNPrior` arguments (`kernel_size`,
                `attention_every`, `dropout`, `name`, ...).
        """
        from vq_zoo.models.video.latent_video_prior import LatentVideoPrior

        check_int("history", history)
        return LatentVideoPrior(
            int(num_embeddings), tuple(int(s) for s in code_shape), int(embedding_dim),
            history=history, action_kind=action_kind, action_dim=action_dim,
            filters=filters, num_layers=num_layers,
            conditioning_filters=conditioning_filters,
            conditioning_dilations=conditioning_dilations, **kwargs)

    # ---------------------------------------------------------- inputs
    @property
    def codebook(self):
        """The VQ-VAE's codebook as float32 NumPy `(K, D)`, read when the
        model was made (the VQ-VAE is trained and frozen by then)."""
        return self._codebook

    def encode_frames(self, frames, batch_size=256):
        """int32 codes `(batch, T, h, w)` of frames `(batch, T, H, W, C)`."""
        frames = frames_to_floats(frames)
        if frames.ndim != 5:
            raise ValueError(
                f"`frames` must be (batch, time, height, width, channels), got "
                f"shape {frames.shape}")
        flat = frames.reshape((-1,) + frames.shape[2:])
        codes = np.concatenate([np.asarray(self.vqvae.encode(flat[i:i + batch_size]))
                                for i in range(0, len(flat), batch_size)])
        return codes.reshape(frames.shape[:2] + codes.shape[1:]).astype(np.int32)

    def decode_codes(self, codes, batch_size=256):
        """float32 frames `(batch, T, H, W, C)` of codes `(batch, T, h, w)`."""
        codes = np.asarray(codes, np.int32)
        flat = codes.reshape((-1,) + codes.shape[2:])
        frames = np.concatenate([np.asarray(self.vqvae.decode(flat[i:i + batch_size]))
                                 for i in range(0, len(flat), batch_size)])
        return frames.reshape(codes.shape[:2] + frames.shape[1:]).astype(np.float32)

    def _check_actions(self, actions, batch, steps):
        if self.action_kind is None:
            return None
        if actions is None:
            raise ValueError(
                f"This model is conditioned on {self.action_kind} actions: pass "
                f"`actions` of shape ({batch}, {steps}"
                + (f", {self.action_dim})" if self.action_kind == "continuous" else ")"))
        actions = np.asarray(actions)
        if self.action_kind == "discrete":
            if actions.dtype.kind not in "iu" or actions.ndim != 2 or actions.shape[0] != batch:
                raise ValueError(
                    f"`actions` must be ints of shape ({batch}, n), got dtype "
                    f"{actions.dtype} and shape {actions.shape}")
            if actions.size and (actions.min() < 0 or actions.max() >= self.action_dim):
                raise ValueError(
                    f"`actions` must be in [0, {self.action_dim}), got values in "
                    f"[{actions.min()}, {actions.max()}]")
            return actions.astype(np.int32)
        if actions.ndim != 3 or actions.shape[0] != batch or actions.shape[2] != self.action_dim:
            raise ValueError(
                f"`actions` must be floats of shape ({batch}, n, {self.action_dim}), "
                f"got shape {actions.shape}")
        return actions.astype(np.float32)

    def condition(self, past_codes, action=None):
        """The prior's condition for the frame after `past_codes`: `(batch,
        k, h, w)` int codes (the last `k = history` frames, oldest first) and
        the action taken at the last of them (`(batch,)` ints or `(batch,
        action_dim)` floats; None without actions). Returns what
        `prior.sample(condition=...)` and the prior's inputs take."""
        past_codes = np.asarray(past_codes, np.int32)
        if past_codes.ndim != 4 or past_codes.shape[1] != self.history:
            raise ValueError(
                f"`past_codes` must be (batch, {self.history}, h, w) (the last "
                f"{self.history} frames), got shape {past_codes.shape}")
        spatial = stack_history(self.codebook, past_codes)
        if self.action_kind is None:
            return spatial
        if self._action_channels:
            spatial = with_action_channels(spatial, action, self.action_kind,
                                           self.action_dim)
        return {"condition": action, "spatial_condition": spatial}

    def prior_inputs(self, codes, actions=None):
        """Every training example of clips of codes: for each clip `(T, h,
        w)` and each `t` in `[k, T)`, the prior's input dict (`codes`
        `z_t`, `spatial_condition` of `z_{t-k..t-1}`, `condition` `a_{t-1}`).
        Works on NumPy arrays `(batch, T, h, w)` (returns a dict of arrays,
        example `(clip, t)` at `clip * (T - k) + t - k`) and, for one clip
        `(T, h, w)`, inside a `tf.data` map (then `unbatch`)."""
        from keras import ops

        single = len(codes.shape) == 3
        if single:
            codes = codes[None]
            actions = None if actions is None else actions[None]
        k = self.history
        steps = codes.shape[1]
        if steps <= k:
            raise ValueError(
                f"Clips need more than history={k} frames, got {steps}")
        windows = ops.stack([codes[:, t - k:t] for t in range(k, steps)], axis=1)
        spatial = stack_history(self.codebook, windows)  # (b, T-k, h, w, kd)
        targets = ops.cast(codes[:, k:], "int32")

        def flat(x):
            return ops.reshape(x, (-1,) + tuple(x.shape[2:]))

        inputs = {"codes": flat(targets), "spatial_condition": flat(spatial)}
        if self.action_kind is not None:
            if actions is None:
                raise ValueError("This model is conditioned on actions: pass `actions`.")
            dtype = "int32" if self.action_kind == "discrete" else "float32"
            taken = ops.cast(actions[:, k - 1:steps - 1], dtype)
            inputs["condition"] = flat(taken)
            if self._action_channels:
                inputs["spatial_condition"] = flat(with_action_channels(
                    spatial, taken, self.action_kind, self.action_dim))
        if not single:
            inputs = {n: np.asarray(ops.convert_to_numpy(v)) for n, v in inputs.items()}
        return inputs

    def drop_actions(self, inputs, rate, seed):
        """`drop_actions` for this model's prior inputs (a batch of
        `prior_inputs`): each example's action replaced by "no action"
        with probability `rate`. Needs a prior with `null_action`."""
        if not self.null_action:
            raise ValueError(
                "Action dropout needs a prior with a 'no action' condition "
                "(LatentVideoPrior(..., null_action=True), discrete actions)")
        return drop_actions(inputs, rate, seed, self.action_dim)

    # ---------------------------------------------------------- generation
    def rollout_codes(self, context_codes, actions=None, num_frames=None, seed=None,
                      temperature=1.0, guidance=1.0, num_samples=1):
        """Draws the next frames' codes one frame after another, each with
        the prior's cached sampler conditioned on the last `k` frames'
        codes (true context, then drawn) and the commanded action.

        Args:
            context_codes: int `(batch, c, h, w)`, `c >= history`.
            actions: `(batch, n)` ints or `(batch, n, action_dim)` floats
                (None without actions; then give `num_frames`).
            num_frames: int, frames to draw (default: `n`).
            seed: int or None; frame `i` is drawn with seed `seed + i`.
            temperature: float >= 0; 0 is greedy decoding (each code the
                argmax of its logits given the codes before it: the prior's
                sampler at temperature `GREEDY_TEMPERATURE`, 1e-6, where the
                logits decide and the Gumbel noise cannot).
            guidance: float >= 0, classifier-free guidance of the action
                (Ho & Salimans 2022): each code drawn from `l_uncond + s *
                (l_cond - l_uncond)` (at `temperature`), `l_uncond` the
                logits under "no action"; 1 (the default) is plain
                conditional sampling, exactly. Needs a prior trained with
                action dropout (`null_action`).
            num_samples: int >= 1. Above 1, consensus (minimum-Bayes-risk)
                decoding of each frame: `num_samples` draws of the frame
                (at `temperature` and `guidance`, given the same past),
                and at each of its positions the code most draws agree on
                (`vq_zoo.generation.consensus_codes`); that frame is the
                past of the next. 1 (the default): the one draw. At
                temperature 0 every draw is the greedy frame: one is drawn.

        Returns:
            int32 codes `(batch, n, h, w)`.
        """
        context_codes = np.asarray(context_codes, np.int32)
        if context_codes.ndim != 4 or context_codes.shape[1] < self.history:
            raise ValueError(
                f"`context_codes` must be (batch, c >= {self.history}, h, w), got "
                f"shape {context_codes.shape}")
        batch = context_codes.shape[0]
        if actions is not None and num_frames is None:
            num_frames = int(np.asarray(actions).shape[1])
        if num_frames is None or num_frames < 1:
            raise ValueError(f"`num_frames` must be an integer >= 1, got {num_frames!r}")
        actions = self._check_actions(actions, batch, num_frames)
        if actions is not None and actions.shape[1] < num_frames:
            raise ValueError(
                f"`actions` covers {actions.shape[1]} frames, fewer than "
                f"num_frames={num_frames}")
        if not temperature >= 0:
            raise ValueError(f"`temperature` must be >= 0 (0: greedy), got {temperature!r}")
        greedy = float(temperature) == 0
        temperature = float(temperature) or GREEDY_TEMPERATURE
        from vq_zoo.models.video.latent_video_prior import _check_guidance

        guidance = _check_guidance(guidance)
        if guidance != 1.0 and not self.null_action:
            raise ValueError(
                f"`guidance`={guidance:g} needs a prior trained with action dropout "
                "(null_action=True): this one has no 'no action' condition; use "
                "guidance=1")
        num_samples = check_int("num_samples", num_samples, numpy=True)
        if greedy:
            num_samples = 1
        extra = {"guidance": guidance} if guidance != 1.0 else {}
        codes = list(np.moveaxis(context_codes[:, -self.history:], 1, 0))
        drawn = []
        for i in range(num_frames):
            past = np.stack(codes[-self.history:], axis=1)
            action = None if actions is None else actions[:, i]
            if num_samples > 1:  # each example's draws side by side
                past = np.repeat(past, num_samples, axis=0)
                action = None if action is None else np.repeat(action, num_samples, axis=0)
            frame = np.asarray(self.prior.sample(
                batch * num_samples, condition=self.condition(past, action),
                temperature=temperature, seed=None if seed is None else int(seed) + i,
                **extra), np.int32)
            if num_samples > 1:
                frame = np.asarray(consensus_codes(
                    frame.reshape((batch, num_samples) + frame.shape[1:]),
                    self.prior.num_embeddings), np.int32)
            codes.append(frame)
            drawn.append(frame)
        return np.stack(drawn, axis=1)

    def rollout(self, context_frames, actions=None, seed=None, temperature=1.0,
                num_frames=None, return_codes=False, guidance=1.0, num_samples=1):
        """Generates the frames after `context_frames` under `actions`, in
        latent space, and decodes them at the end (see the class shape
        contract; `temperature`, `guidance` and `num_samples` as in
        `rollout_codes`).
        Returns float32 frames `(batch, n, H, W, C)`, and with
        `return_codes` also their int32 codes `(batch, n, h, w)`."""
        context = self.encode_frames(context_frames)
        codes = self.rollout_codes(context, actions, num_frames, seed, temperature,
                                   guidance, num_samples)
        frames = self.decode_codes(codes)
        return (frames, codes) if return_codes else frames


__all__ = ["LatentVideoModel", "drop_actions", "stack_history", "with_action_channels",
           "with_null_action", "ACTION_KINDS"]
