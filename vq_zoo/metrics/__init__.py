from vq_zoo.metrics.codebook_usage import CodebookUsage
from vq_zoo.metrics.bits_per_dim import bits_per_dim
from vq_zoo.metrics.colour import colour_wheel, error_by_hue
from vq_zoo.metrics.image_quality import psnr, ssim
