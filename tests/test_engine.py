"""Quality-mode engine on small images: properties that must hold."""

import numpy as np
import pytest
import torch

from napari_styletransfer import iter_stylize, load_sample, stylize
from napari_styletransfer.core.arrays import resize_array
from napari_styletransfer.core.color import match_colors, rgb_to_yiq
from napari_styletransfer.errors import StyleTransferError
from napari_styletransfer.quality.pyramid import plan_levels

SIZE = 64
FAST = {"max_size": SIZE, "steps": 12}


def small(name: str, size: int = SIZE) -> np.ndarray:
    image = load_sample(name).astype(np.float32) / 255
    h, w = image.shape[:2]
    scale = size / max(h, w)
    return (resize_array(image, (round(h * scale), round(w * scale))) * 255).astype(np.uint8)


@pytest.fixture(scope="module")
def content():
    return small("astronaut")


@pytest.fixture(scope="module")
def style():
    return small("starry-night")


def run_reports(content, style, **kwargs):
    return list(iter_stylize(content, style, **kwargs))


def test_style_loss_falls_a_lot_from_the_content(content, style):
    reports = run_reports(content, style, max_size=SIZE, steps=40, preview_every=0)
    first, last = reports[0].losses["style"], reports[-2].losses["style"]
    assert last < 0.2 * first
    assert reports[-1].done and reports[-1].fraction == 1.0
    assert [r.step for r in reports[:-1]] == list(range(1, 41))


def test_content_stays_recognisable(content, style):
    out = stylize(content, style, max_size=SIZE, steps=40)
    luma = lambda im: rgb_to_yiq(im / 255.0)[..., 0].ravel()  # noqa: E731
    same = np.corrcoef(luma(out), luma(content))[0, 1]
    other = np.corrcoef(luma(out), luma(np.rot90(content)))[0, 1]  # same pixels, other layout
    assert same > 0.6
    assert same > other + 0.3
    assert np.abs(out.astype(float) - content).mean() > 8  # and it did change


def test_result_keeps_shape_and_dtype_when_upsampled(content, style):
    big = np.repeat(np.repeat(content, 2, axis=0), 2, axis=1)
    out = stylize(big, style, **FAST)
    assert out.shape == big.shape and out.dtype == np.uint8


@pytest.mark.parametrize("region", ["inside", "outside"])
def test_masked_run_changes_only_the_region(content, style, region):
    mask = np.zeros(content.shape[:2], bool)
    mask[16:48, 20:44] = True
    out = stylize(content, style, mask=mask, region=region, feather=3, **FAST)
    styled = mask if region == "inside" else ~mask
    near = np.zeros_like(mask)
    ys, xs = np.nonzero(styled)
    for dy in range(-3, 4):
        for dx in range(-3, 4):
            near[np.clip(ys + dy, 0, SIZE - 1), np.clip(xs + dx, 0, SIZE - 1)] = True
    protected = ~near
    assert protected.any()
    assert np.array_equal(out[protected], content[protected])
    assert np.abs(out[styled].astype(float) - content[styled]).mean() > 8


def test_preserve_color_keeps_the_content_chroma(content, style):
    out = stylize(content, style, preserve_color=True, **FAST)
    chroma = lambda im: rgb_to_yiq(im / 255.0)[..., 1:]  # noqa: E731
    plain = stylize(content, style, **FAST)
    kept = np.abs(chroma(out) - chroma(content))
    assert np.percentile(kept, 99) < 0.02
    assert np.abs(chroma(plain) - chroma(content)).mean() > 3 * kept.mean()


def test_match_colors_gives_the_content_colour_statistics(content, style):
    rng = np.random.default_rng(0)
    # mid-range colours, so the clipping to [0, 1] does not interfere
    source = rng.normal([0.3, 0.5, 0.6], [0.05, 0.08, 0.04], (40, 40, 3)).clip(0, 1)
    target = rng.normal([0.6, 0.4, 0.3], [0.06, 0.05, 0.09], (30, 50, 3)).clip(0, 1)
    target[..., 1] += 0.5 * (target[..., 0] - 0.6)  # correlated channels
    out = match_colors(source, target).reshape(-1, 3)
    target = target.reshape(-1, 3)
    np.testing.assert_allclose(out.mean(0), target.mean(0), atol=2e-3)
    np.testing.assert_allclose(np.cov(out, rowvar=False), np.cov(target, rowvar=False), atol=2e-4)


def test_histogram_colour_matching_moves_colours_toward_the_content(content, style):
    matched = stylize(content, style, preserve_color=True, color_method="histogram", **FAST)
    plain = stylize(content, style, **FAST)
    assert matched.shape == content.shape and matched.dtype == content.dtype

    def colour_gap(image):
        return np.abs(image.reshape(-1, 3).mean(0) - content.reshape(-1, 3).mean(0)).sum()

    assert colour_gap(matched) < 0.5 * colour_gap(plain)


def test_same_seed_same_result_and_seed_matters(content, style):
    a = stylize(content, style, init="noise", seed=3, **FAST)
    b = stylize(content, style, init="noise", seed=3, **FAST)
    c = stylize(content, style, init="noise", seed=4, **FAST)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_blend_with_zero_weight_equals_single_style(content, style):
    single = stylize(content, style, **FAST)
    blended = stylize(content, [style, small("the-scream")], style_weights=[1, 0], **FAST)
    other = stylize(content, [style, small("the-scream")], style_weights=[0.5, 0.5], **FAST)
    assert np.array_equal(single, blended)
    assert not np.array_equal(single, other)


