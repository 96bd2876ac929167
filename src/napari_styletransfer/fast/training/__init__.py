"""Learning new fast styles from any painting.

- Preset mode (the default): Dumoulin et al. (2017) — a new style for a
  pretrained conditional-instance-norm network is nothing but the scale and
  shift of its norms, so only those are trained, with every convolution
  frozen (minutes on a CPU).
- ``from_scratch``: Johnson et al. (2016) — a whole transformer network per
  style (for GPUs; mixed precision, checkpoints, resume).

Both train with quality mode's perceptual loss on the same VGG19
(:mod:`.loss`), over photo crops (:mod:`.photos`); :mod:`.trainer` holds the
loop, :mod:`.logs` the TensorBoard and CSV logs. The result is a learned-style
file (:mod:`napari_styletransfer.fast.learned`) that fast mode runs as
``learned:NAME``.
"""

from .settings import LearnSettings
from .trainer import TrainingReport, checkpoint_path, iter_learn_style, learn_style, training_dir

__all__ = [
    "LearnSettings",
    "TrainingReport",
    "checkpoint_path",
    "iter_learn_style",
    "learn_style",
    "training_dir",
]
