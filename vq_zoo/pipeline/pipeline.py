"""A pipeline of named stages, each resuming on its own, in one run dir.

A recipe is a list of stages run in order in `out_dir`:

- `train(name, build_fn, data, ...)`: fit a model (a VQ-VAE, a prior, a
  VQ-VAE on codes, ...); an interrupted fit resumes mid-epoch from its last
  backup; the finished model is saved atomically as `<name>.keras`.
- `extract(name, model, splits, ...)`: encode each split with the model's
  quantisers frozen, to code shards of named arrays (every code level, plus
  the dataset's pass-through arrays: labels, speakers, actions) under
  `codes/<name>/<split>/` (`codes/<split>/` for the stage `codes`); resumes at the first missing shard.
- `sample(...)`: draw from a prior, decode, write a PNG grid.
- `stage(name, fn)`: any other step whose result is a small JSON dict.

A stage is complete when `stages/<name>.json` exists (written atomically,
last); a complete stage is loaded instead of run again. Each record holds a
digest of what the stage made (the `.keras` file's sha256, the code
manifests' sha256) and the digests of the stages it was made from
(`inputs`); reusing a stage whose inputs have changed since, or code shards
extracted by another codebook than the model's, is refused with what to do.
The pipeline owns the run dir: it alone takes its lock (one writer at a
time, `RunLock`), checks and records its config (`stages/run.json`) and,
for a run started by a command, `config.json` with each invocation (see
`vq_zoo.pipeline.run_dir`).

Example (VQ-VAE-2: two code levels, two priors):

>>> with Pipeline(out_dir, config=config, seed=config.seed,
...               stages=["vqvae", "codes", "prior_top", "prior_bottom",
...                       "sample"]) as pipe:
...     vqvae = pipe.train("vqvae", build_vqvae2, images, epochs=10)
...     pipe.extract("codes", vqvae, {"train": train, "test": test})
...     top = pipe.train("prior_top", build_top,
...                      pipe.code_data("train", 64, keys={"codes": "top"}),
...                      epochs=10, inputs=["codes"])
...     bottom = pipe.train("prior_bottom", build_bottom, pipe.code_data(
...         "train", 64, keys={"codes": "bottom", "spatial_condition": "top"}),
...         epochs=10, inputs=["codes"])
...     pipe.sample(vqvae, [top, bottom], 16, sample_fn=draw)
"""

import hashlib
import io
import json
import os

import numpy as np

from vq_zoo.pipeline.run_dir import RUN_RECORD
from vq_zoo.pipeline.run_dir import RunDirError
from vq_zoo.pipeline.run_dir import RunLock
from vq_zoo.pipeline.run_dir import check_config
from vq_zoo.pipeline.run_dir import open_run_config
from vq_zoo.pipeline.run_dir import record_invocation
from vq_zoo.pipeline.run_dir import wipe
from vq_zoo.pipeline.run_dir import write_run_record
from vq_zoo.utils.images import image_grid
from vq_zoo.utils.io import write_atomic
from vq_zoo.utils.images import write_png

WHAT_TO_DO = ("Rerun with --restart (restart=True) to wipe the run and start "
              "again, or use a new --out-dir.")


def file_sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _json_sha256(value):
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


def _has_codebooks(model):
    return bool(getattr(model, "quantizers", None)) or hasattr(model, "quantizer")


