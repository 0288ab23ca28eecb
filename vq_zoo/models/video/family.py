"""The latent video family: a per-frame `VQVAE` and a `LatentVideoPrior`
over the next frame's codes given the past frames and the action
(`LatentVideoModel`, arXiv:1711.00937 section 4.4)."""

import os

import numpy as np

from vq_zoo.models.family import ConditionError
from vq_zoo.models.family import FamilyError
from vq_zoo.models.family import ModelFamily
from vq_zoo.models.family import Samples
from vq_zoo.models.family import load_models
from vq_zoo.models.family import register_family
from vq_zoo.models.family import run_dir_config
from vq_zoo.utils.checks import check_int
from vq_zoo.utils.messages import one_line

LIKELIHOOD_NAMES = {"MeanSquaredError": "MSE", "Categorical": "categorical",
                    "LogisticMixture": "logistic-mixture"}


@register_family("video")
class LatentVideoFamily(ModelFamily):
    """Continues context frames under actions: `num` rollouts of
    `num_frames` frames each, drawn in latent space and decoded.

    Shape contract: `sample(num, context=..., action=..., num_frames=n)`
    returns `Samples` whose `images` are the rollouts row by row, `c + n`
    frames to a row (`columns`): the `c` context frames as given, then the
    generated ones, float32 in [0, 1]; `codes` int32 `(num, n, h, w)`.

    Conditions:
        context: the frames to continue, oldest first, at least the prior's
            `history`: image files (paths), uint8 or float frames
            `(c, H, W, C)` (the same for every rollout) or `(num, c, H, W, C)`.
        action: the action held while generating: a name of memory-maze's
            actions (for a prior of 6 actions) or an index (default 0).
        actions: instead of `action`, every rollout's actions, int
            `(num, n)` or float `(num, n, action_dim)` (continuous).
        num_frames: frames to generate after the context (default 10).
        guidance: the classifier-free guidance scale of the action (default
            1: none; `LatentVideoModel.rollout`), for a prior trained with
            action dropout.
        consensus: draws per generated frame, each frame's codes the ones
            most draws agree on (`LatentVideoModel.rollout`'s
            `num_samples`; 1: one draw). Default: the family's.

    Args:
        vqvae: the frame `VQVAE`.
        prior: its `LatentVideoPrior` (or a plain `GatedPixelCNNPrior` over
            the history alone, as the presets before it).
        consensus: the default draws per frame. Loaded from a preset or a
            run dir: the `rollout_consensus` its config records (the
            decoding its report measured), 1 where it records none.

    Example:
    >>> family = LatentVideoFamily.from_preset("gated_pixelcnn_video_small_memory_maze_64")
    >>> rows = family.sample(2, seed=0, context=frames, action="left", num_frames=3)
    """

    members = ("vqvae", "prior")
    conditions = ("context", "action", "actions", "num_frames", "guidance", "consensus")
    autoencoders = ("VQVAE",)

    def __init__(self, vqvae, prior, consensus=1):
        from vq_zoo.models.video.latent_video_model import LatentVideoModel

        try:
            self.video = LatentVideoModel(vqvae, prior)
            self.consensus = check_int("consensus", consensus, numpy=True)
        except ValueError as e:
            raise FamilyError(one_line(e)) from None
        self.vqvae = vqvae
        self.prior = prior

    @classmethod
    def _from_preset(cls, handle, metadata):
        return cls(**load_models(handle, cls.members),
                   consensus=(metadata.get("config") or {}).get("rollout_consensus", 1))

    @classmethod
    def _from_run_dir(cls, path):
        return cls(**load_models(path, cls.members),
                   consensus=run_dir_config(path).get("rollout_consensus", 1))

    @property
    def frame_shape(self):
        """`(H, W, C)` of the frames the VQ-VAE was trained on."""
        shape = (self.vqvae.get_build_config() or {}).get("input_shape")
        if not shape or len(shape) != 4:
            raise FamilyError("this VQ-VAE records no image input shape (build config)")
        return tuple(int(d) for d in shape[1:])

    def _context(self, context, num):
        """The context as uint8 or float frames `(num, c, H, W, C)`."""
        from vq_zoo.utils.images import read_image

        height, width, channels = self.frame_shape
        history = self.video.history
        wanted = (f"pass --context with at least {history} frames ({height}x{width} "
                  f"images, oldest first)" + (" and --action" if self.video.action_kind
                                              else ""))
        if isinstance(context, np.ndarray):
            frames = context if context.ndim != 4 else np.repeat(context[None], num, axis=0)
            if frames.ndim != 5 or frames.shape[0] != num or frames.shape[1] < history \
                    or tuple(frames.shape[2:]) != (height, width, channels):
                raise ConditionError(
                    f"context of shape {context.shape}: expected (c, {height}, {width}, "
                    f"{channels}) or ({num}, c, {height}, {width}, {channels}) frames, "
                    f"c >= {history}")
            return frames
        if not context or len(context) < history:
            raise ConditionError(f"this prior continues a video: {wanted}")
        frames = []
        for path in context:
            path = os.fspath(path)
            if not os.path.isfile(path):
                raise FamilyError(f"image not found: {path}")
            try:
                frame = read_image(path, channels=channels)
            except (ValueError, OSError) as e:
                raise FamilyError(one_line(e)) from None
            if frame.shape[:2] != (height, width):
                raise FamilyError(f"{path} is {frame.shape[0]}x{frame.shape[1]}: this "
                                  f"video model takes {height}x{width} frames")
            frames.append(frame)
        return np.repeat(np.stack(frames)[None], num, axis=0)

    def _actions(self, action, actions, num, num_frames):
        """The actions of every rollout, `(num, num_frames)` ints (or the
        given `actions`), or None for a prior without actions."""
        video = self.video
        if actions is not None:
            return np.asarray(actions)
        if video.action_kind == "continuous":
            raise ConditionError("this prior takes continuous actions: roll it out with "
                                 "LatentVideoModel.rollout (vq_zoo.models.video)")
        if video.action_kind == "discrete":
            index = action_index(action, video.action_dim)
            return np.full((num, num_frames), index, "int32")
        if action is not None:
            raise ConditionError("this video prior takes no actions: drop --action")
        return None

    def sample(self, num, seed=0, temperature=1.0, context=None, action=None,
               actions=None, num_frames=10, guidance=1.0, consensus=None, **conditions):
        """`num` rollouts of `num_frames` frames after `context` (see the
        class docstring); frame `i` is drawn with seed `seed + i`."""
        num = self._check_num(num)
        if conditions.get("speaker") is not None:
            raise ConditionError("--speaker is for speech models: a video prior takes "
                                 "--action")
        if conditions.get("label") is not None:
            raise ConditionError("a video prior is conditioned on actions: use --action")
        self._refuse("a video prior", {k: v for k, v in conditions.items()
                                       if k not in ("speaker", "label")})
        temperature = self._temperature(temperature)
        if consensus is None:
            consensus = self.consensus
        try:
            consensus = check_int("consensus", consensus, numpy=True)
        except ValueError as e:
            raise ConditionError(f"--consensus: {e} (draws per generated frame; 1: one "
                                 "draw)") from None
        if guidance != 1.0 and not self.video.null_action:
            raise ConditionError(f"--guidance {guidance:g}: this video prior was trained "
                                 "without action dropout (no 'no action' condition); "
                                 "drop --guidance")
        frames = self._context(context, num)
        taken = self._actions(action, actions, num, num_frames)
        generated, codes = self.video.rollout(frames, taken, seed=seed,
                                              temperature=temperature,
                                              num_frames=num_frames, return_codes=True,
                                              guidance=guidance, num_samples=consensus)
        shown = (frames.astype(np.float32) / 255.0 if frames.dtype == np.uint8
                 else frames.astype(np.float32))
        rows = np.concatenate([shown, np.asarray(generated)], axis=1)
        return Samples(images=rows.reshape((-1,) + rows.shape[2:]), columns=rows.shape[1],
                       codes=codes, what=f"{num} rollouts" + (
                           f" (each frame the consensus of {consensus} draws)"
                           if consensus > 1 else ""),
                       details=f"(a row each: {frames.shape[1]} context frames, then "
                               f"{num_frames} generated)")

    def architecture(self):
        """The VQ-VAE and the prior in one sentence each, as the video cards
        state them."""
        vqvae, prior = self.vqvae, self.prior
        sentences = []
        encoder = vqvae.encoder.get_config()
        quantizer = vqvae.quantizer
        likelihood = type(getattr(vqvae, "likelihood", None)).__name__
        if "num_downsamples" in encoder:
            down = int(encoder["num_downsamples"])
            sentences.append(
                f"VQ-VAE: {encoder.get('num_hiddens')} hidden units, "
                f"{encoder.get('num_residual_layers')} residual block(s) of "
                f"{encoder.get('num_residual_hiddens')}, {down} stride-2 convolutions "
                f"({2 ** down}x), {'EMA ' if 'EMA' in type(quantizer).__name__ else ''}"
                f"codebook K={quantizer.num_embeddings}, D={quantizer.embedding_dim}, "
                f"{LIKELIHOOD_NAMES.get(likelihood, likelihood)} likelihood; "
                f"{vqvae.count_params():,} parameters.")
        if hasattr(prior, "conditioning_filters"):
            sentences.append(
                f"Prior: {prior.num_layers} gated PixelCNN layers of {prior.filters} "
                f"filters, history {self.video.history} frames, conditioning network "
                f"{prior.conditioning_filters} filters x "
                f"{len(prior.conditioning_dilations)} blocks; {prior.count_params():,} "
                "parameters. A rollout draws each frame's codes with the prior's cached "
                "sampler (one XLA loop per frame; the conditioning network runs once per "
                "frame), feeds them back as the newest past frame, and decodes all frames "
                "at the end.")
        return " ".join(sentences) or None

    # ------------------------------------------------------------ the card
    # What the video cards say the VQ-VAE and the prior are and how to roll
    # them out, read from the models (with `members`: the recipe's exporter
    # holds both) and the run's config and metrics in `metadata` (frame
    # size, context, horizon, the decoding its figures were measured with).
    # The generic writer, which holds one model, words them as the base.
    @staticmethod
    def _card_frames(metadata):
        config = metadata.get("config") or {}
        return ("first-person memory-maze frames" if config.get("source") == "memory_maze"
                else "frames")

    @classmethod
    def card_intro(cls, name, facts, metadata, members=None):
        other = metadata.get("companion_preset")
        if not members:
            return super().card_intro(name, facts, metadata)
        prior = members["prior"]
        actions = bool(getattr(prior, "action_channels", 0))
        model = ("an action-conditioned video model" if actions else "a video model")
        paper = f"The {{}} of {model} (arXiv:1711.00937, section 4.4): "
        if facts["class_name"] in cls.autoencoders:
            height, width = facts["input_shape"][:2]
            return (paper.format("per-frame VQ-VAE")
                    + f"{height}x{width} {cls._card_frames(metadata)} to "
                    f"{'x'.join(map(str, facts['code_shape']))} codes "
                    f"(K={facts['num_embeddings']}, D={facts['embedding_dim']})."
                    + (f" Its next-frame prior is the preset `{other}`." if other else ""))
        if not hasattr(prior, "conditioning_filters"):
            return super().card_intro(name, facts, metadata)
        history = cls(members["vqvae"], prior).video.history
        dilations = list(prior.conditioning_dilations)
        dropout = (metadata.get("config") or {}).get("action_dropout")
        return (
            paper.format("next-frame prior")
            + f"a `{facts['class_name']}` (a gated PixelCNN) over the "
            f"{'x'.join(map(str, prior.shape))} codes of frame t of the VQ-VAE `{other}`, "
            f"conditioned on frames t-{history}..t-1"
            + (" and on the action taken at frame t-1. The spatial condition is the past "
               "frames' codebook vectors stacked with the action as "
               f"{prior.action_channels} one-hot channels" if actions else
               ". The spatial condition is the past frames' codebook vectors")
            + f" ({'x'.join(map(str, prior.spatial_condition_shape))}), passed through a "
            f"conditioning network of {len(dilations)} residual dilated 3x3 blocks "
            f"(dilations {', '.join(map(str, dilations))}, {prior.conditioning_filters} "
            "filters"
            + (", the action concatenated again at each block" if actions else "")
            + f"; a receptive field of {1 + 2 * sum(dilations)} codes) so that a turn can "
            "pan the past frame across the grid"
            + ("; the action is also a global condition of every gated block." if actions
               else ".")
            + (f" Trained with action dropout: each training example's action replaced "
               f"with probability {dropout} by a 'no action' condition (an "
               "extra label, zero action channels), so that rollouts can use classifier-free "
               "guidance of the action (Ho & Salimans 2022, arXiv:2207.12598): each code "
               "drawn from l_uncond + s (l_cond - l_uncond)."
               if getattr(prior, "null_action", False) else ""))

    @classmethod
    def card_usage(cls, name, facts, metadata, members=None):
        """A rollout of the preset pair with `LatentVideoModel`, at the
        run's context, horizon and decoding (its `config` and `metrics`)."""
        config, metrics = metadata.get("config") or {}, metadata.get("metrics") or {}
        other = metadata.get("companion_preset")
        if not members or not other or "rollout_temperature" not in metrics:
            return super().card_usage(name, facts, metadata)
        pair = (name, other) if facts["class_name"] in cls.autoencoders else (other, name)
        height, width, channels = members["vqvae"].get_build_config()["input_shape"][1:]
        video = cls(members["vqvae"], members["prior"]).video
        t, guidance = metrics["rollout_temperature"], float(metrics.get("rollout_guidance", 1.0))
        consensus = int(metrics.get("rollout_consensus", 1))
        frames = f"{height}, {width}, {channels}"
        actions = {"discrete": f"; actions: int (batch, {config['horizon']}) in "
                               f"0..{(video.action_dim or 1) - 1}",
                   "continuous": f"; actions: float (batch, {config['horizon']}, "
                                 f"{video.action_dim})"}.get(video.action_kind, "")
        return [
            "import numpy as np",
            "from vq_zoo.models.video import LatentVideoModel",
            f'video = LatentVideoModel.from_preset("{pair[0]}", "{pair[1]}")',
            f"# context: uint8 (batch, {config['context_frames']}, {frames}){actions}",
            *(["# (actions[:, i] is taken at the frame before generated frame i)"]
              if video.action_kind else []),
            f"frames = video.rollout(context, {'actions' if video.action_kind else 'None'}, "
            f"temperature={t:g}" + (f", guidance={guidance:g}" if guidance != 1 else "")
            + (f", num_samples={consensus}" if consensus > 1 else "")
            + ", seed=0)" + ("   # greedy" if float(t) == 0 else "")
            + f"   # float32 (batch, {config['horizon']}, {frames})"]


def action_index(action, num_actions):
    """`action` as an index: a name of memory-maze's actions (when the prior
    has that many) or an integer in [0, num_actions); 0 when None."""
    from vq_zoo.data.memory_maze import ACTIONS

    names = list(ACTIONS) if num_actions == len(ACTIONS) else []
    if action is None:
        return 0
    if action in names:
        return names.index(action)
    try:
        index = int(action)
    except (TypeError, ValueError):
        index = -1
    if not 0 <= index < num_actions:
        choices = ", ".join(names) + " or " if names else ""
        raise ConditionError(f"--action {action}: expected {choices}an index in "
                             f"0..{num_actions - 1}")
    return index


__all__ = ["LatentVideoFamily", "action_index"]
