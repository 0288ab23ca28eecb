"""Voicing: the fraction of a clip's sounding frames in which a pitch
tracker (librosa's probabilistic YIN) hears a pitch. Speech with no voiced
frames is noise or a whisper, whatever its spectrum looks like."""

import numpy as np


def voiced_fraction(audio, sample_rate=16000, fmin=60.0, fmax=500.0, silence_db=40.0):
    """Fraction of the frames within `silence_db` of the clip's loudest
    frame (2048-sample frames every 512 samples at 16 kHz) that
    `librosa.pyin` marks voiced, in [0, 1]; 0 for a silent clip."""
    import librosa

    audio = np.asarray(audio, np.float32).reshape(-1)
    frame, hop = 2048 * sample_rate // 16000, 512 * sample_rate // 16000
    if audio.size < frame or not np.any(audio):
        return 0.0
    _, voiced, _ = librosa.pyin(audio, fmin=fmin, fmax=fmax, sr=sample_rate,
                                frame_length=frame, hop_length=hop, center=True)
    rms = librosa.feature.rms(y=audio, frame_length=frame, hop_length=hop, center=True)[0]
    n = min(rms.size, voiced.size)
    db = 20 * np.log10(np.maximum(rms[:n], 1e-10))
    sounding = db >= db.max() - silence_db
    return float(np.mean(voiced[:n][sounding])) if sounding.any() else 0.0


__all__ = ["voiced_fraction"]
