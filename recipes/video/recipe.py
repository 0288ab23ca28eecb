"""Action-conditioned video (arXiv:1711.00937, section 4.4): given 6 frames
and the actions, generate the next 10 frames in the latent space of a
VQ-VAE, decoding only at the end.

    vq-zoo train video --config small          # memory-maze (rendered once, cached)
    vq-zoo train video --config bair --data-dir ~/tensorflow_datasets
    vq-zoo train video --config moving_mnist   # no actions
    vq-zoo train video --config smoke          # seconds

Stages (each resumes on its own, in this order):

1. `vqvae`: a per-frame 2D VQ-VAE, frames -> code maps (`vqvae.keras`).
2. `codes`: every split's clips as code clips `(T, h, w)` with their
   actions, quantiser frozen (`codes/<split>/`, arrays `codes`, `actions`).
3. `prior`: a `GatedPixelCNNPrior` over frame `t`'s codes, spatially
   conditioned on frames `t-k..t-1` (their codebook vectors stacked) and
   globally on the action `a_{t-1}` (`prior.keras`), trained on every
   frame `t >= k` of the training clips.
4. `sample`: rollouts of test clips (`samples.png`: per clip a row of
   context | generated frames above a row of context | true frames) and
   the same contexts rolled out under each action (`actions.png`).
5. `report`: held-out metrics (`metrics.json`): per-frame reconstruction,
   prior bits per code, rollout PSNR / SSIM at horizons 1..10 next to the
   copy-the-last-frame baseline, and, for discrete actions, an
   inverse-dynamics classifier's agreement with the commanded actions.

TensorBoard (`<run>/logs`): every scalar of every stage; the VQ-VAE's
reconstructions and codes (`logs/vqvae`); the prior's rollout grids
(`logs/prior/images`: `rollouts`, context | generated | true, and
`actions`, one context under each action).
"""

import json

import numpy as np

from vq_zoo.recipe import Recipe
from vq_zoo.recipe import register_recipe
from vq_zoo.recipes.video.config import CONFIGS
from vq_zoo.recipes.video.config import data_dir_use

def describe_data(config=None):
    """The data card of a memory-maze video run (`config`: the run's
    config, a `VideoConfig` or its dict)."""
    from vq_zoo.data.memory_maze import split_episodes

    get = (config.get if isinstance(config, dict) else
           (lambda k, d=None: getattr(config, k, d))) if config is not None else (
        lambda k, d=None: d)
    episodes, steps = get("episodes", 28), get("steps_per_episode", 200)
    maze, size = get("maze", "9x9"), get("image_size", 64)
    c, h = get("context_frames", 6), get("horizon", 10)
    split = split_episodes(episodes, get("validation_fraction", 0.125),
                           get("test_fraction", 0.125))
    return dict(
        dataset=f"memory_maze_{size}",
        data=f"{size}x{size} first-person RGB frames with their discrete actions (6: noop, "
             f"forward, left, right, forward_left, forward_right) of memory-maze {maze} "
             "mazes (Pasukonis et al. 2022), rendered by `vq_zoo.data.memory_maze` with "
             f"an exploring policy: {episodes} episodes of {steps} steps, each in its own "
             "maze (maze and policy seeds differ for every episode), split by episode: "
             f"{len(split['train'])} train, {len(split['validation'])} validation, "
             f"{len(split['test'])} test episodes (the last ones); clips of {c + h} "
             f"frames ({c} context + {h} to predict) every {get('clip_stride', 14)} "
             "frames.",
        license="memory-maze is Apache-2.0 (jurgisp/memory-maze); the frames are "
                "rendered by this project with MuJoCo (Apache-2.0) and dm_control "
                "(Apache-2.0) textures.",
    )


STAGES = ["vqvae", "codes", "prior", "sample", "report"]


# ------------------------------------------------------------------ data
def action_spec(config):
    """`(action_kind, action_dim)` of the config's source (None, None
    without actions)."""
    if not config.use_actions or config.source == "moving_mnist":
        return None, None
    if config.source == "memory_maze":
        return "discrete", 6
    return "continuous", 4


