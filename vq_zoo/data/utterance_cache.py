"""Per-utterance analyses of a corpus (pitch contours, vocoder features)
cached in one `.npz`: each field of every utterance concatenated along its
first axis, the utterances' `ends`, and a `digest` of the audio, the
analysis and its settings. A cache of other audio or settings, or one that
cannot be read (truncated, not an `.npz`, another program's), is computed
again and replaced; the file is written atomically."""

import hashlib
import io
import json
import os
import zipfile

import numpy as np


def cached_analysis(audios, compute, fields, cache_path=None, key=(), verbose=False,
                    what="analysis", every=100):
    """`[compute(audio)]` for every utterance: each a tuple of arrays named
    `fields` sharing their first axis, read from `cache_path` when it holds
    them under the same `key` (JSON-able: the analysis, its version and
    settings) and audio, else computed and written there."""
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode())
    for a in audios:
        digest.update(np.ascontiguousarray(a, np.float32).tobytes())
    digest = digest.hexdigest()
    if cache_path and os.path.exists(cache_path):
        found = _read(cache_path, digest, fields)
        if found is not None:
            return found
    out = []
    for i, a in enumerate(audios):
        out.append(tuple(compute(a)))
        if verbose and (i + 1) % every == 0:
            print(f"  {what} of {i + 1}/{len(audios)} utterances", flush=True)
    if cache_path:
        from vq_zoo.utils.io import write_atomic

        arrays = {name: np.concatenate([o[k] for o in out]) for k, name in enumerate(fields)
                  } if out else {name: np.zeros(0) for name in fields}
        buffer = io.BytesIO()
        np.savez(buffer, digest=np.array(digest),
                 ends=np.cumsum([len(o[0]) for o in out]).astype(np.int64), **arrays)
        write_atomic(cache_path, buffer.getvalue())
    return out


def _read(path, digest, fields):
    try:
        with np.load(path, allow_pickle=False) as z:
            if str(z["digest"]) != digest:
                return None
            ends = z["ends"]
            arrays = [z[name] for name in fields]
    except (KeyError, ValueError, OSError, EOFError, zipfile.BadZipFile):
        return None
    if ends.ndim != 1 or (ends.size and any(ends[-1] != len(a) for a in arrays)):
        return None
    starts = np.concatenate([[0], ends[:-1]]).astype(np.int64)
    return [tuple(a[s:e] for a in arrays) for s, e in zip(starts, ends)]


__all__ = ["cached_analysis"]
