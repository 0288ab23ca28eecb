"""Quantizer benchmark: vq_zoo vs Sonnet vs the floor, forward + backward.

Part 1 (K=512): one training step (forward + backward) on a (32, 32, 32, 64)
input (32768 vectors of 64 dims) for

- `floor`:      `|e|^2 - 2 x @ E^T` and `argmin` alone (no loss, no backward);
- `vq_zoo VQ`:  `vq_zoo.layers.VectorQuantizer`;
- `sonnet VQ`:  `snt.nets.VectorQuantizer`;
- `vq_zoo EMA`: `vq_zoo.layers.VectorQuantizerEMA` (EMA statistics updated);
- `sonnet EMA`: `snt.nets.VectorQuantizerEMA` (EMA statistics updated).

Each contender is one `tf.function`: under a `tf.GradientTape` watching the
input it runs the layer in training mode, takes
`loss = layer loss + mean(quantized ** 2)` (so the straight-through path
carries a gradient) and returns the loss and the dense gradients w.r.t. the
input and the trainable variables (the codebook for the VQ layers). Everyone
gets the same input and the same initial codebook. After a warm-up, the
contenders are timed in interleaved rounds (the order rotates every round), so
machine noise hits everyone alike; the table gives the median ms/step and the
ratios the targets name. Ratios, not absolute milliseconds, are the figures
of merit.

Part 2 (K=65,536, same grid): each configuration runs in its own subprocess,
which reports its peak resident memory (`VmHWM`) before and after the steps
and the time per step. Only chunked searches are run: an unchunked search
materialises a 32768 x 65536 float32 distance matrix (8 GiB, and TF keeps
several such temporaries alive at once), which would risk this 24 GiB machine.

Part 3 (`--new`, issue 22): the new quantizers at about 2^10 codes on the
same (32, 32, 32, 64) input, forward + backward as above, against the
`floor` at K=1024 and against today's layer (`VectorQuantizer` or
`VectorQuantizerEMA` at K=1024):
- the VQ options: `rotation_trick`, `use_cosine_similarity`,
  `codebook_dim=8` (on `VectorQuantizer`), `rotation_trick` on the EMA layer;
- `ResidualVectorQuantizer`, 2 EMA stages of 32 codes (32^2 = 1024);
- `FiniteScalarQuantizer((8, 5, 5, 5))` and `LookupFreeQuantizer(1024)`,
  both projecting the 64 channels to 4 / 10 and back. They search nothing:
  their own floor (`fsq floor`, `lfq floor`) is the bare projection + bound
  + round + index (FSQ) or projection + sign + index (LFQ), forward only;
  LFQ's entropy penalty needs the (N, 1024) soft assignment, so its step
  is compared with the matmul + argmin floor too.

Usage:
    python bench/quantizer.py            # full run (a few minutes on 2 cores)
    python bench/quantizer.py --quick    # fewer rounds, one large-K config
    python bench/quantizer.py --new      # part 3 only
"""

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

SHAPE = (32, 32, 32, 64)
DIM = SHAPE[-1]
SMALL_K = 512
LARGE_K = 65536
COMMITMENT_COST = 0.25
DECAY = 0.99
GIB = 1024.0**3
MIB = 1024.0**2


# ----------------------------------------------------------------- helpers
def _vm_kib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return -1


def _inputs_and_codebook(k, seed=0):
    import numpy as np

    rng = np.random.default_rng(seed)
    x = rng.standard_normal(SHAPE, dtype=np.float32)
    # Sonnet's initialiser (uniform, variance 1 / embedding_dim); scale the
    # inputs to the same range so that many codes are in use, as in training.
    limit = np.sqrt(3.0 / DIM)
    codebook = rng.uniform(-limit, limit, (k, DIM)).astype(np.float32)
    x *= np.float32(limit)
    return x, codebook


def _dense(grads):
    import tensorflow as tf

    return [tf.convert_to_tensor(g) for g in grads]


