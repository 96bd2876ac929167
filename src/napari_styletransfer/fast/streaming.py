"""Tiled stylisation with exact instance-norm statistics, for images too large to run whole.

Instance norm needs each layer's mean and variance over the *whole* image, so
tiles cannot simply be stylised one by one. Both networks have the same
shape: a contracting stage (full → ¼ resolution), residual blocks at ¼
resolution, and an expanding stage (¼ → full). The ¼-resolution activations
are small (2 values per pixel of the image for the 26-style network), so:

1. Contracting stage, tile by tile: one pass per normalised layer collects
   that layer's sums and sums of squares over the tiles' cores (with the
   statistics of the layers before it already fixed); the last pass stores the
   last layer's output at ¼ resolution for the whole image.
2. Residual blocks: run on that whole ¼-resolution tensor, untiled, so their
   statistics are exact by construction.
3. Expanding stage, tile by tile over the ¼-resolution tensor: again one
   statistics pass per normalised layer, then the final pass writes the output.

Every tile is read with a context margin wider than the stage's receptive
field, and tiles start on multiples of 4, so each tile's core is exactly what
an untiled run computes there. The result equals the untiled one up to
rounding, for about twice the work of an untiled run.
"""

from __future__ import annotations

from collections.abc import Generator
from fractions import Fraction

import torch
from torch import nn

from .. import devices
from .layers import NormContext, NormStats, StyleConv, StyleParams, StyleTransformerNet
from .tiling import Tile, TileBlender, crop, plan_tiles

CONTRACT_MARGIN = 32  # full-resolution pixels; the contracting stage sees 7 px around
EXPAND_MARGIN = 8  # ¼-resolution pixels; the expanding stage sees under 2 px around
DOWNSCALE = 4


class Moments:
    """Running per-channel sum and sum of squares.

    Each tile is reduced on its device in float32 (pairwise summation); the
    tiles' partial sums are added up in float64 on the CPU (MPS has no float64).
    """

    def __init__(self):
        self.count = 0
        self.total: torch.Tensor | float = 0.0
        self.squares: torch.Tensor | float = 0.0
        self.device: torch.device | None = None

    def add(self, x: torch.Tensor) -> None:
        """Add the pixels of an N×C×h×w tensor."""
        self.device = x.device
        self.count += x.shape[0] * x.shape[2] * x.shape[3]
        total = x.sum(dim=(0, 2, 3), dtype=torch.float32)
        norms = torch.linalg.vector_norm(x, dim=(0, 2, 3), dtype=torch.float32)
        self.total = self.total + total.cpu().double()
        self.squares = self.squares + norms.cpu().double() ** 2

    def statistics(self) -> NormStats:
        """Mean and biased variance, float32 on the device of the tensors added."""
        mean = self.total / self.count
        var = (self.squares / self.count - mean * mean).clamp_min(0.0)
        return mean.float().to(self.device), var.float().to(self.device)


def count_steps(net: StyleTransformerNet, height: int, width: int, tile_size: int) -> int:
    """How many progress steps :func:`iter_tiled_stylize` yields for this image."""
    contract = len(_contract_tiles(height, width, tile_size))
    expand = len(_expand_tiles(height, width, tile_size))
    contract_passes = sum(layer.norm is not None for layer in net.contract[:-1]) + 1
    expand_passes = sum(layer.norm is not None for layer in net.expand) + 1
    return contract_passes * contract + 1 + expand_passes * expand


def iter_tiled_stylize(
    net: StyleTransformerNet,
    params: list[StyleParams],
    image: torch.Tensor,
    tile_size: int,
    device: torch.device,
) -> Generator[str, None, torch.Tensor]:
    """Stylise a 1×3×H×W image (H, W multiples of 4) tile by tile, exactly.

    Yields a short description of the work done after every tile of every
    pass (see :func:`count_steps`) and returns the 1×3×H×W output.
    """
    stats: dict[int, NormStats] = {}
    low = yield from _contract_stage(net.contract, params, image, tile_size, stats, device)
    low = _residual_stage(net.residual, params, low, stats, device)
    yield "residual blocks"
    output = yield from _expand_stage(net.expand, params, low, tile_size, stats, device)
    return output


def _contract_tiles(height: int, width: int, tile_size: int) -> list[Tile]:
    return plan_tiles(height, width, tile_size, reach=CONTRACT_MARGIN)


