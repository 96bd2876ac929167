"""The facade above the engines: the one front door of every front end.

- :func:`stylize`, :func:`iter_stylize`: the public Python API;
- :class:`StylizeRequest`: what to do, validated once (:mod:`.request`);
- :func:`iter_run`, :func:`run`: run a request on a content (:mod:`.facade`);
- :data:`~.methods.METHODS`: the engine adapters, by method name;
- :mod:`.styles`: what ``style=`` may be (arrays, bundled names, files, presets).
"""

from .facade import (
    PreparedJob,
    iter_run,
    iter_stylize,
    prepare,
    result_of,
    run,
    stylize,
    upsampling_note,
)
from .request import StylizeRequest

__all__ = [
    "PreparedJob",
    "StylizeRequest",
    "iter_run",
    "iter_stylize",
    "prepare",
    "result_of",
    "run",
    "stylize",
    "upsampling_note",
]