def make_clips(config, data_dir=None, verbose=0):
    """`{split: dataset of clip dicts}` (`frames` uint8 `(T, H, W, C)`,
    `actions`), `T = context_frames + horizon`, and the frames' channels."""
    from vq_zoo.data import video

    length = config.context_frames + config.horizon
    limits = {"train": config.train_clips, "validation": config.validation_clips,
              "test": config.test_clips}
    if config.source == "memory_maze":
        from vq_zoo.recipes import common

        directory = common.memory_maze_episodes(config, data_dir, verbose)
        clips = {s: video.memory_maze_clips(
            directory, s, length, config.clip_stride, config.validation_fraction,
            config.test_fraction, max_clips=n,
            max_episodes=common.episodes_to_read(config, data_dir))
            for s, n in limits.items()}
        channels = 3
    elif config.source == "bair":
        clips = {s: video.bair_clips(s, length, config.clip_stride, data_dir,
                                     max_videos=config.max_videos) for s in limits}
        clips = {s: ds.take(limits[s]) if limits[s] else ds for s, ds in clips.items()}
        channels = 3
    elif config.source == "moving_mnist":
        clips = {s: video.moving_mnist_clips(
            s, length, config.clip_stride, config.moving_mnist_sequences, config.data_seed,
            data_dir, config.moving_mnist_test, max_sequences=config.max_videos)
            for s in limits}
        clips = {s: ds.take(limits[s]) if limits[s] else ds for s, ds in clips.items()}
        channels = 1
    else:
        raise ValueError(f"`source` must be one of {video.SOURCES}, got {config.source!r}")
    if not config.use_actions or action_spec(config)[0] is None:
        clips = {s: ds.map(lambda c: {"frames": c["frames"]}) for s, ds in clips.items()}
    return clips, channels


def frame_batches(clips, batch_size, shuffle=False, seed=0):
    """Float frames in [0, 1] of a dataset of clips, batched."""
    import tensorflow as tf

    ds = clips.map(lambda c: c["frames"]).unbatch()
    if shuffle:
        ds = ds.shuffle(20000, seed=seed)
    ds = ds.batch(batch_size, drop_remainder=shuffle)
    return ds.map(lambda x: tf.cast(x, tf.float32) / 255.0).prefetch(tf.data.AUTOTUNE)


def clip_batches(clips, batch_size):
    """Batches of clip dicts for the code extraction, the frames as floats
    under `images`."""
    import tensorflow as tf

    def convert(c):
        out = {"images": tf.cast(c["frames"], tf.float32) / 255.0}
        if "actions" in c:
            out["actions"] = c["actions"]
        return out

    return clips.map(convert).batch(batch_size).prefetch(tf.data.AUTOTUNE)


def clip_encoder(vqvae):
    """`clips (b, T, H, W, C) -> {"codes": (b, T, h, w)}` for the extraction."""
    import tensorflow as tf

    @tf.function(reduce_retracing=True)
    def encode(clips):
        shape = tf.shape(clips)
        flat = tf.reshape(clips, tf.concat([[-1], shape[2:]], 0))
        codes = vqvae.encode(flat)
        return {"codes": tf.reshape(codes, tf.concat([shape[:2], tf.shape(codes)[1:]], 0))}

    return encode


def prior_examples(video, code_clips, batch_size, shuffle=False, seed=0, repeat=False,
                   action_dropout=0.0):
    """The prior's training examples (`LatentVideoModel.prior_inputs`) of a
    dataset of code clips (`{"codes": (T, h, w), "actions": ...}`).

    `action_dropout > 0` (for the training split only): each example's
    action replaced by "no action" with that probability
    (`LatentVideoModel.drop_actions`), drawn anew at every pass over the
    data from `seed`."""
    import tensorflow as tf

    ds = code_clips.map(lambda c: video.prior_inputs(c["codes"], c.get("actions")))
    ds = ds.unbatch()
    if shuffle:
        ds = ds.shuffle(20000, seed=seed)
    if repeat:
        ds = ds.repeat()
    ds = ds.batch(batch_size, drop_remainder=shuffle)
    if action_dropout:
        # One stateless seed per batch from a random stream that differs
        # at every pass (epochs see other examples dropped).
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
        ds = tf.data.Dataset.zip(ds, seeds).map(
            lambda batch, r: video.drop_actions(batch, action_dropout,
                                                tf.stack([r, tf.cast(seed, tf.int64)])))
    return ds.prefetch(tf.data.AUTOTUNE)


