"""The perceptual loss of Johnson et al. (2016): quality mode's loss, over a batch of photos.

The terms are quality mode's own (:mod:`napari_styletransfer.quality.losses`:
Gram-matrix style loss with each layer weighed relative to its target's size,
feature content loss, total variation) on the same VGG19 with the same layers
and weights (:class:`napari_styletransfer.quality.settings.QualitySettings`).
The painting's Gram matrices are computed once, at the working size.
"""

from __future__ import annotations

import numpy as np
import torch

from ...core.arrays import fit_size, resize_array, to_tensor
from ...core.vgg import load_vgg19
from ...devices import autocast_for
from ...quality.losses import (
    content_loss,
    gram,
    relative_layer_weights,
    style_loss,
    total_variation,
)
from ...quality.settings import QualitySettings


class PerceptualLoss:
    """Weighted content + style + TV loss of stylised photos against one painting.

    Parameters
    ----------
    painting : numpy.ndarray
        H×W×3 float32 RGB in [0, 1].
    settings : QualitySettings
        Quality mode's settings: weights, layers, pooling, ``style_scale``.
    work_size : int
        Longer side the photos are seen at; the painting is resized to
        ``style_scale × work_size``, as quality mode does for the content.
    device : torch.device
    precision : str
        VGG arithmetic ("fp32", "bf16", "fp16"); Gram matrices stay fp32.
    """

    def __init__(
        self,
        painting: np.ndarray,
        settings: QualitySettings,
        *,
        work_size: int,
        device: torch.device,
        precision: str,
    ):
        self.settings, self.device, self.precision = settings, device, precision
        self.vgg = load_vgg19(device, settings.pooling)
        self.layers = tuple(dict.fromkeys((*settings.content_layers, *settings.style_layers)))
        side = max(16, round(work_size * settings.style_scale))
        style = resize_array(painting, fit_size(*painting.shape[:2], side))
        with torch.no_grad():
            feats = self._features(to_tensor(style, device), settings.style_layers)
            self.style_targets = {k: gram(v) for k, v in feats.items()}
        # as in quality mode: summed raw, relu4_1 drowned out the finest and coarsest texture
        self.layer_weights = relative_layer_weights(self.style_targets, settings.layer_weights())

    def _features(self, images: torch.Tensor, layers) -> dict[str, torch.Tensor]:
        with autocast_for(self.device, self.precision):
            return self.vgg(images, layers)

    def style_term(self, feats: dict[str, torch.Tensor]) -> torch.Tensor:
        """Mean over the batch of each picture's style loss (Gram matrices per picture)."""
        count = next(iter(feats.values())).shape[0]
        total = 0.0
        for i in range(count):
            one = {k: feats[k][i : i + 1] for k in self.settings.style_layers}
            total = total + style_loss(one, self.style_targets, self.layer_weights)
        return total / count

    def __call__(
        self, output: torch.Tensor, photos: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Total loss and its weighted parts for stylised ``output`` of ``photos`` (N×3×H×W)."""
        s = self.settings
        with torch.no_grad():
            targets = self._features(photos, s.content_layers)
            targets = {k: v.float() for k, v in targets.items()}
        feats = self._features(output, self.layers)
        parts = {
            "content": s.content_weight * content_loss(feats, targets),
            "style": s.style_weight * self.style_term(feats),
            "tv": s.tv_weight * total_variation(output.float()),
        }
        return sum(parts.values()), parts

    @torch.no_grad()
    def style_only(self, output: torch.Tensor) -> float:
        """The weighted style loss alone (to pick the preset a style starts from)."""
        feats = self._features(output, self.settings.style_layers)
        return float(self.settings.style_weight * self.style_term(feats))
