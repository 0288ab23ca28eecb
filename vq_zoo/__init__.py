"""vq_zoo: VQ-VAE, VQ-VAE-2 and gated PixelCNN priors for Keras 3 / TensorFlow."""

import importlib as _importlib
import os as _os
import sys as _sys

from vq_zoo.version import __version__

# Public name -> the module that defines it (a subpackage maps to itself).
_EXPORTS = {
    "data": "vq_zoo.data",
    "layers": "vq_zoo.layers",
    "likelihoods": "vq_zoo.likelihoods",
    "metrics": "vq_zoo.metrics",
    "models": "vq_zoo.models",
    "ResidualStack": "vq_zoo.layers",
    "VectorQuantizer": "vq_zoo.layers",
    "VectorQuantizerEMA": "vq_zoo.layers",
    "FiniteScalarQuantizer": "vq_zoo.layers",
    "LookupFreeQuantizer": "vq_zoo.layers",
    "ResidualVectorQuantizer": "vq_zoo.layers",
    "VQVAE": "vq_zoo.models",
    "VQVAE2": "vq_zoo.models",
    "GatedPixelCNN1DPrior": "vq_zoo.models",
    "GatedPixelCNNPrior": "vq_zoo.models",
    "WaveNetDecoder": "vq_zoo.models",
    "SpeechEncoder": "vq_zoo.models",
    "SpectrogramVQVAE": "vq_zoo.models",
    "SpectrogramEncoder": "vq_zoo.models",
    "SpectrogramDecoder": "vq_zoo.models",
    "CodeMapEncoder": "vq_zoo.models",
    "DMLabVQVAE": "vq_zoo.models",
    "DMLabTwoStage": "vq_zoo.models",
    "LatentVideoPrior": "vq_zoo.models",
    "LatentVideoModel": "vq_zoo.models",
    "CausalGatedBlock": "vq_zoo.layers",
    "GatedPixelCNNBlock": "vq_zoo.layers",
    "MaskedConv2D": "vq_zoo.layers",
    "CausalSelfAttention": "vq_zoo.layers",
    "Pipeline": "vq_zoo.pipeline",
    "VQVAEImageEncoder": "vq_zoo.models",
    "VQVAEImageDecoder": "vq_zoo.models",
    "LatentMapDecoder": "vq_zoo.models",
    "SpeakerAdversary": "vq_zoo.models",
    "TimeJitter": "vq_zoo.models",
    "bits_per_dim": "vq_zoo.metrics",
    "presets": "vq_zoo.presets",
    "list_presets": "vq_zoo.presets",
    "load_preset": "vq_zoo.presets",
}


def __getattr__(name):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'vq_zoo' has no attribute {name!r}")
    value = _importlib.import_module(module)
    if module != f"vq_zoo.{name}":
        value = getattr(value, name)
    globals()[name] = value
    return value


def _in_cli():
    """True in the `vq-zoo` command (console script or `python -m
    vq_zoo.cli`): it imports TensorFlow only for the commands that need it,
    after quieting TensorFlow's logs, so `vq-zoo list` and `--help` answer
    at once. Everywhere else `import vq_zoo` imports (and registers with
    Keras) every class, so `keras.models.load_model` finds them."""
    script = _os.path.basename(_sys.argv[0]) if _sys.argv else ""
    if _os.path.splitext(script)[0] in ("vq-zoo", "vq-zoo-script"):
        return True
    argv = list(getattr(_sys, "orig_argv", ()))
    return "-m" in argv and argv[argv.index("-m") + 1:argv.index("-m") + 2] == ["vq_zoo.cli"]


if not _in_cli():
    # TensorFlow's C++ start-up lines (oneDNN, CUDA stubs, `cuInit` on a
    # machine without a GPU) are hidden, as in the command; VQ_ZOO_VERBOSE=1
    # shows them.
    if _os.environ.get("VQ_ZOO_VERBOSE", "") in ("", "0"):
        from vq_zoo.utils.quiet_tensorflow import import_tensorflow_quietly

        import_tensorflow_quietly()
    for _name in _EXPORTS:
        __getattr__(_name)