def test_bundled_style_by_name(content):
    assert stylize(content, "the-scream", **FAST).shape == content.shape


def test_adam_optimizer_lowers_the_loss_from_the_given_init_image(content, style):
    flipped = content[::-1].copy()
    reports = run_reports(content, style, optimizer="adam", init=flipped, preview_every=0, **FAST)
    finest = [r for r in reports[:-1] if r.stage == reports[-2].stage]  # losses of one level
    assert len(finest) > 3 and finest[-1].losses["total"] < finest[0].losses["total"]
    out = reports[-1].result
    assert out.shape == content.shape

    def correlation(a, b):
        return np.corrcoef(a.astype(float).ravel(), b.astype(float).ravel())[0, 1]

    # a few Adam steps stay close to where they started: the upside-down photo
    assert correlation(out, flipped) > correlation(out, content) + 0.2


def test_gray_uint16_keeps_dtype_and_range(style):
    gray = (small("astronaut").mean(axis=2) * 10 + 500).astype(np.uint16)
    out = stylize(gray, style, **FAST)
    assert out.shape == gray.shape and out.dtype == np.uint16
    assert out.min() >= gray.min() and out.max() <= gray.max()


def test_rgba_keeps_alpha(content, style):
    alpha = np.linspace(0, 255, content.size // 3).reshape(content.shape[:2]).astype(np.uint8)
    rgba = np.dstack([content, alpha])
    out = stylize(rgba, style, **FAST)
    assert out.shape == rgba.shape and np.array_equal(out[..., 3], alpha)


def test_float_content_stays_float_in_range(content, style):
    image = content.astype(np.float32) / 255
    out = stylize(image, style, **FAST)
    assert out.dtype == np.float32 and 0 <= out.min() and out.max() <= 1


def test_previews_are_in_the_output_format(content, style):
    reports = run_reports(content, style, max_size=SIZE, steps=10, preview_every=5)
    previews = [r.preview for r in reports if r.preview is not None]
    assert len(previews) >= 2
    assert all(p.shape == content.shape and p.dtype == content.dtype for p in previews)
    assert reports[-1].device == "cpu"


def test_closing_the_generator_stops_the_run(content, style):
    runner = iter_stylize(content, style, max_size=SIZE, steps=500)
    seen = [next(runner) for _ in range(3)]
    runner.close()
    assert [r.step for r in seen] == [1, 2, 3]
    with pytest.raises(StopIteration):
        next(runner)


def test_pyramid_plan():
    plan = plan_levels((512, 384), 150)
    assert sum(level.steps for level in plan) == 150
    assert [level.size for level in plan] == [(128, 96), (256, 192), (512, 384)]
    assert plan[0].steps > plan[-1].steps


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"device": "tpu"}, "Unknown device"),
        ({"mask": np.ones((10, 10))}, "does not match"),
        ({"mask": np.zeros((SIZE, SIZE))}, "empty"),
        ({"region": "around", "mask": np.ones((SIZE, SIZE))}, "Unknown region"),
        ({"method": "magic"}, "Unknown method"),
        ({"steps": 0}, "steps"),
        ({"max_size": 4}, "max_size"),
        ({"style_strength": -1}, "style_strength"),
        ({"wobble": 1}, "Unknown option"),
        ({"style_weights": [1, 2]}, "style weight"),
        ({"style_layers": ["relu9_9"]}, "Unknown VGG19 layer"),
        ({"init": np.zeros((5, 5, 3))}, "init image"),
        ({"color_method": "sepia"}, "colour method"),
    ],
)
def test_bad_arguments_raise(content, style, kwargs, message):
    with pytest.raises(StyleTransferError, match=message):
        stylize(content, style, **{"max_size": SIZE, "steps": 2, **kwargs})


@pytest.mark.parametrize(
    ("content_image", "style_image", "message"),
    [
        (np.zeros((0, 0, 3), np.uint8), "starry-night", "at least"),
        (np.zeros((8, 8, 3), np.uint8), "starry-night", "at least"),
        (np.zeros((2, 64, 64, 3), np.uint8), "starry-night", "expected H×W"),
        (np.full((64, 64, 3), np.nan, np.float32), "starry-night", "NaN"),
        (np.zeros((64, 64, 3), np.uint8), "no-such-painting", "neither a file"),
        (np.zeros((64, 64, 3), np.uint8), "preset:3", "fast"),
        (np.zeros((64, 64, 3), np.uint8), [], "No style"),
    ],
)
def test_bad_images_raise(content_image, style_image, message):
    with pytest.raises(StyleTransferError, match=message):
        stylize(content_image, style_image, max_size=SIZE, steps=2)


def test_cuda_asked_without_gpu_raises(content, style, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(StyleTransferError, match="CUDA"):
        stylize(content, style, device="cuda", **FAST)


def test_fast_then_refine_starts_from_the_fast_result(content, style):
    reports = run_reports(content, style, max_size=SIZE, steps=3, init="fast", preview_every=0)
    assert reports[0].stage == "fast start"
    from_fast = reports[-1].result
    from_content = stylize(content, style, max_size=SIZE, steps=3)
    assert not np.array_equal(from_fast, from_content)
