from vq_zoo.metrics.codebook_usage import CodebookUsage
