"""`import vq_zoo` in a user's script shows none of TensorFlow's C++
start-up lines; VQ_ZOO_VERBOSE=1 brings them back."""

import os
import re
import subprocess
import sys

# An absl/C++ log line: severity letter, date, time, thread, file:line].
ABSL_LINE = re.compile(r"^[IWEF]\d{4} [\d:.]+ +\d+ [\w.]+:\d+\]", re.M)

# Imports the package and runs TensorFlow (device initialisation prints
# `failed call to cuInit` on a machine without a GPU).
SCRIPT = ("import vq_zoo, numpy as np\n"
          "layer = vq_zoo.VectorQuantizer(embedding_dim=2, num_embeddings=4)\n"
          "print(layer(np.zeros((1, 2), 'float32'))['quantized'].shape)\n")


def run(env):
    env = dict(os.environ, **env)
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    return subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True,
                          text=True, timeout=300, env=env)


def test_import_is_quiet_and_verbose_shows_the_start_up_lines():
    quiet = run({"VQ_ZOO_VERBOSE": "0"})
    assert quiet.returncode == 0, quiet.stderr[-2000:]
    assert quiet.stdout.strip() == "(1, 2)"
    assert not ABSL_LINE.search(quiet.stderr), quiet.stderr[-2000:]
    loud = run({"VQ_ZOO_VERBOSE": "1"})
    assert loud.returncode == 0, loud.stderr[-2000:]
    assert ABSL_LINE.search(loud.stderr), loud.stderr[-2000:]  # the probe works
