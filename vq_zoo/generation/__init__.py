"""Incremental generation: one cached sampler for every autoregressive model.

See `vq_zoo.generation.sampler` for the protocol (`initial_state`, `step`).
"""

from vq_zoo.generation.consensus import consensus_codes
from vq_zoo.generation.sampler import compile_loop
from vq_zoo.generation.sampler import gumbel_noise
from vq_zoo.generation.sampler import sample_with_cache
from vq_zoo.generation.sampler import logits_with_cache