def set_determinism(seed, deterministic=True):
    """Seeds Python, NumPy and TensorFlow (`keras.utils.set_random_seed`)
    and, with `deterministic`, turns on TensorFlow's op determinism, so a
    rerun of the same config on the same machine gives the same numbers
    (tests/recipes/natural_images_test.py: a bit-identical metrics.json).

    On a CPU it costs nothing measurable (bench/determinism_cost.py; the
    figures are in bench/RESULTS.md). Where it does not hold: across
    machines, thread counts or TF/oneDNN builds (other kernels, other
    rounding), and under a multi-replica strategy's all-reduce order; on a
    GPU (not measured here) TensorFlow raises for any op without a
    deterministic GPU kernel, pass `deterministic=False` there."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(int(seed))
    if deterministic:
        tf.config.experimental.enable_op_determinism()


def _check_precision(precision):
    from vq_zoo.utils.config import PRECISIONS

    if precision not in PRECISIONS:
        raise ValueError(
            f"precision={precision!r}: expected one of {', '.join(PRECISIONS)}"
        )


def set_precision(precision):
    """Sets Keras' global dtype policy to `precision` (one of
    `vq_zoo.utils.config.PRECISIONS`) and returns the policy it replaced.
    Models built afterwards compute in that policy: under
    `"mixed_bfloat16"` / `"mixed_float16"` the layers compute in bfloat16 /
    float16 while the variables, the quantisers' search and codebook
    statistics and every loss stay in float32 (`Task` wraps the optimizer in
    a loss-scale optimizer for float16). Models loaded from a run keep the
    policy they were saved with.

    Speed depends on the CPU (bench/RESULTS.md has the figures and the
    commands): where it has bfloat16 arithmetic (AVX512_BF16 or AMX)
    mixed_bfloat16 trains faster than float32; where it has none it is
    emulated and several times slower, and `SlowPrecisionWarning` says so
    once. bfloat16 keeps 8 bits of mantissa, so the numbers differ from a
    float32 run."""
    import keras
    import tensorflow as tf

    from vq_zoo.utils.hardware import warn_if_slow_precision

    _check_precision(precision)
    warn_if_slow_precision(precision, accelerators=len(
        tf.config.list_logical_devices("GPU") + tf.config.list_logical_devices("TPU")))
    before = keras.mixed_precision.global_policy().name
    keras.mixed_precision.set_global_policy(precision)
    return before


def _op_determinism():
    """Whether TensorFlow's op determinism is on (None: cannot tell)."""
    try:
        from tensorflow.python.framework import config
    except ImportError:
        return None
    return config.is_op_determinism_enabled()


def _restore_op_determinism(enabled):
    # Determinism is process-wide: a pipeline gives back what it found, so
    # a test process that runs a recipe leaves the next test unchanged.
    if enabled is False:
        from tensorflow.python.framework import config

        config.disable_op_determinism()


