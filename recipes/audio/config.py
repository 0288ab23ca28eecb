"""Configs of the audio recipe: the speech recipe's (`recipes/vctk`) on a
folder of the user's own recordings. Every field and named config of the
speech recipe, whatever model it ships, plus how the folder is read."""

import dataclasses

from vq_zoo.recipes.vctk.config import CONFIGS as SPEECH_CONFIGS
from vq_zoo.recipes.vctk.config import SpeechConfig


@dataclasses.dataclass(frozen=True)
class AudioConfig(SpeechConfig):
    """The speech recipe's config, its data taken from `--data-dir` (one
    subfolder of WAV/FLAC/OGG recordings per speaker,
    `vq_zoo.data.audio_folder`): `validation_fraction` and `test_fraction`
    of the files held out by a hash of their paths; files shorter than
    `min_seconds` or with a peak below `silence_db` dBFS skipped (counted and
    named). The speech recipe's own data fields (`data`, `corpus_dir`,
    `num_sentences`, `speakers`, `tfds_*`) are not read."""

    validation_fraction: float = dataclasses.field(default=0.1,
                                                   metadata={"range": (0.0, 1.0)})
    test_fraction: float = dataclasses.field(default=0.1, metadata={"range": (0.0, 1.0)})
    min_seconds: float = dataclasses.field(default=0.25, metadata={"check": "positive"})
    silence_db: float = dataclasses.field(default=-60.0, metadata={"check": "any"})


def _from_speech(name):
    # A folder of recordings has no parallel readings (the same sentence
    # read by several voices, with its text): the speech recipe's parallel
    # pairs (`swap_weight`) are off here and refused (`AudioRecipe.check_config`).
    fields = dict(dataclasses.asdict(SPEECH_CONFIGS[name]), swap_weight=0.0)
    return AudioConfig(**{k: v for k, v in fields.items() if k != "data"})


# The speech recipe's configs of the same names (`default` is its `small`,
# the one its preset ships, without the parallel pairs), so a change there
# carries over here.
CONFIGS = {"default": _from_speech("small"),
           **{name: _from_speech(name) for name in SPEECH_CONFIGS if name != "small"}}


def data_dir_use(config):
    """What `--data-dir` is to this recipe."""
    del config
    return "the folder of your recordings, one subfolder per speaker"
