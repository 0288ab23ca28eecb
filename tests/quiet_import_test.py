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


def run_script(script, env=None, cwd=None):
    env = dict(os.environ, **(env or {}))
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    env.pop("VQ_ZOO_VERBOSE", None)
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300, env=env, cwd=cwd)


def test_import_is_lazy_and_a_submodule_import_is_quiet_too():
    # `import vq_zoo` loads neither TensorFlow nor Keras (the command's
    # `--help` relies on it); importing a submodule directly, as the README
    # does, hides TensorFlow's start-up lines as `vq_zoo.X` does.
    proc = run_script(
        "import sys, vq_zoo\n"
        "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))\n"
        "from vq_zoo.layers import VectorQuantizer\n"
        "import numpy as np\n"
        "print(VectorQuantizer(2, 4)(np.zeros((1, 2), 'float32'))['quantized'].shape)\n")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split("\n")[:2] == ["[]", "(1, 2)"], proc.stdout
    assert not ABSL_LINE.search(proc.stderr), proc.stderr[-2000:]


def test_keras_finds_the_classes_after_import_vq_zoo(tmp_path):
    # A .keras file of a model holding a vq_zoo layer, then loaded in fresh
    # processes: after `import keras; import vq_zoo` (registered at import)
    # after the first use of a public name (registered then) and after
    # `import vq_zoo; import keras` (registered once Keras has loaded).
    save = run_script(
        "import keras, numpy as np, vq_zoo\n"
        "x = keras.Input((3, 2))\n"
        "model = keras.Model(x, vq_zoo.VectorQuantizer(2, 4, seed=1)(x)['quantized'])\n"
        "model.save('m.keras')\n"
        "np.save('out.npy', model(np.ones((1, 3, 2), 'float32')))\n", cwd=tmp_path)
    assert save.returncode == 0, save.stderr[-2000:]
    check = ("import numpy as np\n"
             "model = keras.saving.load_model('m.keras')\n"
             "np.testing.assert_array_equal(model(np.ones((1, 3, 2), 'float32')),"
             " np.load('out.npy'))\n"
             "print(type(model.layers[1]).__module__)\n")
    for first in ("import keras, vq_zoo\n",
                  "import vq_zoo\nvq_zoo.VQVAE\nimport keras\n",
                  "import vq_zoo\nimport keras\n",
                  "import vq_zoo\nfrom vq_zoo.data import natural_images\nimport keras\n",
                  "import vq_zoo\nimport vq_zoo.metrics.image_quality\nimport keras\n"):
        proc = run_script(first + check, cwd=tmp_path)
        assert proc.returncode == 0, (first, proc.stderr[-2000:])
        assert proc.stdout.strip() == "vq_zoo.layers.vector_quantizer", proc.stdout
