"""A run directory with one owner: the pipeline.

`RunLock(out_dir)` holds an exclusive `fcntl.flock` on `out_dir/run.lock` for
as long as the run lasts: a second training into the same directory is
refused at once with the pid, host, command and start time of the one that
holds it. The kernel drops the lock when its process ends, however it ends
(a SIGKILL included), so a dead run never leaves the directory stuck; the
file itself stays, and its contents are only read while someone holds it.
Only the pipeline takes it (`vq_zoo.pipeline.Pipeline`), once per run: a
second pipeline on the same run dir is refused, in this process as in
another.

`stages/run.json` records the run's config; reopening the directory with
another config is refused, naming the keys that differ, unless the run is
restarted (its artefacts wiped first) or given a new directory. A run
started by a command also records `config.json`: the recipe, config and
command, and each invocation's wall time and machine (`vq-zoo export`
reads it).
No TensorFlow here: the command line reads a run directory before importing it.
"""

import json
import os
import shutil
import socket
import sys
import time

LOCK_FILE = "run.lock"
RUN_RECORD = os.path.join("stages", "run.json")
RUN_CONFIG = "config.json"
# Kept by a restart: the lock being held, and the record of the command
# (the pipeline starts a new list of invocations on a restart).
KEPT_ON_RESTART = (LOCK_FILE, RUN_CONFIG)


class RunDirError(RuntimeError):
    """A run directory that cannot be used as asked: held by another
    process, made with another config, or holding artefacts that do not
    belong together. The message says what to do."""


def _lock_name():
    # Under a multi-worker cluster every task is its own writer.
    try:
        task = json.loads(os.environ.get("TF_CONFIG") or "{}").get("task") or {}
    except ValueError:
        task = {}
    if task.get("type") and task.get("type") != "chief" and not (
            task.get("type") == "worker" and int(task.get("index", 0)) == 0):
        return f"run-{task['type']}-{task.get('index', 0)}.lock"
    return LOCK_FILE


class RunLock:
    """Exclusive lock of a run directory, taken by its pipeline.

    Args:
        out_dir: the run directory (created if missing).

    Raises:
        RunDirError: another run holds it (another process, or another
            pipeline of this one); the message names it.

    Example:
    >>> with RunLock("runs/natural_images-default"):
    ...     train()
    """

    def __init__(self, out_dir):
        self.out_dir = os.fspath(out_dir)
        self.path = os.path.realpath(os.path.join(self.out_dir, _lock_name()))
        self._file = None
        self._held = False
        self.acquire()

    def acquire(self):
        if self._held:
            return self
        try:
            import fcntl
        except ImportError:  # not POSIX: no lock, as before
            self._held = True
            return self
        os.makedirs(self.out_dir, exist_ok=True)
        f = open(self.path, "a+")
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.seek(0)
            text = f.read()
            f.close()
            try:
                holder = json.loads(text)
            except ValueError:
                holder = {}
            raise RunDirError(
                f"{self.out_dir} is in use by another run: pid "
                f"{holder.get('pid', '?')} on {holder.get('host', '?')}, "
                f"`{holder.get('command', '?')}`, since {holder.get('since', '?')}. "
                "Two trainings must not write one run directory: wait for that "
                "one to finish (or stop it), or use another --out-dir."
            ) from None
        f.seek(0)
        f.truncate()
        f.write(json.dumps({
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "command": " ".join([os.path.basename(sys.argv[0] or "python"),
                                 *sys.argv[1:]]),
            "since": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }) + "\n")
        f.flush()
        self._file = f
        self._held = True
        return self

    @property
    def held(self):
        return self._held

    def release(self):
        if not self._held:
            return
        self._held = False
        if self._file is not None:
            self._file.close()  # closing the file drops the flock
            self._file = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()

    def __del__(self):
        try:
            self.release()
        except Exception:
            pass


def config_diff(old, new):
    """`["key: old -> new", ...]` for every key whose value differs (a key
    present on one side only shows `<absent>` on the other)."""
    lines = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key, "<absent>"), new.get(key, "<absent>")
        if a != b:
            lines.append(f"{key}: {a!r} -> {b!r}")
    return lines


def _jsonable(config):
    import dataclasses

    if config is None:
        return None
    if dataclasses.is_dataclass(config):
        config = dataclasses.asdict(config)
    # Through JSON, so tuples compare equal to the lists read back.
    return json.loads(json.dumps(dict(config), default=str))


def _defaults(config):
    """The JSON form of the default of every field of the dataclass
    `config` that has one (empty for a dict)."""
    import dataclasses

    if not dataclasses.is_dataclass(config):
        return {}
    defaults = {}
    for field in dataclasses.fields(config):
        if field.default is not dataclasses.MISSING:
            defaults[field.name] = field.default
        elif field.default_factory is not dataclasses.MISSING:
            defaults[field.name] = field.default_factory()
    return json.loads(json.dumps(defaults, default=str))


