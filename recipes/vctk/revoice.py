"""Change a finished WORLD speech run's synthesis settings without training
again: the formant postfilter (`envelope_sharpening`) and the synthesis
frame rate (`synthesis_upsample`) act only when WORLD turns the decoded
frames into audio, so no weight depends on them.

    python -m vq_zoo.recipes.vctk.revoice RUN_DIR [--synthesis-upsample N]
        [--envelope-sharpening A]

The run's `vqvae.keras` is saved again with the new settings (its weights
checked equal to the old file's), the run's records (`config.json`,
`stages/run.json`, the stage records' digests) follow it, and the stages
that made audio (`sample`, `report`) are dropped, so that the command the
tool prints (the run's own, with the new settings as `--set`) reuses the
trained stages and measures again. The run dir is locked while it works (a
running training is refused); a run of another recipe or vocoder, or a
setting the decoder refuses, is refused in one line before anything is
written.
"""

import argparse
import json
import os
import sys

# What each command-line option sets, by config field.
SETTINGS = {"synthesis_upsample": "--synthesis-upsample",
            "envelope_sharpening": "--envelope-sharpening"}
# Stages whose outputs are audio decoded by the VQ-VAE: made again.
AUDIO_STAGES = ("sample", "report")


def _read(path):
    with open(path) as f:
        return json.load(f)


def _write(path, record):
    from vq_zoo.utils.io import write_atomic

    write_atomic(path, (json.dumps(record, indent=2) + "\n").encode())


def _format(value):
    return f"{value:g}" if isinstance(value, float) else str(value)


def revoice(run_dir, **settings):
    """Applies `settings` (`synthesis_upsample`, `envelope_sharpening`) to
    the finished run in `run_dir` (see the module's docstring). Returns the
    command that measures the run again."""
    import numpy as np

    from vq_zoo.pipeline.pipeline import file_sha256 as _sha256  # the stage records' digest
    from vq_zoo.pipeline.run_dir import RunDirError
    from vq_zoo.pipeline.run_dir import RunLock

    settings = {k: v for k, v in settings.items() if v is not None}
    unknown = sorted(set(settings) - set(SETTINGS))
    if unknown or not settings:
        raise ValueError(f"give one or more of {sorted(SETTINGS)}, got {sorted(settings)}")
    paths = {name: os.path.join(run_dir, name) for name in (
        "config.json", "vqvae.keras", os.path.join("stages", "run.json"),
        os.path.join("stages", "vqvae.json"))}
    missing = [name for name, path in paths.items() if not os.path.isfile(path)]
    if missing:
        raise ValueError(f"{run_dir} is not a finished speech run (no {', '.join(missing)}): "
                         "train it first (`vq-zoo train vctk ...`)")
    record = _read(paths["config.json"])
    config = record.get("config") or {}
    if record.get("recipe") != "vctk" or config.get("vocoder") != "world":
        raise ValueError(f"{run_dir} is a run of recipe {record.get('recipe')!r} with vocoder "
                         f"{config.get('vocoder')!r}: only a vctk run with vocoder='world' "
                         "has synthesis settings")
    try:
        lock = RunLock(run_dir)
    except RunDirError as e:
        raise ValueError(str(e)) from None
    with lock:
        import keras

        import vq_zoo  # noqa: F401  (registers the model classes)
        from vq_zoo.models.spectrogram.spectrogram_decoder import SpectrogramDecoder

        vqvae = keras.models.load_model(paths["vqvae.keras"])
        decoder_config = dict(vqvae.decoder.get_config(), **settings)
        SpectrogramDecoder(**decoder_config)  # the decoder's own checks (ValueError)
        before = [w.numpy() for w in vqvae.weights]
        for key, value in settings.items():
            setattr(vqvae.decoder, key, type(getattr(vqvae.decoder, key))(value))
        # The digest the records hold (not the file's): a run where an earlier
        # revoice died between replacing the file and updating the records is
        # mended by running it again.
        old_digest = _read(paths[os.path.join("stages", "vqvae.json")]).get("digest")
        from vq_zoo.utils.io import atomic_path

        with atomic_path(paths["vqvae.keras"], suffix=".keras") as tmp:
            vqvae.save(tmp)
            again = keras.models.load_model(tmp)
            if not all(np.array_equal(a, b.numpy()) for a, b in zip(before, again.weights)):
                raise RuntimeError("the re-saved VQ-VAE's weights differ from the run's: "
                                   "nothing was replaced")
        new_digest = _sha256(paths["vqvae.keras"])
        stages_dir = os.path.join(run_dir, "stages")
        for name in sorted(os.listdir(stages_dir)):
            stage, path = name[:-len(".json")], os.path.join(stages_dir, name)
            if not name.endswith(".json") or stage == "run":
                continue
            stage_record = _read(path)
            if stage == "vqvae":
                stage_record["digest"] = new_digest
            elif stage in AUDIO_STAGES:
                os.remove(path)
                continue
            elif (stage_record.get("inputs") or {}).get("vqvae") == old_digest:
                stage_record["inputs"]["vqvae"] = new_digest
            else:
                continue
            _write(path, stage_record)
        for name in ("metrics.json", "sample_codes.npy"):
            if os.path.exists(os.path.join(run_dir, name)):
                os.remove(os.path.join(run_dir, name))
        for path in (paths["config.json"], paths[os.path.join("stages", "run.json")]):
            kept = _read(path)
            kept["config"].update(settings)
            _write(path, kept)
    return _command(record.get("command"), run_dir, settings)


def _command(recorded, run_dir, settings):
    """The run's recorded training command with `--out-dir run_dir` (a
    copied run dir is measured where it is) and `--set key=value` for each
    of `settings` (replacing the same key's earlier `--set`)."""
    import shlex

    tokens = shlex.split(recorded or "vq-zoo train vctk")
    if "--out-dir" in tokens[:-1]:
        tokens[tokens.index("--out-dir") + 1] = os.fspath(run_dir)
    else:
        tokens += ["--out-dir", os.fspath(run_dir)]
    kept = []
    for i, token in enumerate(tokens):
        if i and tokens[i - 1] == "--set" and token.split("=")[0] in settings:
            kept.pop()  # drop the "--set" before it too
            continue
        kept.append(token)
    for key, value in settings.items():
        kept += ["--set", f"{key}={_format(value)}"]
    return shlex.join(kept)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m vq_zoo.recipes.vctk.revoice")
    parser.add_argument("run_dir")
    parser.add_argument("--synthesis-upsample", type=int, default=None,
                        help="WORLD synthesis frames per decoded frame (2: 5 ms)")
    parser.add_argument("--envelope-sharpening", type=float, default=None,
                        help="the formant postfilter's amount (0: none)")
    args = parser.parse_args(argv)
    try:
        command = revoice(args.run_dir, synthesis_upsample=args.synthesis_upsample,
                          envelope_sharpening=args.envelope_sharpening)
    except ValueError as e:
        print(f"revoice: {e}", file=sys.stderr)
        return 2
    print(f"{args.run_dir}: vqvae.keras saved with the new synthesis settings; the sample "
          f"and report stages will run again. Measure it with:\n  {command}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
