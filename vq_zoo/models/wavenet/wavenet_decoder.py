"""A WaveNet over 8-bit mu-law samples, conditioned on upsampled VQ-VAE
latents and a speaker, of any length, with cached (Fast WaveNet) sampling."""

import keras
from keras import ops

from vq_zoo.layers.causal_gated_block import CausalGatedBlock
from vq_zoo.models.gated_pixelcnn.autoregressive_prior import AutoregressivePrior
from vq_zoo.utils.checks import checked_int_range
from vq_zoo.models.gated_pixelcnn.gated_pixelcnn_1d_prior import causal_initial_state
from vq_zoo.models.gated_pixelcnn.gated_pixelcnn_1d_prior import causal_step
from vq_zoo.models.gated_pixelcnn.gated_pixelcnn_1d_prior import embed_shifted
from vq_zoo.models.gated_pixelcnn.gated_pixelcnn_1d_prior import run_causal_blocks
from vq_zoo.utils.checks import check_int


@keras.saving.register_keras_serializable(package="vq_zoo")
class WaveNetDecoder(AutoregressivePrior):
    """WaveNet (van den Oord et al. 2016) as the VQ-VAE's speech decoder.

    `num_cycles` repetitions of `CausalGatedBlock`s with dilations
    `1, 2, 4, ..., 2 ** (dilation_cycle - 1)` (gated `tanh * sigmoid`
    units, residual and skip connections); the input samples are embedded
    and shifted one step right, so the logits at `t` see samples `< t`
    only; the sum of the skips goes through `relu -> 1x1 -> relu -> 1x1` to
    `num_embeddings` (256 mu-law bins) logits per sample. (As in WaveNet,
    the last block's residual output feeds nothing: its 1x1 projection is
    frozen, `trainable=False`, so no gradient is asked of it.)

    Conditioning:
        - local: float latents `(batch, ceil(time / hop_length),
          local_condition_dim)` (the VQ-VAE's quantised codes, one per
          `hop_length` samples), upsampled by repetition (each code
          conditions the `hop_length` samples it was encoded from) and
          added to every gate through a 1x1 projection;
        - global: `num_classes` speakers, an int per example, embedded in
          `condition_dim` (default `filters`) dimensions and added to every
          gate (or, without `num_classes`, a float vector of
          `condition_dim`).

    Any length. Unlike `GatedPixelCNN1DPrior`, whose `length` is fixed by
    its config, this decoder takes sequences of any length, so one model
    trains on fixed crops and decodes (or converts) whole utterances: every
    layer is a convolution or a per-step projection, and the sampler's
    length is read from the local condition (`codes * hop_length` samples)
    or given as `length`. Chunked decoding was the alternative; it would
    cut the receptive field at every chunk boundary.

    Lengths that `hop_length` does not divide: the encoder's `"same"`
    padding gives `ceil(time / hop_length)` codes (the input is padded with
    zeros at the end); here the upsampled condition is cropped to the
    `time` targets. Sampling makes `codes * hop_length` samples: crop to the
    input's length (`vq_zoo.models.wavenet.voice_conversion` does).

    Generation: `sample` runs `step` (each block's queue of its last
    `dilation` inputs, Paine et al. 2016, so a sample costs `kernel_size`
    taps per layer whatever the receptive field) in one XLA-compiled loop,
    batched; `sample_naive` recomputes a full forward pass over the last
    `receptive_field` samples for every new sample, and draws the same
    samples for the same seed.

    Shape contract: int samples `(batch, time)` (or a dict with `"codes"`,
    `"condition"`, `"spatial_condition"`) to logits `(batch, time,
    num_embeddings)`.

    Args:
        num_embeddings: int, classes per sample. Defaults to 256 (8-bit
            mu-law).
        filters: int, channels of the residual stream (and of the skips).
            Defaults to 64.
        dilation_cycle: int, blocks per cycle (dilations doubling from 1).
            Defaults to 10.
        num_cycles: int, repetitions of the cycle. Defaults to 3.
        kernel_size: int, taps of each causal convolution. Defaults to 2.
        output_filters: int, channels of the output head's hidden layer.
            Defaults to `2 * filters`.
        local_condition_dim: int or None, channels of the local condition
            (the VQ-VAE's `embedding_dim`).
        hop_length: int, samples per local-condition step (64 for the
            paper's encoder). Defaults to 1.
        num_classes: int or None, number of speakers.
        condition_dim: int or None, size of the speaker embedding (default
            `filters`), or of a float global condition without
            `num_classes`.
        speaker_names: sequence of `num_classes` strings or None: the names
            of the speakers, saved with the model (`vq-zoo convert
            --speaker NAME`).
        **kwargs: base `keras.Model` arguments.

    Example:
    >>> wavenet = WaveNetDecoder(filters=8, dilation_cycle=3, num_cycles=1,
    ...                          local_condition_dim=4, hop_length=4,
    ...                          num_classes=2)
    >>> cond = {"spatial_condition": keras.ops.zeros((1, 3, 4)),
    ...         "condition": keras.ops.array([1])}
    >>> tuple(wavenet.sample(1, condition=cond, seed=0).shape)
    (1, 12)

    References:
        van den Oord et al. WaveNet: A Generative Model for Raw Audio.
        arXiv:1609.03499.
        van den Oord, Vinyals, Kavukcuoglu. Neural Discrete Representation
        Learning. arXiv:1711.00937 (section 4.3).
        Paine et al. Fast Wavenet Generation Algorithm. arXiv:1611.09482.
    """

    rank = 1

    def __init__(
        self,
        num_embeddings=256,
        filters=64,
        dilation_cycle=10,
        num_cycles=3,
        kernel_size=2,
        output_filters=None,
        local_condition_dim=None,
        hop_length=1,
        num_classes=None,
        condition_dim=None,
        speaker_names=None,
        sample_rate=16000,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.sample_rate = check_int("sample_rate", sample_rate, numpy=True)
        self.num_embeddings = check_int("num_embeddings", num_embeddings, numpy=True)
        self.filters = check_int("filters", filters, numpy=True)
        self.dilation_cycle = check_int("dilation_cycle", dilation_cycle, numpy=True)
        self.num_cycles = check_int("num_cycles", num_cycles, numpy=True)
        self.kernel_size = check_int("kernel_size", kernel_size, numpy=True)
        self.hop_length = check_int("hop_length", hop_length, numpy=True)
        output_filters = 2 * filters if output_filters is None else output_filters
        self.output_filters = check_int("output_filters", output_filters, numpy=True)
        if local_condition_dim is not None:
            local_condition_dim = check_int("local_condition_dim", local_condition_dim,
                                            numpy=True)
        self.local_condition_dim = local_condition_dim
        if speaker_names is not None:
            speaker_names = tuple(str(s) for s in speaker_names)
            if num_classes is None:
                num_classes = len(speaker_names)
            if len(speaker_names) != num_classes or len(set(speaker_names)) != num_classes:
                raise ValueError(
                    f"`speaker_names` must be {num_classes} distinct names (one per "
                    f"class of `num_classes`), got {len(speaker_names)}"
                )
        self.speaker_names = speaker_names
        # A 1-step build shape; the model itself takes any length.
        self.shape = (self.hop_length,)
        self._init_conditioning(self.filters, condition_dim, num_classes, None, None)
        self.block_spatial_dim = local_condition_dim
        self.dilation_rates = tuple(
            2 ** i for _ in range(self.num_cycles) for i in range(self.dilation_cycle)
        )
        self._make_layers(lambda: [
            CausalGatedBlock(
                self.filters,
                self.kernel_size,
                dilation_rate=d,
                condition_dim=self.block_condition_dim,
                local_condition_dim=local_condition_dim,
                dtype=self.dtype_policy,
                name=f"block{i}",
            )
            for i, d in enumerate(self.dilation_rates)
        ])
        # The head reads the skips only: the last residual output is unused.
        self.blocks[-1].residual_output.trainable = False
        self._make_trackers()
        self.build()

    # ---------------------------------------------------------- facts
    @property
    def has_spatial_condition(self):
        return self.local_condition_dim is not None

    @property
    def receptive_field(self):
        """Samples the logits at one step depend on: the step's own shifted
        input plus every block's `(kernel_size - 1) * dilation` past ones."""
        return 1 + sum(b.queue_length for b in self.blocks)

    def speaker_index(self, speaker):
        """The class index of `speaker` (a name of `speaker_names` or an
        index); a ValueError listing the known speakers otherwise."""
        from vq_zoo.utils.checks import speaker_index

        names = self.speaker_names or ()
        if self.num_classes is None:
            raise ValueError("This decoder has no speakers (`num_classes` is None).")
        return speaker_index(speaker, names, self.num_classes)

    # ---------------------------------------------------------- inputs
    def _dummy_spatial_condition(self, batch):
        # The base class builds on `(batch, hop_length)` codes (`self.shape`):
        # one step of the local condition.
        return ops.zeros((batch, 1, self.local_condition_dim))

    def _check_codes(self, codes):
        codes = ops.convert_to_tensor(codes)
        if len(codes.shape) != 2:
            raise ValueError(
                f"`codes` must be int samples of shape (batch, time), got "
                f"{tuple(codes.shape)}"
            )
        return checked_int_range(codes, self.num_embeddings, "codes")

    def _split(self, inputs):
        codes, condition, spatial = super()._split(inputs)
        time = codes.shape[1]
        if spatial is not None and time is not None and spatial.shape[1] is not None:
            steps = -(-time // self.hop_length)
            if spatial.shape[1] != steps:
                raise ValueError(
                    f"`spatial_condition` must have ceil({time} / {self.hop_length}) = "
                    f"{steps} steps for {time} samples, got {spatial.shape[1]}"
                )
        return codes, condition, spatial

    def _check_spatial_condition(self, spatial, batch):
        # The local condition has any number of steps (the codes of a clip
        # of any length); the global one is checked by the base class.
        if self.has_spatial_condition:
            if spatial is None:
                raise ValueError(
                    "This model has a local condition: pass `spatial_condition` "
                    f"(batch, steps, {self.local_condition_dim})."
                )
            spatial = ops.convert_to_tensor(spatial)
            if len(spatial.shape) != 3 or spatial.shape[2] != self.local_condition_dim \
                    or not self._batch_ok(spatial, batch):
                raise ValueError(
                    "`spatial_condition` must have shape "
                    f"({batch}, steps, {self.local_condition_dim}), got "
                    f"{tuple(spatial.shape)}"
                )
        elif spatial is not None:
            raise ValueError(
                "This model has no local condition (`local_condition_dim` is "
                "None) but `spatial_condition` was given."
            )
        return spatial

    def _embed_global(self, condition):
        if condition is None:
            return None
        if self.label_embedding is not None:
            condition = self.label_embedding(condition)
        return ops.cast(condition, self.compute_dtype)

    def _embed_conditions(self, condition, spatial, length=None):
        condition = self._embed_global(condition)
        if spatial is not None:
            spatial = ops.cast(spatial, self.compute_dtype)
            if self.hop_length > 1:
                spatial = ops.repeat(spatial, self.hop_length, axis=1)
            if length is not None:
                spatial = spatial[:, :length]
        return condition, spatial

    # ---------------------------------------------------------- forward
    def _logits(self, codes, condition, spatial, training=None):
        condition, spatial = self._embed_conditions(condition, spatial, codes.shape[1])
        return self._logits_from_embedded(codes, condition, spatial, training)

    def _stack(self, x, condition, spatial, mask=None):
        # As in WaveNet, the head sees the skips only.
        _, skip = run_causal_blocks(self.blocks, x, condition, spatial, mask)
        return self._output_head(skip)

    def _logits_from_embedded(self, codes, condition, spatial, training=None):
        return self._stack(embed_shifted(self.code_embedding, codes), condition, spatial)

    # ---------------------------------------------------------- stepping
    def initial_state(self, batch_size, condition=None):
        """Every block's queue before the first sample (see
        `vq_zoo.generation.sampler`); `condition` as in `sample`, the local
        condition at the code rate."""
        if (self.has_condition or self.has_spatial_condition) and condition is None:
            raise ValueError("This model is conditional: pass `condition`.")
        glob, spatial = self._check_condition(condition, batch_size)
        return self._initial_state(batch_size, self._embed_global(glob), spatial)

    def _initial_state(self, batch_size, condition, spatial):
        return causal_initial_state(
            self.blocks, batch_size, condition, spatial, self.compute_dtype
        )

    def step(self, prev_codes, state, index):
        """Logits at sample `index` from the sample drawn at `index - 1`
        (see `vq_zoo.generation.sampler` and `causal_step`), with the latent
        of step `index // hop_length`: `(logits, state)`, logits `(batch,
        num_embeddings)`."""
        _, skip, state = causal_step(
            self.code_embedding, self.blocks, prev_codes, state, index,
            index // self.hop_length,
        )
        return self._output_head(skip), state

    # ---------------------------------------------------------- sampling
    def _sample_args(self, num, condition, temperature, seed, length=None):
        num, glob, spatial = self._check_sample_request(num, condition, temperature)
        if spatial is not None:
            natural = int(spatial.shape[1]) * self.hop_length
            length = natural if length is None else int(length)
            if not natural - self.hop_length < length <= natural:
                raise ValueError(
                    f"`length` must be in ({natural - self.hop_length}, {natural}] "
                    f"for {spatial.shape[1]} condition steps, got {length}"
                )
        elif length is None:
            raise ValueError("Without a local condition pass `length` (samples).")
        length = check_int("length", length, numpy=True)
        from vq_zoo.generation.sampler import gumbel_noise

        noise = gumbel_noise((num, length, self.num_embeddings), seed)
        return (noise, self._embed_global(glob),
                None if spatial is None else ops.cast(spatial, self.compute_dtype),
                ops.convert_to_tensor(float(temperature)))

    def sample(self, num, condition=None, temperature=1.0, seed=None, length=None):
        """Draws `num` sequences of mu-law ints with the cached sampler, in
        one XLA-compiled loop.

        Args:
            num: int, batch size.
            condition: the speakers `(num,)` and/or the local condition
                `(num, steps, local_condition_dim)` (a dict with keys
                `"condition"` and `"spatial_condition"` when both).
            temperature: float > 0, divides the logits.
            seed: int or None.
            length: int, samples to draw: required without a local
                condition; with one, defaults to `steps * hop_length` (a
                shorter length in the last step's span is allowed).

        Returns:
            int32 `(num, length)`.
        """
        args = self._sample_args(num, condition, temperature, seed, length)
        return self._compiled("cached", self._sample_cached, jit_compile=True)(*args)

    def sample_naive(self, num, condition=None, temperature=1.0, seed=None, length=None):
        """The reference sampler: for every new sample, a full forward pass
        over the last `receptive_field` samples (one compiled loop). Same
        arguments and, for the same seed, the same samples as `sample`."""
        args = self._sample_args(num, condition, temperature, seed, length)
        return self._compiled("naive", self._sample_naive, jit_compile=True)(*args)

    def _sample_cached(self, noise, condition, spatial, temperature):
        from vq_zoo.generation.sampler import sample_with_cache

        state = self._initial_state(noise.shape[0], condition, spatial)
        return sample_with_cache(self.step, state, noise, temperature)

    def _sample_naive(self, noise, condition, spatial, temperature):
        num, length = noise.shape[0], noise.shape[1]
        window = self.receptive_field
        # The shifted, embedded input and the upsampled local condition,
        # padded with `window - 1` zero steps in front: the window ending
        # at sample p is rows [p, p + window) of the padded buffers.
        inputs = ops.zeros((num, window - 1 + length, self.filters), self.compute_dtype)
        local = None
        if spatial is not None:
            _, local = self._embed_conditions(None, spatial, length)
            local = ops.pad(local, [[0, 0], [window - 1, 0], [0, 0]])

        # Window row j is sample p - (window - 1) + j: rows before the
        # first sample are masked at every block's input, as `call` pads.
        rows = ops.arange(window, dtype="int32")[None, :, None]

        def body(p, carry):
            inputs, samples = carry
            x = ops.slice(inputs, (0, p, 0), (num, window, self.filters))
            loc = None if local is None else ops.slice(
                local, (0, p, 0), (num, window, local.shape[-1]))
            mask = ops.cast(rows >= window - 1 - p, self.compute_dtype)
            logits = self._stack(x, condition, loc, mask)[:, -1]
            scores = ops.cast(logits, "float32") / temperature + ops.take(noise, p, axis=1)
            sample = ops.cast(ops.argmax(scores, axis=-1), "int32")
            samples = ops.slice_update(samples, (0, p), sample[:, None])
            # The sample at p is the (shifted) input at p + 1.
            embedded = ops.cast(self.code_embedding(sample), self.compute_dtype)
            inputs = ops.slice_update(inputs, (0, p + window, 0), embedded[:, None])
            return inputs, samples

        # One spare row at the end takes the input after the last sample.
        inputs = ops.pad(inputs, [[0, 0], [0, 1], [0, 0]])
        samples = ops.zeros((num, length), "int32")
        _, samples = ops.fori_loop(0, length, body, (inputs, samples))
        return samples

    # ---------------------------------------------------------- config
    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_embeddings": self.num_embeddings,
                "filters": self.filters,
                "dilation_cycle": self.dilation_cycle,
                "num_cycles": self.num_cycles,
                "kernel_size": self.kernel_size,
                "output_filters": self.output_filters,
                "local_condition_dim": self.local_condition_dim,
                "hop_length": self.hop_length,
                "num_classes": self.num_classes,
                "condition_dim": self.condition_dim,
                "speaker_names": (None if self.speaker_names is None
                                  else list(self.speaker_names)),
                "sample_rate": self.sample_rate,
            }
        )
        return config


__all__ = ["WaveNetDecoder"]
