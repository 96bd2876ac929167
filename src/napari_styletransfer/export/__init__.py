"""ONNX export of the fast-mode networks and the subject model (``napari-styletransfer export``).

- :mod:`.graphs`: the torch rebuilds as exportable modules, with check and calibration inputs;
- :mod:`.exporter`: ``torch.onnx.export``, the check against torch with onnxruntime, INT8.

Needs onnxruntime (the ``export`` extra). See docs/server.md for running the graphs.
"""

from .exporter import export_model

__all__ = ["export_model"]