def build_vqvae(config, data_variance, shape):
    """The per-frame VQ-VAE of a run: a new one (`common.build_vqvae`), or
    `config.vqvae_preset` loaded (`common.load_vqvae_preset`, compiled with
    the config's learning rate, for `vqvae_epochs` more epochs). `shape`:
    one frame's `(H, W, C)`."""
    import keras

    from vq_zoo.recipes import common

    common.check_vqvae_epochs(config)
    if not config.vqvae_preset:
        return common.build_vqvae(config, data_variance, shape)
    model = common.load_vqvae_preset(config, shape)
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate))
    return model


def build_prior(config, manifest, embedding_dim):
    import keras

    from vq_zoo.models.video.latent_video_model import LatentVideoModel

    kind, dim = action_spec(config)
    prior = LatentVideoModel.build_prior(
        num_embeddings=int(manifest["num_embeddings"]),
        code_shape=tuple(manifest["code_shape"])[1:], embedding_dim=embedding_dim,
        history=config.history, action_kind=kind, action_dim=dim or 1,
        filters=config.prior_filters, num_layers=config.prior_layers,
        conditioning_filters=config.conditioning_filters,
        conditioning_dilations=config.conditioning_dilations,
        **({"null_action": True} if config.action_dropout else {}), name="prior")
    prior.compile(optimizer=keras.optimizers.Adam(config.prior_learning_rate))
    return prior


# -------------------------------------------------------------- pictures
def rollout_grid_frames(video, clips, context_frames, seed=0, temperature=1.0,
                        guidance=1.0, consensus=1):
    """Frames of a grid, one row of `context | generated` above one row of
    `context | true` per clip (`clips`: dict of NumPy clips), `T` columns;
    and the generated frames and their codes. `temperature`, `guidance`
    and `consensus` (draws per frame) as `LatentVideoModel.rollout`'s
    `temperature`, `guidance` and `num_samples`, here and below."""
    frames = clips["frames"]
    context = frames[:, :context_frames]
    actions = clips.get("actions")
    horizon = frames.shape[1] - context_frames
    if actions is not None:
        actions = actions[:, context_frames - 1:context_frames - 1 + horizon]
    generated, codes = video.rollout(context, actions, seed=seed, temperature=temperature,
                                     num_frames=horizon, return_codes=True,
                                     guidance=guidance, num_samples=consensus)
    context = context.astype(np.float32) / 255.0
    true = frames[:, context_frames:].astype(np.float32) / 255.0
    rows = []
    for i in range(len(frames)):
        rows += [np.concatenate([context[i], generated[i]]),
                 np.concatenate([context[i], true[i]])]
    return np.concatenate(rows), generated, codes


def action_grid_frames(video, clip_frames, context_frames, horizon, seed=0,
                       temperature=1.0, guidance=1.0, consensus=1):
    """Frames of a grid: one context (`(T, H, W, C)` uint8, the first
    `context_frames` used) rolled out `horizon` frames under each discrete
    action held throughout, one row per action (context | generated)."""
    n = video.action_dim
    context = np.repeat(clip_frames[None, :context_frames], n, axis=0)
    actions = np.repeat(np.arange(n, dtype=np.int32)[:, None], horizon, axis=1)
    generated = video.rollout(context, actions, seed=seed, temperature=temperature,
                              guidance=guidance, num_samples=consensus)
    rows = np.concatenate([context.astype(np.float32) / 255.0, generated], axis=1)
    return rows.reshape((-1,) + rows.shape[2:])


