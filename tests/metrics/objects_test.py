"""Objects kept: a reconstruction that paints the surroundings over an
object loses it, one that keeps its colour (even blurred) keeps it;
frames without contrast are not counted; the object PSNR against a NumPy
computation over the mask."""

import numpy as np
import pytest

from vq_zoo.metrics.objects import concatenate_stats
from vq_zoo.metrics.objects import object_frame_stats
from vq_zoo.metrics.objects import summarize_objects


def scene(n=6, size=16, radius=3, seed=0):
    """Frames of a textured two-colour background with a red disc at a
    random place, and the disc's mask."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    frames, masks = [], []
    for _ in range(n):
        frame = np.where((yy < size // 2)[..., None], [0.3, 0.4, 0.6], [0.2, 0.2, 0.25])
        frame = frame + rng.normal(0, 0.02, (size, size, 3))
        cy, cx = rng.integers(radius + 1, size - radius - 1, 2)
        mask = (yy - cy) ** 2 + (xx - cx) ** 2 <= radius ** 2
        frame[mask] = [0.9, 0.1, 0.1]
        frames.append(np.clip(frame, 0, 1))
        masks.append(mask)
    return np.asarray(frames), np.asarray(masks)


def inpaint(frames, masks):
    """Each object painted over with the mean colour around it."""
    out = frames.copy()
    for frame, mask, o in zip(frames, masks, out):
        ys, xs = np.nonzero(mask)
        around = np.zeros_like(mask)
        around[max(ys.min() - 2, 0):ys.max() + 3, max(xs.min() - 2, 0):xs.max() + 3] = True
        around &= ~mask
        o[mask] = frame[around].mean(0)
    return out


def test_a_reconstruction_that_paints_over_the_object_loses_it():
    frames, masks = scene()
    kept = summarize_objects(object_frame_stats(frames, frames, masks))
    assert kept["frames"] == 6 and kept["kept"] == 1.0
    lost = summarize_objects(object_frame_stats(frames, inpaint(frames, masks), masks))
    assert lost["frames"] == 6 and lost["kept"] == 0.0
    # Blurred and dimmed, but still red: kept.
    faded = 0.6 * frames + 0.4 * inpaint(frames, masks)
    assert summarize_objects(object_frame_stats(frames, faded, masks))["kept"] == 1.0
    # Mostly the background colour: lost.
    ghost = 0.3 * frames + 0.7 * inpaint(frames, masks)
    assert summarize_objects(object_frame_stats(frames, ghost, masks))["kept"] == 0.0


def test_object_psnr_and_what_is_counted():
    frames, masks = scene(seed=1)
    rng = np.random.default_rng(2)
    recon = np.clip(frames + rng.normal(0, 0.05, frames.shape), 0, 1)
    # Frame 0 shows no object, frame 1 an object the colour of its
    # surroundings, frame 2 one of 2 pixels: none is counted.
    masks = masks.copy()
    masks[0] = False
    frames = frames.copy()
    frames[1] = inpaint(frames[1:2], masks[1:2])[0]
    masks[2] = False
    masks[2, 0, :2] = True
    stats = object_frame_stats(frames, recon, masks)
    assert stats["counted"].tolist() == [False, False, False, True, True, True]
    counted = np.zeros(len(frames), bool)
    counted[3:] = True
    pixels = masks & counted[:, None, None]
    mse = ((recon - frames) ** 2)[pixels].mean()
    summary = summarize_objects(concatenate_stats([
        {k: v[:3] for k, v in stats.items()}, {k: v[3:] for k, v in stats.items()}]))
    assert summary["frames"] == 3
    assert summary["object_psnr_db"] == pytest.approx(10 * np.log10(1 / mse), rel=1e-9)
    none = summarize_objects(object_frame_stats(frames[:1], recon[:1], masks[:1]))
    assert none["frames"] == 0 and np.isnan(none["kept"])


def test_the_frames_psnr_with_objects_and_without_any():
    frames, masks = scene(n=6, seed=3)
    masks = masks.copy()
    masks[:2] = False                          # frames 0 and 1 show no object
    masks[2] = False
    masks[2, 0, 0] = True                      # frame 2: one pixel, neither kind
    # Exact with a constant error: 0.1 everywhere reads 20 dB, 0.01 reads 40.
    recon = frames.copy()
    recon[:2] += 0.1
    recon[3:] += 0.01
    recon[2] += 0.5
    summary = summarize_objects(object_frame_stats(frames, recon, masks))
    assert summary["frames"] == 3 and summary["empty_frames"] == 2
    assert summary["empty_frame_psnr_db"] == pytest.approx(20.0, abs=1e-9)
    assert summary["frame_psnr_db"] == pytest.approx(40.0, abs=1e-9)
    none = summarize_objects(object_frame_stats(frames[3:], frames[3:], masks[3:]))
    assert none["empty_frames"] == 0 and np.isnan(none["empty_frame_psnr_db"])


def test_refusals():
    frames, masks = scene(n=2)
    with pytest.raises(ValueError, match="objects"):
        object_frame_stats(frames, frames, masks[:, :4])
    with pytest.raises(ValueError, match="reconstructions"):
        object_frame_stats(frames, frames[:1], masks)
    with pytest.raises(ValueError, match="`ring`"):
        object_frame_stats(frames, frames, masks, ring=0)
