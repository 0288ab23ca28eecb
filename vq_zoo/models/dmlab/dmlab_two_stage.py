"""The DeepMind Lab model end to end: frame -> 21x21 codes -> 3 codes and
back, and sampling from the 3-code prior."""

import numpy as np

from vq_zoo.models._frames import frames_to_floats


class DMLabTwoStage:
    """Chains the two stages of the DeepMind Lab model (arXiv:1711.00937,
    section 4.2); holds no weights of its own.

    - `frame_vqvae`: stage 1, a `VQVAE` from frames `(batch, 84, 84, 3)` in
      `[0, 1]` (or uint8) to int32 code maps `(batch, 21, 21)`;
    - `code_vqvae`: stage 2, a `DMLabVQVAE` from those maps to int32 codes
      `(batch, 3)` (one per codebook) and, by its PixelCNN decoder, back;
    - `code_prior`: a prior over the `(batch, 3)` codes
      (`GatedPixelCNN1DPrior(length=3)`), for `sample`.
    - `map_prior` (optional): stage 1's prior over the 21x21 maps, for
      `sample_maps` (the one-stage baseline).
    - `decoding`, `num_samples`: how the chain decodes a map from 3 codes
      where a call does not say (`DMLabVQVAE.decode`'s `"sample"`,
      `"greedy"` or `"consensus"` of `num_samples` draws); None: a sampled
      map, and `reconstruct` greedy. `from_presets` and `DMLabFamily` set
      the set's own (`stage2_decoding`, `stage2_decoding_samples` of its
      recorded config: the decoding its held-out metrics were measured
      with).

    Example:
    >>> chain = DMLabTwoStage(frame_vqvae, code_vqvae, code_prior)
    >>> codes = chain.encode(frames)                   # (n, 3) int32: 27 bits
    >>> again = chain.decode(codes, decoding="consensus", num_samples=16, seed=0)
    >>> samples, codes, maps = chain.sample(8, seed=0)
    """

    def __init__(self, frame_vqvae, code_vqvae, code_prior=None, map_prior=None,
                 decoding=None, num_samples=16):
        from vq_zoo.models.dmlab.dmlab_vqvae import DECODINGS
        from vq_zoo.utils.checks import check_choice
        from vq_zoo.utils.checks import check_int

        self.frame_vqvae = frame_vqvae
        self.code_vqvae = code_vqvae
        self.code_prior = code_prior
        self.map_prior = map_prior
        self.decoding = None if decoding is None else check_choice("decoding", decoding,
                                                                   DECODINGS)
        self.num_samples = check_int("num_samples", num_samples, numpy=True)

    @classmethod
    def from_presets(cls, frame_vqvae="vqvae_small_memory_maze_84",
                     code_vqvae="vqvae_pixelcnn_small_memory_maze_21",
                     code_prior="gated_pixelcnn_1d_small_memory_maze_3",
                     map_prior="gated_pixelcnn_small_memory_maze_21"):
        """The chain of four presets (names, folders or URLs; the defaults
        are the shipped memory-maze set); a prior may be None. Its map
        decoding is the one the stage-2 preset's run was configured with
        (`recorded_decoding`)."""
        from vq_zoo import presets

        def load(handle):
            return None if handle is None else presets.load_preset(handle)

        config = presets.load_preset_metadata(code_vqvae).get("config") or {}
        return cls(load(frame_vqvae), load(code_vqvae), load(code_prior), load(map_prior),
                   **recorded_decoding(config))

    def get_build_config(self):
        """The frames the chain takes: stage 1's build config."""
        return self.frame_vqvae.get_build_config()

    @property
    def bits_per_frame(self):
        return self.code_vqvae.bits_per_example

    def encode_maps(self, frames):
        """Stage 1: int32 code maps `(batch, 21, 21)`."""
        return np.asarray(self.frame_vqvae.encode(frames_to_floats(frames)))

    def encode(self, frames):
        """Both stages: int32 codes `(batch, num_latents)`."""
        return np.asarray(self.code_vqvae.encode_sequence(self.encode_maps(frames)))

    def _decoding(self, greedy, decoding, num_samples):
        """`(decoding, num_samples)` of a call: its own, else the chain's."""
        if greedy or decoding is not None:
            return decoding, self.num_samples if num_samples is None else num_samples
        return self.decoding, self.num_samples if num_samples is None else num_samples

    def decode_maps(self, codes, seed=None, temperature=1.0, greedy=False, decoding=None,
                    num_samples=None):
        """Stage 2's decoder: int32 code maps from the codes, by
        `decoding` (`"sample"`, `"greedy"` or `"consensus"` of
        `num_samples` draws; `DMLabVQVAE.decode`; None: the chain's)."""
        decoding, num_samples = self._decoding(greedy, decoding, num_samples)
        return np.asarray(self.code_vqvae.decode(
            np.asarray(codes, np.int32), seed=seed, temperature=temperature,
            greedy=greedy, decoding=decoding, num_samples=num_samples))

    def decode(self, codes, seed=None, temperature=1.0, greedy=False, decoding=None,
               num_samples=None):
        """Frames `(batch, 84, 84, 3)` from the codes: stage 2's PixelCNN
        makes a code map (draws one; `greedy`: takes the most likely code
        at each position in turn; `decoding="consensus"`: takes the code
        most of `num_samples` draws agree on; by default the chain's
        `decoding`), stage 1's decoder renders it."""
        maps = self.decode_maps(codes, seed, temperature, greedy, decoding, num_samples)
        return np.asarray(self.frame_vqvae.decode(maps))

    def reconstruct(self, frames, seed=None, greedy=None, decoding=None, num_samples=None):
        """`(stage-1 reconstruction, 27-bit reconstruction, maps, decoded
        maps)` of `frames`; the map decoded by `decoding` (or greedily with
        `greedy=True`), by default the chain's `decoding`, and greedily for
        a chain that has none."""
        maps = self.encode_maps(frames)
        codes = np.asarray(self.code_vqvae.encode_sequence(maps))
        if greedy is None:
            greedy = decoding is None and self.decoding is None
        decoded = self.decode_maps(codes, seed=seed, greedy=greedy, decoding=decoding,
                                   num_samples=num_samples)
        return (np.asarray(self.frame_vqvae.decode(maps)),
                np.asarray(self.frame_vqvae.decode(decoded)), maps, decoded)

    def frames_of_draws(self, draws, batch_size=256):
        """Stage 1's frames of drawn maps `(batch, n, 21, 21)` (as
        `DMLabVQVAE.decode_samples` gives them), float32 `(batch, n, 84,
        84, 3)`, decoded `batch_size` maps per call of its decoder:
        `frames_of_draws(draws).mean(1)` is the frame-mean decoding (the
        mean of the draws' frames, the minimum-Bayes-risk frame for the
        squared error)."""
        return frames_of_draws(self.frame_vqvae, draws, batch_size)

    def sample(self, num, seed=None, temperature=1.0, map_temperature=1.0):
        """`(frames, codes, maps)`: `num` code triples from the 3-code
        prior, a 21x21 map for each from stage 2's decoder, frames from
        stage 1's decoder."""
        if self.code_prior is None:
            raise ValueError("DMLabTwoStage.sample needs `code_prior`.")
        codes = np.asarray(self.code_prior.sample(num, seed=seed, temperature=temperature))
        # The map decoded as the chain decodes (its `decoding`; a sampled
        # map for a chain that has none).
        maps = self.decode_maps(codes, seed=None if seed is None else seed + 1,
                                temperature=map_temperature)
        return np.asarray(self.frame_vqvae.decode(maps)), codes, maps

    def sample_maps(self, num, seed=None, temperature=1.0):
        """`(frames, maps)` from stage 1's prior alone."""
        if self.map_prior is None:
            raise ValueError("DMLabTwoStage.sample_maps needs `map_prior`.")
        maps = np.asarray(self.map_prior.sample(num, seed=seed, temperature=temperature))
        return np.asarray(self.frame_vqvae.decode(maps)), maps


