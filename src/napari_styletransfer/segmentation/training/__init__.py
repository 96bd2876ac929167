"""Training the subject UNet (building labels with a teacher, augmenting, fitting, evaluating).

Never imported by the plugin, the API or the CLI: it needs the ``train`` extra
(``pip install "napari-styletransfer[train]"``). Run it with
``python -m napari_styletransfer.segmentation.training.train``.
"""
