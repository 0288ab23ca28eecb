"""Which worker of a multi-worker job this process is (private helper)."""


def worker_role(model):
    """Returns `(is_chief, task_type, task_id)` for `model`'s strategy.

    Without a cluster (one process) every process is the chief. Under
    `MultiWorkerMirroredStrategy` the chief is the `"chief"` task, or worker 0
    when the cluster has no chief, as in Keras' own multi-worker support.
    """
    strategy = getattr(model, "distribute_strategy", None)
    resolver = getattr(strategy, "cluster_resolver", None)
    extended = getattr(strategy, "extended", None)
    if resolver is None or not getattr(extended, "_in_multi_worker_mode", lambda: False)():
        return True, None, None
    task_type, task_id = resolver.task_type, resolver.task_id
    if task_type is None:
        return True, None, None
    cluster = resolver.cluster_spec().as_dict()
    is_chief = task_type == "chief" or (
        task_type == "worker" and task_id == 0 and "chief" not in cluster
    )
    return is_chief, task_type, task_id