def frames_of_draws(frame_vqvae, draws, batch_size=256):
    """The frames of drawn code maps `(batch, n, h, w)`, float32 `(batch,
    n, H, W, C)`, decoded by `frame_vqvae` as the `batch * n` maps in calls
    of at most `batch_size` maps each: the decoder's activations stay those
    of `batch_size` frames however many draws there are (a report's 128
    frames x 16 draws would be 2048 frames in one call)."""
    from vq_zoo.utils.checks import check_int

    batch_size = check_int("batch_size", batch_size, numpy=True)
    draws = np.asarray(draws)
    if draws.ndim < 3:
        raise ValueError(f"`draws` must be drawn code maps (batch, n, height, width), got "
                         f"shape {draws.shape}")
    batch, n = draws.shape[:2]
    maps = draws.reshape((batch * n,) + draws.shape[2:])
    frames = None
    # One call even for no maps, so that the frames' shape is the decoder's.
    for start in range(0, max(len(maps), 1), batch_size):
        chunk = np.asarray(frame_vqvae.decode(maps[start:start + batch_size]), np.float32)
        if frames is None:
            frames = np.empty((len(maps),) + chunk.shape[1:], np.float32)
        frames[start:start + len(chunk)] = chunk
    return frames.reshape((batch, n) + frames.shape[1:])


def recorded_decoding(config):
    """`{"decoding", "num_samples"}` of a dmlab run's recorded `config`
    (`stage2_decoding`, `stage2_decoding_samples`; runs before the choice
    existed decoded greedily)."""
    return {"decoding": config.get("stage2_decoding", "greedy"),
            "num_samples": int(config.get("stage2_decoding_samples", 16))}


__all__ = ["DMLabTwoStage", "frames_of_draws", "recorded_decoding"]
