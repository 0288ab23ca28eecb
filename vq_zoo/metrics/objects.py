"""Whether reconstructions keep a frame's objects, read on the pixels a mask
marks (memory-maze's target balls, `vq_zoo.data.memory_maze.read_objects`).

A frame-wide PSNR barely sees an object that covers a few hundredths of the
frame: a reconstruction can drop it and lose a tenth of a dB. Here each frame
showing an object is judged on the object's own pixels:

- `kept`: the reconstruction's mean colour over the object's pixels is nearer
  the object's true mean colour than the true mean colour of what surrounds it
  (the pixels within `ring` of the object and not on one). A reconstruction
  that paints the wall or floor behind over the object is nearer the
  surroundings: not kept. Frames whose object differs from its surroundings by
  less than `min_contrast` (a green ball against a green wall) are left out:
  there, no colour tells the two apart.
- `object_psnr`: PSNR over the object pixels of the counted frames.
- the whole frame's PSNR over the counted frames and, apart, over the frames
  showing no object pixel at all: what a model trained to keep the objects
  pays for them where there are none (objects drawn where there are none,
  walls changed to make room for them) reads in the second.

Example:
>>> stats = object_frame_stats(frames, reconstructions, masks)
>>> summary = summarize_objects(stats)     # summary["kept"], summary["object_psnr_db"]
"""

import numpy as np

from vq_zoo.metrics.image_quality import psnr


def _dilate(mask, radius):
    """Binary dilation of bool `(N, H, W)` masks by a `(2 radius + 1)` square."""
    out = mask.copy()
    height, width = mask.shape[1:]
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            shifted = np.zeros_like(mask)
            shifted[:, max(dy, 0):height + min(dy, 0), max(dx, 0):width + min(dx, 0)] = (
                mask[:, max(-dy, 0):height + min(-dy, 0), max(-dx, 0):width + min(-dx, 0)])
            out |= shifted
    return out


def _mean_colour(images, mask):
    """`(N, C)`: each image's mean colour over its masked pixels (0 where none)."""
    weights = mask[..., None].astype(np.float64)
    total = (images * weights).sum(axis=(1, 2))
    return total / np.maximum(weights.sum(axis=(1, 2)), 1.0)


def object_frame_stats(frames, reconstructions, objects, min_pixels=4, ring=2,
                       min_contrast=0.1):
    """Per-frame object statistics of `reconstructions` against `frames`.

    Args:
        frames, reconstructions: float `(N, H, W, C)`, values in [0, 1].
        objects: bool `(N, H, W)`, the object pixels of each frame.
        min_pixels: int, a frame counts when it shows at least this many
            object pixels.
        ring: int >= 1, the width in pixels of the surroundings.
        min_contrast: float, the least Euclidean distance (in [0, 1] RGB
            units) between the object's and its surroundings' true mean
            colours for a frame to count.

    Returns:
        dict of arrays `(N,)`: `counted` (bool), `kept` (bool, False where not
        counted), `squared_error` (summed over the object pixels and
        channels), `values` (object pixels times channels), `empty` (bool:
        no object pixel at all), `frame_squared_error` (summed over the
        whole frame), `frame_values` (pixels times channels of a frame).
    """
    frames = np.asarray(frames, np.float64)
    reconstructions = np.asarray(reconstructions, np.float64)
    objects = np.asarray(objects)
    if frames.ndim != 4 or reconstructions.shape != frames.shape:
        raise ValueError(f"frames {frames.shape} and reconstructions {reconstructions.shape} "
                         "must be the same (N, H, W, C)")
    if objects.shape != frames.shape[:3]:
        raise ValueError(f"objects {objects.shape} must be (N, H, W) of the frames "
                         f"{frames.shape}")
    if not (isinstance(ring, int) and ring >= 1):
        raise ValueError(f"`ring` must be an int >= 1, got {ring!r}")
    objects = objects.astype(bool)
    around = _dilate(objects, ring) & ~objects
    pixels = objects.sum(axis=(1, 2))
    true_object = _mean_colour(frames, objects)
    true_around = _mean_colour(frames, around)
    rec_object = _mean_colour(reconstructions, objects)
    contrast = np.linalg.norm(true_object - true_around, axis=-1)
    counted = (pixels >= min_pixels) & (around.sum(axis=(1, 2)) > 0) & (contrast >= min_contrast)
    kept = counted & (np.linalg.norm(rec_object - true_object, axis=-1)
                      < np.linalg.norm(rec_object - true_around, axis=-1))
    error = (reconstructions - frames) ** 2
    squared = (error * objects[..., None]).sum(axis=(1, 2, 3))
    return {"counted": counted, "kept": kept,
            "squared_error": np.where(counted, squared, 0.0),
            "values": np.where(counted, pixels * frames.shape[-1], 0),
            "empty": pixels == 0,
            "frame_squared_error": error.sum(axis=(1, 2, 3)),
            "frame_values": np.full(len(frames), frames[0].size if len(frames) else 0)}


def _psnr(squared_error, values):
    if not np.sum(values):
        return float("nan")
    return psnr(max(float(np.sum(squared_error) / np.sum(values)), 1e-12))


def summarize_objects(stats):
    """`{"frames": counted frames, "kept": fraction kept, "object_psnr_db":
    PSNR over their object pixels, "frame_psnr_db": PSNR over the whole of
    those frames, "empty_frames": frames showing no object pixel,
    "empty_frame_psnr_db": PSNR over the whole of those}` (nan where there
    are no frames) of the concatenated per-frame `stats`
    (`object_frame_stats`)."""
    counted = np.asarray(stats["counted"], bool)
    empty = np.asarray(stats["empty"], bool)
    frame_se, frame_values = stats["frame_squared_error"], stats["frame_values"]
    summary = {"frames": int(counted.sum()), "empty_frames": int(empty.sum()),
               "empty_frame_psnr_db": _psnr(frame_se[empty], frame_values[empty])}
    if not counted.any():
        return dict(summary, kept=float("nan"), object_psnr_db=float("nan"),
                    frame_psnr_db=float("nan"))
    return dict(summary, kept=float(np.sum(stats["kept"]) / counted.sum()),
                object_psnr_db=_psnr(stats["squared_error"], stats["values"]),
                frame_psnr_db=_psnr(frame_se[counted], frame_values[counted]))


def concatenate_stats(parts):
    """Per-frame `stats` of several batches as one."""
    return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}


__all__ = ["object_frame_stats", "summarize_objects", "concatenate_stats"]
