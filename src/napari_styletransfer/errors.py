"""The package's one exception class for expected, user-facing errors."""


class StyleTransferError(ValueError):
    """Raised for bad input or an impossible request.

    The message is written for the user (it is shown as-is by the CLI and as a
    napari notification by the widgets), so it says what is wrong and what to do.
    """
