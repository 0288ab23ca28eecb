"""`from_preset` / `save_to_preset` for the model classes."""


class PresetMixin:
    """Adds the preset methods of `vq_zoo.presets` to a Keras model class."""

    @classmethod
    def from_preset(cls, handle, load_weights=True, cache_dir=None):
        """Builds the model of a preset: a shipped name (`vq_zoo.list_presets()`),
        a directory, or a URL; see `vq_zoo.presets.load_preset`."""
        from vq_zoo import presets

        return presets.load_preset(
            handle, cls=cls, load_weights=load_weights, cache_dir=cache_dir
        )

    def save_to_preset(self, directory, metadata=None, **kwargs):
        """Writes this (built) model as a preset folder; see
        `vq_zoo.presets.save_to_preset` (`files=`, `model_card=`)."""
        from vq_zoo import presets

        return presets.save_to_preset(self, directory, metadata, **kwargs)
