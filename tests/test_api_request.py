"""The facade's request object: validated once, the same for every front end."""

from __future__ import annotations

import dataclasses
import inspect

import numpy as np
import pytest
import torch

import napari_styletransfer
from napari_styletransfer.api import StylizeRequest, iter_run, iter_stylize, methods, run
from napari_styletransfer.api import facade as facade_module
from napari_styletransfer.api.request import FACADE_OPTIONS, MAIN_OPTIONS
from napari_styletransfer.core.progress import Progress
from napari_styletransfer.errors import StyleTransferError
from napari_styletransfer.quality.settings import QualitySettings


@pytest.fixture
def photo():
    y, x = np.mgrid[0:32, 0:40]
    return np.dstack([x * 6, y * 7, (x + y) * 3]).astype(np.uint8)


def test_stylize_and_iter_stylize_share_the_requests_options():
    from napari_styletransfer.client import Client

    expected = ["content", "style", *MAIN_OPTIONS, "advanced"]
    for function in (napari_styletransfer.stylize, napari_styletransfer.iter_stylize):
        assert list(inspect.signature(function).parameters) == expected
    for method in (Client.stylize, Client.iter_stylize):  # the remote API takes the same
        assert list(inspect.signature(method).parameters) == ["self", *expected]
    defaults = {
        name: p.default
        for name, p in inspect.signature(iter_stylize).parameters.items()
        if name in MAIN_OPTIONS
    }
    fields = {f.name: f.default for f in dataclasses.fields(StylizeRequest)}
    assert defaults == {name: fields[name] for name in MAIN_OPTIONS}


def test_create_splits_advanced_options_and_normalises():
    request = StylizeRequest.create(
        ["starry-night", "kandinsky"], style_weights=[3, 1], content_weight=2.0, feather=7
    )
    assert request.style_weights == (0.75, 0.25)
    assert request.quality.content_weight == 2.0 and request.feather == 7
    assert request.style_names == ("starry-night", "kandinsky")
    assert request.styles[0].source.dtype == np.float32


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"wobble": 1}, "Unknown option"),
        ({"steps": 0}, "steps"),
        ({"steps": True}, "steps"),
        ({"seed": "a"}, "seed"),
        ({"seed": 2**64}, "seed"),
        ({"device": 5}, "device"),
        ({"device": "cpu:99"}, "Unknown device"),
        ({"feather": 2.5}, "feather"),
        ({"style_strength": 11}, "style_strength"),
        ({"method": "fast", "style_strength": 2.5}, "style_strength"),
        ({"preserve_color": "no"}, "preserve_color"),
        ({"content_weight": "5"}, "content_weight"),
        ({"content_layers": ()}, "content_layers"),
        ({"learning_rate": float("nan")}, "learning_rate"),
        ({"style_layer_weights": [float("nan")] * 5}, "style_layer_weights"),
        ({"style_weights": ["a"]}, "style_weights"),
        ({"style_weights": 0.5}, "style_weights"),
        ({"mask": "somewhere"}, "Unknown mask"),
        ({"mask": np.full((4, 4), np.nan)}, "NaN"),
        ({"init": "fast", "method": "fast"}, None),  # allowed: ignored by fast mode
    ],
)
def test_bad_options_are_refused_when_the_request_is_made(options, message):
    if message is None:
        StylizeRequest.create("starry-night", **options)
        return
    with pytest.raises(StyleTransferError, match=message):
        StylizeRequest.create("starry-night", **options)


def test_presets_need_fast_mode_and_cannot_mix_with_images():
    with pytest.raises(StyleTransferError, match="fast-mode networks"):
        StylizeRequest.create("preset:7")
    with pytest.raises(StyleTransferError, match="not both"):
        StylizeRequest.create(["preset:7", "starry-night"], method="fast")
    with pytest.raises(StyleTransferError, match="does not exist"):
        StylizeRequest.create("preset:99", method="fast")


def test_replace_is_validated_too():
    request = StylizeRequest.create("starry-night")
    assert dataclasses.replace(request, seed=3).seed == 3
    with pytest.raises(StyleTransferError, match="seed"):
        dataclasses.replace(request, seed=-1)