# ------------------------------------------------------------- contenders
def make_floor(codebook):
    import tensorflow as tf

    e = tf.Variable(codebook, name="floor_codebook")

    @tf.function
    def floor(x):
        flat = tf.reshape(x, (-1, DIM))
        d = tf.reduce_sum(tf.square(e), axis=1) - 2.0 * tf.matmul(
            flat, e, transpose_b=True
        )
        return tf.argmin(d, axis=1, output_type=tf.int32)

    return floor


def make_ours(codebook, ema, distance_chunk_size=None, layer_cls=None):
    import tensorflow as tf

    from vq_zoo.layers.vector_quantizer import VectorQuantizer
    from vq_zoo.layers.vector_quantizer_ema import VectorQuantizerEMA

    k = codebook.shape[0]
    if layer_cls is None:
        layer_cls = VectorQuantizerEMA if ema else VectorQuantizer
    kwargs = {"decay": DECAY} if ema else {}
    layer = layer_cls(
        embedding_dim=DIM,
        num_embeddings=k,
        commitment_cost=COMMITMENT_COST,
        distance_chunk_size=distance_chunk_size,
        **kwargs,
    )
    layer.build(SHAPE)
    layer.codebook.assign(codebook)
    variables = list(layer.trainable_weights)

    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            out = layer(x, training=True)
            loss = out["loss"] + tf.reduce_mean(tf.square(out["quantized"]))
        grads = tape.gradient(loss, [x] + variables)
        return loss, _dense(grads)

    step.layer = layer
    return step


def make_sonnet(codebook, ema):
    import sonnet as snt
    import tensorflow as tf

    k = codebook.shape[0]
    if ema:
        vq = snt.nets.VectorQuantizerEMA(DIM, k, COMMITMENT_COST, DECAY)
    else:
        vq = snt.nets.VectorQuantizer(DIM, k, COMMITMENT_COST)
    # Sonnet stores the codebook transposed, (D, K).
    vq.embeddings.assign(codebook.T)
    variables = [] if ema else list(vq.trainable_variables)

    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            out = vq(x, is_training=True)
            loss = out["loss"] + tf.reduce_mean(tf.square(out["quantize"]))
        grads = tape.gradient(loss, [x] + variables)
        return loss, _dense(grads)

    return step


def _block(result):
    """Waits for a result (fetches one small tensor of it)."""
    import tensorflow as tf

    first = tf.nest.flatten(result)[0]
    first.numpy()


