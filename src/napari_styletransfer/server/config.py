"""What a server is started with, checked before anything listens."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import StyleTransferError

DEFAULT_PORT = 8000
DEFAULT_MAX_PIXELS = 4096 * 4096
DEFAULT_MAX_UPLOAD_MB = 128
DEFAULT_MAX_QUEUE = 32
DEFAULT_RESULT_TTL = 3600.0
# a key shorter than this is too easy to guess over the network
MIN_KEY_LENGTH = 16


@dataclass(frozen=True)
class ServerConfig:
    """Settings of one server process.

    Attributes
    ----------
    host : str
        Address to bind; loopback unless an API key is set.
    port : int
        TCP port (0: any free port).
    devices : tuple of str
        One worker per device, e.g. ("auto",) or ("cuda:0", "cuda:1").
    api_key : str or None
        Bearer token every /v1 request and /metrics must carry.
    max_pixels : int
        Largest width × height accepted for any uploaded image.
    max_upload_bytes : int
        Largest request body.
    max_queue : int
        Jobs that may wait; one more gets 429 with Retry-After.
    results_dir : pathlib.Path
        Where job records and results are kept (survives restarts).
    result_ttl : float
        Seconds a finished job and its result are kept.
    """

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    devices: tuple[str, ...] = ("auto",)
    api_key: str | None = field(default=None, repr=False)
    max_pixels: int = DEFAULT_MAX_PIXELS
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_MB * 2**20
    max_queue: int = DEFAULT_MAX_QUEUE
    results_dir: Path = field(default_factory=lambda: default_results_dir())
    result_ttl: float = DEFAULT_RESULT_TTL

    def check(self) -> ServerConfig:
        """Refuse unsafe or impossible settings.

        Raises
        ------
        StyleTransferError
            For a non-loopback address without a key, a short key, or limits
            that are not positive.
        """
        if self.api_key is None and not is_loopback(self.host):
            raise StyleTransferError(
                f"Refusing to listen on {self.host} without an API key: anyone on the network "
                "could use the server. Pass --api-key-file FILE, or bind to 127.0.0.1."
            )
        if self.api_key is not None and len(self.api_key) < MIN_KEY_LENGTH:
            raise StyleTransferError(
                f"The API key is too short ({len(self.api_key)} characters): use at least "
                f"{MIN_KEY_LENGTH}, e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))'."
            )
        for name in ("max_pixels", "max_upload_bytes", "max_queue", "result_ttl"):
            if not getattr(self, name) > 0:
                raise StyleTransferError(f"{name} must be > 0, not {getattr(self, name)!r}.")
        if not 0 <= self.port <= 65535:
            raise StyleTransferError(f"The port must be between 0 and 65535, not {self.port}.")
        if not self.devices:
            raise StyleTransferError("Give at least one device.")
        return self


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine."""
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


def read_api_key(path: str | Path) -> str:
    """Read an API key from a file (surrounding whitespace ignored).

    Raises
    ------
    StyleTransferError
        When the file cannot be read or is empty.
    """
    try:
        key = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as error:
        raise StyleTransferError(f"Cannot read the API key file {path}: {error}") from error
    if not key:
        raise StyleTransferError(f"The API key file {path} is empty.")
    return key


def default_results_dir() -> Path:
    """The per-user cache folder for results (platformdirs)."""
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("napari-styletransfer")) / "server-results"
