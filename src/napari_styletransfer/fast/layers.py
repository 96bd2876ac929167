"""Building blocks shared by the two feed-forward style networks.

Both networks (Dumoulin et al.'s 26-preset network and Ghiasi et al.'s
arbitrary-style transformer) are the same kind of image transformer:
reflection-padded convolutions, instance normalisation whose scale and shift
come from the style ("conditional instance norm"), residual blocks and
nearest-neighbour upsampling. What differs is where the per-layer scale and
shift come from, so the layers take them from a :class:`NormContext`.

The context also lets a caller *fix* the normalisation statistics: record them
in one pass over the whole image, then stylise tiles with exactly those
statistics, which makes tiles agree with each other (no seams).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

NORM_EPSILON = 1e-5
# below this many channels the norms work in the plain (N, C, H, W) layout
FEW_CHANNELS = 8
# convolution inputs with at least this many values skip the padded copy
LARGE_INPUT = 1 << 22

# one normalised layer's style parameters: gamma (scale) and beta (shift), each of length C
StyleParams = tuple[torch.Tensor, torch.Tensor]
# one normalised layer's statistics: mean and (biased) variance, each of length C
NormStats = tuple[torch.Tensor, torch.Tensor]


@dataclass
class NormContext:
    """What the normalisation layers need during one forward pass.

    Attributes
    ----------
    params : list of (gamma, beta)
        Per normalised layer, in network order.
    fixed_stats : dict of int to (mean, var), or None
        When given, layers use these statistics instead of their input's.
    recorded : dict of int to (mean, var)
        Filled with each layer's statistics (by layer index) when
        ``fixed_stats`` is None.
    """

    params: list[StyleParams]
    fixed_stats: dict[int, NormStats] | None = None
    recorded: dict[int, NormStats] = field(default_factory=dict)


class ConditionalInstanceNorm(nn.Module):
    """Instance norm with style-given scale and shift (Dumoulin et al. 2017).

    Instance norm is group norm with one group per channel.
    :func:`torch.native_group_norm` computes the statistics and applies them in
    one pass and returns the statistics, which the tiled mode records (for one
    image at a time; batches of several images are for training). It was
    1.5–3× faster here than the ``batch_norm`` equivalent on channels-last
    tensors, and it has a backward pass, so training uses the same layer.
    """

    def __init__(self, index: int):
        super().__init__()
        self.index = index

    def forward(self, x: torch.Tensor, context: NormContext) -> torch.Tensor:
        gamma, beta = context.params[self.index]
        if context.fixed_stats is not None:
            if x.shape[0] != 1:
                raise ValueError("fixed statistics are for one image at a time")
            mean, var = context.fixed_stats[self.index]
            return F.batch_norm(x, mean, var, gamma, beta, training=False, eps=NORM_EPSILON)
        batch, channels, count = x.shape[0], x.shape[1], x.shape[2] * x.shape[3]
        if channels < FEW_CHANNELS:
            # channels-last with 3 or 4 channels takes a slow path (512 px: 6 ms, not 0.5)
            x = x.contiguous()
        out, mean, rstd = torch.native_group_norm(
            x, gamma, beta, batch, channels, count, channels, NORM_EPSILON
        )
        if batch == 1:
            context.recorded[self.index] = (
                mean.view(channels),
                rstd.view(channels).pow(-2) - NORM_EPSILON,
            )
        return out


class StyleConv(nn.Module):
    """Reflection pad, convolution, optional conditional instance norm and activation.

    ``upsample`` doubles the input size with nearest-neighbour interpolation
    first (the "resize-convolution" that avoids checkerboard artefacts).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        *,
        stride: int = 1,
        upsample: bool = False,
        bias: bool = False,
        norm_index: int | None = None,
        activation: str | None = "relu",
    ):
        super().__init__()
        self.upsample = upsample
        self.padding = kernel_size // 2
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, bias=bias)
        self.norm = ConditionalInstanceNorm(norm_index) if norm_index is not None else None
        self.activation = activation
        # (key, (weight, bias)) of the last phase transform (see _weights_as)
        self._phase_cache: tuple | None = None

    def forward(self, x: torch.Tensor, context: NormContext) -> torch.Tensor:
        return self.finish(self.convolve(x), context)

    def convolve(self, x: torch.Tensor) -> torch.Tensor:
        """Upsample (if asked), pad and convolve: the part before the norm."""
        if self.upsample and self._upsample_by_phases():
            # reflect-padding the upsampled input by 1 = upsampling the input padded by
            # replication (then cropped); the convolution then runs on the small grid
            weight, bias = self._weights_as(upsampling_phase_weights)
            padded = F.pad(x, (1, 1, 1, 1), mode="replicate")
            return F.pixel_shuffle(F.conv2d(padded, weight, bias), 2)
        if self.upsample:
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        if self._by_phases(x):
            padded = F.pad(x, (self.padding,) * 4, mode="reflect")
            weight, bias = self._weights_as(phase_weights)
            return F.pixel_shuffle(F.conv2d(F.pixel_unshuffle(padded, 2), weight, bias), 2)
        if x.numel() >= LARGE_INPUT:
            return reflect_padded_conv(self.conv, x, self.padding)
        return self.conv(F.pad(x, (self.padding,) * 4, mode="reflect"))

    def _upsample_by_phases(self) -> bool:
        """Whether to fuse the upsampling into the convolution (:func:`upsampling_phase_weights`).

        For the 3×3 upsampling convolutions: no upsampled copy and no padded
        copy at the larger size (16→8 channels at 512×288 px: 14 ms → 4.4 ms
        with the shuffle, measured alternately). Inference only, not in ONNX.
        """
        return self.conv.kernel_size[0] == 3 and self.conv.stride[0] == 1 and _inferring()

    def _by_phases(self, x: torch.Tensor) -> bool:
        """Whether to run this convolution as :func:`phase_weights` describes.

        For the wide kernel into 3 channels at the end of each network (oneDNN
        is slow for so few output channels: at 512×288 px 15.6 ms, as phases
        12.3 ms with the shuffles). Inference only, on even sizes, not in ONNX.
        """
        return (
            self.conv.out_channels < FEW_CHANNELS
            and self.conv.kernel_size[0] >= 5
            and self.conv.stride[0] == 1
            and _inferring()
            and x.shape[-2] % 2 == 0
            and x.shape[-1] % 2 == 0
        )

    def _weights_as(self, transform) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The convolution's weights through ``transform`` and its bias per phase, cached."""
        weight = self.conv.weight
        # trained weights change in place (a version bump); inference tensors have no
        # version, and weights loaded as such are never trained
        version = None if weight.is_inference() else weight._version
        key = (transform, weight.data_ptr(), version, weight.dtype, weight.device)
        cached = self._phase_cache
        if cached is None or cached[0] != key:
            bias = self.conv.bias
            phased = (transform(weight), None if bias is None else bias.repeat_interleave(4))
            self._phase_cache = cached = (key, phased)
        return cached[1]

    def finish(self, x: torch.Tensor, context: NormContext) -> torch.Tensor:
        """Normalise (if this layer has a norm) and apply the activation, in place."""
        if self.norm is not None:
            x = self.norm(x, context)
        if self.activation == "relu":
            x = x.relu_()
        elif self.activation == "sigmoid":
            x = x.sigmoid_()
        return x


