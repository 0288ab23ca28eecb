"""The paper's two-stage pipeline: a `Pipeline` of four named stages.

1. `vqvae` (`train_vqvae`): fit the VQ-VAE, saved as `vqvae.keras`.
2. `codes` (`extract_codes`): encode each split with the quantiser frozen,
   to code shards under `codes/<split>/`.
3. `prior` (`train_prior`): fit the prior on the codes (its record names the
   codes it was trained on), saved as `prior.keras`.
4. `sample`: draw code maps from the prior, decode them, write a PNG grid.

Each stage resumes on its own; see `vq_zoo.pipeline.pipeline.Pipeline`.
"""

from vq_zoo.pipeline.pipeline import Pipeline

STAGES = ("vqvae", "codes", "prior", "sample")


class TwoStagePipeline(Pipeline):
    """`Pipeline` with the stages `vqvae`, `codes`, `prior`, `sample`.

    Args:
        out_dir, strategy, log_dir, verbose, extra_callbacks, backup_every,
        tensorboard_every: as for `Pipeline`.
        **kwargs: `config`, `restart`, `seed`, `deterministic`, as for
            `Pipeline`.

    Every `fit` gets a `NaNGuard`, a `ResumableBackupAndRestore` and a
    `VQVAETensorBoard` (reconstructions, code usage and the codebook
    projector for the VQ-VAE; decoded prior samples for the prior).
    """

    def __init__(self, out_dir, strategy=None, log_dir=None, verbose=1,
                 extra_callbacks=None, backup_every=100, tensorboard_every=1,
                 **kwargs):
        kwargs.setdefault("stages", STAGES)
        super().__init__(out_dir, strategy=strategy, log_dir=log_dir,
                         verbose=verbose, extra_callbacks=extra_callbacks,
                         backup_every=backup_every,
                         tensorboard_every=tensorboard_every, **kwargs)

    def train_vqvae(self, build_model, data, epochs, steps_per_epoch=None,
                    validation_data=None, callbacks=(), sample=None):
        """Stage 1. `build_model()` returns a built, compiled `VQVAE`; it is
        called inside the strategy's scope. `sample`: a few held-out images
        shown against their reconstructions in TensorBoard."""
        from vq_zoo.training.vqvae_tensorboard import VQVAETensorBoard

        def tensorboard(log_dir):
            return VQVAETensorBoard(log_dir, sample=sample,
                                    every_n_epochs=self.tensorboard_every,
                                    run_name="images")

        return self.train("vqvae", build_model, data, epochs, steps_per_epoch,
                          validation_data, callbacks, tensorboard=tensorboard,
                          what="train the VQ-VAE")

    def extract_codes(self, vqvae, splits, batches_per_shard=64):
        """Stage 2. `splits` maps a split name to a dataset of images or
        `(images, labels)` batches in a fixed order. Returns the manifests."""
        return self.extract("codes", vqvae, splits,
                            batches_per_shard=batches_per_shard,
                            what="extract codes")

    def train_prior(self, build_prior, data, epochs, steps_per_epoch=None,
                    validation_data=None, callbacks=(), vqvae=None,
                    condition_fn=None, num_tensorboard_samples=16):
        """Stage 3. `build_prior()` returns a built, compiled prior. With the
        trained `vqvae`, decoded prior samples go to TensorBoard;
        `condition_fn(num)` gives their condition for a conditional prior."""
        import keras

        from vq_zoo.training.vqvae_tensorboard import VQVAETensorBoard

        holder = {}

        def build():
            holder["prior"] = build_prior()
            return holder["prior"]

        def tensorboard(log_dir):
            if vqvae is None:
                return keras.callbacks.TensorBoard(log_dir)

            def sample_fn(num):
                condition = condition_fn(num) if condition_fn else None
                return vqvae.decode(holder["prior"].sample(
                    num, condition=condition, seed=0))

            return VQVAETensorBoard(
                log_dir, sample=None, sample_fn=sample_fn,
                num_prior_samples=num_tensorboard_samples,
                every_n_epochs=self.tensorboard_every, run_name="images")

        return self.train("prior", build, data, epochs, steps_per_epoch,
                          validation_data, callbacks, inputs=["codes"],
                          tensorboard=tensorboard,
                          what="train the prior on the codes")


__all__ = ["TwoStagePipeline", "STAGES"]
