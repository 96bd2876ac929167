"""ONNX export: graphs that onnxruntime runs at sizes they were not traced at, and give
what the engine gives; INT8 graphs that stay close."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch

from napari_styletransfer import StyleTransferError
from napari_styletransfer.cli import main
from napari_styletransfer.export.exporter import export_model, report_path, session
from napari_styletransfer.export.graphs import image_input, one_hot, style_vectors
from napari_styletransfer.fast.run import fast_stylize, style_vector
from napari_styletransfer.samples import style_names

pytest.importorskip("onnxruntime")
warnings.filterwarnings("ignore", module="onnxruntime")


def _engine_input(array: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(array[0].transpose(1, 2, 0))


def test_presets_round_trip_through_the_cli_with_int8(tmp_path, capsys):
    assert main(["export", "--model", "presets", "--int8", "-o", str(tmp_path)]) == 0
    assert "max difference to torch" in capsys.readouterr().out
    report = json.loads(report_path(tmp_path, "presets").read_text())
    [graph] = report["graphs"]
    assert graph["fp32"]["max_difference"] < 1e-4
    assert graph["int8"]["megabytes"] < graph["megabytes"] / 2

    # a size the graph was not traced at, not a multiple of 4: the engine's own result
    image = image_input("astronaut", (61, 83))
    expected = fast_stylize(_engine_input(image), "preset:7", device=torch.device("cpu"))
    fp32 = session(tmp_path / "presets.onnx").run(None, {"image": image, "weights": one_hot(7)})[0]
    np.testing.assert_allclose(_engine_input(fp32), expected, atol=1e-4)
    int8 = session(tmp_path / "presets.int8.onnx")
    quantised = int8.run(None, {"image": image, "weights": one_hot(7)})[0]
    assert 0 < np.abs(quantised - fp32).mean() < 0.05

    # nothing is overwritten unless asked
    assert main(["export", "--model", "presets", "-o", str(tmp_path)]) == 2
    assert "--overwrite" in capsys.readouterr().err


def test_arbitrary_style_graphs_follow_the_engine(tmp_path):
    reports = export_model("arbitrary", tmp_path)
    assert [r.name for r in reports] == ["arbitrary_predict", "arbitrary_transform"]
    assert all(r.fp32.max_difference < 1e-4 for r in reports)
    painting = image_input("kandinsky", (256, 256))
    predicted = session(tmp_path / "arbitrary_predict.onnx").run(None, {"style_image": painting})[0]
    np.testing.assert_allclose(
        predicted, style_vectors()[style_names().index("kandinsky")], atol=1e-4
    )

    photo = image_input("chelsea", (50, 75))
    style = style_vector(_engine_input(painting), torch.device("cpu")).numpy()
    out = session(tmp_path / "arbitrary_transform.onnx").run(None, {"image": photo, "style": style})
    expected = fast_stylize(
        _engine_input(photo), _engine_input(painting), device=torch.device("cpu")
    )
    np.testing.assert_allclose(_engine_input(out[0]), expected, atol=1e-4)


def test_subject_graph_gives_the_models_mask(tmp_path):
    [report] = export_model("subject", tmp_path)
    assert report.fp32.max_difference < 1e-4 and report.fp32.iou > 0.99
    with pytest.raises(StyleTransferError, match="--overwrite"):
        export_model("subject", tmp_path)
    with pytest.raises(StyleTransferError, match="Unknown model"):
        export_model("johnson", tmp_path)
