"""vq_zoo: VQ-VAE, VQ-VAE-2 and gated PixelCNN priors for Keras 3 / TensorFlow.

`import vq_zoo` is cheap: it imports neither TensorFlow nor Keras, so the
`vq-zoo` command answers `--help` and `list` at once. The public names below
load on first use. Three things hold however vq_zoo is used:

- TensorFlow's C++ start-up lines (oneDNN, CUDA stubs, `cuInit` on a machine
  without a GPU) are hidden whenever TensorFlow is first imported after
  vq_zoo, through `vq_zoo.X` or a submodule such as `vq_zoo.models`
  (`vq_zoo.utils.quiet_tensorflow`); VQ_ZOO_VERBOSE=1 shows them, and the
  command decides itself (`--verbose`).
- Keras knows every vq_zoo class (for `keras.saving.load_model`) once a
  name of `vq_zoo` (`vq_zoo.VQVAE`, `vq_zoo.load_preset`, ...) is first
  used, at `import vq_zoo` in a program that has imported Keras already,
  or as soon as such a program imports Keras after `import vq_zoo`.
- Subpackages (`vq_zoo.layers`, `vq_zoo.presets`, ...) load alone.
"""

import importlib as _importlib
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
    "ModelFamily": "vq_zoo.models.family",
    "VQVAEFamily": "vq_zoo.models.vqvae.family",
    "VQVAE2Family": "vq_zoo.models.vqvae2.family",
    "SpeechVQVAEFamily": "vq_zoo.models.wavenet.family",
    "DMLabFamily": "vq_zoo.models.dmlab.family",
    "LatentVideoFamily": "vq_zoo.models.video.family",
    "VQVAEImageEncoder": "vq_zoo.models",
    "VQVAEImageDecoder": "vq_zoo.models",
    "LatentMapDecoder": "vq_zoo.models",
    "MapHeadTuner": "vq_zoo.models",
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
    if module == f"vq_zoo.{name}":
        # A subpackage loads alone: modules of vq_zoo import each other by
        # `from vq_zoo import likelihoods` while the package is half loaded.
        value = _importlib.import_module(module)
    else:
        _register_with_keras()
        value = getattr(_importlib.import_module(module), name)
    globals()[name] = value
    return value


_REGISTERED = False


def _register_with_keras():
    """Imports every module of `_EXPORTS`, which registers every vq_zoo
    class with Keras (`@keras.saving.register_keras_serializable`). Once."""
    global _REGISTERED
    if _REGISTERED:
        return
    _REGISTERED = True
    for module in dict.fromkeys(_EXPORTS.values()):
        _importlib.import_module(module)


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS))


from vq_zoo.utils.quiet_tensorflow import quiet_when_imported as _quiet  # noqa: E402

_quiet()
if "keras" in _sys.modules:
    # A Keras program: register now, so `keras.saving.load_model` finds the
    # classes after a bare `import vq_zoo` (TensorFlow is loaded already).
    _register_with_keras()
else:
    # `import vq_zoo` then `import keras`: register once Keras has loaded.
    from vq_zoo.utils.quiet_tensorflow import after_keras_import as _after_keras

    _after_keras(_register_with_keras)
