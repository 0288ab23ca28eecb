"""Your own recordings through the speech recipe's pipeline.

    vq-zoo train audio --data-dir MY_VOICES [--config default|smoke|paper]
    vq-zoo convert runs/audio-default --input in.wav --speaker alice --output out.wav
    vq-zoo sample runs/audio-default --speaker bob --num 4

A thin layer over `recipes/vctk`: the same stages, models, report and
artefacts (whatever model that recipe ships), trained on the recordings
under `--data-dir` instead of its corpus. Data (`vq_zoo.data.audio_folder`):
WAV, FLAC and OGG files of any rate and channel count, mono at the config's
`sample_rate`; each first-level subfolder is a speaker, named by the folder
(`--speaker NAME` in `convert` and `sample`). The split is by a hash of each
file's path and recorded in `RUN/data.json`; a resumed run whose folder has
changed since is refused (`--restart` scans it again). There are no
transcripts, so the speech recipe's word-error-rate measures are left out.
"""

import json
import os

from vq_zoo.recipe import Recipe
from vq_zoo.recipe import register_recipe
from vq_zoo.recipes.audio.config import CONFIGS
from vq_zoo.recipes.audio.config import data_dir_use
from vq_zoo.recipes.vctk.recipe import SpeechRecipe
from vq_zoo.recipes.vctk.recipe import run_speech

DATA_RECORD = "data.json"


def describe_data(config=None):
    return dict(
        dataset="own_speech",
        data="A folder of the trainer's own recordings (`recipes/audio`), one "
             "subfolder per speaker, mono, resampled to "
             f"{getattr(config, 'sample_rate', None) or (config or {}).get('sample_rate', 16000)}"
             " Hz, split by a hash of each file's path (the run's data.json).",
        license="The recordings' own terms (the trainer's data).")


def scan(config, data_dir, verbose=0):
    """The `AudioFolder` of `data_dir` (refused in one line when unusable)."""
    from vq_zoo.data.audio_folder import AudioFolder
    from vq_zoo.data.audio_folder import AudioFolderError

    if not data_dir:
        raise AudioFolderError(
            "vq-zoo train audio needs --data-dir: expected a folder with one subfolder "
            "of recordings (.wav, .flac, .ogg) per speaker")
    return AudioFolder.scan(data_dir, config.sample_rate, config.validation_fraction,
                            config.test_fraction, min_seconds=config.min_seconds,
                            silence_db=config.silence_db, verbose=verbose)


def loader(folder):
    """The speech recipe's data source for `folder`: `(pipe, config,
    data_dir) -> ({split: (audios, speakers)}, speaker names, texts)`,
    recording the scan in the run dir (its `corpus` stage)."""
    from vq_zoo.data.audio_folder import AudioFolderError

    def load(pipe, config, data_dir):
        del config, data_dir
        record = pipe.path(DATA_RECORD)
        summary = folder.summary()
        if os.path.exists(record):
            with open(record) as f:
                before = json.load(f)
            if before.get("files_sha256") != summary["files_sha256"]:
                raise AudioFolderError(
                    f"{folder.directory} has changed since this run began (its "
                    f"recorded split in {record} differs): expected the same "
                    "recordings, or --restart to start again on the new ones")
        else:
            folder.write(record)
        pipe.stage("corpus", lambda: summary, what="read the recordings")
        splits = {s: folder.split(s) for s in ("train", "validation", "test")}
        return splits, list(folder.speaker_names), None

    return load


@register_recipe
class AudioRecipe(SpeechRecipe):
    """The speech recipe's stages, models and report on a folder of the
    user's recordings (`load_data` reads the folder instead of the corpus)."""

    name = "audio"
    summary = ("Your own recordings: a folder with one subfolder per speaker "
               "(--data-dir; WAV/FLAC/OGG, any rate) through the vctk recipe's "
               "speech pipeline; convert and sample by speaker name")
    configs = CONFIGS
    data_dir_use = staticmethod(data_dir_use)

    def data_card(self, config=None):
        return describe_data(config)

    def check_config(self, config, data_dir=None):
        del data_dir  # the folder is read (and checked) by `run`
        if config.swap_weight:
            raise ValueError(f"swap_weight={config.swap_weight} trains conversions on "
                             "parallel readings (the same sentence, with its text, read by "
                             "several voices), which a folder of recordings does not have: "
                             "set swap_weight=0")

    def export(self, run_dir, request):
        # The generic presets and card: the speech cards describe the
        # shipped corpus' presets.
        return Recipe.export(self, run_dir, request)

    def run(self, context):
        # Read (and refused, in one line) before any run dir is made.
        folder = scan(context.config, context.data_dir, context.verbose)
        return run_speech(context, loader(folder))


main = AudioRecipe().main  # `main(config, out_dir, ...)`, as before
