"""Training-step benchmark: our VQ-VAE under `model.fit` vs the same
architecture trained the way Sonnet's VQ-VAE example trains it; and the
tf.data pipelines' feed rate against the training step's consumption rate.

Part 1 (throughput, images/s). The paper's image VQ-VAE with
num_hiddens=128, num_residual_layers=2, num_residual_hiddens=32,
embedding_dim=64, num_embeddings=512 (EMA quantiser, decay 0.99,
commitment 0.25), 32x32x3 inputs, batch 64, Adam 3e-4, MSE / data variance:

- `ours`:   `VQVAE.image_model(...)`, `compile(optimizer=Adam(3e-4))`,
            `model.fit(dataset, epochs=1, steps_per_epoch=S)` -- as users run
            it (Keras defaults: no XLA on CPU, steps_per_execution=1);
- `sonnet`: the same layers written as `snt.Module`s (snt.Conv2D /
            snt.Conv2DTranspose, `snt.nets.VectorQuantizerEMA`,
            `snt.optimizers.Adam`) with the example's
            `@tf.function train_step(data)` (GradientTape, recon_error =
            mean((x_recon - x)**2) / data_variance, loss = recon_error +
            vq_output["loss"], optimizer.apply), looped over the dataset.

Both read the same tf.data pipeline (the natural-images recipe's: bundled
photo patches from memory, shuffle, batch, prefetch). Each round runs S
steps of each contender (order alternates every round) and takes images/s
from the timestamps of the step ends after the first (a Keras callback's
`on_train_batch_end` for ours; after each `train_step` call for Sonnet), so
fit's per-call start-up and iterator creation are excluded for both. The
figure of merit is ours/sonnet images/s (target >= 1.1); the CPU-time
ratio sonnet/ours is its load-robust counterpart.

`--variants` also times ours with `compile(steps_per_execution=8)` and
`compile(jit_compile=True)` (settings a user can pass; not the defaults).

`--ablations` adds two rows that explain the gap (info, not targets):
`ours, stock relu` traces our model with `ResidualStack`'s residual-stream
ReLUs put back to `relu` (the layer before the remapper fix), and
`sonnet, stream relu fixed` gives Sonnet's residual stack the same fix
(`maximum(x, 0)` with ReLU's gradient). On oneDNN CPUs grappler's remapper
fuses `Conv2D + BiasAdd + AddV2 + Relu` even when the sum feeds the next
block too, deletes the sum, and abandons the whole pass
("remapper failed: ... fanout ... exist for missing node '.../add'"), so
no ReLU of that graph is fused into its convolution. Sonnet's example stack
(`h += conv1_out` ... `relu(h)`) hits this exactly as our old layer did.
TensorFlow does not log every such failure, so the warm-up prints, per
contender, the Relu kernels left unfused per step and the fused convolutions
(from a `tf.profiler` trace of 2 steps).

`--bounds` adds two rows that bound what any implementation can reach here
(info, not targets): `conv floor` runs only the model's 15 convolutions
forward and backward (`tf.nn` ops on the same shapes, no bias, activation,
quantiser, loss or optimizer) in the same loop as Sonnet's, so sonnet / floor
is the speed-up an implementation would reach if everything but the
convolutions cost nothing; `ours, mixed_bfloat16` is ours built under
Keras' `mixed_bfloat16` policy (an opt-in: `--set precision=mixed_bfloat16`
in the recipes; bfloat16 convolutions, float32 variables, quantiser and
losses), which changes the numerics. `--ablations` also adds
`ours, no finite-step guard`: `Task.train_step` without the skip of
non-finite steps (its state snapshot, finite checks and `cond`), to show
what that guard, which Sonnet's loop does not have, costs.

`--breakdown` (alone, in its own process: it pins TensorFlow to one thread
before anything runs) profiles ours and Sonnet single-threaded, where a
kernel's time is CPU work, and prints the work per step by kind:
convolution kernels, every other kernel, and the executor's own time.

Besides images/s (wall clock), each contender's CPU time per step (all
threads of the process, `time.process_time()` over the same timed steps) is
printed: on a shared machine it is much steadier than wall time.

Part 2 (input pipelines). Images/s of iterating, alone:

- `natural`: the natural-images recipe's training pipeline at batch 64,
  32x32 (vs Part 1's consumption rate of ours at batch 64);
- `imagenet mock`: `imagenet_dataset("imagenet2012", "train", 128, 128)`
  under `tfds.testing.mock_data` (tiny random images: decode is nearly free);
- `imagenet jpeg`: the same `imagenet_dataset` code (its shuffle, repeat,
  `prepare` = convert, antialiased resize of the shorter side to 128,
  random crop, flip, clip; batch 128; prefetch) with the tfds builder swapped
  for one whose `as_dataset` yields real JPEGs: random crops (300-500 px a
  side, like ImageNet's ~400x350 mean) of the bundled photos encoded at
  quality 90, decoded with `tf.io.decode_jpeg` in a parallel map as tfds does
  (TFRecord reading is the only tfds step left out);

against the consumption rate of ours (same model) at global batch 128 on
128x128 inputs (fit on one cached batch, so the pipeline costs nothing there).
Feed / consume >= 3 is the target. The rounds interleave feeds and consumer.

Ratios, not absolute times, are the figures of merit: the machine is shared.

Usage:
    python bench/train_step.py              # full run (~5 min on 2 cores)
    python bench/train_step.py --quick      # smoke run (~2 min)
    python bench/train_step.py --variants   # + steps_per_execution / XLA rows (~8 min)
    python bench/train_step.py --ablations --bounds --skip-part2   # + the rows above
    python bench/train_step.py --breakdown                # single-threaded work by kind
"""

