"""Errors as the server answers them: JSON ``{"error": code, "detail": message}``, never a traceback."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("napari_styletransfer.server")

# codes for the HTTP statuses Starlette itself raises (unknown route, bad method, bad form)
_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    413: "upload_too_large",
    415: "unsupported_media_type",
}


class ApiError(Exception):
    """An expected failure of a request, answered with ``status`` and a JSON body.

    Parameters
    ----------
    status : int
        HTTP status (4xx for the client's mistakes).
    error : str
        A short machine-readable code, e.g. "too_many_pixels".
    detail : str
        What is wrong and what to do, for people.
    headers : dict, optional
        Extra response headers (e.g. Retry-After).
    """

    def __init__(self, status: int, error: str, detail: str, headers: dict | None = None):
        super().__init__(detail)
        self.status, self.error, self.detail = status, error, detail
        self.headers = headers or {}


def error_response(status: int, error: str, detail: str, headers: dict | None = None):
    """The JSON response every error gets."""
    return JSONResponse({"error": error, "detail": detail}, status_code=status, headers=headers)


def install_error_handlers(app: FastAPI, on_error=None) -> None:
    """Make every failure a JSON answer; ``on_error(code)`` counts them (metrics)."""
    count = on_error or (lambda code: None)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError):
        count(exc.error)
        return error_response(exc.status, exc.error, exc.detail, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        code = _STATUS_CODES.get(exc.status_code, "error")
        count(code)
        return error_response(exc.status_code, code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        parts = []
        for item in exc.errors():
            where = ".".join(str(p) for p in item.get("loc", ()) if p != "body")
            parts.append(f"{where}: {item.get('msg', 'invalid')}" if where else item.get("msg", ""))
        count("invalid_request")
        return error_response(422, "invalid_request", "; ".join(parts) or "invalid request")

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception):
        # the traceback goes to the server's log, never to the client
        log.error("internal error on %s %s", request.method, request.url.path, exc_info=exc)
        count("internal_error")
        return error_response(
            500, "internal_error", f"The server failed ({type(exc).__name__}); see its log."
        )
