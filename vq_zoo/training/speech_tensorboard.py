"""TensorBoard for speech VQ-VAEs: Keras' scalars plus audio summaries of
reconstructions, voice conversions and prior samples."""

import numpy as np

from vq_zoo.training.summary_tensorboard import SummaryTensorBoard


class SpeechTensorBoard(SummaryTensorBoard):
    """`keras.callbacks.TensorBoard` with audio. Every `every_n_epochs`
    epochs (counting from 1) it writes to `log_dir/<run_name>`, at step
    `epoch` (0-based), 16-bit audio summaries (TensorBoard's Audio tab):

    - `originals`: the fixed clips `sample` (once, at the first write);
    - `reconstructions`: the model's codes of `sample` decoded with the
      clips' own speakers (`speakers`);
    - `conversions`: the same codes decoded with `target_speakers`;
    - `prior_samples`: `sample_fn(model)` audio, when given (the prior
      stage: codes drawn from the prior being fit, decoded by the VQ-VAE).

    Decoding samples the WaveNet (`seed` fixed), so the clips are short.

    Args:
        log_dir: the TensorBoard log directory.
        sample: float audio `(n, time, 1)` in [-1, 1], or None.
        speakers: int `(n,)`, the clips' speakers (with `sample`).
        target_speakers: int `(n,)` or None, speakers to convert to.
        sample_fn: callable `model -> audio (m, time, 1)`, or None.
        sample_rate: int, samples per second.
        every_n_epochs: int >= 1.
        seed: int, the decoders' sampling seed.
        run_name: subdirectory of `log_dir` for the audio.
        **kwargs: passed to `keras.callbacks.TensorBoard`.

    Example:
    >>> board = SpeechTensorBoard("logs", clips, speakers, (speakers + 1) % 8)
    >>> vqvae.fit(crops, epochs=4, callbacks=[board])
    """

    def __init__(self, log_dir, sample=None, speakers=None, target_speakers=None,
                 sample_fn=None, sample_rate=16000, every_n_epochs=1, seed=0,
                 run_name="audio", **kwargs):
        super().__init__(log_dir, every_n_epochs=every_n_epochs, run_name=run_name,
                         **kwargs)
        if sample is None and sample_fn is None:
            raise ValueError("Pass `sample` (clips and `speakers`), `sample_fn`, or both.")
        if sample is not None:
            sample = np.asarray(sample, np.float32)
            if sample.ndim != 3 or sample.shape[-1] != 1 or speakers is None \
                    or len(speakers) != len(sample):
                raise ValueError(
                    "`sample` must be mono clips (n, time, 1) with `speakers` of "
                    f"length n; got {sample.shape} and {speakers!r}")
        self.sample = sample
        self._pitch = None
        self.speakers = None if speakers is None else np.asarray(speakers, "int32")
        self.target_speakers = (None if target_speakers is None
                                else np.asarray(target_speakers, "int32"))
        self.sample_fn = sample_fn
        self.sample_rate = int(sample_rate)
        self.seed = seed
        self._wrote_originals = False

    def _audio(self, name, audio, step):
        import tensorflow as tf

        audio = np.clip(np.asarray(audio, np.float32), -1.0, 1.0)
        tf.summary.audio(name, audio, self.sample_rate, step=step,
                         max_outputs=len(audio), encoding="wav")

    def _pitch_of_sample(self):
        """`{"pitch": contours}` of `sample` for a decoder conditioned on the
        pitch contour (each clip's by the decoder's tracker, normalised by
        its speaker's statistics: `SpectrogramDecoder.contour_of`; tracked
        once), else `{}`."""
        decoder = self.model.decoder
        if not getattr(decoder, "pitch_condition", False):
            return {}
        if self._pitch is None:
            self._pitch = np.stack([decoder.contour_of(clip[:, 0], int(s))
                                    for clip, s in zip(self.sample, self.speakers)])
        return {"pitch": self._pitch}

    def write_summaries(self, step):
        """Writes the audio summaries at `step` now."""
        with self.summaries_at(step):
            if self.sample is not None:
                if not self._wrote_originals:
                    self._audio("originals", self.sample, step)
                    self._wrote_originals = True
                codes = self.model.encode(self.sample)
                time = self.sample.shape[1]
                extra = self._pitch_of_sample()
                self._audio("reconstructions", np.asarray(self.model.decode(
                    codes, condition=self.speakers, seed=self.seed, **extra))[:, :time], step)
                if self.target_speakers is not None:
                    self._audio("conversions", np.asarray(self.model.decode(
                        codes, condition=self.target_speakers, seed=self.seed,
                        **extra))[:, :time], step)
            if self.sample_fn is not None:
                self._audio("prior_samples", self.sample_fn(self.model), step)


__all__ = ["SpeechTensorBoard"]