def check_config(out_dir, config):
    """Raises `RunDirError` if `out_dir` holds a run of another config. A
    field the recorded config lacks (a run made before the field existed)
    counts as its default, so adding a field to a recipe's config keeps
    older runs resumable as long as they are resumed with that default."""
    defaults = _defaults(config)
    config = _jsonable(config)
    path = os.path.join(out_dir, RUN_RECORD)
    if config is None or not os.path.exists(path):
        return
    with open(path) as f:
        old = json.load(f).get("config")
    if old is not None:
        old = {**{k: v for k, v in defaults.items() if k not in old}, **old}
    if old is None or old == config:
        return
    raise RunDirError(
        f"{out_dir} holds a run of another config; its finished stages would "
        "not match this one. Differing keys (old -> new):\n  "
        + "\n  ".join(config_diff(old, config))
        + "\nRerun with --restart (restart=True) to wipe that run and start "
        "again, or choose a new --out-dir."
    )


def wipe(out_dir):
    """Removes every artefact of the run in `out_dir` (not the lock, nor
    `config.json`, which the restarted run's pipeline writes anew)."""
    if not os.path.isdir(out_dir):
        return
    for name in os.listdir(out_dir):
        if name in KEPT_ON_RESTART or (name.startswith("run-") and name.endswith(".lock")):
            continue
        path = os.path.join(out_dir, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.remove(path)


def write_run_record(out_dir, config, stages):
    from vq_zoo.utils.io import write_atomic

    record = {"config": _jsonable(config), "stages": list(stages),
              "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    path = os.path.join(out_dir, RUN_RECORD)
    if os.path.exists(path):
        with open(path) as f:
            old = json.load(f)
        record["created"] = old.get("created", record["created"])
        if old == record:
            return
    write_atomic(path, (json.dumps(record, indent=2) + "\n").encode())


def finished_stages(out_dir):
    """The stages a run dir records as finished (`stages/<name>.json`, the
    run's own record `run.json` aside), sorted."""
    folder = os.path.join(out_dir, "stages")
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    return sorted(os.path.splitext(n)[0] for n in names
                  if n.endswith(".json") and n != "run.json")


def machine_description():
    """The machine of a run, measured at its end: CPU cores and model, the
    GPUs TensorFlow saw ("no GPU (CPU only)" when none), and the 1-minute
    load average (other jobs sharing the cores show there)."""
    import platform

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f
                        if line.startswith("model name")), cpu)
    except OSError:
        pass
    parts = [f"{os.cpu_count()} CPU cores ({cpu}), {platform.system()}"]
    gpus = []
    tf = sys.modules.get("tensorflow")
    if tf is not None:
        try:
            for device in tf.config.list_physical_devices("GPU"):
                details = tf.config.experimental.get_device_details(device)
                gpus.append(details.get("device_name") or device.name)
        except Exception:  # a backend without device details
            pass
    parts.append(f"{len(gpus)} GPU{'s' if len(gpus) > 1 else ''} "
                 f"({', '.join(sorted(set(gpus)))})" if gpus else "no GPU (CPU only)")
    try:
        parts.append(f"load average {os.getloadavg()[0]:.1f} at the end")
    except (OSError, AttributeError):
        pass
    return "; ".join(parts)


def _write_run_config(out_dir, record):
    from vq_zoo.utils.io import write_atomic

    write_atomic(os.path.join(out_dir, RUN_CONFIG),
                 (json.dumps(record, indent=2) + "\n").encode())


def open_run_config(out_dir, config, invocation, restart=False):
    """The record `config.json` of a run started by a command
    (`invocation`: `{"recipe", "config_name", "command"}`): the invocations
    recorded before are kept when the config is the same (absent fields at
    their defaults) and the run is not restarted. A `config.json` of
    another config (a run dir made before `stages/run.json` recorded the
    config) raises `RunDirError` naming the keys. Nothing is written."""
    import dataclasses

    record = {
        "recipe": invocation["recipe"],
        "config_name": invocation["config_name"],
        "config": dataclasses.asdict(config) if dataclasses.is_dataclass(config)
        else dict(config),
        "command": invocation["command"],
        **({"family": invocation["family"]} if invocation.get("family") else {}),
        "invocations": [],
    }
    path = os.path.join(out_dir, RUN_CONFIG)
    if os.path.exists(path) and not restart:
        with open(path) as f:
            previous = json.load(f)
        old = previous.get("config") or {}
        new = _jsonable(config)
        old = {**{k: v for k, v in _defaults(config).items() if k not in old}, **old}
        if old != new:
            raise RunDirError(
                f"{path} holds a run of another config (old -> new):\n  "
                + "\n  ".join(config_diff(old, new))
                + "\nRerun with --restart to wipe that run, or use a new --out-dir.")
        record["invocations"] = previous.get("invocations", [])
    return record


def record_invocation(out_dir, record, started):
    """Appends this invocation (its command, wall time since `started`,
    machine and end time) to the run's `config.json` record and writes it
    (atomically)."""
    record["invocations"].append({
        "command": record["command"],
        "wall_time_s": round(time.time() - started, 1),
        "hardware": machine_description(),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    })
    _write_run_config(out_dir, record)