import argparse
import contextlib
import datetime
import os
import platform
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

NUM_HIDDENS = 128
NUM_RESIDUAL_LAYERS = 2
NUM_RESIDUAL_HIDDENS = 32
EMBEDDING_DIM = 64
NUM_EMBEDDINGS = 512
COMMITMENT_COST = 0.25
DECAY = 0.99
LEARNING_RATE = 3e-4
IMAGE_SIZE = 32
BATCH = 64
IMAGENET_SIZE = 128
IMAGENET_BATCH = 128
NUM_PATCHES = 4096


# --------------------------------------------------------------- pipelines
def natural_train_dataset(x, batch_size, seed=0):
    """The natural-images recipe's training pipeline
    (`recipes/natural_images/recipe.py`, `batches(..., shuffle=True)`)."""
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices(x)
    ds = ds.shuffle(len(x), seed=seed)
    return ds.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def make_jpegs(num, seed=0):
    """`num` JPEG-encoded random crops (300-500 px a side) of the bundled
    photos, quality 90. Returns (list of bytes, mean height, mean width)."""
    import numpy as np
    import tensorflow as tf

    from vq_zoo.data.natural_images import source_images

    photos = list(source_images().values())
    rng = np.random.default_rng(seed)
    out, hs, ws = [], [], []
    for _ in range(num):
        im = photos[rng.integers(len(photos))]
        h = min(int(rng.integers(300, 501)), im.shape[0])
        w = min(int(rng.integers(300, 501)), im.shape[1])
        y = rng.integers(0, im.shape[0] - h + 1)
        x = rng.integers(0, im.shape[1] - w + 1)
        crop = np.ascontiguousarray(im[y : y + h, x : x + w])
        if rng.random() < 0.5:
            crop = np.ascontiguousarray(crop[::-1])
        out.append(tf.io.encode_jpeg(crop, quality=90).numpy())
        hs.append(h)
        ws.append(w)
    return out, float(np.mean(hs)), float(np.mean(ws))


class _JpegBuilder:
    """Stands in for the tfds builder: `as_dataset` yields decoded JPEGs and
    labels, decoding in a parallel map like tfds's own decoders."""

    def __init__(self, jpegs):
        self.jpegs = jpegs

    def as_dataset(self, split, as_supervised, shuffle_files, read_config):
        import tensorflow as tf

        labels = list(range(len(self.jpegs)))
        ds = tf.data.Dataset.from_tensor_slices((self.jpegs, labels))
        return ds.map(
            lambda b, y: (tf.io.decode_jpeg(b, channels=3), tf.cast(y, tf.int64)),
            num_parallel_calls=tf.data.AUTOTUNE,
        )


def imagenet_jpeg_dataset(jpegs):
    """`vq_zoo.data.imagenet.imagenet_dataset` (train, 128, batch 128) with its
    builder swapped for `_JpegBuilder` (patched only for the call)."""
    from vq_zoo.data import imagenet

    original = imagenet.imagenet_builder
    imagenet.imagenet_builder = lambda *a, **k: _JpegBuilder(jpegs)
    try:
        return imagenet.imagenet_dataset(
            "imagenet2012", "train", IMAGENET_SIZE, IMAGENET_BATCH
        )
    finally:
        imagenet.imagenet_builder = original


def feed_rate(ds, warmup, batches):
    """Images/s of iterating `ds` for `batches` batches after `warmup`."""
    it = iter(ds)
    for _ in range(warmup):
        next(it)
    n = 0
    start = time.perf_counter()
    for _ in range(batches):
        x = next(it)
        x = x[0] if isinstance(x, tuple) else x
        n += int(x.shape[0])
    return n / (time.perf_counter() - start)


