"""The cached sampler: draws tokens one position at a time through a model's
`step` function.

The protocol (keras-hub's `call_with_cache` / Keras' RNN cells, with the
state explicit). A model that can generate incrementally has

    state = model.initial_state(batch_size, ...)
    logits, state = model.step(prev_tokens, state, index)

- `state` is a nested structure (dicts, lists) of tensors: every layer's own
  cache (a gated block's row buffers, a WaveNet block's queue, an attention
  layer's keys and values), plus whatever the model keeps (conditioning
  terms computed once). Only the layer that owns a cache reads or writes it.
- `prev_tokens`, int32 `(batch,)`, are the tokens drawn at `index - 1`
  (zeros at `index == 0`); `index` is an int32 scalar, the position in the
  model's generation order (raster order for 2D maps).
- `logits`, `(batch, num_embeddings)`, are those of
  `p(z_index | z_<index, condition)`: exactly what the model's full forward
  pass gives at `index` for the same tokens.

`sample_with_cache` drives any such `step` in one loop (compile it with
`compile_loop`; XLA removes the per-op dispatch that dominates small
batches); it knows nothing of layers. Draws are Gumbel-max,
`argmax(logits / temperature + g)` with per-position noise `g` drawn once up
front (`gumbel_noise`), so a naive sampler that recomputes the full forward
pass at each position with the same noise draws the same tokens.
`logits_with_cache` runs the same `step` over given tokens (teacher forcing):
the check that stepping equals the full forward pass.

Classifier-free guidance (Ho & Salimans 2022): `guided_step(step_fn,
guidance)` is a `step` over a doubled batch, the conditional half first and
the unconditional (null-condition) half second, that returns the guided
logits of the first half, `l_cond + (guidance - 1) * (l_cond - l_uncond)`
(`= l_uncond + guidance * (l_cond - l_uncond)`: 1 is plain conditional
sampling, bit for bit, 0 unconditional), and feeds each drawn token to both
halves. Start it from the model's initial state for the two conditions
stacked along the batch; the noise covers the first half only.

Example:
>>> import vq_zoo
>>> prior = vq_zoo.GatedPixelCNNPrior(num_embeddings=16, shape=(4, 4),
...                                   filters=8, num_layers=2)
>>> noise = gumbel_noise((2, 16, 16), seed=0)
>>> codes = compile_loop(
...     lambda n: sample_with_cache(prior.step, prior.initial_state(2), n)
... )(noise)
>>> tuple(codes.shape)
(2, 16)
"""

import keras
import numpy as np
from keras import ops


def gumbel_noise(shape, seed=None):
    """Standard Gumbel noise `-log(-log(u))`, float32, of `shape`
    (`(batch, positions, num_embeddings)` for `sample_with_cache`)."""
    u = keras.random.uniform(
        shape, minval=np.finfo("float32").tiny, maxval=1.0, seed=seed
    )
    return -ops.log(-ops.log(u))


def _draw(logits, noise_at, temperature):
    scores = ops.cast(logits, "float32") / temperature + noise_at
    return ops.cast(ops.argmax(scores, axis=-1), "int32")


def sample_with_cache(step_fn, state, noise, temperature=1.0):
    """Draws `positions` tokens in order through `step_fn`.

    Args:
        step_fn: `(prev_tokens, state, index) -> (logits, state)`, see the
            module docstring.
        state: the model's initial state.
        noise: float32 `(batch, positions, num_embeddings)` Gumbel noise.
        temperature: float or scalar tensor > 0, divides the logits.

    Returns:
        int32 tokens `(batch, positions)`.
    """
    batch, positions = noise.shape[0], noise.shape[1]
    temperature = ops.cast(temperature, "float32")

    def body(index, carry):
        prev, tokens, state = carry
        logits, state = step_fn(prev, state, index)
        token = _draw(logits, ops.take(noise, index, axis=1), temperature)
        tokens = ops.slice_update(tokens, (0, index), token[:, None])
        return token, tokens, state

    carry = (ops.zeros((batch,), "int32"), ops.zeros((batch, positions), "int32"), state)
    _, tokens, _ = ops.fori_loop(0, positions, body, carry)
    return tokens


def guided_logits(cond_logits, uncond_logits, guidance):
    """Classifier-free guidance, float32: `l_cond + (guidance - 1) *
    (l_cond - l_uncond)`, that is `l_uncond + guidance * (l_cond -
    l_uncond)`; written from the conditional side so that `guidance = 1`
    returns the conditional logits exactly."""
    cond = ops.cast(cond_logits, "float32")
    uncond = ops.cast(uncond_logits, "float32")
    return cond + (ops.cast(guidance, "float32") - 1.0) * (cond - uncond)


def guided_step(step_fn, guidance):
    """A `step` with classifier-free guidance (Ho & Salimans 2022).

    `step_fn` runs on a doubled batch `[conditional; unconditional]` (its
    state made by the model's `initial_state(2 * batch, ...)` for the two
    conditions stacked, the conditional ones first); the returned step
    takes and returns the first half's tokens and logits: `prev_tokens`
    `(batch,)` go to both halves, the logits are `guided_logits` of the
    halves' logits, `(batch, num_embeddings)`, float32.

    Args:
        step_fn: `(prev_tokens, state, index) -> (logits, state)`.
        guidance: float or scalar tensor, the scale `s` (1: conditional
            sampling; above 1 the condition counts more).

    Example:
    >>> state = prior.initial_state(2 * n, {"condition": both_labels})
    >>> tokens = sample_with_cache(guided_step(prior.step, 3.0), state, noise)
    """

    def step(prev_tokens, state, index):
        logits, state = step_fn(ops.concatenate([prev_tokens, prev_tokens], axis=0),
                                state, index)
        cond, uncond = ops.split(logits, 2, axis=0)
        return guided_logits(cond, uncond, guidance), state

    return step


def logits_with_cache(step_fn, state, tokens):
    """The logits `step_fn` gives at every position when fed `tokens`
    (teacher forcing), float32 `(batch, positions, num_embeddings)`."""
    tokens = ops.cast(tokens, "int32")
    batch, positions = tokens.shape[0], tokens.shape[1]

    def body(index, carry):
        logits_all, state = carry
        prev = ops.take(tokens, ops.maximum(index - 1, 0), axis=1)
        prev = ops.where(index > 0, prev, ops.zeros_like(prev))
        logits, state = step_fn(prev, state, index)
        logits = ops.cast(logits, "float32")
        if logits_all is None:
            return logits, state
        return ops.slice_update(logits_all, (0, index, 0), logits[:, None]), state

    # The first step fixes the logits' width.
    first, state = body(0, (None, state))
    logits_all = ops.zeros((batch, positions, first.shape[-1]), "float32")
    logits_all = ops.slice_update(logits_all, (0, 0, 0), first[:, None])
    logits_all, _ = ops.fori_loop(1, positions, body, (logits_all, state))
    return logits_all


def compile_loop(fn, jit_compile=True):
    """`fn` as one compiled graph (a `tf.function`, by default compiled with
    XLA: a sampling loop is thousands of small ops per call, whose dispatch
    XLA removes)."""
    import tensorflow as tf

    return tf.function(fn, jit_compile=jit_compile, autograph=False)


__all__ = ["compile_loop", "guided_logits", "guided_step", "gumbel_noise",
           "logits_with_cache", "sample_with_cache"]