def phase_weights(weight: torch.Tensor) -> torch.Tensor:
    """A stride-1 convolution's weights for its input and output split into 2×2 phases.

    ``pixel_shuffle(conv2d(pixel_unshuffle(x, 2), phase_weights(w)), 2)``
    equals ``conv2d(x, w)`` (valid padding, even input sizes): the same sums
    on a grid half as fine, with 4× the channels in and out, which suits
    oneDNN better when ``w`` has very few output channels.

    Parameters
    ----------
    weight : torch.Tensor
        O×C×K×K.

    Returns
    -------
    torch.Tensor
        4O×4C×M×M with M = K // 2 + 1; channel (o, a, b) is output phase (a, b)
        of channel o, input channel (c, r, s) phase (r, s) of channel c.
    """
    out_channels, in_channels, size, _ = weight.shape
    taps = size // 2 + 1
    phased = weight.new_zeros(out_channels, 2, 2, in_channels, 2, 2, taps, taps)
    for a, b, r, s in itertools.product(range(2), repeat=4):
        # output (2p + a) reads input 2(p + m) + r, i.e. kernel row u = 2m + r - a
        rows = [(m, 2 * m + r - a) for m in range(taps) if 0 <= 2 * m + r - a < size]
        cols = [(n, 2 * n + s - b) for n in range(taps) if 0 <= 2 * n + s - b < size]
        for m, u in rows:
            for n, v in cols:
                phased[:, a, b, :, r, s, m, n] = weight[:, :, u, v]
    return phased.reshape(4 * out_channels, 4 * in_channels, taps, taps)


