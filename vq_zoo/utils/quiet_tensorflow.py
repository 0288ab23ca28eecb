"""Import TensorFlow without its start-up lines on stderr."""

import contextlib
import os
import sys


@contextlib.contextmanager
def _stderr_off():
    """Points the stderr file descriptor (not only `sys.stderr`) at
    /dev/null for the block, then restores it."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no usable stderr descriptor
        saved = None
    if saved is not None:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
    try:
        yield
    finally:
        if saved is not None:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def import_tensorflow_quietly():
    """Imports TensorFlow and initialises its devices with stderr (the file
    descriptor, not only `sys.stderr`) pointed at /dev/null.

    TensorFlow writes its start-up lines (oneDNN, CUDA stubs, CPU features,
    `failed call to cuInit` on a machine without a GPU) from C++ before it
    reads any log level, some at import and some when it first lists its
    devices, so `TF_CPP_MIN_LOG_LEVEL` alone does not hide them. Later
    messages, errors and Python tracebacks are shown as usual. Does nothing
    once TensorFlow is imported.

    Returns:
        The `tensorflow` module.
    """
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    with _stderr_off():
        import tensorflow as tf

        tf.config.list_physical_devices()
    return tf


class _QuietLoader:
    """TensorFlow's own loader, run with stderr off (see
    `import_tensorflow_quietly`); everything else is delegated to it."""

    def __init__(self, loader):
        self._loader = loader

    def __getattr__(self, name):
        return getattr(self._loader, name)

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        if not _wanted():
            self._loader.exec_module(module)
            return
        with _stderr_off():
            self._loader.exec_module(module)
            module.config.list_physical_devices()


def _wanted():
    """Quiet unless VQ_ZOO_VERBOSE is set, or the `vq-zoo` command runs
    (its module is loaded, or is the main module of `python -m vq_zoo.cli`):
    it decides itself (`--verbose`) when it imports TensorFlow."""
    main = getattr(sys.modules.get("__main__"), "__spec__", None)
    command = "vq_zoo.cli" in sys.modules or getattr(main, "name", None) == "vq_zoo.cli"
    return os.environ.get("VQ_ZOO_VERBOSE", "") in ("", "0") and not command


class _QuietTensorFlowFinder:
    """A `sys.meta_path` finder that answers only for `tensorflow`: it finds
    the package with the other finders and wraps its loader in
    `_QuietLoader`, then takes itself off `sys.meta_path`."""

    @classmethod
    def find_spec(cls, fullname, path=None, target=None):
        if fullname != "tensorflow":
            return None
        uninstall()
        return _spec_with_loader(fullname, path, target, _QuietLoader)


def _spec_with_loader(fullname, path, target, wrap):
    """The spec the other finders of `sys.meta_path` give `fullname`, its
    loader wrapped by `wrap(loader)` (a loader without `exec_module` is left
    as it is); None when none finds it."""
    for finder in sys.meta_path:
        find_spec = getattr(finder, "find_spec", None)
        spec = find_spec(fullname, path, target) if find_spec else None
        if spec is not None:
            if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                spec.loader = wrap(spec.loader)
            return spec
    return None


def quiet_when_imported():
    """Arranges for TensorFlow, whenever it is first imported in this
    process and by whatever import, to load as `import_tensorflow_quietly`
    loads it (unless VQ_ZOO_VERBOSE is set then, or the `vq-zoo` command
    runs). Imports nothing itself; does nothing once TensorFlow is imported."""
    if "tensorflow" not in sys.modules and _QuietTensorFlowFinder not in sys.meta_path:
        sys.meta_path.insert(0, _QuietTensorFlowFinder)


def uninstall():
    """Takes the finder of `quiet_when_imported` off `sys.meta_path`."""
    while _QuietTensorFlowFinder in sys.meta_path:
        sys.meta_path.remove(_QuietTensorFlowFinder)


class _AfterKerasLoader:
    """Keras' own loader; once Keras has loaded, runs the callbacks of
    `after_keras_import`, or, when a vq_zoo module is being imported right
    now (Keras first imported from inside vq_zoo, where registering would
    import vq_zoo's half-loaded modules), on the first lookup of a vq_zoo
    class Keras does not know (`_register_on_lookup`)."""

    def __init__(self, loader, callbacks):
        self._loader = loader
        self._callbacks = callbacks

    def __getattr__(self, name):
        return getattr(self._loader, name)

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        if not _vq_zoo_importing():
            for callback in self._callbacks:
                callback()
            return
        # Keras first imported inside a vq_zoo import: register on the first
        # lookup of a `vq_zoo>` name that Keras does not know yet instead.
        _register_on_lookup(self._callbacks)


def _register_on_lookup(callbacks):
    """Wraps Keras' lookup of registered classes (what `load_model` asks
    for each serialised class) so that a miss on a `vq_zoo>` name runs the
    callbacks (which register every vq_zoo class) and looks again. A Keras
    without that function is left as it is."""
    try:
        from keras.src.saving import object_registration
    except ImportError:
        return
    lookup = getattr(object_registration, "get_registered_object", None)
    if lookup is None or getattr(lookup, "_vq_zoo_wrapped", False):
        return

    def get_registered_object(name, custom_objects=None, module_objects=None):
        found = lookup(name, custom_objects=custom_objects, module_objects=module_objects)
        if found is None and isinstance(name, str) and name.startswith("vq_zoo>"):
            for callback in callbacks:
                callback()
            found = lookup(name, custom_objects=custom_objects,
                           module_objects=module_objects)
        return found

    get_registered_object._vq_zoo_wrapped = True
    object_registration.get_registered_object = get_registered_object


def _vq_zoo_importing():
    for name, module in list(sys.modules.items()):
        if name.startswith("vq_zoo.") and getattr(
                getattr(module, "__spec__", None), "_initializing", False):
            return True
    return False


class _AfterKerasFinder:
    """A `sys.meta_path` finder that answers only for `keras`, wrapping its
    loader in `_AfterKerasLoader`, then takes itself off `sys.meta_path`."""

    callbacks = []

    @classmethod
    def find_spec(cls, fullname, path=None, target=None):
        if fullname != "keras":
            return None
        while cls in sys.meta_path:
            sys.meta_path.remove(cls)
        callbacks = list(cls.callbacks)
        return _spec_with_loader(fullname, path, target,
                                 lambda loader: _AfterKerasLoader(loader, callbacks))


def after_keras_import(callback):
    """Calls `callback()` once Keras is first imported in this process (when
    that import happens inside a vq_zoo module's own import: on Keras' first
    lookup of an unknown `vq_zoo>` class). Imports nothing itself; does
    nothing once Keras is imported."""
    if "keras" in sys.modules:
        return
    if callback not in _AfterKerasFinder.callbacks:
        _AfterKerasFinder.callbacks.append(callback)
    if _AfterKerasFinder not in sys.meta_path:
        sys.meta_path.insert(0, _AfterKerasFinder)