# ------------------------------------------------------------------- ours
def make_ours(data_variance, shape, **compile_kwargs):
    import keras

    from vq_zoo.models.vqvae.vqvae import VQVAE

    keras.utils.set_random_seed(0)
    model = VQVAE.image_model(
        num_hiddens=NUM_HIDDENS,
        num_residual_layers=NUM_RESIDUAL_LAYERS,
        num_residual_hiddens=NUM_RESIDUAL_HIDDENS,
        embedding_dim=EMBEDDING_DIM,
        num_embeddings=NUM_EMBEDDINGS,
        commitment_cost=COMMITMENT_COST,
        ema=True,
        decay=DECAY,
        data_variance=float(data_variance),
    )
    model.build((None,) + tuple(shape))
    model.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE), **compile_kwargs)
    return model


def make_ours_bf16(data_variance, shape):
    """Ours built under Keras' `mixed_bfloat16` policy (restored after)."""
    import keras

    before = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        return make_ours(data_variance, shape)
    finally:
        keras.mixed_precision.set_global_policy(before)


def unguarded_train_step(self, data):
    """`Task.train_step` without the finite-step guard (no state snapshot,
    finite checks or `cond`): the `ours, no finite-step guard` ablation."""
    import tensorflow as tf
    from keras import ops

    from vq_zoo.utils.distribute import loss_scale_for_replicas

    self._maybe_build(data)
    with tf.GradientTape() as tape:
        scalars, counts = self._terms_with_regularization(data, training=True)
        scaled = self.optimizer.scale_loss(scalars["loss"] * loss_scale_for_replicas())
    grads = tape.gradient(scaled, self.trainable_weights)
    self.optimizer.apply(grads, self.trainable_weights)
    return self._record(scalars, counts, ops.zeros(()), self._batch_size(data))


def make_ours_unguarded(data_variance, shape):
    import types

    model = make_ours(data_variance, shape)
    model.train_step = types.MethodType(unguarded_train_step, model)
    return model


