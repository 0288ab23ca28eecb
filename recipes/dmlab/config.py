"""Configs of the DeepMind Lab recipe (arXiv:1711.00937, section 4.2): 84x84
frames to 21x21 codes, 21x21 codes to 3 codes (27 bits), priors on both."""

import dataclasses

from vq_zoo.recipes.common import ImageRecipeConfig

DATASETS = ("memory_maze", "dmlab")
MAZES = ("9x9", "11x11", "13x13", "15x15")


@dataclasses.dataclass(frozen=True)
class DMLabConfig(ImageRecipeConfig):
    """The two-stage DeepMind Lab model and its priors.

    `dataset`: "memory_maze" (first-person frames rendered offline by
    `vq_zoo.data.memory_maze` with an exploring policy: `episodes` episodes
    of `steps_per_episode` steps in `maze` mazes from `data_seed`, cached in
    `--data-dir`, by default `$VQ_ZOO_HOME/memory_maze/<maze>_<size>px_
    <steps>steps_seed<seed>`, and split by episode) or "dmlab" (tfds
    `dmlab`, VTAB's 360x480 frames resized to 84x84, from `--data-dir`, the
    tfds folder). `train_frames`, `validation_frames`, `test_frames`: keep
    the first n frames of each split (0 = all).

    Stage 1 (`vqvae`, `prior`) takes the `ImageRecipeConfig` fields: a
    VQ-VAE from `image_size` frames to `image_size / 4` code maps with
    `num_embeddings` codes, and a gated PixelCNN prior on the maps. Stage 2
    (`stage2_*`): a `DMLabVQVAE` over the maps, `stage2_num_latents` codes
    with one codebook of `stage2_num_embeddings` each, a gated PixelCNN
    decoder of `stage2_decoder_layers` x `stage2_decoder_filters`; and a
    1D gated prior (`stage2_prior_*`) over the codes as one sequence.
    """

    image_size: int = 84
    # 0 is for a stage 1 loaded from `vqvae_preset` and used as it is.
    vqvae_epochs: int = dataclasses.field(default=10, metadata={"check": "non_negative"})
    dataset: str = dataclasses.field(default="memory_maze", metadata={"choices": DATASETS})
    maze: str = dataclasses.field(default="9x9", metadata={"choices": MAZES})
    episodes: int = dataclasses.field(default=24, metadata={"check": "positive"})
    steps_per_episode: int = dataclasses.field(default=100, metadata={"check": "positive"})
    data_seed: int = dataclasses.field(default=0, metadata={"check": "non_negative"})
    render_processes: int = dataclasses.field(default=1, metadata={"check": "positive"})
    # memory-maze only: render and read each frame's target-object pixels
    # (the coloured balls; `memory_maze.read_objects`; episodes already in
    # the cache without them are rendered again, checked to come out the
    # same). The report then measures the objects each stage keeps
    # (`vq_zoo.metrics.objects`) and draws `objects.png`; and
    # `stage2_head_object_weight` can weigh them in training.
    object_masks: bool = False
    validation_fraction: float = dataclasses.field(default=0.125,
                                                   metadata={"range": (0.0, 0.5)})
    test_fraction: float = dataclasses.field(default=0.125, metadata={"range": (0.0, 0.5)})
    train_frames: int = dataclasses.field(default=0, metadata={"check": "non_negative"})
    validation_frames: int = dataclasses.field(default=0, metadata={"check": "non_negative"})
    test_frames: int = dataclasses.field(default=0, metadata={"check": "non_negative"})
    # Stage 2: 21x21 codes -> 3 codes
    stage2_num_latents: int = 3
    stage2_embedding_dim: int = 64
    stage2_num_embeddings: int = 512
    stage2_filters: int = 64
    stage2_hidden_units: int = 256
    stage2_decoder_filters: int = 64
    stage2_decoder_layers: int = 8
    stage2_commitment_cost: float = 0.25
    stage2_dead_code_threshold: float = 0.0
    stage2_learning_rate: float = 3e-4
    stage2_batch_size: int = 64
    stage2_epochs: int = 20
    # > 0: the decoder also reads, at every position, a (21, 21, channels)
    # map made from the 3 quantised vectors (`LatentMapDecoder`), through
    # `stage2_conditioning_layers` residual 3x3 layers; 0: the global
    # condition only (which says what the map holds but not where).
    stage2_spatial_channels: int = dataclasses.field(default=0,
                                                     metadata={"check": "non_negative"})
    stage2_conditioning_layers: int = dataclasses.field(default=0,
                                                        metadata={"check": "non_negative"})
    stage2_decoder_dropout: float = dataclasses.field(default=0.0,
                                                      metadata={"check": "dropout"})
    # > 0: in training, this fraction of the stage-2 decoder's teacher-forced
    # input codes is replaced (targets and the conditions from the 3 codes
    # unchanged; `DMLabVQVAE.input_noise`): by uniform random codes
    # ("random") or by samples of the decoder's own one-pass prediction
    # ("model"), against the exposure bias of greedy decoding.
    stage2_input_noise: float = dataclasses.field(default=0.0,
                                                  metadata={"check": "dropout"})
    stage2_input_noise_source: str = dataclasses.field(
        default="random", metadata={"choices": ("random", "model")})
    # > 0: stage 2 also trains a non-autoregressive head regressing the
    # stage-1 code vectors of the whole map from the 3 codes alone
    # (`DMLabVQVAE.map_head`), weighted by this: the codes must then carry
    # the map's layout, which the teacher-forced PixelCNN mostly reads from
    # the codes before each position. Enables the "regression" decoding.
    stage2_map_weight: float = dataclasses.field(default=0.0,
                                                 metadata={"check": "non_negative"})
    # > 0 (with the map head): after stage 2, stage 2 is trained this many
    # more epochs on the frames (`MapHeadTuner`): the stage-1 codes nearest
    # the map head's vectors decoded by stage 1's frozen decoder and
    # compared with the frame (stage 1's loss), beside stage 2's map loss
    # (weight `stage2_head_map_weight`); the epoch of the best validation
    # frame loss is kept. `stage2_head_tune`: "head" trains the map head
    # alone (the 3 codes, their prior and the PixelCNN decodings do not
    # change); "stage2" trains all of stage 2 with its own terms as well
    # (the codes move to what the frames need; the PixelCNN follows them).
    stage2_head_epochs: int = dataclasses.field(default=0,
                                                metadata={"check": "non_negative"})
    stage2_head_tune: str = dataclasses.field(default="head",
                                              metadata={"choices": ("head", "stage2")})
    stage2_head_learning_rate: float = dataclasses.field(default=3e-4,
                                                         metadata={"check": "positive"})
    stage2_head_map_weight: float = dataclasses.field(default=1.0,
                                                      metadata={"check": "non_negative"})
    # "cosine": the `stage2_head` learning rate falls epoch by epoch from
    # `stage2_head_learning_rate` along half a cosine (epoch e of E trains at
    # rate * (1 + cos(pi * e / E)) / 2); "constant": it stays.
    stage2_head_lr_decay: str = dataclasses.field(default="constant",
                                                  metadata={"choices": ("constant", "cosine")})
    # > 0 (needs `object_masks`): the `stage2_head` loss adds this weight
    # times stage 1's loss over the objects' pixels alone (`MapHeadTuner`'s
    # `object_weight`); the epoch of the best validation frame loss plus
    # that term is kept.
    stage2_head_object_weight: float = dataclasses.field(
        default=0.0, metadata={"check": "non_negative"})
    # How the report's 27-bit reconstructions decode the 21x21 map from the
    # codes (`DMLabVQVAE.decode`): "greedy" (the argmax at each position
    # given the codes chosen before it), "sample" (one draw at temperature
    # 1) or "consensus" (at each position the code most of
    # `stage2_decoding_samples` draws agree on: the minimum-Bayes-risk map
    # for the fraction of codes wrong). The report measures all three; this
    # one gives `test_stage2_psnr_db` and `reconstructions.png`'s third row.
    stage2_decoding: str = dataclasses.field(
        default="greedy",
        metadata={"choices": ("greedy", "sample", "consensus", "regression")})
    stage2_decoding_samples: int = dataclasses.field(default=16,
                                                     metadata={"check": "positive"})
    # The prior over the 3 codes
    stage2_prior_filters: int = 128
    stage2_prior_learning_rate: float = 1e-3
    stage2_prior_batch_size: int = 128
    stage2_prior_epochs: int = 50
    # > 0: stop when the validation loss has not improved for this many
    # epochs and keep the best epoch's weights (the 3-code prior overfits
    # K^3 combinations quickly).
    stage2_prior_patience: int = dataclasses.field(default=0,
                                                   metadata={"check": "non_negative"})
    # Stage 1 from a preset (name or folder) instead of from scratch, then
    # trained `vqvae_epochs` more epochs (0: as it is); "" trains it here.
    vqvae_preset: str = ""
    # > 0 (with `vqvae_preset`): the preset's codebook merged into this many
    # codes first (k-means of its vectors weighted by their use on the
    # training frames; `vq_zoo.models.dmlab.codebook_merge`).
    vqvae_merge_codes: int = dataclasses.field(default=0,
                                               metadata={"check": "non_negative"})
    # TensorBoard pictures (reconstruction grids, decoded prior samples);
    # each compiles a sampler, which costs more than the smoke run's training.
    tensorboard_images: bool = True


