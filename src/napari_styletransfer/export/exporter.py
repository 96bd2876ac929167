"""Export to ONNX, check against torch with onnxruntime, and quantise to INT8."""

from __future__ import annotations

import json
import tempfile
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..errors import StyleTransferError
from ..files import atomic_output
from ..segmentation.postprocess import intersection_over_union
from .graphs import MODELS, Graph, graphs

OPSET = 17
INT8_METHODS = ("static", "dynamic")


@dataclass
class Accuracy:
    """How far a graph's outputs are from torch's on the check inputs.

    ``iou`` (masks, threshold 0.5) and ``relative`` (‖Δ‖/‖torch‖, style
    vectors) are filled where they mean something.
    """

    max_difference: float
    mean_difference: float
    iou: float | None = None
    relative: float | None = None


@dataclass
class GraphReport:
    """What was written for one graph and how close it is to torch."""

    name: str
    file: str
    megabytes: float
    inputs: list[str]
    dynamic_axes: dict
    fp32: Accuracy
    int8: dict | None = field(default=None)


def export_model(
    model: str,
    folder: str | Path,
    *,
    int8: bool = False,
    int8_method: str = "static",
    overwrite: bool = False,
) -> list[GraphReport]:
    """Write a model's ONNX graph(s) to ``folder`` and check them against torch.

    Parameters
    ----------
    model : {"presets", "arbitrary", "subject"}
    folder : str or Path
        Created if missing; ``<model>.report.json`` is written beside the graphs.
    int8 : bool
        Also write ``<name>.int8.onnx``, quantised with onnxruntime.
    int8_method : {"static", "dynamic"}
        Static: QDQ with per-channel weights, activations calibrated on the
        bundled images. Dynamic: weights only, activations quantised at run time.
    overwrite : bool
        Replace existing files (else they are an error).

    Returns
    -------
    list of GraphReport

    Raises
    ------
    StyleTransferError
        For an unknown model or method, existing files, or a missing onnxruntime.
    """
    if model not in MODELS:
        raise StyleTransferError(f"Unknown model {model!r}: use one of {', '.join(MODELS)}.")
    if int8_method not in INT8_METHODS:
        raise StyleTransferError(f"Unknown INT8 method {int8_method!r}: use static or dynamic.")
    _require_onnxruntime()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    reports = []
    for graph in graphs(model):
        targets = [folder / f"{graph.name}.onnx"] + (
            [folder / f"{graph.name}.int8.onnx"] if int8 else []
        )
        existing = [str(t) for t in targets if t.exists()]
        if existing and not overwrite:
            raise StyleTransferError(
                f"{', '.join(existing)} exists; pass --overwrite to replace it."
            )
        reports.append(_export_graph(graph, targets, int8_method))
    _write_report(report_path(folder, model), model, reports)
    return reports


def report_path(folder: str | Path, model: str) -> Path:
    """Where :func:`export_model` writes its report (JSON)."""
    return Path(folder) / f"{model}.report.json"


def _require_onnxruntime() -> None:
    try:
        import onnxruntime  # noqa: F401
    except ModuleNotFoundError:
        raise StyleTransferError(
            'Export checks its graphs with onnxruntime: pip install "napari-styletransfer[export]"'
        ) from None


def _export_graph(graph: Graph, targets: list[Path], int8_method: str) -> GraphReport:
    fp32_path = targets[0]
    with atomic_output(fp32_path) as temporary:
        export_onnx(graph, temporary)
        fp32 = check(graph, temporary)
    report = GraphReport(
        name=graph.name,
        file=fp32_path.name,
        megabytes=round(fp32_path.stat().st_size / 1e6, 3),
        inputs=list(graph.inputs),
        dynamic_axes=graph.dynamic_axes,
        fp32=fp32,
    )
    if len(targets) > 1:
        with atomic_output(targets[1]) as temporary:
            quantise(graph, fp32_path, temporary, int8_method)
            accuracy = check(graph, temporary)
        report.int8 = {
            "file": targets[1].name,
            "method": int8_method,
            "megabytes": round(targets[1].stat().st_size / 1e6, 3),
            "accuracy": asdict(accuracy),
        }
    return report


def export_onnx(graph: Graph, path: Path) -> None:
    """``torch.onnx.export`` of a graph (TorchScript exporter, opset 17), then onnx's checker."""
    import onnx

    example = tuple(torch.from_numpy(array) for array in graph.examples()[0])
    with warnings.catch_warnings(), torch.no_grad():
        # tracing warns about Python-side shape arithmetic; the check below runs other sizes
        warnings.simplefilter("ignore")
        torch.onnx.export(
            graph.module,
            example,
            str(path),
            dynamo=False,
            input_names=list(graph.inputs),
            output_names=list(graph.outputs),
            dynamic_axes=graph.dynamic_axes,
            opset_version=OPSET,
        )
    onnx.checker.check_model(str(path))


def session(path: Path, threads: int | None = None):
    """An onnxruntime CPU session for a graph."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads is not None:
        options.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def check(graph: Graph, path: Path) -> Accuracy:
    """Run the graph with onnxruntime on the check inputs and compare with torch."""
    runner = session(path)
    differences, means, ious, relatives = [], [], [], []
    for example in graph.examples():
        with torch.no_grad():
            expected = graph.reference(*(torch.from_numpy(a) for a in example)).numpy()
        got = runner.run(None, dict(zip(graph.inputs, example, strict=True)))[0]
        if got.shape != expected.shape:
            raise StyleTransferError(
                f"{graph.name}: ONNX gives {got.shape}, torch {expected.shape}."
            )
        delta = np.abs(got - expected)
        differences.append(float(delta.max()))
        means.append(float(delta.mean()))
        if graph.kind == "mask":
            ious.append(intersection_over_union(got > 0.5, expected > 0.5))
        if graph.kind == "vector":
            relatives.append(float(np.linalg.norm(got - expected) / np.linalg.norm(expected)))
    return Accuracy(
        max_difference=max(differences),
        mean_difference=float(np.mean(means)),
        iou=min(ious) if ious else None,
        relative=max(relatives) if relatives else None,
    )


def quantise(graph: Graph, fp32_path: Path, path: Path, method: str = "static") -> None:
    """Write an INT8 version of a graph: its convolutions quantised (see :func:`export_model`)."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_dynamic,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Calibration(CalibrationDataReader):
        """The graph's calibration inputs, one at a time."""

        def __init__(self):
            self.items = iter(dict(zip(graph.inputs, x, strict=True)) for x in graph.calibration())

        def get_next(self):
            return next(self.items, None)

    with tempfile.TemporaryDirectory() as folder:
        prepared = Path(folder) / "prepared.onnx"
        quant_pre_process(str(fp32_path), str(prepared), skip_symbolic_shape=True)
        # only convolutions: the small style-parameter MatMuls and the norms stay float
        if method == "dynamic":
            quantize_dynamic(
                str(prepared),
                str(path),
                weight_type=QuantType.QUInt8,
                op_types_to_quantize=["Conv"],
            )
        else:
            quantize_static(
                str(prepared),
                str(path),
                Calibration(),
                quant_format=QuantFormat.QDQ,
                per_channel=True,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                op_types_to_quantize=["Conv"],
            )


def _write_report(path: Path, model: str, reports: list[GraphReport]) -> None:
    import onnxruntime

    data = {
        "model": model,
        "opset": OPSET,
        "torch": torch.__version__,
        "onnxruntime": onnxruntime.__version__,
        "graphs": [asdict(report) for report in reports],
    }
    with atomic_output(path) as temporary:
        temporary.write_text(json.dumps(data, indent=2))
