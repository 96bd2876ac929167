"""Running the shipped subject UNet on arrays of any size, type and channel count."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
from torch.nn import functional as F

from ..core.arrays import to_float_rgb
from ..devices import out_of_memory_as_error, resolve_device
from .model import SubjectUNet, build_model, load_checkpoint
from .postprocess import (
    DEFAULT_THRESHOLD,
    check_threshold,
    intersection_over_union,
    mask_from_probability,
)

_LOAD_LOCK = threading.Lock()

#: Below this IoU between the masks for an image and for its mirror image the
#: subject is called ambiguous: on the 115 held-out photos the mask then
#: matched the teacher with mean IoU 0.36, against 0.78 above it.
AMBIGUOUS_BELOW = 0.8


@dataclass(frozen=True)
class SubjectPrediction:
    """The model's answer for one image.

    Attributes
    ----------
    probability : numpy.ndarray
        float32, H×W, the subject probability in [0, 1].
    mirror_agreement : float
        IoU between the masks (threshold 0.5) the model gives the image and its
        mirror image, at the network's output resolution: how sure the model is
        of *which* object is the subject. Low values mean the mask needs checking.
    """

    probability: np.ndarray
    mirror_agreement: float

    @property
    def ambiguous(self) -> bool:
        """True when the mirror agreement is below :data:`AMBIGUOUS_BELOW`."""
        return self.mirror_agreement < AMBIGUOUS_BELOW


def ambiguity_message(prediction: SubjectPrediction) -> str:
    """What to tell the user when the model is unsure which object is the subject."""
    return (
        "the subject is ambiguous in this image (the masks for the image and its mirror "
        f"image overlap only {prediction.mirror_agreement:.0%}): check the mask and correct "
        "it with the brush if needed."
    )


def image_to_rgb_float(image: np.ndarray) -> np.ndarray:
    """Turn a 2-D image (gray, RGB or RGBA; integer or float) into RGB float32 in [0, 1].

    Same conventions as the style engine (:mod:`napari_styletransfer.core.arrays`):
    uint8 is divided by 255, other integers and floats outside [0, 1] are
    stretched between their own minimum and maximum; alpha is ignored.

    Raises
    ------
    StyleTransferError
        For anything that is not one 2-D image with 1, 3 or 4 channels, for
        non-numeric data, non-finite values, or an image smaller than 16×16.
    """
    rgb, _, _ = to_float_rgb(image, what="input")
    return np.ascontiguousarray(rgb, dtype=np.float32)


@lru_cache(maxsize=4)
def _model_on(device_name: str) -> SubjectUNet:
    return build_model(load_checkpoint()).to(torch.device(device_name))


def get_model(device: str | torch.device = "auto") -> SubjectUNet:
    """The shipped model on a device, loaded once per device and then cached."""
    device = resolve_device(device)
    with _LOAD_LOCK:  # the widget's worker thread and the main thread may race here
        return _model_on(str(device))


def subject_probability(
    image: np.ndarray, *, device: str | torch.device = "auto", model: SubjectUNet | None = None
) -> np.ndarray:
    """Per-pixel probability that a pixel belongs to the photo's main subject.

    Parameters
    ----------
    image : numpy.ndarray
        H×W, H×W×3 or H×W×4; uint8, uint16 or float; any size of at least 16×16.
    device : str or torch.device
        "auto", "cpu", "cuda", "cuda:N" or "mps".
    model : SubjectUNet, optional
        Another trained model (tests, training); the shipped one by default.

    Returns
    -------
    numpy.ndarray
        float32, H×W, values in [0, 1].

    Raises
    ------
    StyleTransferError
        For bad input, missing weights, an unavailable device or running out of GPU memory.
    """
    return _predict(image, device, model, mirror_always=False).probability


def predict_subject(
    image: np.ndarray, *, device: str | torch.device = "auto", model: SubjectUNet | None = None
) -> SubjectPrediction:
    """The subject probability together with how consistent the model is about it.

    Same parameters and errors as :func:`subject_probability`. The mirror image
    is always run (the shipped model runs it anyway for flip averaging), so
    :attr:`SubjectPrediction.mirror_agreement` is always measured.

    Returns
    -------
    SubjectPrediction
    """
    return _predict(image, device, model, mirror_always=True)


def _predict(
    image: np.ndarray,
    device: str | torch.device,
    model: SubjectUNet | None,
    *,
    mirror_always: bool,
) -> SubjectPrediction:
    rgb = image_to_rgb_float(image)
    torch_device = resolve_device(device)
    net = model if model is not None else get_model(torch_device)
    height, width = rgb.shape[:2]
    with out_of_memory_as_error(torch_device), torch.inference_mode():
        x = torch.from_numpy(rgb).permute(2, 0, 1)[None].to(torch_device)
        x = resize(x, net.input_size)
        probability = torch.sigmoid(net(x).float())
        agreement = float("nan")
        if net.flip_average or mirror_always:
            mirrored = torch.sigmoid(net(x.flip(-1)).float()).flip(-1)
            agreement = intersection_over_union(
                (probability > 0.5).cpu().numpy(), (mirrored > 0.5).cpu().numpy()
            )
            if net.flip_average:  # test-time augmentation, chosen on validation photos
                probability = (probability + mirrored) / 2
        # bilinear upsampling of the probability gives smooth, sub-cell mask edges
        probability = F.interpolate(
            probability, size=(height, width), mode="bilinear", align_corners=False
        )
        probability = probability[0, 0].clamp_(0, 1).cpu().numpy().astype(np.float32)
    return SubjectPrediction(probability, agreement)


def segment_subject(
    image: np.ndarray,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    holes: bool = False,
    largest: bool = False,
    device: str | torch.device = "auto",
) -> np.ndarray:
    """Find the main subject of a photo with the bundled UNet.

    Parameters
    ----------
    image : numpy.ndarray
        H×W, H×W×3 or H×W×4; uint8, uint16 or float; any size of at least 16×16.
    threshold : float
        Probability above which a pixel counts as subject, between 0 and 1.
    holes, largest : bool
        Clean-ups: fill holes inside the subject; keep only the largest object.
    device : str or torch.device
        "auto", "cpu", "cuda", "cuda:N" or "mps".

    Returns
    -------
    numpy.ndarray
        bool, H×W: True on the subject.

    Raises
    ------
    StyleTransferError
        For bad input, a threshold outside [0, 1], or an unavailable device.

    Examples
    --------
    >>> from napari_styletransfer import load_sample, segment_subject
    >>> mask = segment_subject(load_sample("chelsea"))  # doctest: +SKIP
    """
    check_threshold(threshold)  # before the model runs
    probability = subject_probability(image, device=device)
    return mask_from_probability(probability, threshold=threshold, holes=holes, largest=largest)


def resize(x: torch.Tensor, size: int) -> torch.Tensor:
    """Resize an (N, C, H, W) batch to size×size, antialiased when shrinking."""
    shrinking = x.shape[-1] > size or x.shape[-2] > size
    return F.interpolate(
        x, size=(size, size), mode="bilinear", align_corners=False, antialias=shrinking
    )
