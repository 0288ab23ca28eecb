"""What the quantizers without a searched codebook (FSQ, LFQ) and the
residual quantizer share with the VQ layers: tensor helpers (dtype, a value
known now, a variable read the tape sees), input checks, optional float32
projections, the statistics of the output dict, and the list of every
quantizer class a model accepts."""

import keras
from keras import ops

from vq_zoo.utils.distribute import cross_replica_sum


def is_integer_dtype(dtype):
    """Whether `dtype` is an integer (or bool) dtype."""
    dtype = keras.backend.standardize_dtype(dtype)
    return dtype.startswith("int") or dtype.startswith("uint") or dtype == "bool"


def concrete_numpy(x):
    """Returns `x` as a NumPy array if its value is known now, else None."""
    if isinstance(x, keras.KerasTensor):
        return None
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        if not tf.executing_eagerly():
            return None
    try:
        return ops.convert_to_numpy(x)
    except Exception:  # a traced value (jax.jit): checked at run time instead
        return None


def read_value(variable):
    """The current value of a Keras variable as a tensor (a read the tape
    sees, so gradients reach the variable). `keras.ops.convert_to_tensor`
    returns the variable itself, which `tf.custom_gradient` would treat as a
    captured variable."""
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return tf.identity(variable.value)
    return ops.convert_to_tensor(variable.value)


# The names a model or recipe may choose a quantizer by (`make_quantizer`).
QUANTIZER_NAMES = ("vq", "ema", "fsq", "lfq", "rvq")


def check_float_input(layer, inputs, expected_dim):
    dtype = getattr(inputs, "dtype", None)
    if dtype is not None and is_integer_dtype(dtype):
        raise ValueError(
            f"{layer.__class__.__name__} expects floating-point vectors "
            f"(encoder outputs, last axis {expected_dim}), got "
            f"{keras.backend.standardize_dtype(dtype)}. To map integer code "
            "indices to vectors use `lookup(indices)`."
        )


def check_input_shape(layer, input_shape, expected_dim):
    name = layer.__class__.__name__
    if len(input_shape) < 2:
        raise ValueError(
            f"{name} expects inputs of rank >= 2 whose last axis holds the "
            f"vectors to quantise, e.g. (batch, time, {expected_dim}). "
            f"Received shape {tuple(input_shape)}"
        )
    if input_shape[-1] is not None and input_shape[-1] != expected_dim:
        raise ValueError(
            f"{name}: the last axis of the input must equal `embedding_dim`="
            f"{expected_dim}. Received shape {tuple(input_shape)} (last axis "
            f"{input_shape[-1]})"
        )


def check_indices(layer, indices, num_embeddings, last_axis=None):
    """Refuses non-integer or out-of-range code indices (eagerly with a
    `ValueError`; in a graph by a `tf.debugging` check)."""
    name = layer.__class__.__name__
    if not is_integer_dtype(indices.dtype):
        raise ValueError(
            f"{name}: code indices must be integers in [0, num_embeddings="
            f"{num_embeddings}); received dtype {indices.dtype}"
        )
    if last_axis is not None and (
        len(indices.shape) < 1
        or indices.shape[-1] is None
        or not 1 <= indices.shape[-1] <= last_axis
    ):
        raise ValueError(
            f"{name}: code indices must have a last axis of 1 to "
            f"num_quantizers={last_axis} stage codes; received shape "
            f"{tuple(indices.shape)}"
        )
    value = concrete_numpy(indices)
    if value is not None and value.size:
        lo, hi = int(value.min()), int(value.max())
        if lo < 0 or hi >= num_embeddings:
            raise ValueError(
                f"{name}: code indices must be in [0, num_embeddings="
                f"{num_embeddings}); received min {lo}, max {hi}"
            )
    elif value is None and keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        if not isinstance(indices, keras.KerasTensor):
            checks = [
                tf.debugging.assert_less(
                    tf.cast(indices, "int64"),
                    tf.constant(num_embeddings, "int64"),
                    message="Code indices out of range [0, num_embeddings)",
                ),
                tf.debugging.assert_non_negative(
                    indices, message="Code indices must be >= 0"
                ),
            ]
            with tf.control_dependencies(checks):
                indices = tf.identity(indices)
    return indices


def flat_encoder_input(layer, inputs):
    """`encode`'s common start for a layer with an optional input
    projection (`layer.input_dim`, `layer.projected`, `layer.project_in`):
    checks `inputs`, builds the layer if needed, and returns `(x, flat)`,
    the float32 inputs and their `(N, code_dim)` projected rows."""
    inputs = ops.convert_to_tensor(inputs)
    check_float_input(layer, inputs, layer.input_dim)
    check_input_shape(layer, inputs.shape, layer.input_dim)
    if not layer.built:
        layer.build(inputs.shape)
    x = ops.cast(inputs, "float32")
    flat = ops.reshape(x, (-1, layer.input_dim))
    if layer.projected:
        flat = layer.project_in(flat)
    return x, flat


def make_projections(layer, embedding_dim, code_dim):
    """`(project_in, project_out)` float32 Dense layers between the input's
    `embedding_dim` and the quantiser's `code_dim` (built)."""
    project_in = keras.layers.Dense(code_dim, dtype="float32", name="project_in")
    project_in.build((None, embedding_dim))
    project_out = keras.layers.Dense(embedding_dim, dtype="float32", name="project_out")
    project_out.build((None, code_dim))
    return project_in, project_out


def global_counts(flat_indices, num_embeddings):
    """float32 `(num_embeddings,)` counts of the global batch."""
    return cross_replica_sum(
        ops.segment_sum(
            ops.ones_like(flat_indices, dtype="float32"),
            flat_indices,
            num_segments=num_embeddings,
        )
    )


