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


__all__ = ["compile_loop", "gumbel_noise", "logits_with_cache", "sample_with_cache"]
