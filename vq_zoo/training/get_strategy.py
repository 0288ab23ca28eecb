"""Picks a `tf.distribute` strategy by name, for recipes and the CLI."""

import json
import os

STRATEGY_NAMES = ("default", "mirrored", "multi_worker", "tpu")
# Where TPUClusterResolver looks for a TPU when given no name.
TPU_ENV_VARS = ("TPU_NAME", "COLAB_TPU_ADDR", "KUBE_GOOGLE_CLOUD_TPU_ENDPOINTS")
TPU_DEVICE_GLOBS = ("/dev/accel*", "/dev/vfio/[0-9]*")


def _tpu_hint():
    """Names a TPU address or local TPU device if there is one, else None.

    Without one, `TPUClusterResolver()` asks the GCE metadata server, which
    off Google Cloud can block for minutes; fail fast instead.
    """
    import glob

    for var in TPU_ENV_VARS:
        if os.environ.get(var):
            return f"${var}"
    for pattern in TPU_DEVICE_GLOBS:
        if glob.glob(pattern):
            return pattern
    return None


def _check_tf_config(raw):
    """Validates a `TF_CONFIG` string for multi-worker training and returns it
    parsed; raises a `ValueError` saying what was expected."""
    expected = (
        'Expected JSON like {"cluster": {"worker": ["host0:port", '
        '"host1:port"]}, "task": {"type": "worker", "index": 0}}.'
    )
    if not raw:
        raise ValueError(
            "get_strategy('multi_worker') needs the `TF_CONFIG` environment "
            f"variable, which is not set. {expected}"
        )
    try:
        config = json.loads(raw)
    except ValueError as e:
        raise ValueError(
            f"`TF_CONFIG` is not valid JSON ({e}). Received: {raw!r}. {expected}"
        ) from None
    cluster = config.get("cluster") if isinstance(config, dict) else None
    if not isinstance(cluster, dict) or not any(
        isinstance(cluster.get(k), list) and cluster.get(k)
        for k in ("worker", "chief")
    ):
        raise ValueError(
            '`TF_CONFIG["cluster"]` must map "worker" (and optionally '
            '"chief") to a non-empty list of "host:port" addresses. '
            f"Received: {raw!r}. {expected}"
        )
    task = config.get("task")
    if (
        not isinstance(task, dict)
        or task.get("type") not in cluster
        or isinstance(task.get("index"), bool)
        or not isinstance(task.get("index"), int)
        or not 0 <= task["index"] < len(cluster[task["type"]])
    ):
        raise ValueError(
            '`TF_CONFIG["task"]` must be {"type": T, "index": i} with T a job '
            f"of the cluster ({sorted(cluster)}) and i an index into its "
            f"address list. Received: {raw!r}. {expected}"
        )
    return config


def _fix_keras_multi_worker_metric_mean():
    """Works around Keras 3 (checked on 3.15) failing in `fit` under
    `MultiWorkerMirroredStrategy` with more than one worker: its
    `reduce_per_replica` averages every logged value with
    `strategy.reduce("MEAN", v, axis=0)`, which fails on scalar metrics
    ("Invalid reduction dimension 0 for input with 0 dimensions"). Scalars
    are averaged over replicas with `axis=None` instead; everything else goes
    to Keras unchanged. Idempotent; used only by `get_strategy("multi_worker")`.
    The private hook it replaces is tested in tests/training/keras_hooks_test.py
    (setup.py pins Keras to the minor version checked there).
    """
    import tensorflow as tf
    from keras.src.backend.tensorflow import trainer as tf_trainer
    from keras.src import tree

    original = tf_trainer.reduce_per_replica
    if getattr(original, "_vq_zoo_scalar_mean", False):
        return

    def reduce_per_replica(values, strategy, reduction):
        if reduction not in ("auto", "mean") or isinstance(
            strategy, tf.distribute.TPUStrategy
        ) or not tf_trainer._collective_all_reduce_multi_worker(strategy):
            return original(values, strategy, reduction)

        def _reduce(v):
            rank = strategy.experimental_local_results(v)[0].shape.rank
            return strategy.reduce("MEAN", v, axis=0 if rank else None)

        return tree.map_structure(_reduce, values)

    reduce_per_replica._vq_zoo_scalar_mean = True
    tf_trainer.reduce_per_replica = reduce_per_replica


def get_strategy(name="default", tpu=None):
    """Returns the `tf.distribute.Strategy` called `name`.

    Build datasets at the global batch size and build and compile the model
    inside `strategy.scope()`; Keras' `fit` then splits every global batch
    across the replicas.

    Args:
        name: one of
            - `"default"`: the default strategy (no distribution);
            - `"mirrored"`: `MirroredStrategy` over every local GPU, or the
              CPU when there is none;
            - `"multi_worker"`: `MultiWorkerMirroredStrategy`, its cluster
              read from the `TF_CONFIG` environment variable, which is
              validated first. Create it at the start of the program, before
              any other TensorFlow op runs. This also patches Keras 3's
              averaging of scalar logs across workers, which otherwise
              fails in `fit` (see `_fix_keras_multi_worker_metric_mean`);
            - `"tpu"`: `TPUStrategy` on the TPU found by
              `TPUClusterResolver(tpu)`.
        tpu: for `name="tpu"`, the TPU name or `grpc://` address; `None` finds
            a local or Cloud TPU VM's TPU.

    Returns:
        A `tf.distribute.Strategy`.

    Example:
    >>> strategy = get_strategy("mirrored")
    >>> with strategy.scope():
    ...     model = VQVAE.image_model(num_hiddens=16, num_residual_hiddens=8,
    ...                               embedding_dim=8, num_embeddings=32)
    ...     model.compile(optimizer="adam")
    """
    if not isinstance(name, str) or name.lower() not in STRATEGY_NAMES:
        raise ValueError(
            f"`name` must be one of {', '.join(STRATEGY_NAMES)}. "
            f"Received: name={name!r}"
        )
    name = name.lower()
    if tpu is not None and name != "tpu":
        raise ValueError(
            f"`tpu` is only used with name='tpu'. Received: name={name!r}, "
            f"tpu={tpu!r}"
        )
    import tensorflow as tf

    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        _check_tf_config(os.environ.get("TF_CONFIG"))
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
        _fix_keras_multi_worker_metric_mean()
        return strategy
    if tpu is None and _tpu_hint() is None:
        raise ValueError(
            "get_strategy('tpu') found no TPU: `tpu` is None, none of "
            f"{', '.join('$' + v for v in TPU_ENV_VARS)} is set and there is no "
            f"local TPU device ({', '.join(TPU_DEVICE_GLOBS)}). Pass `tpu=` (a "
            "TPU name or grpc:// address), run on a TPU VM, or pick one of "
            "'default', 'mirrored', 'multi_worker'."
        )
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu)
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, RuntimeError, tf.errors.OpError) as e:
        raise ValueError(
            "get_strategy('tpu') found no TPU"
            + (f" named {tpu!r}" if tpu else "")
            + f": {e}. Pass `tpu=` (a TPU name or grpc:// address), run on a "
            "TPU VM, or pick one of 'default', 'mirrored', 'multi_worker'."
        ) from e
    return tf.distribute.TPUStrategy(resolver)
