"""What one run of a recipe is given: the `RunContext`.

`vq-zoo train` (and `Recipe.main` in Python) make one and hand it to the
recipe's `run(context)`. The recipe reads its config and options from it
and opens the run dir's pipeline through it (`context.open_pipeline`): the
pipeline alone owns the run dir (its lock, its recorded config, and, for a
run started by a command, `config.json` with each invocation).
"""

import os
import time


class RunContext:
    """One run of a recipe: the config, the run dir and the options.

    Args:
        recipe: the `Recipe` (or its name) being run.
        config: the run's config (a frozen dataclass).
        out_dir: the run dir.
        config_name: the config's name (recorded in `config.json`).
        strategy: a `tf.distribute.Strategy` (None: the default strategy).
        data_dir: the data the config reads, where it reads one.
        log_dir: TensorBoard folder (default `out_dir/logs`).
        verbose: 0 (silent), 1 (progress bars), 2 (a line per epoch).
        extra_callbacks: callable `(stage, model) -> list of callbacks`.
        restart: bool, wipe the run's artefacts first.
        command: the command line that started the run (`vq-zoo train
            ...`); with it the pipeline records `config.json` and each
            invocation's wall time and machine, which `vq-zoo export`
            reads. None (a run started from Python): no `config.json`.

    Example:

    >>> context = RunContext(recipe, config, "runs/natural_images-smoke")
    >>> with context.open_pipeline() as pipe:
    ...     vqvae = pipe.train_vqvae(...)
    """

    def __init__(self, recipe, config, out_dir, config_name=None, strategy=None,
                 data_dir=None, log_dir=None, verbose=1, extra_callbacks=None,
                 restart=False, command=None):
        self.recipe = recipe
        self.recipe_name = recipe if isinstance(recipe, str) else recipe.name
        self.config = config
        self.out_dir = os.fspath(out_dir)
        self.config_name = config_name
        self.strategy = strategy
        self.data_dir = data_dir
        self.log_dir = log_dir or os.path.join(self.out_dir, "logs")
        self.verbose = verbose
        self.extra_callbacks = extra_callbacks
        self.restart = restart
        self.command = command
        self.started = time.time()

    def invocation(self):
        """What the pipeline records of this run in `config.json` (None
        without a command)."""
        if self.command is None:
            return None
        family = (None if isinstance(self.recipe, str)
                  else self.recipe.family_of(self.config))
        return {"recipe": self.recipe_name, "config_name": self.config_name,
                "command": self.command, "started": self.started,
                **({"family": family} if family else {})}

    def open_pipeline(self, stages=None):
        """The run dir's pipeline (use it with `with`): the paper's
        `TwoStagePipeline`, or with `stages` (the stage names in order) a
        `Pipeline` of those. It takes the run dir's lock, refuses a run of
        another config, records this one, seeds with `config.seed` (op
        determinism on) and sets Keras' dtype policy to `config.precision`
        while it is open."""
        kwargs = dict(strategy=self.strategy, log_dir=self.log_dir, verbose=self.verbose,
                      extra_callbacks=self.extra_callbacks, config=self.config,
                      restart=self.restart, seed=self.config.seed,
                      precision=self.config.precision, invocation=self.invocation())
        if stages is None:
            from vq_zoo.pipeline.two_stage_pipeline import TwoStagePipeline

            return TwoStagePipeline(self.out_dir, **kwargs)
        from vq_zoo.pipeline.pipeline import Pipeline

        return Pipeline(self.out_dir, stages=stages, **kwargs)


__all__ = ["RunContext"]