CONFIGS = {
    # Section 4.2 on tfds dmlab: 84x84x3 -> 21x21 codes, K=512 (the image
    # model of section 4.1: 128 hidden units, 2 residual blocks); stage 2
    # 21x21 -> 3 codes of K=512 (27 bits) with a PixelCNN decoder. The paper
    # gives no more detail of the stage-2 networks; these sizes are ours.
    # For a machine with a GPU and the prepared dataset.
    "paper": DMLabConfig(
        dataset="dmlab", num_hiddens=128, num_residual_layers=2,
        num_residual_hiddens=32, embedding_dim=64, num_embeddings=512,
        learning_rate=2e-4, batch_size=128, vqvae_epochs=30,
        prior_filters=128, prior_layers=12, prior_learning_rate=3e-4,
        prior_batch_size=64, prior_epochs=30, stage2_embedding_dim=64,
        stage2_filters=128, stage2_hidden_units=512, stage2_decoder_filters=128,
        stage2_decoder_layers=12, stage2_learning_rate=3e-4, stage2_batch_size=64,
        stage2_epochs=30, stage2_prior_filters=256, stage2_prior_epochs=30,
        num_samples=32,
    ),
    # The shipped presets: memory-maze frames, 300 episodes of 100 steps
    # (224 / 38 / 38 train / validation / test episodes) on 2 shared CPU
    # cores. Stage 1 is the shipped `vqvae_small_memory_maze_84`, used as
    # it is (trained from scratch on episodes 0-75 of the first 100: 6
    # epochs, 64 hidden units, 2 residual blocks, K=32; walls' colours and
    # objects kept; its command is in its metadata's `stage1_origin` and
    # recipes/dmlab/README.md, run 7); its PixelCNN prior gets 40 steps
    # only (the one-stage baseline, not part of the 27-bit chain). Stage 2:
    # 21x21 -> 3 x 512 (27 bits), a PixelCNN decoder conditioned on the
    # codes at every position and beside it the map head (weight 3: the
    # codes must carry the map's layout), hidden units 512 (256 read 0.2 dB
    # worse; the stage-2 preset holds 8.8 MB of float32 weights, stored as
    # 5.2 MB with its big arrays in float16 by the export), 20
    # epochs; then all of stage 2 trained 20 epochs more on the frames
    # through stage 1's decoder (`stage2_head`, learning rate 3e-4 falling
    # along half a cosine, map loss weight 1), with 0.05 times stage 1's
    # loss over the target balls' pixels (the episodes' object masks): the
    # balls are a few hundredths of a frame and 27 bits go to the walls
    # first; its map reported as the head's regression (nearest stage-1
    # codes); a 3-code prior of 2 filters (4 overfit earlier codes by 11%).
    # The tries: recipes/dmlab/README.md (this set: run 23).
    "small": DMLabConfig(
        dataset="memory_maze", episodes=300, steps_per_episode=100,
        num_hiddens=64, num_residual_layers=2, num_residual_hiddens=32,
        embedding_dim=32, num_embeddings=32, dead_code_threshold=0.01,
        learning_rate=2e-3, batch_size=32, vqvae_preset="vqvae_small_memory_maze_84",
        vqvae_epochs=0,
        prior_filters=32, prior_layers=4, prior_learning_rate=2e-3,
        prior_batch_size=32, prior_epochs=1, prior_steps_per_epoch=40,
        stage2_embedding_dim=16,
        stage2_filters=32, stage2_hidden_units=512, stage2_decoder_filters=32,
        stage2_decoder_layers=4, stage2_dead_code_threshold=0.01,
        stage2_learning_rate=2e-3, stage2_batch_size=32, stage2_epochs=20,
        stage2_spatial_channels=16, stage2_conditioning_layers=1,
        stage2_map_weight=3.0, stage2_head_epochs=20, stage2_head_tune="stage2",
        stage2_head_learning_rate=3e-4, stage2_head_map_weight=1.0,
        stage2_head_lr_decay="cosine", stage2_head_object_weight=0.05,
        stage2_prior_filters=2, stage2_prior_learning_rate=2e-3,
        stage2_prior_batch_size=64, stage2_prior_epochs=30, stage2_prior_patience=2,
        stage2_decoding="regression", stage2_decoding_samples=16,
        num_samples=16, tensorboard_images=False, object_masks=True,
    ),
    # Seconds: the tests run the whole chain with it (memory-maze frames at
    # 32x32 -> 8x8 codes, 2 codes of K=16 per frame).
    "smoke": DMLabConfig(
        dataset="memory_maze", image_size=32, episodes=3, steps_per_episode=6,
        num_hiddens=8, num_residual_layers=1, num_residual_hiddens=4,
        embedding_dim=4, num_embeddings=16, learning_rate=2e-3, batch_size=4,
        vqvae_epochs=1, prior_filters=8, prior_layers=2, prior_batch_size=4,
        prior_epochs=1, stage2_num_latents=2, stage2_embedding_dim=4,
        stage2_num_embeddings=8, stage2_filters=8, stage2_hidden_units=8,
        stage2_decoder_filters=8, stage2_decoder_layers=2, stage2_batch_size=4,
        stage2_epochs=1, stage2_spatial_channels=4, stage2_conditioning_layers=1,
        stage2_prior_filters=8, stage2_prior_batch_size=4,
        stage2_prior_epochs=1, stage2_prior_patience=1, num_samples=2,
        stage2_decoding="consensus", stage2_decoding_samples=4,
        stage2_map_weight=1.0, stage2_head_epochs=1, validation_fraction=0.3,
        test_fraction=0.3, tensorboard_images=False, object_masks=True,
        stage2_head_object_weight=1.0,
    ),
}


def data_dir_use(config):
    """What `--data-dir` is to this config (None: it reads none)."""
    if config.dataset == "memory_maze":
        return ("a folder of rendered memory-maze episodes (rendered there "
                "first when it holds none)")
    return "the tensorflow-datasets data dir holding dmlab"