class Pipeline:
    """Runs and resumes the named stages of a recipe in `out_dir`.

    Args:
        out_dir: folder for every artefact of the run.
        config: the run's config (a dataclass or dict), recorded in
            `stages/run.json`; reopening the run dir with another config
            raises `RunDirError` naming the differing keys.
        strategy: a `tf.distribute.Strategy` (None: the default strategy).
        log_dir: TensorBoard folder (default `out_dir/logs`).
        verbose: 0 (silent), 1 (progress bars), 2 (a line per epoch); the
            stage announcements print with 1 and 2.
        extra_callbacks: callable `(stage, model) -> list of callbacks`
            added to each `fit`.
        backup_every: int, batches between backups of a training stage.
        tensorboard_every: int, epochs between TensorBoard image summaries.
        restart: bool, wipe the run's artefacts first.
        stages: the names of the run's stages in order, for "stage i/n"
            announcements (a stage not listed is appended when it runs).
        seed: int or None; if set, `set_determinism(seed, deterministic)`.
        deterministic: bool, TensorFlow op determinism along with `seed`.
        precision: None (leave Keras' dtype policy alone) or one of
            `vq_zoo.utils.config.PRECISIONS`: the global dtype policy while
            the pipeline is open (`set_precision`; the previous policy is
            restored on `close`).
        invocation: None, or for a run started by a command `{"recipe",
            "config_name", "command", "started"}` (`RunContext.invocation`):
            the run's `config.json` is written once the run dir is checked,
            and the invocation (wall time since `started`, machine) is added
            to it when the pipeline closes without an error.

    Use it as a context manager (or call `close()`): it holds the run dir's
    lock until then.
    """

    def __init__(self, out_dir, config=None, strategy=None, log_dir=None,
                 verbose=1, extra_callbacks=None, backup_every=100,
                 tensorboard_every=1, restart=False, stages=(), seed=None,
                 deterministic=True, precision=None, invocation=None):
        import tensorflow as tf

        if precision is not None:
            _check_precision(precision)  # before the run dir is touched
        self.out_dir = out_dir
        self.lock = RunLock(out_dir)
        self._run_config = None
        try:
            if restart:
                wipe(out_dir)
            check_config(out_dir, config)
            if invocation is not None:
                run_config = open_run_config(out_dir, config, invocation, restart)
            os.makedirs(os.path.join(out_dir, "stages"), exist_ok=True)
            self.stages = list(stages)
            write_run_record(out_dir, config, self.stages)
            if invocation is not None:
                # Written (again) before any stage runs, for `vq-zoo export`.
                write_atomic(self.path("config.json"),
                             (json.dumps(run_config, indent=2) + "\n").encode())
                self._run_config = (run_config, invocation["started"])
        except BaseException:
            self.lock.release()
            raise
        self.config = config
        self.strategy = strategy or tf.distribute.get_strategy()
        self.log_dir = log_dir or os.path.join(out_dir, "logs")
        self.verbose = verbose
        self.extra_callbacks = extra_callbacks or (lambda stage, model: [])
        self.backup_every = backup_every
        self.tensorboard_every = tensorboard_every
        self._made_by = {}  # id(model) -> the stage that made or loaded it
        self._determinism_before = _op_determinism()
        if seed is not None:
            set_determinism(seed, deterministic)
        self._policy_before = None if precision is None else set_precision(precision)

    def close(self, succeeded=True):
        """Records the invocation (with `succeeded`, for a run started by a
        command), releases the run dir's lock and gives TensorFlow's op
        determinism and Keras' dtype policy back as they were before this
        pipeline."""
        try:
            if succeeded and self._run_config is not None and self.lock.held:
                record_invocation(self.out_dir, *self._run_config)
        finally:
            self._run_config = None
            self._close()

    def _close(self):
        _restore_op_determinism(self._determinism_before)
        self._determinism_before = None
        if self._policy_before is not None:
            import keras

            keras.mixed_precision.set_global_policy(self._policy_before)
            self._policy_before = None
        self.lock.release()

    def __enter__(self):
        return self

    def __exit__(self, kind, value, traceback):
        self.close(succeeded=kind is None)

    # ------------------------------------------------------------ records
    def path(self, *parts):
        return os.path.join(self.out_dir, *parts)

    def is_done(self, stage):
        return os.path.exists(self.path("stages", f"{stage}.json"))

    def stage_info(self, stage):
        with open(self.path("stages", f"{stage}.json")) as f:
            return json.load(f)

    def _mark_done(self, stage, info):
        write_atomic(self.path("stages", f"{stage}.json"),
                     json.dumps(info, indent=2, default=float).encode())

    def _announce(self, stage, what, reused=None):
        if stage not in self.stages:
            self.stages.append(stage)
        if not self.verbose:
            return
        line = f"stage {self.stages.index(stage) + 1}/{len(self.stages)}: {what}"
        if reused:
            line += f" (finished earlier: reusing {reused})"
        print(line, flush=True)

    def _input_digests(self, inputs):
        digests = {}
        for name in inputs:
            if not self.is_done(name):
                raise RunDirError(
                    f"Stage {name!r} is needed as an input but is not finished "
                    f"in {self.out_dir}."
                )
            digests[name] = self.stage_info(name).get("digest")
        return digests

    def _check_inputs(self, stage, record):
        """Refuses a finished stage made from other inputs than the ones in
        the run dir now."""
        for name, digest in (record.get("inputs") or {}).items():
            current = (self.stage_info(name).get("digest")
                       if self.is_done(name) else None)
            if digest is not None and current != digest:
                now = "not finished" if current is None else f"{current[:12]}..."
                raise RunDirError(
                    f"Stage {stage!r} in {self.out_dir} was made from stage "
                    f"{name!r} with digest {digest[:12]}..., but {name!r} is now "
                    f"{now}: the artefacts do not belong together. " + WHAT_TO_DO
                )

    def _inputs_for(self, inputs, models=()):
        if inputs is None:
            inputs = [self._made_by[id(m)] for m in models if id(m) in self._made_by]
        return list(dict.fromkeys(inputs))

    # ------------------------------------------------------------- models
    def _load(self, filename):
        import keras

        with self.strategy.scope():
            return keras.models.load_model(self.path(filename))

    def _save(self, model, filename):
        from vq_zoo.utils.io import atomic_path

        with atomic_path(self.path(filename)) as tmp:
            model.save(tmp)

    def load(self, stage):
        """The model saved by the finished training stage `stage`, after
        checking that its file is the one the stage recorded."""
        record = self.stage_info(stage)
        filename = record.get("file", f"{stage}.keras")
        self._check_inputs(stage, record)
        if record.get("digest") and file_sha256(self.path(filename)) != record["digest"]:
            raise RunDirError(
                f"{self.path(filename)} is not the model stage {stage!r} saved "
                "(its sha256 differs from stages/{stage}.json). " + WHAT_TO_DO
            )
        model = self._load(filename)
        self._made_by[id(model)] = stage
        return model

    def _fit(self, stage, model, data, epochs, steps_per_epoch, validation_data,
             callbacks, tensorboard, keep_best=None):
        import keras

        from vq_zoo.training.compact_progbar_logger import CompactProgbarLogger
        from vq_zoo.training.nan_guard import NaNGuard
        from vq_zoo.training.resumable_backup_and_restore import (
            ResumableBackupAndRestore,
        )

        backup = ResumableBackupAndRestore(
            self.path("backup", stage), save_freq=self.backup_every,
            name=stage, verbose=self.verbose)
        inner = [tensorboard, *self.extra_callbacks(stage, model), *callbacks]
        if self.verbose:
            # Without the metrics that are zero by design (an EMA codebook's
            # `codebook_loss`) or so far (`skipped_updates`).
            inner.append(CompactProgbarLogger())
        callbacks = [NaNGuard(), backup,
                     backup.real_batches_only(inner, verbose=self.verbose)]
        if keep_best:
            callbacks.append(keep_best)
        # The progress bar is one of the callbacks above, so that it, like
        # the others, sees only the batches really trained after a resume.
        history = model.fit(
            data, epochs=epochs, steps_per_epoch=steps_per_epoch,
            validation_data=validation_data, callbacks=callbacks,
            verbose=0, shuffle=False,
        )
        return {k: float(v[-1]) for k, v in history.history.items() if v}

    def train(self, name, build_fn, data, epochs, steps_per_epoch=None,
              validation_data=None, callbacks=(), inputs=(), tensorboard=None,
              what=None, keep_best=None):
        """A training stage: `build_fn()` (called in the strategy's scope)
        returns a built, compiled model, fit on `data` and saved as
        `<name>.keras`.

        Args:
            name: the stage name.
            build_fn: callable returning the built, compiled model.
            data, epochs, steps_per_epoch, validation_data, callbacks: as
                for `fit` (shuffle your data in the dataset).
            inputs: names of finished stages this one is made from (e.g. the
                code extraction a prior trains on); their digests are
                recorded, and checked when the stage is reused.
            tensorboard: callable `log_dir -> callback` (default Keras'
                `TensorBoard`), given `log_dir/<name>`.
            what: words for the announcement (default "train <name>").
            keep_best: a log to minimise (e.g. `"val_loss"`): the saved
                model is the epoch that minimised it (`KeepBestEpoch`,
                resumable), recorded as `best_epoch` in the stage record.

        Returns:
            The trained (or, if finished earlier, loaded) model.
        """
        import keras

        what = what or f"train {name}"
        filename = f"{name}.keras"
        inputs = list(inputs)
        if self.is_done(name):
            self._announce(name, what, reused=filename)
            return self.load(name)
        self._announce(name, what)
        digests = self._input_digests(inputs)
        with self.strategy.scope():
            model = build_fn()
        log_dir = os.path.join(self.log_dir, name)
        board = (tensorboard or keras.callbacks.TensorBoard)(log_dir)
        best = None
        if keep_best:
            from vq_zoo.training.keep_best_epoch import KeepBestEpoch

            best = KeepBestEpoch(self.path("backup", f"{name}-best"), keep_best,
                                 verbose=self.verbose)
        logs = self._fit(name, model, data, epochs, steps_per_epoch,
                         validation_data, list(callbacks), board, best)
        self._save(model, filename)
        record = {"kind": "train", "file": filename,
                  "digest": file_sha256(self.path(filename)), "inputs": digests,
                  "final_logs": logs, "epochs": epochs}
        if best is not None:
            record["best_epoch"] = {"epoch": best.best_epoch, keep_best: best.best_value}
        if _has_codebooks(model):
            from vq_zoo.data.codes import codebook_digest

            record["codebook_sha256"] = codebook_digest(model)
        self._mark_done(name, record)
        self._made_by[id(model)] = name
        return model

    # -------------------------------------------------------------- codes
    def code_dir(self, name, split):
        """`codes/<name>/<split>`; `codes/<split>` for the stage `codes`
        (the layout of two-stage runs)."""
        if name == "codes":
            return self.path("codes", split)
        return self.path("codes", name, split)

    def extract(self, name, model, splits, batches_per_shard=64, inputs=None,
                input_key="images", encode_fn=None, what=None):
        """A code-extraction stage: each split's dataset (batches of inputs,
        `(inputs, labels)`, or dicts of named arrays with the inputs under
        `input_key`, in a fixed order) encoded by `model` into
        `codes/<name>/<split>/`. `inputs`: the stages the model comes from
        (default: the stage that trained or loaded it). Returns the
        manifests, `{split: manifest}`."""
        from vq_zoo.data.codes import codebook_digest
        from vq_zoo.data.codes import write_code_shards

        inputs = self._inputs_for(inputs, [model])
        digest = codebook_digest(model)
        if self.is_done(name):
            self._announce(name, what or f"extract codes {name}",
                           reused=f"the codes in {self.path('codes')}")
            record = self.stage_info(name)
            for split, manifest in record["manifests"].items():
                if manifest.get("codebook_sha256") not in (None, digest):
                    raise RunDirError(
                        f"The {split} codes of stage {name!r} in {self.out_dir} "
                        f"were extracted by another codebook (sha256 "
                        f"{manifest['codebook_sha256'][:12]}...) than the model's "
                        f"({digest[:12]}...). " + WHAT_TO_DO
                    )
            self._check_inputs(name, record)
            return record["manifests"]
        self._announce(name, what or f"extract codes {name}")
        digests = self._input_digests(inputs)
        manifests, directories = {}, {}
        for split, dataset in splits.items():
            if self.verbose:
                print(f"Extracting {split} codes ...", flush=True)
            directory = self.code_dir(name, split)
            manifests[split] = write_code_shards(
                model, dataset, directory, batches_per_shard=batches_per_shard,
                progress=self.verbose == 1, input_key=input_key,
                encode_fn=encode_fn)
            directories[split] = os.path.relpath(directory, self.out_dir)
        self._mark_done(name, {"kind": "extract", "manifests": manifests,
                               "directories": directories,
                               "digest": _json_sha256(manifests),
                               "inputs": digests, "codebook_sha256": digest})
        return manifests

    def code_data(self, split, batch_size, stage="codes", **kwargs):
        """The codes of `split` written by the extraction stage `stage`, as
        `vq_zoo.data.codes.code_dataset(directory, batch_size, **kwargs)`
        (`keys=` selects and renames arrays)."""
        from vq_zoo.data.codes import code_dataset

        record = self.stage_info(stage)
        directory = (record.get("directories") or {}).get(split)
        # Runs made before named stages kept the codes in codes/<split>.
        directory = self.path(directory) if directory else self.path("codes", split)
        return code_dataset(directory, batch_size, **kwargs)

    # ------------------------------------------------------------- others
    def stage(self, name, fn, inputs=(), what=None):
        """Any other stage: `fn()` returns a JSON-able dict, recorded in
        `stages/<name>.json` and returned again, without running `fn`, once
        the stage is finished."""
        what = what or name
        if self.is_done(name):
            self._announce(name, what, reused=f"stages/{name}.json")
            record = self.stage_info(name)
            self._check_inputs(name, record)
            return record["result"]
        self._announce(name, what)
        digests = self._input_digests(inputs)
        result = fn()
        self._mark_done(name, {"kind": "stage", "result": result, "inputs": digests,
                               "digest": _json_sha256(result)})
        return result

    def sample(self, vqvae, prior, num, condition=None, seed=0,
               temperature=1.0, filename="samples.png", columns=8,
               name="sample", sample_fn=None, inputs=None):
        """A sampling stage (run every time: it is cheap): `num` code maps
        from `prior`, decoded by `vqvae`, written as a PNG grid and
        `sample_codes.npy`; returns the images. `sample_fn(num, seed) ->
        (images, codes)` replaces the draw (e.g. VQ-VAE-2's top then bottom
        prior; `prior` may then be a list); dict codes go to an `.npz`."""
        priors = prior if isinstance(prior, (list, tuple)) else [prior]
        self._announce(name, "sample")
        inputs = self._inputs_for(inputs, [vqvae, *priors])
        for stage in inputs:
            self._check_inputs(stage, self.stage_info(stage))
        if sample_fn is None:
            codes = prior.sample(num, condition=condition, seed=seed,
                                 temperature=temperature)
            images = np.asarray(vqvae.decode(codes))
        else:
            images, codes = sample_fn(num, seed)
            images = np.asarray(images)
        write_png(self.path(filename), image_grid(images, columns=columns))
        buffer = io.BytesIO()
        if isinstance(codes, dict):
            np.savez(buffer, **{k: np.asarray(v) for k, v in codes.items()})
            codes_file = "sample_codes.npz"
        else:
            np.save(buffer, np.asarray(codes))
            codes_file = "sample_codes.npy"
        write_atomic(self.path(codes_file), buffer.getvalue())
        self._mark_done(name, {"kind": "sample", "num": num, "seed": seed,
                               "file": filename, "codes": codes_file,
                               "inputs": self._input_digests(inputs)})
        return images


__all__ = ["Pipeline", "RunDirError", "set_determinism", "RUN_RECORD"]