def _expand_tiles(height: int, width: int, tile_size: int) -> list[Tile]:
    size = max(1, tile_size // DOWNSCALE)
    return plan_tiles(
        height // DOWNSCALE, width // DOWNSCALE, size, reach=EXPAND_MARGIN, multiple=1
    )


def _contract_stage(layers, params, image, tile_size, stats, device):
    tiles = _contract_tiles(*image.shape[-2:], tile_size)
    scales = _scales(layers)
    last = len(layers) - 1
    for j in range(last):
        if layers[j].norm is None:
            continue
        moments = Moments()
        for number, tile in enumerate(tiles, start=1):
            y = _prefix_then_convolve(
                layers[:j], layers[j], params, stats, crop(image, tile), device
            )
            moments.add(_core(y, tile, scales[j]))
            yield f"statistics of contracting layer {j + 1}: tile {number}/{len(tiles)}"
        stats[layers[j].norm.index] = moments.statistics()
    # the last contracting layer works at ¼ resolution: keep its output for the whole image
    low = None
    for number, tile in enumerate(tiles, start=1):
        y = _prefix_then_convolve(
            layers[:last], layers[last], params, stats, crop(image, tile), device
        )
        core = _core(y, tile, scales[last])
        if low is None:
            size = (image.shape[-2] // DOWNSCALE, image.shape[-1] // DOWNSCALE)
            low = core.new_empty((1, core.shape[1], *size))
        low[..., _span(tile.core_y, scales[last]), _span(tile.core_x, scales[last])] = core
        yield f"contracting stage: tile {number}/{len(tiles)}"
    return _finish_whole(layers[last], params, low, stats, device)


@torch.inference_mode()
def _finish_whole(layer: StyleConv, params, x, stats, device) -> torch.Tensor:
    context = NormContext(params)  # statistics of the whole ¼-resolution tensor
    with devices.autocast_for(device, devices.network_precision(device)):
        x = layer.finish(x.contiguous(memory_format=torch.channels_last), context)
    stats.update(context.recorded)
    return x


@torch.inference_mode()
def _residual_stage(blocks: nn.ModuleList, params, x, stats, device) -> torch.Tensor:
    context = NormContext(params)
    with devices.autocast_for(device, devices.network_precision(device)):
        for block in blocks:
            x = block(x, context)
    stats.update(context.recorded)
    return x


def _expand_stage(layers, params, low, tile_size, stats, device):
    height, width = low.shape[-2] * DOWNSCALE, low.shape[-1] * DOWNSCALE
    tiles = _expand_tiles(height, width, tile_size)
    scales = _scales(layers)
    for j, layer in enumerate(layers):
        if layer.norm is None:
            continue
        moments = Moments()
        for number, tile in enumerate(tiles, start=1):
            y = _prefix_then_convolve(layers[:j], layer, params, stats, crop(low, tile), device)
            moments.add(_core(y, tile, scales[j]))
            yield f"statistics of expanding layer {j + 1}: tile {number}/{len(tiles)}"
        stats[layer.norm.index] = moments.statistics()
    blender = TileBlender(height, width, low.device)
    for number, tile in enumerate(tiles, start=1):
        blender.add(
            _scaled(tile, DOWNSCALE), _run_layers(layers, params, stats, crop(low, tile), device)
        )
        yield f"expanding stage: tile {number}/{len(tiles)}"
    return blender.result()


@torch.inference_mode()
def _prefix_then_convolve(prefix, layer: StyleConv, params, stats, x, device) -> torch.Tensor:
    """Run ``prefix`` with fixed statistics, then ``layer`` up to (not including) its norm."""
    context = NormContext(params, fixed_stats=stats)
    with devices.autocast_for(device, devices.network_precision(device)):
        for earlier in prefix:
            x = earlier(x, context)
        return layer.convolve(x)


@torch.inference_mode()
def _run_layers(layers, params, stats, x, device) -> torch.Tensor:
    context = NormContext(params, fixed_stats=stats)
    with devices.autocast_for(device, devices.network_precision(device)):
        for layer in layers:
            x = layer(x, context)
    return x.float()


def _scales(layers) -> list[Fraction]:
    """Output resolution of each layer relative to the stage's input."""
    scales, scale = [], Fraction(1)
    for layer in layers:
        scale *= Fraction(2 if layer.upsample else 1, layer.conv.stride[0])
        scales.append(scale)
    return scales


def _span(span: tuple[int, int], scale: Fraction) -> slice:
    start, stop = span[0] * scale, span[1] * scale
    if start.denominator != 1 or stop.denominator != 1:
        raise ValueError("tile edges must fall on the layer's pixel grid")
    return slice(int(start), int(stop))


def _core(y: torch.Tensor, tile: Tile, scale: Fraction) -> torch.Tensor:
    """The part of a layer's output for ``crop(image, tile)`` that lies in the tile's core."""
    ys = _span((tile.core_y[0] - tile.read_y[0], tile.core_y[1] - tile.read_y[0]), scale)
    xs = _span((tile.core_x[0] - tile.read_x[0], tile.core_x[1] - tile.read_x[0]), scale)
    return y[..., ys, xs]


def _scaled(tile: Tile, factor: int) -> Tile:
    def times(span):
        return (span[0] * factor, span[1] * factor)

    return Tile(times(tile.core_y), times(tile.core_x), times(tile.read_y), times(tile.read_x))