def clip_grid_frames(video, clip, context_frames, seed=0, temperature=1.0, guidance=1.0,
                     consensus=1):
    """Frames of one clip's grid (`clip`: a dict of one NumPy clip, `frames`
    uint8 `(T, H, W, C)` and discrete `actions` `(T,)`), `T` columns, each
    row the context then `T - context_frames` frames: the true future; the
    rollout under the true actions; the rollout under each action held
    throughout (one row per action, in action order). All rollouts share
    the seed."""
    frames = clip["frames"]
    c = context_frames
    horizon = frames.shape[0] - c
    n = video.action_dim
    true_actions = clip["actions"][c - 1:c - 1 + horizon].astype(np.int32)
    actions = np.concatenate([true_actions[None],
                              np.repeat(np.arange(n, dtype=np.int32)[:, None], horizon, 1)])
    context = np.repeat(frames[None, :c], n + 1, axis=0)
    generated = video.rollout(context, actions, seed=seed, temperature=temperature,
                              num_frames=horizon, guidance=guidance, num_samples=consensus)
    context = np.repeat(frames[None, :c], n + 2, axis=0).astype(np.float32) / 255.0
    true = frames[None, c:].astype(np.float32) / 255.0
    rows = np.concatenate([context, np.concatenate([true, generated])], axis=1)
    return rows.reshape((-1,) + rows.shape[2:])


def prior_tensorboard(log_dir, make_video, sample_clips, config, every_n_epochs=1):
    """Keras' TensorBoard plus, every `every_n_epochs` epochs, to
    `log_dir/images`: `rollouts` (context | generated | true rows of the
    fixed validation clips `sample_clips`) and, with discrete actions,
    `actions` (the first clip's context under each action)."""
    import tensorflow as tf

    from vq_zoo.training.summary_tensorboard import SummaryTensorBoard
    from vq_zoo.utils.images import image_grid

    columns = config.context_frames + config.horizon

    class VideoTensorBoard(SummaryTensorBoard):
        def write_summaries(self, step):
            video = make_video(self.model)
            grid, _, _ = rollout_grid_frames(video, sample_clips, config.context_frames,
                                             seed=config.seed,
                                             temperature=config.rollout_temperature,
                                             guidance=config.rollout_guidance,
                                             consensus=config.rollout_consensus)
            with self.summaries_at(step):
                tf.summary.image(
                    "rollouts", image_grid(grid, columns=columns)[None],
                    description=f"Validation clips, two rows each: {config.context_frames} "
                    f"context frames then {config.horizon} generated (top) / true "
                    "(bottom) frames; generated in latent space, decoded at the end.")
                if video.action_kind == "discrete":
                    frames = action_grid_frames(
                        video, sample_clips["frames"][0], config.context_frames,
                        config.horizon, seed=config.seed,
                        temperature=config.rollout_temperature,
                        guidance=config.rollout_guidance,
                        consensus=config.rollout_consensus)
                    tf.summary.image(
                        "actions", image_grid(frames, columns=columns)[None],
                        description="One context rolled out under each action held "
                        "throughout (one row per action, in action order).")

    return VideoTensorBoard(log_dir, every_n_epochs, run_name="images")