def _inferring() -> bool:
    return not torch.is_grad_enabled() and not torch.onnx.is_in_onnx_export()


def upsampling_phase_weights(weight: torch.Tensor) -> torch.Tensor:
    """A 3×3 convolution after 2× nearest upsampling, as one convolution before it.

    ``pixel_shuffle(conv2d(pad(x, 1, "replicate"), upsampling_phase_weights(w)), 2)``
    equals ``conv2d(pad(upsample(x, 2), 1, "reflect"), w)``: output pixel
    (2p + a, 2q + b) sees input rows p − 1 … p + 1 only, each kernel row
    falling on one of them according to the phase a.

    Parameters
    ----------
    weight : torch.Tensor
        O×C×3×3.

    Returns
    -------
    torch.Tensor
        4O×C×3×3; output channel (o, a, b) is phase (a, b) of channel o.
    """
    out_channels, in_channels = weight.shape[:2]
    phased = weight.new_zeros(out_channels, 2, 2, in_channels, 3, 3)
    for a, b in itertools.product(range(2), repeat=2):
        for u, v in itertools.product(range(3), repeat=2):
            # upsampled row 2p + a + u - 1 is input row p + (a + u - 1) // 2
            m, n = (a + u - 1) // 2 + 1, (b + v - 1) // 2 + 1
            phased[:, a, b, :, m, n] += weight[:, :, u, v]
    return phased.reshape(4 * out_channels, in_channels, 3, 3)


