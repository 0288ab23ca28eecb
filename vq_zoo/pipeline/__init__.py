from vq_zoo.pipeline.pipeline import Pipeline
from vq_zoo.pipeline.pipeline import set_determinism
from vq_zoo.pipeline.run_dir import RunDirError
from vq_zoo.pipeline.run_dir import RunLock
from vq_zoo.pipeline.two_stage_pipeline import TwoStagePipeline
from vq_zoo.pipeline.run_context import RunContext
