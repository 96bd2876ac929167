"""API keys and request size limits."""

from __future__ import annotations

import hashlib
import hmac

from fastapi import Request

from .errors import ApiError, error_response


class KeyCheck:
    """A FastAPI dependency that demands ``Authorization: Bearer KEY`` when a key is set.

    The comparison is of SHA-256 digests with :func:`hmac.compare_digest`, so
    it takes the same time whatever the key's length or how much of it matches.
    """

    def __init__(self, api_key: str | None):
        self._digest = None if api_key is None else _digest(api_key)

    async def __call__(self, request: Request) -> None:
        if self._digest is None:
            return
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(
                401,
                "unauthorized",
                "This server needs an API key: send 'Authorization: Bearer KEY'.",
                {"WWW-Authenticate": "Bearer"},
            )
        if not hmac.compare_digest(_digest(token.strip()), self._digest):
            raise ApiError(
                401, "unauthorized", "The API key is wrong.", {"WWW-Authenticate": "Bearer"}
            )


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


class UploadTooLarge(ApiError):
    """The request body is larger than the server accepts."""

    def __init__(self, limit: int):
        super().__init__(
            413,
            "upload_too_large",
            f"The request is larger than this server accepts ({limit / 2**20:.0f} MB).",
        )


class BodySizeLimit:
    """ASGI middleware: refuse bodies over ``max_bytes`` before they are read.

    A declared Content-Length over the limit is answered at once; a body that
    turns out longer (chunked uploads) is cut off the moment it passes the
    limit, so no upload is ever held in full.
    """

    def __init__(self, app, max_bytes: int):
        self.app, self.max_bytes = app, int(max_bytes)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers", ())).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            error = UploadTooLarge(self.max_bytes)
            response = error_response(error.status, error.error, error.detail)
            return await response(scope, receive, send)
        received = 0

        async def limited_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise UploadTooLarge(self.max_bytes)
            return message

        return await self.app(scope, limited_receive, send)
