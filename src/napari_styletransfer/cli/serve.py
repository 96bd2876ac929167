"""``napari-styletransfer serve``: the HTTP service on uvicorn (needs the ``serve`` extra)."""

from __future__ import annotations

import argparse
import socket
import sys
from pathlib import Path

from ..errors import StyleTransferError


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``serve`` subcommand."""
    from ..server import config as defaults

    p = subparsers.add_parser(
        "serve",
        help="run the HTTP service (API docs at /docs)",
        description="Serve style transfer over HTTP (FastAPI on uvicorn). Binds to loopback "
        "by default; any other address needs --api-key-file. See docs/server.md.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=defaults.DEFAULT_PORT, help="0: any free port")
    p.add_argument(
        "--device",
        default="auto",
        help="auto, cpu, cuda, cuda:N or mps; a comma-separated list runs one worker per device",
    )
    p.add_argument("--api-key-file", help="file holding the bearer token clients must send")
    p.add_argument(
        "--max-pixels",
        type=int,
        default=defaults.DEFAULT_MAX_PIXELS,
        help="largest width×height of an uploaded image (default 4096²)",
    )
    p.add_argument(
        "--max-upload-mb",
        type=float,
        default=defaults.DEFAULT_MAX_UPLOAD_MB,
        help="largest request body in MB (default 128)",
    )
    p.add_argument(
        "--max-queue",
        type=int,
        default=defaults.DEFAULT_MAX_QUEUE,
        help="jobs that may wait; more get 429 with Retry-After (default 32)",
    )
    p.add_argument("--results-dir", help="where results are kept (default: the user cache)")
    p.add_argument(
        "--result-ttl",
        type=float,
        default=defaults.DEFAULT_RESULT_TTL,
        help="seconds a finished job's result is kept (default 3600)",
    )
    p.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    return p


def config_from(args: argparse.Namespace):
    """The :class:`~napari_styletransfer.server.ServerConfig` the arguments describe."""
    from ..server.config import ServerConfig, default_results_dir, read_api_key

    return ServerConfig(
        host=args.host,
        port=args.port,
        devices=tuple(name.strip() for name in args.device.split(",") if name.strip()),
        api_key=read_api_key(args.api_key_file) if args.api_key_file else None,
        max_pixels=args.max_pixels,
        max_upload_bytes=int(args.max_upload_mb * 2**20),
        max_queue=args.max_queue,
        results_dir=Path(args.results_dir) if args.results_dir else default_results_dir(),
        result_ttl=args.result_ttl,
    ).check()


def run(args: argparse.Namespace) -> int:
    """Run the ``serve`` subcommand until interrupted."""
    config = config_from(args)  # refuses unsafe settings before torch is even imported
    try:
        import uvicorn

        from ..server.app import create_app
    except ModuleNotFoundError as error:
        raise StyleTransferError(
            f"The server needs the 'serve' extra ({error.name} is missing): "
            'pip install "napari-styletransfer[serve]"'
        ) from None
    app = create_app(config)
    sock = _bind(config.host, config.port)
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    manager = app.state.manager
    # one line on stdout that scripts (and the tests) can wait for
    print(f"serving on http://{shown}:{port} (devices: {', '.join(manager.device_names)})")
    sys.stdout.flush()
    server = uvicorn.Server(
        uvicorn.Config(
            app, log_level=args.log_level, timeout_graceful_shutdown=5, proxy_headers=False
        )
    )
    server.run(sockets=[sock])
    return 0


def _bind(host: str, port: int) -> socket.socket:
    """A listening socket; binding here (not in uvicorn) tells us the port chosen for 0."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as error:
        raise StyleTransferError(f"Cannot listen on {host}:{port}: {error}") from None
    sock.set_inheritable(True)
    return sock