def perplexity(counts):
    """`exp(entropy)` of the frequencies `counts` (last axis)."""
    probs = counts / ops.maximum(ops.sum(counts, axis=-1, keepdims=True), 1.0)
    return ops.exp(-ops.sum(probs * ops.log(probs + 1e-10), axis=-1))


def output_spec(layer, inputs, index_shape, num_embeddings, extra=()):
    scalar = keras.KerasTensor((), dtype="float32")
    spec = {
        "quantized": keras.KerasTensor(inputs.shape, dtype=layer.compute_dtype),
        "encoding_indices": keras.KerasTensor(index_shape, dtype="int32"),
        "loss": scalar,
        "codebook_loss": scalar,
        "commitment_loss": scalar,
        "perplexity": scalar,
        "code_counts": keras.KerasTensor((num_embeddings,), dtype="float32"),
        "update_skipped": scalar,
    }
    for name, shape in extra:
        spec[name] = keras.KerasTensor(shape, dtype="float32")
    return spec


def quantizer_classes():
    """Every quantizer class a `QuantizedModel` accepts."""
    from vq_zoo.layers.base_vector_quantizer import BaseVectorQuantizer
    from vq_zoo.layers.finite_scalar_quantizer import FiniteScalarQuantizer
    from vq_zoo.layers.lookup_free_quantizer import LookupFreeQuantizer
    from vq_zoo.layers.residual_vector_quantizer import ResidualVectorQuantizer

    return (BaseVectorQuantizer, FiniteScalarQuantizer, LookupFreeQuantizer,
            ResidualVectorQuantizer)


def make_quantizer(quantizer, embedding_dim, num_embeddings, commitment_cost=0.25,
                   decay=0.99, name="quantizer", **kwargs):
    """A quantizer layer by name (`QUANTIZER_NAMES`):

    - `"vq"`: `VectorQuantizer`; `"ema"`: `VectorQuantizerEMA` (`decay`);
      `kwargs` are their options (`rotation_trick`, `use_cosine_similarity`,
      `codebook_dim`, `kmeans_init`, `dead_code_threshold`, `seed`, ...);
    - `"fsq"`: `FiniteScalarQuantizer(levels=kwargs["levels"])` (a list or a
      Table 1 preset name; `num_embeddings` is ignored: the levels fix it);
    - `"lfq"`: `LookupFreeQuantizer(num_embeddings)` (a power of 2), with
      `entropy_loss_weight`, `diversity_gamma`, `entropy_temperature`;
    - `"rvq"`: `ResidualVectorQuantizer(kwargs["num_quantizers"])` of EMA
      stages (`kwargs["ema"]`, default True) or VQ stages, with
      `quantizer_dropout`; the other kwargs go to every stage.
    Each is given `embedding_dim` (its input's last axis) and `name`."""
    from vq_zoo.layers.finite_scalar_quantizer import FiniteScalarQuantizer
    from vq_zoo.layers.lookup_free_quantizer import LookupFreeQuantizer
    from vq_zoo.layers.residual_vector_quantizer import ResidualVectorQuantizer
    from vq_zoo.layers.vector_quantizer import VectorQuantizer
    from vq_zoo.layers.vector_quantizer_ema import VectorQuantizerEMA

    kwargs = dict(kwargs)
    if quantizer not in QUANTIZER_NAMES:
        raise ValueError(
            f"`quantizer` must be one of {', '.join(QUANTIZER_NAMES)}; "
            f"received quantizer={quantizer!r}"
        )
    if quantizer == "fsq":
        if "levels" not in kwargs:
            raise ValueError("quantizer='fsq' needs `levels` (e.g. (8, 5, 5, 5)).")
        return FiniteScalarQuantizer(
            levels=kwargs.pop("levels"), embedding_dim=embedding_dim,
            name=name, **_only(kwargs, ("epsilon",), "fsq"))
    if quantizer == "lfq":
        return LookupFreeQuantizer(
            num_embeddings=num_embeddings, embedding_dim=embedding_dim,
            commitment_cost=commitment_cost, name=name,
            **_only(kwargs, ("entropy_loss_weight", "diversity_gamma",
                             "entropy_temperature"), "lfq"))
    if quantizer == "rvq":
        if "num_quantizers" not in kwargs:
            raise ValueError("quantizer='rvq' needs `num_quantizers` (e.g. 4).")
        return ResidualVectorQuantizer(
            num_quantizers=kwargs.pop("num_quantizers"),
            embedding_dim=embedding_dim, num_embeddings=num_embeddings,
            commitment_cost=commitment_cost, ema=kwargs.pop("ema", True),
            decay=decay, quantizer_dropout=kwargs.pop("quantizer_dropout", 0.0),
            seed=kwargs.pop("seed", None), quantizer_kwargs=kwargs, name=name)
    if quantizer == "ema":
        kwargs["decay"] = decay
    cls = VectorQuantizerEMA if quantizer == "ema" else VectorQuantizer
    return cls(embedding_dim=embedding_dim, num_embeddings=num_embeddings,
               commitment_cost=commitment_cost, name=name, **kwargs)


def _only(kwargs, allowed, kind):
    """`kwargs` restricted to `allowed`: the VQ options the image models
    pass to every quantizer (`dead_code_threshold`, `seed`) mean nothing
    to FSQ / LFQ and are dropped where they are 0 / None; anything else is
    refused by name."""
    out = {}
    for key, value in kwargs.items():
        if key in allowed:
            out[key] = value
        elif key in ("seed",) or (key == "dead_code_threshold" and not value):
            continue
        else:
            raise ValueError(
                f"quantizer={kind!r} has no option `{key}` (it has "
                f"{', '.join(allowed) or 'none'})."
            )
    return out
