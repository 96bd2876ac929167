"""Johnson, Alahi & Fei-Fei, "Perceptual Losses for Real-Time Style Transfer and
Super-Resolution" (ECCV 2016): one network per style, trained from scratch.

The architecture is the paper's (a 9×9 convolution, two stride-2 convolutions,
five residual blocks of 128 channels, two upsampling stages, a 9×9 output
convolution, instance norm after every convolution) with the two changes
Dumoulin et al. (2017) made and the other fast-mode networks share:
nearest-neighbour upsampling followed by a convolution instead of transposed
convolutions (no checkerboard artefacts) and a sigmoid output in [0, 1].
It is built from the same layers (:mod:`.layers`), so the fast-mode run path
(tiling included) runs it unchanged; its one style is a single set of
instance-norm scales and shifts.
"""

from __future__ import annotations

import torch
from torch import nn

from .layers import NormContext, StyleParams, StyleTransformerNet, TransformerShape

JOHNSON_SHAPE = TransformerShape(
    widths=(32, 64, 128), residual_blocks=5, expand_widths=(64, 32), normalise_contract=True
)


class JohnsonNet(nn.Module):
    """Johnson et al.'s transformer with its own (trainable) instance-norm parameters.

    ``forward(image)`` takes N×3×H×W in [0, 1] (H, W multiples of 4).
    """

    def __init__(self):
        super().__init__()
        self.transformer = StyleTransformerNet(JOHNSON_SHAPE)
        widths = [layer.conv.out_channels for layer in self.transformer.normalised_convs()]
        self.gammas = nn.ParameterList([nn.Parameter(torch.ones(c)) for c in widths])
        self.betas = nn.ParameterList([nn.Parameter(torch.zeros(c)) for c in widths])

    def style_params(self) -> list[StyleParams]:
        """Per-layer (gamma, beta), in the order the norms are indexed."""
        return list(zip(self.gammas, self.betas, strict=True))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.transformer(image, NormContext(self.style_params()))