def reflect_padded_conv(conv: nn.Conv2d, x: torch.Tensor, padding: int) -> torch.Tensor:
    """``conv(F.pad(x, padding, mode="reflect"))`` without a padded copy of ``x``.

    The convolution runs with zero padding inside the kernel; then only the
    output rows and columns whose window reaches past the edge are recomputed
    from thin reflect-padded strips. For a 32-channel 512 px input this saved
    the 9 ms of the padded copy per layer (memory-bound on these CPUs).
    """
    out = F.conv2d(x, conv.weight, conv.bias, conv.stride, padding)
    if padding == 0:
        return out
    stride, size = conv.stride[0], conv.kernel_size[0]
    for dim in (2, 3):  # rows, then columns
        length = x.shape[dim]
        first = -(-padding // stride)  # outputs at the start whose window crosses the edge
        last = (length - size + padding) // stride + 1  # first output crossing the far edge
        strips = (
            (0, (first - 1) * stride - padding + size, 0, True),
            (last * stride - padding, length, last, False),
        )
        for begin, end, where, at_start in strips:
            if where >= out.shape[dim]:
                continue
            # F.pad order: left, right, top, bottom; the side facing the interior is real data
            pad = [padding] * 4
            pad[(2 if dim == 2 else 0) + (1 if at_start else 0)] = 0
            strip = F.pad(x.narrow(dim, begin, end - begin), tuple(pad), mode="reflect")
            part = F.conv2d(strip, conv.weight, conv.bias, conv.stride)
            out.narrow(dim, where, part.shape[dim]).copy_(part)
    return out


class ResidualBlock(nn.Module):
    """Two normalised 3×3 convolutions with a skip connection (no activation after)."""

    def __init__(self, channels: int, first_norm_index: int, *, bias: bool):
        super().__init__()
        self.conv1 = StyleConv(channels, channels, 3, bias=bias, norm_index=first_norm_index)
        self.conv2 = StyleConv(
            channels, channels, 3, bias=bias, norm_index=first_norm_index + 1, activation=None
        )

    def forward(self, x: torch.Tensor, context: NormContext) -> torch.Tensor:
        return x + self.conv2(self.conv1(x, context), context)


@dataclass(frozen=True)
class TransformerShape:
    """Widths and depth of a style transformer network.

    Attributes
    ----------
    widths : tuple of int
        Channels after the three contracting convolutions, e.g. (32, 32, 32).
    residual_blocks : int
        Number of residual blocks at the lowest resolution.
    expand_widths : tuple of int
        Channels after the two upsampling convolutions, e.g. (8, 4).
    normalise_contract : bool
        Whether the contracting convolutions have conditional instance norm
        (Dumoulin) or plain biased convolutions with folded batch norm (Ghiasi).
    """

    widths: tuple[int, int, int]
    residual_blocks: int
    expand_widths: tuple[int, int]
    normalise_contract: bool


# the network shrinks the image by 4 (two stride-2 convolutions), so sizes are
# padded to a multiple of this, and tiles start on multiples of it
SIZE_MULTIPLE = 4


class StyleTransformerNet(nn.Module):
    """Image transformer: contract ×4, residual blocks, expand ×4, sigmoid output.

    Input and output are N×3×H×W in [0, 1]; H and W must be multiples of 4.
    """

    def __init__(self, shape: TransformerShape):
        super().__init__()
        c1, c2, c3 = shape.widths
        e1, e2 = shape.expand_widths
        contract_norm = shape.normalise_contract
        next_index = _Counter()
        self.contract = nn.ModuleList(
            [
                StyleConv(
                    cin,
                    cout,
                    k,
                    stride=s,
                    bias=not contract_norm,
                    norm_index=next_index() if contract_norm else None,
                )
                for cin, cout, k, s in ((3, c1, 9, 1), (c1, c2, 3, 2), (c2, c3, 3, 2))
            ]
        )
        self.residual = nn.ModuleList(
            [
                ResidualBlock(c3, next_index(2), bias=not contract_norm)
                for _ in range(shape.residual_blocks)
            ]
        )
        self.expand = nn.ModuleList(
            [
                StyleConv(
                    c3, e1, 3, upsample=True, bias=not contract_norm, norm_index=next_index()
                ),
                StyleConv(
                    e1, e2, 3, upsample=True, bias=not contract_norm, norm_index=next_index()
                ),
                StyleConv(
                    e2, 3, 9, bias=not contract_norm, norm_index=next_index(), activation="sigmoid"
                ),
            ]
        )

    def normalised_convs(self) -> list[StyleConv]:
        """The layers with a conditional instance norm, in norm-index (= network) order."""
        layers = [m for m in self.modules() if isinstance(m, StyleConv) and m.norm is not None]
        return sorted(layers, key=lambda layer: layer.norm.index)

    def forward(self, image: torch.Tensor, context: NormContext) -> torch.Tensor:
        x = image
        for layer in self.contract:
            x = layer(x, context)
        for block in self.residual:
            x = block(x, context)
        for layer in self.expand:
            x = layer(x, context)
        return x


class _Counter:
    """Hands out consecutive norm-layer indices."""

    def __init__(self):
        self.value = 0

    def __call__(self, count: int = 1) -> int:
        first = self.value
        self.value += count
        return first
