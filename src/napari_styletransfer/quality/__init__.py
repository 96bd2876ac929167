"""Quality mode: the optimisation of Gatys et al. on VGG19, coarse to fine.

- :mod:`.settings`: :class:`~.settings.QualitySettings`, the advanced settings;
- :mod:`.losses`: Gram, content, total-variation and pixel-target terms;
- :mod:`.pyramid`: the coarse-to-fine schedule;
- :mod:`.optimise`: :func:`~.optimise.iter_optimise` and :class:`~.optimise.PixelTarget`.

Works on float32 RGB arrays in [0, 1] at the working size; formats, masks and
colours are the facade's (:mod:`napari_styletransfer.api`). No Qt, no napari.
"""