def _batch_timer():
    import keras

    class BatchTimer(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.ends = []
            self.cpu_ends = []

        def on_train_batch_end(self, batch, logs=None):
            self.ends.append(time.perf_counter())
            self.cpu_ends.append(time.process_time())

    return BatchTimer()


@contextlib.contextmanager
def stock_relu():
    """`ResidualStack` as it was before the remapper fix: `relu` on the
    residual stream (for the `ours, stock relu` ablation; active while the
    train function is traced)."""
    import keras

    from vq_zoo.layers import residual_stack

    fixed = residual_stack._stream_relu
    residual_stack._stream_relu = keras.activations.relu
    try:
        yield
    finally:
        residual_stack._stream_relu = fixed


def _trace_events(run, obj, ds, steps):
    """(event name, duration in ps) of every event of a `tf.profiler` trace
    of `run(obj, ds, steps)` (the graph after grappler, as it ran)."""
    import glob
    import tempfile

    import tensorflow as tf

    try:
        from tsl.profiler.protobuf import xplane_pb2
    except ImportError:
        from tensorflow.tsl.profiler.protobuf import xplane_pb2

    with tempfile.TemporaryDirectory() as logdir:
        tf.profiler.experimental.start(logdir)
        try:
            run(obj, ds, steps, BATCH)
        finally:
            tf.profiler.experimental.stop()
        (path,) = glob.glob(f"{logdir}/**/*.xplane.pb", recursive=True)
        space = xplane_pb2.XSpace()
        with open(path, "rb") as f:
            space.ParseFromString(f.read())
    for plane in space.planes:
        for line in plane.lines:
            for event in line.events:
                yield plane.event_metadata[event.metadata_id].name, event.duration_ps


def op_counts(run, obj, ds, steps):
    """Kernels executed per step by `run(obj, ds, steps)`, by op type, from a
    `tf.profiler` trace (the graph after grappler, as it ran)."""
    import collections

    counts = collections.Counter()
    for name, _ in _trace_events(run, obj, ds, steps):
        if ":" in name and "::" not in name:  # "<node name>:<op type>"
            counts[name.rsplit(":", 1)[-1]] += 1
    return {op: n / steps for op, n in counts.items()}


def run_ours(model, ds, steps, batch_size):
    """Seconds per step of `model.fit(ds, steps_per_epoch=steps)` from the
    batch-end timestamps after the first. With steps_per_execution=n Keras calls the
    callback once per n steps (`batch` = last step)."""
    timer = _batch_timer()
    model.fit(ds, epochs=1, steps_per_epoch=steps, verbose=0, callbacks=[timer])
    ends = timer.ends
    spe = max(1, steps // len(ends))
    _record_cpu(timer.cpu_ends, spe)
    return [(b - a) / spe for a, b in zip(ends, ends[1:]) for _ in range(spe)]


# CPU seconds (all threads of this process) per step of the last run, over
# the same steps as the wall-clock times: less sensitive than wall time to
# other processes on a shared machine.
LAST_RUN = {}


def _record_cpu(cpu_ends, steps_per_end=1):
    LAST_RUN["cpu_per_step"] = (cpu_ends[-1] - cpu_ends[0]) / (
        steps_per_end * (len(cpu_ends) - 1))


# ----------------------------------------------------------------- sonnet
def make_sonnet(data_variance, fixed_stream_relu=False):
    """The Sonnet example's model and `train_step` (written from the example
    notebook, same layer sizes as ours). `fixed_stream_relu`: the residual
    stack's stream ReLUs as `maximum(x, 0)` with ReLU's gradient (the
    ablation; not the example's code)."""
    import sonnet as snt
    import tensorflow as tf

    @tf.custom_gradient
    def stream_relu(x):
        return tf.maximum(x, 0.0), lambda g: g * tf.cast(x > 0, g.dtype)

    block_relu = stream_relu if fixed_stream_relu else tf.nn.relu

    class ResidualStack(snt.Module):
        def __init__(self, num_hiddens, num_residual_layers, num_residual_hiddens,
                     name=None):
            super().__init__(name=name)
            self._layers = []
            for i in range(num_residual_layers):
                conv3 = snt.Conv2D(num_residual_hiddens, (3, 3), stride=(1, 1),
                                   name=f"res3x3_{i}")
                conv1 = snt.Conv2D(num_hiddens, (1, 1), stride=(1, 1),
                                   name=f"res1x1_{i}")
                self._layers.append((conv3, conv1))

        def __call__(self, inputs):
            h = inputs
            for conv3, conv1 in self._layers:
                conv3_out = conv3(block_relu(h))
                conv1_out = conv1(tf.nn.relu(conv3_out))
                h += conv1_out
            return tf.nn.relu(h)

    class Encoder(snt.Module):
        def __init__(self, num_hiddens, num_residual_layers, num_residual_hiddens,
                     name=None):
            super().__init__(name=name)
            self._enc_1 = snt.Conv2D(num_hiddens // 2, (4, 4), stride=(2, 2),
                                     name="enc_1")
            self._enc_2 = snt.Conv2D(num_hiddens, (4, 4), stride=(2, 2),
                                     name="enc_2")
            self._enc_3 = snt.Conv2D(num_hiddens, (3, 3), stride=(1, 1),
                                     name="enc_3")
            self._residual_stack = ResidualStack(
                num_hiddens, num_residual_layers, num_residual_hiddens)

        def __call__(self, x):
            h = tf.nn.relu(self._enc_1(x))
            h = tf.nn.relu(self._enc_2(h))
            h = self._enc_3(h)
            return self._residual_stack(h)

    class Decoder(snt.Module):
        def __init__(self, num_hiddens, num_residual_layers, num_residual_hiddens,
                     name=None):
            super().__init__(name=name)
            self._dec_1 = snt.Conv2D(num_hiddens, (3, 3), stride=(1, 1),
                                     name="dec_1")
            self._residual_stack = ResidualStack(
                num_hiddens, num_residual_layers, num_residual_hiddens)
            self._dec_2 = snt.Conv2DTranspose(num_hiddens // 2, (4, 4),
                                              stride=(2, 2), name="dec_2")
            self._dec_3 = snt.Conv2DTranspose(3, (4, 4), stride=(2, 2),
                                              name="dec_3")

        def __call__(self, x):
            h = self._dec_1(x)
            h = self._residual_stack(h)
            h = tf.nn.relu(self._dec_2(h))
            return self._dec_3(h)

    class VQVAEModel(snt.Module):
        def __init__(self, encoder, decoder, vqvae, pre_vq_conv1, data_variance,
                     name=None):
            super().__init__(name=name)
            self._encoder = encoder
            self._decoder = decoder
            self._vqvae = vqvae
            self._pre_vq_conv1 = pre_vq_conv1
            self._data_variance = data_variance

        def __call__(self, inputs, is_training):
            z = self._pre_vq_conv1(self._encoder(inputs))
            vq_output = self._vqvae(z, is_training=is_training)
            x_recon = self._decoder(vq_output["quantize"])
            recon_error = tf.reduce_mean((x_recon - inputs) ** 2) / self._data_variance
            loss = recon_error + vq_output["loss"]
            return {"z": z, "x_recon": x_recon, "loss": loss,
                    "recon_error": recon_error, "vq_output": vq_output}

    tf.random.set_seed(0)
    model = VQVAEModel(
        Encoder(NUM_HIDDENS, NUM_RESIDUAL_LAYERS, NUM_RESIDUAL_HIDDENS),
        Decoder(NUM_HIDDENS, NUM_RESIDUAL_LAYERS, NUM_RESIDUAL_HIDDENS),
        snt.nets.VectorQuantizerEMA(
            embedding_dim=EMBEDDING_DIM, num_embeddings=NUM_EMBEDDINGS,
            commitment_cost=COMMITMENT_COST, decay=DECAY),
        snt.Conv2D(EMBEDDING_DIM, (1, 1), stride=(1, 1), name="to_vq"),
        data_variance=float(data_variance),
    )
    optimizer = snt.optimizers.Adam(learning_rate=LEARNING_RATE)

    @tf.function
    def train_step(data):
        with tf.GradientTape() as tape:
            model_output = model(data, is_training=True)
        trainable_variables = model.trainable_variables
        grads = tape.gradient(model_output["loss"], trainable_variables)
        optimizer.apply(grads, trainable_variables)
        return model_output

    return train_step


def make_conv_floor():
    """The model's 15 convolutions alone, forward and backward: the same
    shapes as ours and Sonnet's (encoder 4x4/2, 4x4/2, 3x3; two residual
    stacks of 3x3 + 1x1; the 1x1 to the codebook space; the decoder's 3x3
    and two 4x4/2 transposed convolutions), as `tf.nn` ops without bias,
    activation, quantiser, loss or optimizer. The gradient of every kernel
    and of every layer's input but the first is computed, as in training.
    Returns a `train_step(data)` for `run_sonnet`."""
    import tensorflow as tf

    gen = tf.random.Generator.from_seed(0)

    def kernel(*shape):
        return tf.Variable(gen.normal(shape) * 0.05)

    h, r, d = NUM_HIDDENS, NUM_RESIDUAL_HIDDENS, EMBEDDING_DIM
    encoder = [kernel(4, 4, 3, h // 2), kernel(4, 4, h // 2, h), kernel(3, 3, h, h)]
    stacks = [[(kernel(3, 3, h, r), kernel(1, 1, r, h))
               for _ in range(NUM_RESIDUAL_LAYERS)] for _ in range(2)]
    to_vq, from_vq = kernel(1, 1, h, d), kernel(3, 3, d, h)
    up0, up1 = kernel(4, 4, h // 2, h), kernel(4, 4, 3, h // 2)
    kernels = (encoder + [k for stack in stacks for pair in stack for k in pair]
               + [to_vq, from_vq, up0, up1])

    def stack(x, pairs):
        for conv3, conv1 in pairs:
            x = x + tf.nn.conv2d(tf.nn.conv2d(x, conv3, 1, "SAME"), conv1, 1, "SAME")
        return x

    @tf.function
    def train_step(data):
        n, size = tf.shape(data)[0], data.shape[1]
        with tf.GradientTape() as tape:
            x = tf.nn.conv2d(data, encoder[0], 2, "SAME")
            x = tf.nn.conv2d(x, encoder[1], 2, "SAME")
            x = stack(tf.nn.conv2d(x, encoder[2], 1, "SAME"), stacks[0])
            x = tf.nn.conv2d(tf.nn.conv2d(x, to_vq, 1, "SAME"), from_vq, 1, "SAME")
            x = stack(x, stacks[1])
            x = tf.nn.conv2d_transpose(x, up0, [n, size // 2, size // 2, h // 2], 2, "SAME")
            x = tf.nn.conv2d_transpose(x, up1, [n, size, size, 3], 2, "SAME")
            loss = tf.reduce_sum(x * data)
        grads = tape.gradient(loss, kernels)
        return tf.add_n([tf.reduce_sum(g) for g in grads])

    return train_step


def op_times(run, obj, ds, steps):
    """(ms per step of each kernel type, ms per step of the traced function)
    of `run(obj, ds, steps)`, from a `tf.profiler` trace. Single-threaded,
    a kernel's time is the CPU work it does."""
    import collections

    times = collections.Counter()
    graph = 0.0
    for name, ps in _trace_events(run, obj, ds, steps):
        if name.startswith("EagerLocalExecute: __inference"):
            graph += ps
        elif ":" in name and "::" not in name:  # "<node name>:<op type>"
            times[name.rsplit(":", 1)[-1]] += ps
    return {op: t / 1e9 / steps for op, t in times.items()}, graph / 1e9 / steps


def run_sonnet(train_step, ds, steps, batch_size):
    ends, cpu_ends = [], []
    it = iter(ds)
    for _ in range(steps):
        train_step(next(it))
        ends.append(time.perf_counter())
        cpu_ends.append(time.process_time())
    _record_cpu(cpu_ends)
    return [b - a for a, b in zip(ends, ends[1:])]


# ------------------------------------------------------------------- main
def _summary(rates):
    return statistics.median(rates), max(rates)


def part1(train, data_variance, rounds, steps, variants, ablations, bounds=False):
    import tensorflow as tf

    ds = natural_train_dataset(train, BATCH)
    shape = train.shape[1:]
    contenders = {
        "ours (fit)": (make_ours(data_variance, shape), run_ours),
        "sonnet (tf.function loop)": (make_sonnet(data_variance), run_sonnet),
    }
    if variants:
        contenders["ours, steps_per_execution=8"] = (
            make_ours(data_variance, shape, steps_per_execution=8), run_ours)
        contenders["ours, jit_compile=True"] = (
            make_ours(data_variance, shape, jit_compile=True), run_ours)
    if ablations:
        contenders["ours, stock relu"] = (make_ours(data_variance, shape), run_ours)
        contenders["sonnet, stream relu fixed"] = (
            make_sonnet(data_variance, fixed_stream_relu=True), run_sonnet)
        contenders["ours, no finite-step guard"] = (
            make_ours_unguarded(data_variance, shape), run_ours)
    if bounds:
        contenders["conv floor"] = (make_conv_floor(), run_sonnet)
        contenders["ours, mixed_bfloat16"] = (make_ours_bf16(data_variance, shape), run_ours)
    names = list(contenders)
    # TensorFlow logs "remapper failed" once per process, so the kernels
    # that ran tell each contender's fusions instead.
    print("  warm-up (trace); kernels per step: Relu left unfused, fused "
          "convolutions (_FusedConv2D)")
    for name in names:  # warm-up: trace and build
        obj, run = contenders[name]
        patch = stock_relu() if name == "ours, stock relu" else contextlib.nullcontext()
        with patch:
            run(obj, ds, 3 if "steps_per" not in name else 16, BATCH)
        if "steps_per" not in name:
            ops_ = op_counts(run, obj, ds, 2)
            fused = sum(n for op, n in ops_.items() if op.endswith("FusedConv2D"))
            print(f"    {name}: Relu {ops_.get('Relu', 0):.0f}, fused "
                  f"convolutions {fused:.0f}", flush=True)
    rates = {n: [] for n in names}
    step_times = {n: [] for n in names}
    cpu = {n: [] for n in names}
    for r in range(rounds):
        order = names if r % 2 == 0 else names[::-1]
        for name in order:
            obj, run = contenders[name]
            d = run(obj, ds, steps, BATCH)
            step_times[name] += d
            rates[name].append(BATCH * len(d) / sum(d))
            cpu[name].append(LAST_RUN["cpu_per_step"])
        print(f"  round {r + 1}/{rounds}: " + ", ".join(
            f"{n} {rates[n][-1]:.0f}" for n in names), flush=True)
    print("\n| contender | CPU ms per step (all threads), median of rounds | "
          "sonnet / contender (CPU time), of medians | per-round range |")
    print("|---|---:|---:|---:|")
    ref = cpu["sonnet (tf.function loop)"]
    for name in names:
        pr = [r_ / c for r_, c in zip(ref, cpu[name])]
        print(f"| {name} | {1e3 * statistics.median(cpu[name]):.0f} | "
              f"{statistics.median(ref) / statistics.median(cpu[name]):.3f} | "
              f"{min(pr):.3f}-{max(pr):.3f} |")
    del tf
    return rates, step_times


def part2(train, data_variance, rounds, consume_steps, feed_batches, num_jpegs,
          mock_examples):
    import tensorflow as tf
    import tensorflow_datasets as tfds

    from vq_zoo.data import imagenet

    natural = natural_train_dataset(train, BATCH)
    jpegs, mean_h, mean_w = make_jpegs(num_jpegs)
    mean_kib = sum(len(j) for j in jpegs) / len(jpegs) / 1024
    jpeg_ds = imagenet_jpeg_dataset(jpegs)
    consumer = make_ours(data_variance, (IMAGENET_SIZE, IMAGENET_SIZE, 3))
    batch = next(iter(jpeg_ds))[0]
    cached = tf.data.Dataset.from_tensors(batch).repeat()
    rates = {"natural": [], "imagenet mock": [], "imagenet jpeg": [], "consume": []}
    with tfds.testing.mock_data(num_examples=mock_examples):
        mock_ds = imagenet.imagenet_dataset(
            "imagenet2012", "train", IMAGENET_SIZE, IMAGENET_BATCH, download=True)
        run_ours(consumer, cached, 2, IMAGENET_BATCH)  # warm-up: trace
        n_nat = len(train) // BATCH
        for r in range(rounds):
            rates["natural"].append(feed_rate(natural, 1, n_nat - 1))
            rates["imagenet mock"].append(feed_rate(mock_ds, 2, feed_batches))
            rates["imagenet jpeg"].append(feed_rate(jpeg_ds, 2, feed_batches))
            d = run_ours(consumer, cached, consume_steps + 1, IMAGENET_BATCH)
            rates["consume"].append(IMAGENET_BATCH * len(d) / sum(d))
            print(f"  round {r + 1}/{rounds}: " + ", ".join(
                f"{n} {v[-1]:.0f}" for n, v in rates.items()), flush=True)
    return rates, (len(jpegs), mean_h, mean_w, mean_kib)


CONV_KERNELS = ("Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter",
                "Conv2DBackpropFilterWithBias", "FusedConv2D", "DepthwiseConv2dNative")


def breakdown(steps, rounds):
    """Profiles ours, Sonnet and the conv floor with TensorFlow on one thread
    (inter- and intra-op), where a kernel's time is the CPU work it does, and
    prints the work per step: convolution kernels, every other kernel, and
    the rest of the traced function's time (the executor itself)."""
    import tensorflow as tf

    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.config.threading.set_intra_op_parallelism_threads(1)
    import keras

    from vq_zoo.data.natural_images import natural_patches

    print(f"date {datetime.date.today().isoformat()}, tensorflow {tf.__version__}, "
          f"keras {keras.__version__}, one thread, load average {os.getloadavg()}")
    train = natural_patches("train", NUM_PATCHES, IMAGE_SIZE, seed=0)
    data_variance = float(train.var())
    ds = natural_train_dataset(train, BATCH)
    contenders = {
        "ours (fit)": (make_ours(data_variance, train.shape[1:]), run_ours),
        "sonnet (tf.function loop)": (make_sonnet(data_variance), run_sonnet),
        "conv floor": (make_conv_floor(), run_sonnet),
    }
    def is_conv(op):
        return op.replace("_MklNative", "").replace("_Mkl", "").lstrip("_") in CONV_KERNELS

    for obj, run in contenders.values():
        run(obj, ds, 3, BATCH)  # trace
    # Interleaved rounds: the machine's speed drifts by a few % over minutes.
    samples = {name: [] for name in contenders}
    for r in range(rounds):
        for name in (list(contenders) if r % 2 == 0 else list(contenders)[::-1]):
            obj, run = contenders[name]
            samples[name].append(op_times(run, obj, ds, steps))
        print(f"  round {r + 1}/{rounds}", flush=True)
    rows = {}
    for name, runs in samples.items():
        graph = statistics.median(g for _, g in runs)
        conv = statistics.median(sum(t for op, t in times.items() if is_conv(op))
                                 for times, _ in runs)
        other = statistics.median(sum(t for op, t in times.items() if not is_conv(op))
                                  for times, _ in runs)
        mean = {}
        for times, _ in runs:
            for op, t in times.items():
                if not is_conv(op):
                    mean[op] = mean.get(op, 0.0) + t / len(runs)
        top = sorted(((t, op.strip()) for op, t in mean.items()), reverse=True)[:10]
        rows[name] = (graph, conv, other, top)
    print(f"\n| contender (one thread; medians of {rounds} rounds x {steps} steps) | function ms/step | convolution "
          "kernels | other kernels | executor (the rest) | largest other kernels |")
    print("|---|---:|---:|---:|---:|---|")
    for name, (graph, conv, other, top) in rows.items():
        tops = ", ".join(f"{op} {t:.1f}" for t, op in top)
        print(f"| {name} | {graph:.1f} | {conv:.1f} | {other:.1f} | "
              f"{graph - conv - other:.1f} | {tops} |")
    sonnet = rows["sonnet (tf.function loop)"][0]
    ours_conv = rows["ours (fit)"][1]
    print(f"\nsonnet / ours (work): {sonnet / rows['ours (fit)'][0]:.3f}; "
          f"sonnet / ours' convolutions alone: {sonnet / ours_conv:.3f} (the most "
          f"any implementation of ours could reach with these kernels); 1.1x needs "
          f"ours <= {sonnet / 1.1:.1f} ms, i.e. <= {sonnet / 1.1 - ours_conv:.1f} ms "
          "for everything but the convolutions")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run")
    parser.add_argument("--variants", action="store_true",
                        help="also time ours with steps_per_execution=8 and XLA")
    parser.add_argument("--ablations", action="store_true",
                        help="also time ours with the stock relu and Sonnet "
                        "with the stream relu fixed (see the docstring)")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--steps", type=int, default=None,
                        help="steps per contender per round (multiple of 8 "
                        "with --variants)")
    parser.add_argument("--skip-part1", action="store_true")
    parser.add_argument("--skip-part2", action="store_true")
    parser.add_argument("--bounds", action="store_true",
                        help="also time the convolutions alone and ours under "
                        "mixed_bfloat16 (see the docstring)")
    parser.add_argument("--breakdown", action="store_true",
                        help="single-threaded work per step by kind (alone)")
    args = parser.parse_args()
    if args.breakdown:
        return breakdown(args.steps or 6, args.rounds or 3)

    rounds = args.rounds or (3 if args.quick else 14)
    steps = args.steps or (8 if args.quick else 16)
    if args.variants:  # steps_per_execution=8 reports once per 8 steps
        steps = max(24, steps - steps % 8)

    import keras
    import sonnet as snt
    import tensorflow as tf

    from vq_zoo.data.natural_images import natural_patches

    print(
        f"date {datetime.date.today().isoformat()}, {platform.machine()}, "
        f"{os.cpu_count()} CPU cores, python {platform.python_version()}, "
        f"tensorflow {tf.__version__}, keras {keras.__version__}, "
        f"sonnet {snt.__version__}, load average {os.getloadavg()}"
    )
    train = natural_patches("train", NUM_PATCHES, IMAGE_SIZE, seed=0)
    data_variance = float(train.var())
    print(f"model: num_hiddens={NUM_HIDDENS}, num_residual_layers="
          f"{NUM_RESIDUAL_LAYERS}, num_residual_hiddens={NUM_RESIDUAL_HIDDENS}, "
          f"embedding_dim={EMBEDDING_DIM}, num_embeddings={NUM_EMBEDDINGS}, "
          f"EMA decay {DECAY}, Adam {LEARNING_RATE}; data variance "
          f"{data_variance:.4f}")

    fig = {}
    if not args.skip_part1:
        print(f"\nPart 1: {IMAGE_SIZE}x{IMAGE_SIZE}x3, batch {BATCH}, "
              f"{rounds} interleaved rounds x {steps} steps (images/s)")
        rates, step_times = part1(train, data_variance, rounds, steps,
                                  args.variants, args.ablations, args.bounds)
        print("\n| contender | images/s, median of rounds | images/s at the "
              "median step time | best round |")
        print("|---|---:|---:|---:|")
        for name, v in rates.items():
            med, best = _summary(v)
            print(f"| {name} | {med:.0f} | "
                  f"{BATCH / statistics.median(step_times[name]):.0f} | {best:.0f} |")
        ref_name = "sonnet (tf.function loop)"
        ref = rates[ref_name]
        print("\n| ratio (images/s) | of round medians | at median step | "
              "per-round range | target | status |")
        print("|---|---:|---:|---:|---|---|")
        for name in rates:
            if not (name.startswith("ours") or name == "conv floor"):
                continue
            pr = [o / r for o, r in zip(rates[name], ref)]
            by_round = statistics.median(rates[name]) / statistics.median(ref)
            by_step = (statistics.median(step_times[ref_name])
                       / statistics.median(step_times[name]))
            main_row = name == "ours (fit)"
            status = ("met" if min(by_round, by_step) >= 1.1 else "MISSED") \
                if main_row else ""
            print(f"| {name} / sonnet | {by_round:.3f} | {by_step:.3f} | "
                  f"{min(pr):.3f}-{max(pr):.3f} | "
                  f"{'>= 1.1' if main_row else '(info)'} | {status} |")
        if args.ablations:
            fixed = "sonnet, stream relu fixed"
            pr = [o / r for o, r in zip(rates["ours (fit)"], rates[fixed])]
            by_round = statistics.median(rates["ours (fit)"]) / statistics.median(rates[fixed])
            by_step = (statistics.median(step_times[fixed])
                       / statistics.median(step_times["ours (fit)"]))
            print(f"| ours (fit) / {fixed} | {by_round:.3f} | {by_step:.3f} | "
                  f"{min(pr):.3f}-{max(pr):.3f} | (info) | |")
        ours = rates["ours (fit)"]
        fig["consume32"] = statistics.median(ours)

    if not args.skip_part2:
        p2_rounds = 2 if args.quick else 4
        consume_steps = 1 if args.quick else 2
        feed_batches = 6 if args.quick else 16
        print(f"\nPart 2: feed vs consume, {p2_rounds} interleaved rounds "
              f"(images/s); consumer = ours at {IMAGENET_SIZE}x{IMAGENET_SIZE} "
              f"batch {IMAGENET_BATCH}, {consume_steps} timed steps per round")
        rates, (nj, mh, mw, kib) = part2(
            train, data_variance, p2_rounds, consume_steps, feed_batches,
            num_jpegs=64 if args.quick else 256, mock_examples=512)
        print(f"JPEGs: {nj} crops, mean {mh:.0f}x{mw:.0f} px, {kib:.0f} KiB")
        print("\n| pipeline | median images/s | consumer | consumer images/s | "
              "feed / consume | target | status |")
        print("|---|---:|---|---:|---:|---|---|")
        c128 = statistics.median(rates["consume"])
        rows = [("natural (recipe, 32x32, batch 64)", rates["natural"],
                 "ours 32x32 b64 (Part 1)", fig.get("consume32"))]
        rows += [(f"{n} (128x128, batch 128)", rates[n], "ours 128x128 b128", c128)
                 for n in ("imagenet mock", "imagenet jpeg")]
        for name, v, cname, c in rows:
            med = statistics.median(v)
            if c is None:
                print(f"| {name} | {med:.0f} | (run Part 1) | | | | |")
                continue
            r = med / c
            print(f"| {name} | {med:.0f} | {cname} | {c:.1f} | {r:.1f} | >= 3 | "
                  f"{'met' if r >= 3 else 'MISSED'} |")
    print(f"\nload average at the end {os.getloadavg()}")


if __name__ == "__main__":
    main()
