"""Fault injection on 2 replicas (2 logical CPU devices): prints a JSON
report read by `replica_faults_test.py`.

Run in a fresh process: the logical devices must be configured before
TensorFlow initialises. Usage: python replica_fault_worker.py
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration()] * 2
)

import keras  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))

from vq_zoo.layers.base_vector_quantizer import BaseVectorQuantizer  # noqa: E402
from vq_zoo.layers.vector_quantizer import VectorQuantizer  # noqa: E402
from vq_zoo.layers.vector_quantizer_ema import VectorQuantizerEMA  # noqa: E402

D, K, SHARD = 6, 16, 16
REMEDIES = dict(kmeans_init=True, kmeans_iters=3, dead_code_threshold=0.5, seed=4)
LAYERS = {
    "ema": (VectorQuantizerEMA, {}),
    "ema_remedies": (VectorQuantizerEMA, REMEDIES),
    "vq_remedies": (VectorQuantizer, REMEDIES),
}
# One strategy object per process: collective instance keys of separate
# MirroredStrategy objects can collide within a process.
MIRRORED = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])


def shards(seed, bad_replica=None, rows=SHARD):
    rng = np.random.default_rng(seed)
    # The replicas' halves differ in distribution, so that a replica
    # deciding from its own half would really decide differently.
    out = [rng.normal(size=(rows, D)).astype("float32") * s for s in (0.3, 1.0)]
    if bad_replica is not None:
        out[bad_replica][3, 2] = np.nan
    return out


def distribute(parts):
    return MIRRORED.experimental_distribute_values_from_function(
        lambda ctx: tf.constant(parts[ctx.replica_id_in_sync_group]))


def make(case):
    cls, kwargs = LAYERS[case]
    with MIRRORED.scope():
        layer = cls(embedding_dim=D, num_embeddings=K,
                    embeddings_initializer=keras.initializers.RandomNormal(seed=0),
                    **kwargs)
        layer.build((None, D))

    @tf.function
    def step(x):
        return MIRRORED.run(lambda x: layer(x, training=True)["update_skipped"], args=(x,))

    return layer, lambda parts: [float(v) for v in MIRRORED.experimental_local_results(
        step(distribute(parts)))]


def per_replica(layer):
    """{variable name: [value on replica 0, value on replica 1]}."""
    out = {}
    for v in layer.variables:
        value = v.value
        values = value.values if hasattr(value, "values") else [value]
        out[v.name] = [np.array(t.numpy()) for t in values]
    return out


def same(a, b):
    return all(
        len(a[n]) == len(b[n]) and all(x.tobytes() == y.tobytes() for x, y in zip(a[n], b[n]))
        for n in a)


def replicas_agree(s):
    return all(all(v.tobytes() == vals[0].tobytes() for v in vals) for vals in s.values())


def all_finite(s):
    return all(np.all(np.isfinite(v)) for vals in s.values() for v in vals)


def fault_cases(case):
    """A NaN in replica 0's shard, then (on the state that step left) one in
    replica 1's, then a good batch: each bad step is reported on its own
    (skipped on both replicas, state unchanged), and the good step must equal
    that of a twin that never saw either bad batch."""
    layer, step = make(case)
    twin, twin_step = make(case)
    for seed in (1, 2):
        step(shards(seed))
        twin_step(shards(seed))
    before = per_replica(layer)
    bad = {}
    for bad_replica in (0, 1):
        start = per_replica(layer)
        skipped = step(shards(3, bad_replica))
        after_bad = per_replica(layer)
        bad[bad_replica] = (skipped, same(start, after_bad), all_finite(after_bad))
    good = step(shards(4))
    twin_step(shards(4))
    after_good = per_replica(layer)
    shared = {
        "num_replicas": len(before["codebook"]),
        "next_step_skipped": good,
        "replicas_agree_after_next_step": replicas_agree(after_good),
        "next_step_equals_twin": same(after_good, per_replica(twin)),
        "next_step_moved": [n for n in before if not same({n: before[n]}, {n: after_good[n]})],
    }
    return {
        f"{case}:nan_on_replica_{r}": {
            "skipped_per_replica": skipped,
            "unchanged_on_every_replica": unchanged,
            "finite": finite and all_finite(after_good),
            **shared,
        }
        for r, (skipped, unchanged, finite) in bad.items()
    }


def empty_case():
    layer, step = make("ema")
    before = per_replica(layer)
    skipped = step([np.zeros((0, D), "float32")] * 2)
    return {
        "skipped_per_replica": skipped,
        "unchanged_on_every_replica": same(before, per_replica(layer)),
        "finite": all_finite(per_replica(layer)),
    }


def partial_case():
    # The last batch of an epoch may leave a replica without rows: the
    # other replica's rows still train every replica alike.
    layer, step = make("ema_remedies")
    before = per_replica(layer)
    skipped = step([shards(5)[0], np.zeros((0, D), "float32")])
    after = per_replica(layer)
    return {"skipped_per_replica": skipped, "replicas_agree": replicas_agree(after),
            "finite": all_finite(after),
            "codebook_moved": not same({"c": before["codebook"]}, {"c": after["codebook"]})}


def vqvae_case():
    # An EMA VQ-VAE under `fit` on 2 replicas, a NaN in replica 0's half of
    # batch 3: NaNGuard stops there and every variable (weights, codebook,
    # EMA state) equals, on both replicas, a copy fit on batches 1-2 only.
    from vq_zoo.models.vqvae.vqvae import VQVAE
    from vq_zoo.training import NaNGuard

    def fresh(init=None):
        with MIRRORED.scope():
            model = VQVAE.image_model(num_hiddens=8, num_residual_layers=1,
                                      num_residual_hiddens=4, embedding_dim=4,
                                      num_embeddings=16, ema=True)
            model.build((None, 8, 8, 3))
            if init is not None:
                model.set_weights(init)
            model.compile(optimizer=keras.optimizers.Adam(1e-2))
        return model

    x = np.random.default_rng(0).uniform(size=(32, 8, 8, 3)).astype("float32")
    x[2 * 8 + 1, 4, 4, 0] = np.nan  # global batches of 8: replica 0's rows 0-3
    init = fresh().get_weights()
    guarded, reference = fresh(init), fresh(init)
    message = ""
    try:
        guarded.fit(x, batch_size=8, epochs=1, shuffle=False, verbose=0,
                    callbacks=[NaNGuard()])
    except FloatingPointError as e:
        message = str(e)
    reference.fit(x[:16], batch_size=8, epochs=1, shuffle=False, verbose=0)
    def replica_lists(model):  # variable names repeat in a model: keep the order
        return [[np.array(t.numpy()) for t in (v.value.values if hasattr(v.value, "values")
                                                else [v.value])] for v in model.variables]

    a, b = replica_lists(guarded), replica_lists(reference)
    index = [v is guarded.quantizer.codebook for v in guarded.variables].index(True)
    return {
        "message": message,
        "equal_to_reference": len(a) == len(b) and all(
            len(va) == len(vb) == 2 and all(p.tobytes() == q.tobytes() for p, q in zip(va, vb))
            for va, vb in zip(a, b)),
        "replicas_agree": all(all(v.tobytes() == va[0].tobytes() for v in va) for va in a),
        "finite": all(np.all(np.isfinite(v)) for va in a for v in va if v.dtype.kind == "f"),
        "codebook_moved": bool(np.any(
            a[index][0] != init[[v is guarded.quantizer.codebook
                                 for v in guarded.weights].index(True)])),
    }


def control_case():
    # Negative control: each replica decides from its own shard and the
    # finiteness check of the new values is off. The replica without the NaN
    # then writes the NaN-contaminated all-reduced statistics, the other does
    # not: the replicas disagree and the state is corrupted.
    from keras import ops

    def local_guard(self, flat):
        ok = ops.all(ops.isfinite(flat))
        return ok, ops.logical_not(ok)

    def unchecked_commit(self, apply, updates):
        for variable, value in updates:
            variable.assign(ops.where(apply, value, ops.convert_to_tensor(variable)))
        return ops.zeros((), "bool")

    BaseVectorQuantizer._update_guard = local_guard
    BaseVectorQuantizer._commit = unchecked_commit
    layer, step = make("ema")
    step(shards(1))
    skipped = step(shards(3, bad_replica=0))
    s = per_replica(layer)
    return {"skipped_per_replica": skipped, "replicas_agree": replicas_agree(s),
            "finite": all_finite(s)}


if __name__ == "__main__":
    keras.utils.set_random_seed(0)
    report = {}
    for case in LAYERS:
        report.update(fault_cases(case))
    report["empty"] = empty_case()
    report["partial"] = partial_case()
    report["vqvae"] = vqvae_case()
    report["control"] = control_case()  # last: it patches the layer class
    print("REPORT " + json.dumps(report))