def test_params_round_trip():
    request = StylizeRequest.create(
        ["the-scream", "great-wave"],
        style_weights=(1, 1),
        method="quality",
        max_size=128,
        steps=7,
        style_layers=("relu2_1", "relu3_1"),
        style_layer_weights=(1.0, 2.0),
    )
    params = request.params()
    again = StylizeRequest.from_params(params)
    assert again.params() == params
    assert params["style"] == ["the-scream", "great-wave"] and params["steps"] == 7
    import json

    assert json.loads(json.dumps(params)) == params


def test_params_describe_arrays_by_checksum(photo):
    one = StylizeRequest.create(photo, mask=np.ones((32, 40)))
    two = StylizeRequest.create(photo.copy(), mask=np.ones((32, 40)))
    other = StylizeRequest.create(photo[::-1].copy(), mask=np.ones((32, 40)))
    assert one.params() == two.params() != other.params()
    assert one.params()["style"][0].startswith("array 32×40×3 uint8 sha1:")


def test_iter_stylize_checks_everything_before_the_first_step(photo):
    with pytest.raises(StyleTransferError, match="steps"):
        iter_stylize(photo, "starry-night", steps=-1)
    with pytest.raises(StyleTransferError, match="does not match"):
        iter_stylize(photo, "starry-night", mask=np.ones((5, 5)))
    with pytest.raises(StyleTransferError, match="content image itself"):
        iter_stylize(photo, photo.copy())
    with pytest.raises(StyleTransferError, match="init image"):
        iter_stylize(photo, "starry-night", init=np.zeros((5, 5, 3)))


def test_the_input_arrays_are_never_written(photo):
    style = photo[::-1, ::-1].copy()
    mask = np.zeros((32, 40), np.uint8)
    mask[8:24, 8:30] = 1
    copies = [a.copy() for a in (photo, style, mask)]
    for array in (photo, style, mask):
        array.flags.writeable = False  # any write would raise
    run(StylizeRequest.create(style, mask=mask, max_size=32, steps=2, device="cpu"), photo)
    for array, copy in zip((photo, style, mask), copies, strict=True):
        np.testing.assert_array_equal(array, copy)


def test_methods_are_adapters_in_a_table(monkeypatch, photo):
    calls = []

    def fake_fast(job):
        calls.append((job.request.method, job.work.shape))
        yield Progress(1, 1, 1.0, 0.0, "cpu")
        return np.zeros_like(job.work)

    monkeypatch.setitem(methods.METHODS, "fast", fake_fast)
    out = run(StylizeRequest.create("preset:3", method="fast", device="cpu"), photo)
    assert calls == [("fast", (32, 40, 3))]
    assert out.shape == photo.shape and out.dtype == photo.dtype and out.max() == 0


def test_auto_mask_is_found_on_the_jobs_device_while_running(monkeypatch, photo):
    from napari_styletransfer import segmentation

    seen = []

    def fake_segment(image, *, device):
        seen.append(device)
        subject = np.zeros(image.shape[:2], bool)
        subject[8:24, 10:30] = True
        return subject

    monkeypatch.setattr(segmentation, "segment_subject", fake_segment)
    reports = iter_run(
        StylizeRequest.create("preset:3", method="fast", mask="auto", region="outside"), photo
    )
    assert seen == []  # nothing heavy before the first next()
    first = next(reports)
    assert first.stage == "finding the subject"
    result = next(r for r in reports if r.done).result
    assert seen == [torch.device("cpu")]
    np.testing.assert_array_equal(result[12:20, 14:26], photo[12:20, 14:26])


def test_quality_settings_refuse_bad_values_themselves():
    with pytest.raises(StyleTransferError, match="optimizer"):
        QualitySettings(optimizer="sgd")
    with pytest.raises(StyleTransferError, match="Unknown VGG19 layer"):
        QualitySettings(style_layers=("relu9_9",))
    assert set(QualitySettings.names()).isdisjoint(MAIN_OPTIONS + FACADE_OPTIONS)


def test_fp16_on_the_cpu_is_refused_before_work(photo):
    with pytest.raises(StyleTransferError, match="fp16"):
        iter_stylize(photo, "starry-night", precision="fp16", device="cpu", steps=1)


def test_prepare_resolves_the_device(monkeypatch, photo):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(StyleTransferError, match="CUDA"):
        facade_module.prepare(StylizeRequest.create("starry-night", device="cuda"), photo)