# ------------------------------------------------------------ timing loop
def time_interleaved(contenders, x, rounds, inner, warmup=2):
    """Median ms/step per contender, plus per-round times, interleaved."""
    names = list(contenders)
    for name in names:
        for _ in range(warmup):
            _block(contenders[name](x))
    per_round = {name: [] for name in names}
    for r in range(rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            fn = contenders[name]
            t0 = time.perf_counter()
            for _ in range(inner):
                result = fn(x)
            _block(result)
            per_round[name].append(1e3 * (time.perf_counter() - t0) / inner)
    return per_round


def ratio_line(label, num, den, per_round, target):
    med = statistics.median(per_round[num]) / statistics.median(per_round[den])
    rounds = [a / b for a, b in zip(per_round[num], per_round[den])]
    return (
        f"| {label} | {med:.3f} | {min(rounds):.3f}-{max(rounds):.3f} "
        f"| {target} |"
    ), med


def small_k(rounds, inner):
    import tensorflow as tf

    x_np, codebook = _inputs_and_codebook(SMALL_K)
    x = tf.constant(x_np)
    contenders = {
        "floor (matmul + argmin)": make_floor(codebook),
        "vq_zoo VectorQuantizer": make_ours(codebook, ema=False),
        "sonnet VectorQuantizer": make_sonnet(codebook, ema=False),
        "vq_zoo VectorQuantizerEMA": make_ours(codebook, ema=True),
        "sonnet VectorQuantizerEMA": make_sonnet(codebook, ema=True),
    }
    per_round = time_interleaved(contenders, x, rounds, inner)
    print(
        f"\n## K={SMALL_K}, input {SHAPE} float32, forward+backward, "
        f"{rounds} interleaved rounds x {inner} steps\n"
    )
    print("| contender | median ms/step | min ms/step |")
    print("|---|---:|---:|")
    for name, times in per_round.items():
        print(f"| {name} | {statistics.median(times):.1f} | {min(times):.1f} |")
    floor, ours, snt_vq, ours_ema, snt_ema = list(per_round)
    print("\n| ratio | median | per-round range | target |")
    print("|---|---:|---:|---|")
    lines = [
        ratio_line("vq_zoo VQ / sonnet VQ", ours, snt_vq, per_round, "<= 1.0"),
        ratio_line("vq_zoo VQ / floor", ours, floor, per_round, "<= 1.2"),
        ratio_line(
            "sonnet EMA / vq_zoo EMA", snt_ema, ours_ema, per_round, ">= 1.3"
        ),
        ratio_line("vq_zoo EMA / floor", ours_ema, floor, per_round, "(info)"),
    ]
    for line, _ in lines:
        print(line)
    (_, r1), (_, r2), (_, r3), _ = lines
    print(
        "\ntargets: VQ no slower than Sonnet: "
        f"{'MET' if r1 <= 1.0 else 'MISSED'}; VQ within 1.2x of floor: "
        f"{'MET' if r2 <= 1.2 else 'MISSED'}; EMA >= 1.3x faster than "
        f"Sonnet EMA: {'MET' if r3 >= 1.3 else 'MISSED'}"
    )
    return per_round


# ---------------------------------------------------------------- large K
def large_k_worker(kind, chunk, steps):
    """Runs in a subprocess: one configuration, prints one JSON line."""
    import tensorflow as tf

    x_np, codebook = _inputs_and_codebook(LARGE_K)
    x = tf.constant(x_np)
    del x_np
    fn = make_ours(codebook, ema=(kind == "ema"), distance_chunk_size=chunk)
    del codebook
    base_hwm = _vm_kib("VmHWM")
    base_rss = _vm_kib("VmRSS")
    t0 = time.perf_counter()
    _block(fn(x))  # traces and runs once
    first_s = time.perf_counter() - t0
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        _block(fn(x))
        times.append(1e3 * (time.perf_counter() - t0))
    print(
        "RESULT "
        + json.dumps(
            {
                "kind": kind,
                "chunk": chunk,
                "base_rss_mib": base_rss / 1024.0,
                "base_hwm_mib": base_hwm / 1024.0,
                "peak_hwm_mib": _vm_kib("VmHWM") / 1024.0,
                "first_call_s": first_s,
                "ms_per_step": statistics.median(times),
                "steps": steps,
            }
        ),
        flush=True,
    )


def large_k(configs, steps):
    n = SHAPE[0] * SHAPE[1] * SHAPE[2]
    full = n * LARGE_K * 4
    print(
        f"\n## K={LARGE_K}, input {SHAPE}: peak memory (subprocess per row), "
        f"median of {steps} steps after one warm-up step\n"
    )
    print(
        "| layer | distance_chunk_size | ms/step | peak RSS (MiB) | "
        "RSS before 1st step (MiB) | peak - before (MiB) | "
        "(N x chunk) f32 block (MiB) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    results = []
    for kind, chunk in configs:
        cmd = [
            sys.executable,
            os.path.abspath(__file__),
            "--_worker",
            kind,
            "--_chunk",
            str(chunk),
            "--_steps",
            str(steps),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=os.environ)
        lines = [l for l in proc.stdout.splitlines() if l.startswith("RESULT ")]
        if proc.returncode != 0 or not lines:
            print(f"| {kind} | {chunk} | failed (rc={proc.returncode}) |")
            sys.stderr.write(proc.stderr[-3000:])
            continue
        r = json.loads(lines[-1][len("RESULT ") :])
        results.append(r)
        name = "vq_zoo VectorQuantizerEMA" if kind == "ema" else (
            "vq_zoo VectorQuantizer"
        )
        print(
            f"| {name} | {chunk} | {r['ms_per_step']:.0f} | "
            f"{r['peak_hwm_mib']:.0f} | {r['base_rss_mib']:.0f} | "
            f"{r['peak_hwm_mib'] - r['base_rss_mib']:.0f} | "
            f"{n * chunk * 4 / MIB:.0f} |",
            flush=True,
        )
    print(
        f"\nNot run (would risk the 24 GiB machine): an unchunked search "
        f"(distance_chunk_size=None) materialises the {n} x {LARGE_K} float32 "
        f"distance matrix, {full / GIB:.0f} GiB on its own (TF holds the "
        f"matmul, the scaled product and the sum at once, so ~2-3x that); "
        f"Sonnet's VectorQuantizer holds the same distances plus their "
        f"negation and a {n} x {LARGE_K} float32 one-hot "
        f"({full / GIB:.0f} GiB each), and Sonnet's VectorQuantizerEMA "
        f"multiplies that one-hot once more for its statistics."
    )
    return results


# ------------------------------------------------------- new quantizers
NEW_K = 1024


def make_layer_step(layer):
    import tensorflow as tf

    layer.build(SHAPE)
    variables = list(layer.trainable_weights)

    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            out = layer(x, training=True)
            loss = out["loss"] + tf.reduce_mean(tf.square(out["quantized"]))
        grads = tape.gradient(loss, [x] + variables)
        return loss, _dense(grads)

    return step


def make_scalar_floor(kind, projection):
    """FSQ's or LFQ's own floor: the projected input's bound + round +
    mixed-radix index (FSQ) or sign bits + index (LFQ), forward only."""
    import numpy as np
    import tensorflow as tf

    w = tf.constant(projection)
    if kind == "fsq":
        levels = np.array([8, 5, 5, 5], np.float32)
        half_l = (levels - 1) * (1 - 1e-3) / 2
        offset = np.where(levels % 2 == 0, 0.5, 0.0).astype(np.float32)
        shift = np.tan(offset / half_l).astype(np.float32)
        basis = tf.constant([1, 8, 40, 200], tf.int32)
        half = tf.constant((levels // 2).astype(np.int32))
    else:
        basis = tf.constant(2 ** np.arange(9, -1, -1), tf.int32)

    @tf.function
    def floor(x):
        z = tf.matmul(tf.reshape(x, (-1, DIM)), w)
        if kind == "fsq":
            digits = tf.cast(tf.round(tf.tanh(z + shift) * half_l - offset), tf.int32) + half
        else:
            digits = tf.cast(z > 0, tf.int32)
        return tf.reduce_sum(digits * basis, axis=1)

    return floor


def new_quantizers(rounds, inner):
    import numpy as np
    import tensorflow as tf

    from vq_zoo.layers import FiniteScalarQuantizer
    from vq_zoo.layers import LookupFreeQuantizer
    from vq_zoo.layers import ResidualVectorQuantizer
    from vq_zoo.layers import VectorQuantizer
    from vq_zoo.layers import VectorQuantizerEMA

    x_np, codebook = _inputs_and_codebook(NEW_K)
    x = tf.constant(x_np)
    rng = np.random.default_rng(1)

    def vq(cls=VectorQuantizer, **kwargs):
        layer = cls(embedding_dim=DIM, num_embeddings=NEW_K,
                    commitment_cost=COMMITMENT_COST, **kwargs)
        step = make_layer_step(layer)
        if tuple(layer.codebook.shape) == codebook.shape:
            layer.codebook.assign(codebook)
        return step

    fsq = FiniteScalarQuantizer((8, 5, 5, 5), embedding_dim=DIM)
    lfq = LookupFreeQuantizer(NEW_K, embedding_dim=DIM)
    rvq = ResidualVectorQuantizer(2, DIM, 32, commitment_cost=COMMITMENT_COST)
    floor = "floor (matmul + argmin, K=1024)"
    contenders = {
        floor: make_floor(codebook),
        "VectorQuantizer": vq(),
        "VectorQuantizer rotation_trick": vq(rotation_trick=True),
        "VectorQuantizer use_cosine_similarity": vq(use_cosine_similarity=True),
        "VectorQuantizer codebook_dim=8": vq(codebook_dim=8),
        "VectorQuantizerEMA": vq(VectorQuantizerEMA, decay=DECAY),
        "VectorQuantizerEMA rotation_trick": vq(VectorQuantizerEMA, decay=DECAY,
                                                rotation_trick=True),
        "ResidualVectorQuantizer 2x32 EMA": make_layer_step(rvq),
        "FiniteScalarQuantizer (8,5,5,5)": make_layer_step(fsq),
        "fsq floor": make_scalar_floor(
            "fsq", rng.normal(size=(DIM, 4)).astype(np.float32)),
        "LookupFreeQuantizer 1024": make_layer_step(lfq),
        "lfq floor": make_scalar_floor(
            "lfq", rng.normal(size=(DIM, 10)).astype(np.float32)),
    }
    per_round = time_interleaved(contenders, x, rounds, inner)
    print(f"\n## New quantizers, about 2^10 codes, input {SHAPE} float32, "
          f"forward+backward, {rounds} interleaved rounds x {inner} steps\n")
    print("| contender | median ms/step | min ms/step |")
    print("|---|---:|---:|")
    for name, times in per_round.items():
        print(f"| {name} | {statistics.median(times):.1f} | {min(times):.1f} |")
    pairs = [
        ("VectorQuantizer", floor),
        ("VectorQuantizer rotation_trick", "VectorQuantizer"),
        ("VectorQuantizer use_cosine_similarity", "VectorQuantizer"),
        ("VectorQuantizer codebook_dim=8", "VectorQuantizer"),
        ("VectorQuantizerEMA rotation_trick", "VectorQuantizerEMA"),
        ("ResidualVectorQuantizer 2x32 EMA", "VectorQuantizerEMA"),
        ("FiniteScalarQuantizer (8,5,5,5)", "VectorQuantizer"),
        ("FiniteScalarQuantizer (8,5,5,5)", "fsq floor"),
        ("LookupFreeQuantizer 1024", "VectorQuantizer"),
        ("LookupFreeQuantizer 1024", "lfq floor"),
    ]
    print("\n| ratio | median | per-round range | numerator / matmul+argmin floor |")
    print("|---|---:|---:|---:|")
    for num, den in pairs:
        med = statistics.median(per_round[num]) / statistics.median(per_round[den])
        ratios = [a / b for a, b in zip(per_round[num], per_round[den])]
        to_floor = statistics.median(per_round[num]) / statistics.median(per_round[floor])
        print(f"| {num} / {den} | {med:.2f} | {min(ratios):.2f}-{max(ratios):.2f} "
              f"| {to_floor:.2f} |")
    return per_round


# -------------------------------------------------------------------- main
def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--inner", type=int, default=None)
    parser.add_argument(
        "--skip-large", action="store_true", help="skip the K=65,536 part"
    )
    parser.add_argument(
        "--skip-small", action="store_true", help="skip the K=512 part"
    )
    parser.add_argument(
        "--new", action="store_true",
        help="only part 3: the new quantizers (issue 22) at about 2^10 codes"
    )
    parser.add_argument("--_worker", choices=["vq", "ema"], help=argparse.SUPPRESS)
    parser.add_argument("--_chunk", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--_steps", type=int, default=2, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args._worker:
        large_k_worker(args._worker, args._chunk, args._steps)
        return

    import keras
    import sonnet
    import tensorflow as tf

    rounds = args.rounds or (3 if args.quick else 15)
    inner = args.inner or (3 if args.quick else 5)
    print(f"# bench/quantizer.py{' --quick' if args.quick else ''}")
    print(
        f"date {datetime.date.today().isoformat()}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPU cores, python {platform.python_version()}, "
        f"tensorflow {tf.__version__}, keras {keras.__version__}, "
        f"dm-sonnet {sonnet.__version__}, "
        f"TF_ENABLE_ONEDNN_OPTS={os.environ.get('TF_ENABLE_ONEDNN_OPTS', '(default)')}"
    )
    if args.new:
        new_quantizers(rounds, inner)
        return
    if not args.skip_small:
        small_k(rounds, inner)
    if args.skip_large:
        return
    if args.quick:
        configs, steps = [("vq", 8192)], 1
    else:
        configs = [("vq", c) for c in (2048, 4096, 8192, 16384)] + [("ema", 8192)]
        steps = 2
    large_k(configs, steps)


if __name__ == "__main__":
    main()