# ---------------------------------------------------------------- report
def held_out_metrics(video, prior, config, test_frames, test_prior_data, train_clips,
                     test_clips):
    """The report's metrics on the test split (episodes / videos never
    trained on). `test_frames`: float frame batches; `test_prior_data`:
    the prior's test inputs; `train_clips`, `test_clips`: dicts of NumPy
    clips (`frames` uint8, `actions`)."""
    # Here, not at the top: the registry imports this module before
    # TensorFlow, and vq_zoo.metrics loads Keras.
    from vq_zoo.metrics.video import per_horizon_errors
    from vq_zoo.metrics.video import psnr

    vqvae = video.vqvae
    sq = values = 0
    counts = np.zeros(vqvae.quantizer.num_embeddings, np.int64)
    for batch in test_frames:
        x = np.asarray(batch, np.float32)
        recon = np.asarray(vqvae(x, training=False), np.float64)
        sq += float(np.sum((recon - x) ** 2))
        values += x.size
        counts += np.bincount(np.asarray(vqvae.encode(x)).ravel(), minlength=len(counts))
    p = counts / max(1, counts.sum())
    mse = sq / values
    if not getattr(prior, "compiled", False):
        prior.compile()
    prior_logs = prior.evaluate(test_prior_data, verbose=0, return_dict=True)
    c = config.context_frames
    frames = test_clips["frames"][:config.rollout_clips]
    actions = test_clips.get("actions")
    actions = None if actions is None else actions[:config.rollout_clips]
    true = frames[:, c:].astype(np.float32) / 255.0
    rollout_actions = None if actions is None else actions[:, c - 1:-1]

    def roll(**changed):
        """The report's rollouts of the test clips, at its decoding but for
        `changed` (`temperature`, `guidance` or `num_samples`)."""
        decoding = dict(temperature=config.rollout_temperature,
                        guidance=config.rollout_guidance,
                        num_samples=config.rollout_consensus)
        return video.rollout(frames[:, :c], rollout_actions, seed=config.seed,
                             num_frames=config.horizon, **{**decoding, **changed})

    generated = roll()
    last = np.repeat(frames[:, c - 1:c].astype(np.float32) / 255.0, config.horizon, axis=1)
    reconstructed = video.decode_codes(video.encode_frames(frames[:, c:]))
    model_errors = per_horizon_errors(generated, true)
    copy_errors = per_horizon_errors(last, true)
    recon_errors = per_horizon_errors(reconstructed, true)
    metrics = {
        "test_frames": int(values // int(np.prod(x.shape[1:]))),
        "code_shape": list(prior.shape),
        "history": video.history,
        "action_kind": video.action_kind,
        "test_mse": mse,
        "test_psnr_db": psnr(mse),
        "test_perplexity": float(np.exp(-(p * np.log(p + 1e-10)).sum())),
        "test_codebook_usage": float((counts > 0).mean()),
        "test_prior_bits_per_code": float(prior_logs["bits_per_code"]),
        "rollout_clips": int(len(frames)),
        "rollout_temperature": config.rollout_temperature,
        "rollout_guidance": config.rollout_guidance,
        "rollout_consensus": config.rollout_consensus,
        "rollout_psnr_db": model_errors["psnr_db"],
        "rollout_ssim": model_errors["ssim"],
        "copy_last_frame_psnr_db": copy_errors["psnr_db"],
        "copy_last_frame_ssim": copy_errors["ssim"],
        "reconstruction_psnr_db_by_horizon": recon_errors["psnr_db"],
        "reconstruction_ssim_by_horizon": recon_errors["ssim"],
        "rollout_mean_psnr_db": float(np.mean(model_errors["psnr_db"])),
        "copy_last_frame_mean_psnr_db": float(np.mean(copy_errors["psnr_db"])),
    }
    others = {t: roll(temperature=t) for t in other_temperatures(config)}
    guided = {s: roll(guidance=s) for s in other_guidances(config)}
    drawn = {n: roll(num_samples=n) for n in other_consensus(config)}
    for name, rollouts in (("temperatures", others), ("guidances", guided),
                           ("consensus", drawn)):
        if rollouts:
            metrics[f"rollouts_at_other_{name}"] = {
                str(k): {"rollout_psnr_db": e["psnr_db"], "rollout_ssim": e["ssim"]}
                for k, e in ((k, per_horizon_errors(g, true)) for k, g in rollouts.items())}
    if video.action_kind == "discrete":
        metrics.update(action_check(video, config, train_clips, frames, actions, generated,
                                    others, guided, drawn))
    return metrics


def other_temperatures(config):
    """The temperatures of `config.other_rollout_temperatures` ("0,1": 0 is
    greedy), the report's own one left out."""
    text = config.other_rollout_temperatures.strip()
    values = [float(t) for t in text.split(",") if t.strip()] if text else []
    return [t for t in values if t != config.rollout_temperature]


def other_guidances(config):
    """The guidance scales of `config.other_rollout_guidances` ("1,2,3": 1
    is no guidance), the report's own one left out."""
    text = config.other_rollout_guidances.strip()
    try:
        values = [float(s) for s in text.split(",") if s.strip()] if text else []
    except ValueError:
        values = [float("nan")]
    if not all(0 <= s < float("inf") for s in values):
        raise ValueError("`other_rollout_guidances` must be comma-separated numbers >= 0 "
                         f"(e.g. '1,2,3'), got {config.other_rollout_guidances!r}")
    return [s for s in values if s != config.rollout_guidance]


def other_consensus(config):
    """The draws per frame of `config.other_rollout_consensus` ("1,16": 1
    is one draw, no consensus), the report's own number left out."""
    text = config.other_rollout_consensus.strip()
    try:
        values = [int(n) for n in text.split(",") if n.strip()] if text else []
    except ValueError:
        values = [0]
    if not all(n >= 1 for n in values):
        raise ValueError("`other_rollout_consensus` must be comma-separated integers >= 1 "
                         f"(e.g. '1,16'), got {config.other_rollout_consensus!r}")
    return [n for n in values if n != config.rollout_consensus]


def action_check(video, config, train_clips, frames, actions, generated, others=None,
                 guided=None, drawn=None):
    """The inverse-dynamics check: a classifier of the action from true
    frame pairs (trained on the training clips) scores (a) true test pairs,
    (b) VQ-VAE reconstructions of them (the ceiling for decoded frames),
    (c) the rollouts under the true actions (each generated frame against
    the frame before it, true or generated) and (d) one generated frame
    after each context under every action (how often it moves as
    commanded); next to chance (1 / actions) and the majority action's
    rate."""
    from vq_zoo.metrics.video import action_accuracy
    from vq_zoo.metrics.video import fit_inverse_dynamics

    c = config.context_frames
    train = train_clips["frames"].astype(np.float32) / 255.0
    model = fit_inverse_dynamics(train, train_clips["actions"])
    test = frames.astype(np.float32) / 255.0
    flat = (-1,) + test.shape[2:]
    true_acc = action_accuracy(model, test[:, :-1].reshape(flat), test[:, 1:].reshape(flat),
                               actions[:, :-1].reshape(-1))
    recon = video.decode_codes(video.encode_frames(frames))
    recon_acc = action_accuracy(model, recon[:, :-1].reshape(flat), recon[:, 1:].reshape(flat),
                                actions[:, :-1].reshape(-1))
    before = np.concatenate([test[:, c - 1:c], generated[:, :-1]], axis=1)
    rollout_acc = action_accuracy(model, before.reshape(flat), generated.reshape(flat),
                                  actions[:, c - 1:-1].reshape(-1))
    n = video.action_dim
    context = np.repeat(frames[:, :c], n, axis=0)
    commanded = np.tile(np.arange(n, dtype=np.int32), len(frames))
    one_step = video.rollout(context, commanded[:, None], seed=config.seed + 1,
                             temperature=config.rollout_temperature,
                             guidance=config.rollout_guidance,
                             num_samples=config.rollout_consensus)
    counterfactual_acc = action_accuracy(model, np.repeat(test[:, c - 1], n, axis=0),
                                         one_step[:, 0], commanded)
    counts = np.bincount(actions[:, :-1].ravel(), minlength=n)
    def rollout_accuracy(frames_t):
        before = np.concatenate([test[:, c - 1:c], frames_t[:, :-1]], axis=1)
        return action_accuracy(model, before.reshape(flat), frames_t.reshape(flat),
                               actions[:, c - 1:-1].reshape(-1))

    extra = {str(t): rollout_accuracy(f) for t, f in (others or {}).items()}
    extra_guided = {str(s): rollout_accuracy(f) for s, f in (guided or {}).items()}
    extra_drawn = {str(n): rollout_accuracy(f) for n, f in (drawn or {}).items()}
    return {
        **({"action_check_rollout_at_other_consensus": extra_drawn} if extra_drawn else {}),
        **({"action_check_rollout_at_other_temperatures": extra} if extra else {}),
        **({"action_check_rollout_at_other_guidances": extra_guided}
           if extra_guided else {}),
        "action_check_chance": 1.0 / n,
        "action_check_majority_rate": float(counts.max() / counts.sum()),
        "action_check_true_frames": true_acc,
        "action_check_reconstructed_frames": recon_acc,
        "action_check_rollout": rollout_acc,
        "action_check_every_action_one_step": counterfactual_acc,
    }


def _numpy_clips(ds, limit=None):
    ds = ds.take(limit) if limit else ds
    out = {}
    for clip in ds.as_numpy_iterator():
        for k, v in clip.items():
            out.setdefault(k, []).append(v)
    return {k: np.stack(v) for k, v in out.items()}


# ------------------------------------------------------------------ main
def check_config(config, data_dir=None):
    """Builds the run's models from `config` on blank inputs and checks the
    episodes already on disk, before any run dir exists: a `history`
    beyond the context, episodes shorter than a clip, frames the
    downsamplings do not divide, unreadable episode files or actions
    outside memory-maze's 6 raise a `ValueError` here instead of after
    the VQ-VAE's training."""
    from vq_zoo.models.video.latent_video_model import LatentVideoModel
    from vq_zoo.recipes import common

    if config.history > config.context_frames:
        raise ValueError(f"`history`={config.history} must be <= `context_frames`="
                         f"{config.context_frames}")
    kind, _ = action_spec(config)
    if config.action_dropout and kind != "discrete":
        raise ValueError(
            f"`action_dropout`={config.action_dropout} (classifier-free guidance) needs "
            f"discrete actions; this config's are {kind or 'absent'}")
    other_consensus(config)  # a bad list fails here, not in the report
    guidances = [config.rollout_guidance] + other_guidances(config)
    if not config.action_dropout and any(s != 1.0 for s in guidances):
        raise ValueError(
            "`rollout_guidance` / `other_rollout_guidances` other than 1 need a prior "
            "trained with `action_dropout` > 0 (the 'no action' condition), got "
            f"action_dropout=0 and guidances {guidances}")
    length = config.context_frames + config.horizon
    common.check_image_size(config)
    if config.source == "memory_maze":
        common.check_memory_maze_data(config, data_dir, min_steps=length)
    channels = 1 if config.source == "moving_mnist" else 3
    size = config.image_size
    vqvae = build_vqvae(config, 1.0, (size, size, channels))
    codes = np.asarray(vqvae.encode(np.zeros((1, size, size, channels), "float32")))
    manifest = {"num_embeddings": int(vqvae.quantizer.num_embeddings),
                "code_shape": (length,) + codes.shape[1:]}
    prior = build_prior(config, manifest, int(vqvae.quantizer.embedding_dim))
    video = LatentVideoModel(vqvae, prior)
    clip = np.zeros((1, length) + codes.shape[1:], "int32")
    actions = None
    if kind == "discrete":
        actions = np.zeros((1, length), "int32")
    elif kind == "continuous":
        actions = np.zeros((1, length, 4), "float32")
    inputs = video.prior_inputs(clip, actions)
    prior({k: v[:1] for k, v in inputs.items()})


@register_recipe
class VideoRecipe(Recipe):
    name = "video"
    family = "video"
    summary = ("Paper section 4.4: 6 context frames, 10 generated in a per-frame "
               "VQ-VAE's latent space by a prior conditioned on past codes and "
               "actions (memory-maze offline, tfds bair_robot_pushing_small, "
               "Moving MNIST)")
    configs = CONFIGS
    stages = STAGES
    artefacts = ("vqvae.keras", "prior.keras", "samples.png", "actions.png",
                 "metrics.json")
    data_dir_use = staticmethod(data_dir_use)

    def data_card(self, config=None):
        return describe_data(config)

    def check_config(self, config, data_dir=None):
        check_config(config, data_dir)

    def export(self, run_dir, request):
        """The two presets with video cards (`export_presets.export`)."""
        from vq_zoo.recipes.video import export_presets

        return export_presets.export(run_dir, request)

    def run(self, context):
        return run_stages(context)


main = VideoRecipe().main  # `main(config, out_dir, ...)`, as before


def run_stages(context):
    """Every stage of a video run in `context`'s pipeline."""
    from vq_zoo.models.video.latent_video_model import LatentVideoModel
    from vq_zoo.training.vqvae_tensorboard import VQVAETensorBoard
    from vq_zoo.utils.images import image_grid
    from vq_zoo.utils.io import write_atomic
    from vq_zoo.utils.images import write_png

    config, data_dir, verbose = context.config, context.data_dir, context.verbose
    check_config(config, data_dir)
    with context.open_pipeline(STAGES) as pipe:
        clips, channels = make_clips(config, data_dir, verbose)
        size = config.image_size
        first = np.concatenate([np.asarray(x) for x in
                                frame_batches(clips["train"], 256).take(8)])
        variance = float(first.var())
        sample_frames = np.concatenate(
            [np.asarray(x) for x in frame_batches(clips["validation"], 16).take(1)])
        steps = config.vqvae_steps_per_epoch
        vqvae = pipe.train(
            "vqvae", lambda: build_vqvae(config, variance, (size, size, channels)),
            frame_batches(clips["train"], config.batch_size, True, config.seed).repeat()
            if steps else frame_batches(clips["train"], config.batch_size, True, config.seed),
            epochs=config.vqvae_epochs, steps_per_epoch=steps,
            validation_data=frame_batches(clips["validation"], 128),
            tensorboard=lambda d: VQVAETensorBoard(d, sample=sample_frames),
            what="train the per-frame VQ-VAE")
        manifests = pipe.extract(
            "codes", vqvae, {s: clip_batches(ds, 16) for s, ds in clips.items()},
            encode_fn=clip_encoder(vqvae), what="extract the clips' code maps")
        embedding_dim = int(vqvae.quantizer.embedding_dim)
        keys = ("codes", "actions") if action_spec(config)[0] else ("codes",)

        def code_clips(split):
            return pipe.code_data(split, 1, keys=keys).unbatch()

        holder = {}

        def make_video(prior):
            return LatentVideoModel(vqvae, prior)

        def build():
            holder["prior"] = build_prior(config, manifests["train"], embedding_dim)
            holder["video"] = make_video(holder["prior"])
            return holder["prior"]

        # The examples need the codebook (frozen now): a model made from the
        # VQ-VAE and a throwaway prior of the same config reads it.
        reader = make_video(build_prior(config, manifests["train"], embedding_dim))
        sample_clips = _numpy_clips(clips["validation"], config.num_samples)
        prior_steps = config.prior_steps_per_epoch
        prior = pipe.train(
            "prior", build,
            prior_examples(reader, code_clips("train"), config.prior_batch_size, True,
                           config.seed, repeat=bool(prior_steps),
                           action_dropout=config.action_dropout),
            epochs=config.prior_epochs, steps_per_epoch=prior_steps,
            validation_data=prior_examples(reader, code_clips("validation"), 128),
            inputs=["codes"],
            tensorboard=lambda d: prior_tensorboard(
                d, make_video, sample_clips, config,
                every_n_epochs=max(1, config.prior_epochs // 4)),
            what="train the prior over the next frame's codes")
        video = make_video(prior)
        test_clips = _numpy_clips(clips["test"])

        def draw(num, seed):
            picked = {k: v[:num] for k, v in test_clips.items()}
            temperature = config.rollout_temperature
            guidance = config.rollout_guidance
            consensus = config.rollout_consensus
            grid, _, codes = rollout_grid_frames(video, picked, config.context_frames,
                                                 seed=seed, temperature=temperature,
                                                 guidance=guidance, consensus=consensus)
            if video.action_kind == "discrete":
                frames = action_grid_frames(video, picked["frames"][0],
                                            config.context_frames, config.horizon,
                                            seed=seed, temperature=temperature,
                                            guidance=guidance, consensus=consensus)
                write_png(pipe.path("actions.png"),
                          image_grid(frames, columns=frames.shape[0] // video.action_dim))
                columns = config.context_frames + config.horizon
                for i in range(len(picked["frames"])):
                    frames = clip_grid_frames(
                        video, {k: v[i] for k, v in picked.items()},
                        config.context_frames, seed=seed, temperature=temperature,
                        guidance=guidance, consensus=consensus)
                    write_png(pipe.path(f"clip_{i}.png"), image_grid(frames, columns=columns))
            return grid, codes

        pipe.sample(vqvae, prior, config.num_samples, seed=config.seed, sample_fn=draw,
                    columns=config.context_frames + config.horizon,
                    inputs=["vqvae", "prior"])

        def report():
            train_clips = (_numpy_clips(clips["train"])
                           if video.action_kind == "discrete" else None)
            metrics = held_out_metrics(
                video, prior, config, frame_batches(clips["test"], 128),
                prior_examples(video, code_clips("test"), 128), train_clips, test_clips)
            write_atomic(pipe.path("metrics.json"), json.dumps(metrics, indent=2).encode())
            return metrics

        return pipe.stage("report", report, inputs=["vqvae", "codes", "prior"],
                          what="measure on the test split")
