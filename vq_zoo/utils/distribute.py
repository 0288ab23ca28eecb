"""Cross-replica helpers for state updated inside `call()`.

Keras variables default to `aggregation="none"`: under `tf.distribute` a
non-trainable variable assigned inside `call()` keeps one value per replica.
Layers that update such state (the EMA codebook, dead-code statistics) must
therefore first all-reduce the statistics they update from, so that every
replica computes the same update. These helpers do that in a replica context
and are the identity everywhere else (one replica, cross-replica context,
non-TensorFlow backends, where data parallelism shards a global batch).
"""

import keras



def _replica_context():
    if keras.backend.backend() != "tensorflow":
        return None
    import tensorflow as tf

    if tf.distribute.in_cross_replica_context():
        return None
    ctx = tf.distribute.get_replica_context()
    if ctx is None or ctx.num_replicas_in_sync == 1:
        return None
    return ctx


def num_replicas_in_sync():
    """Number of replicas training in sync (1 outside `tf.distribute`)."""
    if keras.backend.backend() != "tensorflow":
        return 1
    import tensorflow as tf

    return tf.distribute.get_strategy().num_replicas_in_sync


def cross_replica_sum(x):
    """Sums `x` over the replicas in sync; the identity with one replica."""
    ctx = _replica_context()
    if ctx is None:
        return x
    import tensorflow as tf

    return ctx.all_reduce(tf.distribute.ReduceOp.SUM, x)


def cross_replica_concat(x):
    """Concatenates `x` along axis 0 over replicas, in replica order.

    Every replica gets the same result. `x` must have the same static shape on
    every replica. Implemented as a sum of zero-padded slots, which needs only
    the all-reduce every strategy supports.
    """
    ctx = _replica_context()
    if ctx is None:
        return x
    import tensorflow as tf

    n = ctx.num_replicas_in_sync
    replica_id = tf.cast(
        tf.convert_to_tensor(ctx.replica_id_in_sync_group), "int32"
    )
    slots = tf.one_hot(replica_id, n, dtype=x.dtype)
    slots = tf.reshape(slots, [n] + [1] * len(x.shape))
    stacked = ctx.all_reduce(
        tf.distribute.ReduceOp.SUM, slots * tf.expand_dims(x, 0)
    )
    return tf.reshape(stacked, [-1] + list(x.shape[1:]))


def replica_row_offset(local_rows):
    """Index, in the global batch, of this replica's first row.

    `tf.distribute` splits a global batch into contiguous per-replica slices
    in replica order, so the offset is the number of rows held by the
    replicas before this one. Returns a float32 scalar (0 with one replica).
    """
    import keras.ops as ops

    local_rows = ops.cast(local_rows, "float32")
    ctx = _replica_context()
    if ctx is None:
        return ops.zeros((), "float32")
    import tensorflow as tf

    sizes = cross_replica_concat(tf.reshape(local_rows, [1]))
    replica_id = tf.cast(
        tf.convert_to_tensor(ctx.replica_id_in_sync_group), "int32"
    )
    before = tf.range(ctx.num_replicas_in_sync) < replica_id
    return tf.reduce_sum(tf.where(before, sizes, tf.zeros_like(sizes)))


def loss_scale_for_replicas():
    """Factor that turns a per-replica mean loss into its share of the global
    mean: gradients are summed across replicas, so each replica's loss must be
    divided by the number of replicas."""
    return 1.0 / num_replicas_in_sync()


__all__ = [
    "replica_row_offset",
    "cross_replica_concat",
    "cross_replica_sum",
    "loss_scale_for_replicas",
    "num_replicas_in_sync",
]
