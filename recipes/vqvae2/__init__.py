"""VQ-VAE-2 recipe: hierarchical codes and one prior per level."""
