"""Frames given to the video models' NumPy entry points, as float32."""

import numpy as np


def frames_to_floats(frames):
    """float32 frames in [0, 1] from uint8 frames (divided by 255) or from
    floats (cast); a ValueError naming the dtype for anything else. Used by
    `DMLabTwoStage` and `LatentVideoModel`."""
    frames = np.asarray(frames)
    if frames.dtype == np.uint8:
        return frames.astype(np.float32) / 255.0
    if frames.dtype.kind != "f":
        raise ValueError(
            f"Frames must be uint8 or floats in [0, 1], got dtype {frames.dtype}")
    return frames.astype(np.float32)
