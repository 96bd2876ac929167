"""Loss terms of Gatys et al. style transfer, with optional spatial guidance.

Conventions (those of neural-style / neural-style-pt, so the usual weights
carry over): features come from VGG19 on Caffe-scaled input; a Gram matrix is
normalised by the number of feature elements (C·H·W); content and style terms
are mean squared errors.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def gram(features: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
    """Gram matrix of 1×C×H×W features, optionally guided by a spatial weight map.

    Parameters
    ----------
    features : torch.Tensor
        1×C×H×W activations.
    weights : torch.Tensor, optional
        1×1×H×W weights in [0, 1] (Gatys et al. 2017, "guided Gram matrices"):
        only the weighted pixels contribute, and the normalisation uses their
        total weight, so a region's Gram is comparable to a whole image's.

    Returns
    -------
    torch.Tensor
        C×C float32.
    """
    _, channels, height, width = features.shape
    # fp32 even inside autocast: sums over H·W products lose too much in bf16/fp16
    with torch.autocast(features.device.type, enabled=False):
        flat = features.reshape(channels, height * width).float()
        if weights is None:
            return flat @ flat.T / (channels * height * width)
        w = weights.reshape(1, height * width).float()
        guided = flat * w
        return guided @ guided.T / (channels * w.square().sum().clamp_min(1e-8))


def weights_like(weights: torch.Tensor | None, features: torch.Tensor) -> torch.Tensor | None:
    """Resample a 1×1×H×W weight map to the features' spatial size (area average)."""
    if weights is None:
        return None
    size = features.shape[-2:]
    return weights if weights.shape[-2:] == size else F.interpolate(weights, size=size, mode="area")


def style_loss(
    features: dict[str, torch.Tensor],
    targets: dict[str, torch.Tensor],
    layer_weights: dict[str, float],
    guide: torch.Tensor | None = None,
) -> torch.Tensor:
    """Weighted sum over layers of the MSE between (guided) Gram matrices and targets."""
    total = 0.0
    for name, target in targets.items():
        feats = features[name]
        total = total + layer_weights[name] * F.mse_loss(
            gram(feats, weights_like(guide, feats)), target
        )
    return total


def relative_layer_weights(
    targets: dict[str, torch.Tensor], layer_weights: dict[str, float]
) -> dict[str, float]:
    """Each style layer's weight divided by the mean square of its target Gram matrix.

    Raw Gram MSEs differ ~10⁴× between layers (relu4_1 ≫ relu1_1, relu5_1), so
    an unweighted sum all but ignores the finest and the coarsest texture; so
    divided, each layer's error counts relative to its target's size.
    """
    return {
        name: weight / float(targets[name].square().mean().clamp_min(1e-12))
        for name, weight in layer_weights.items()
    }


def content_loss(
    features: dict[str, torch.Tensor], targets: dict[str, torch.Tensor]
) -> torch.Tensor:
    """Mean squared error between features and the content's features, summed over layers."""
    total = 0.0
    for name, target in targets.items():
        total = total + F.mse_loss(features[name].float(), target)
    return total


def total_variation(image: torch.Tensor) -> torch.Tensor:
    """Mean squared difference between neighbouring pixels (image in 0–255 units)."""
    scaled = image * 255.0
    dx = scaled[..., :, 1:] - scaled[..., :, :-1]
    dy = scaled[..., 1:, :] - scaled[..., :-1, :]
    return dx.square().mean() + dy.square().mean()


def pixel_target_loss(
    image: torch.Tensor, target: torch.Tensor, weights: torch.Tensor
) -> torch.Tensor:
    """Hold pixels to a target image, each as strongly as its weight (0–255 units).

    One term for every "keep these pixels like that" wish: the content outside
    a mask's styled region, or the flow-warped previous frame of a video on
    pixels that are not occluded (Ruder et al. 2016's short-term temporal loss).

    Parameters
    ----------
    image, target : torch.Tensor
        1×3×H×W in [0, 1].
    weights : torch.Tensor
        1×1×H×W in [0, 1].
    """
    return ((image - target) * 255.0 * weights).square().mean()
