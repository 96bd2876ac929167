"""Running the widget's jobs on a style-transfer server ("Remote server…" in the Device list).

The server's address and key are kept in the plugin's settings, a small JSON
file in the user's config folder (readable by the user only). A remote run is
a local run with another stylizer: :meth:`Client.iter_run` takes the same
request and yields the same progress reports, so progress, previews, cancel
and the output layer behave alike; the reports name the server and its device.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit

from qtpy.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QLabel, QLineEdit

from ..errors import StyleTransferError
from ..files import atomic_output

#: the Device dropdown's entry for a server
REMOTE_DEVICE = "remote"
REMOTE_LABEL = "Remote server…"
#: overrides the settings folder (tests, portable installs)
CONFIG_DIR_VARIABLE = "NAPARI_STYLETRANSFER_CONFIG_DIR"
SETTINGS_FILE = "remote-server.json"
CHECK_TIMEOUT = 5.0


@dataclass(frozen=True)
class RemoteSettings:
    """Where the server is and the key it wants (None for a loopback server without one)."""

    url: str = "http://127.0.0.1:8000"
    api_key: str | None = None

    @property
    def host(self) -> str:
        """host:port, for people."""
        return urlsplit(self.url).netloc or self.url


def settings_path() -> Path:
    """The settings file: ``$NAPARI_STYLETRANSFER_CONFIG_DIR`` or the user config folder."""
    folder = os.environ.get(CONFIG_DIR_VARIABLE)
    if not folder:
        from platformdirs import user_config_dir

        folder = user_config_dir("napari-styletransfer")
    return Path(folder) / SETTINGS_FILE


def load_settings() -> RemoteSettings | None:
    """The saved server settings, or None (none saved, or unreadable)."""
    try:
        data = json.loads(settings_path().read_text(encoding="utf-8"))
        return RemoteSettings(url=str(data["url"]), api_key=data.get("api_key") or None)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def save_settings(settings: RemoteSettings) -> Path:
    """Save the settings, readable by the user only (the key is a secret); atomically."""
    path = settings_path()
    with atomic_output(path) as temporary:
        os.chmod(temporary, 0o600)  # before the key is in it
        temporary.write_text(json.dumps(asdict(settings)), encoding="utf-8")
    return path


class RemoteStylizer:
    """A widget stylizer, ``(request, content) -> iterator of Progress``, on a server.

    Parameters
    ----------
    settings : RemoteSettings
    """

    def __init__(self, settings: RemoteSettings):
        from ..client import Client

        self.settings = settings
        self.client = Client(settings.url, settings.api_key, timeout=60)
        self.devices: list[str] = []

    def check(self) -> None:
        """Ask the server whether it is there and takes the key.

        Raises
        ------
        StyleTransferError
            (a RemoteError) when it cannot be reached or refuses the key.
        """
        from ..client import Client

        with Client(self.settings.url, self.settings.api_key, timeout=CHECK_TIMEOUT) as quick:
            self.devices = list(quick.health().get("devices", []))
            quick.styles()  # needs the key: a wrong one is found now, not at Run

    @property
    def label(self) -> str:
        """E.g. "server gpu-box:8000 (cuda:0 (NVIDIA H200))"."""
        return self.describe(self.devices[0] if self.devices else "")

    def describe(self, device: str) -> str:
        """Name the server and one of its devices."""
        return f"server {self.settings.host}" + (f" ({device})" if device else "")

    def __call__(self, request, content) -> Iterator:
        # the job is submitted here (in the worker thread); a refusal raises at once
        return _Named(self.client.iter_run(request, content), self.describe)

    def close(self) -> None:
        """Close the connections."""
        self.client.close()


class _Named:
    """A server's reports with the device named after the server; closing cancels the job."""

    def __init__(self, reports, describe):
        self._reports, self._describe = reports, describe

    def __iter__(self):
        return self

    def __next__(self):
        report = next(self._reports)
        report.device = self._describe(report.device)
        return report

    def close(self) -> None:
        self._reports.close()


class RemoteDialog(QDialog):
    """Asks for the server's address and key."""

    def __init__(self, parent=None, settings: RemoteSettings | None = None):
        super().__init__(parent)
        settings = settings or RemoteSettings()
        self.setWindowTitle("Style-transfer server")
        self.url = QLineEdit(settings.url)
        self.api_key = QLineEdit(settings.api_key or "")
        self.api_key.setEchoMode(QLineEdit.Password)
        self.api_key.setPlaceholderText("none (a server on this machine)")
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QFormLayout(self)
        layout.addRow(QLabel("Runs on a machine with `napari-styletransfer serve`."))
        layout.addRow("Server URL", self.url)
        layout.addRow("API key", self.api_key)
        layout.addRow(buttons)

    def settings(self) -> RemoteSettings:
        """What was typed.

        Raises
        ------
        StyleTransferError
            For an address that is not http(s)://host[:port].
        """
        url = self.url.text().strip().rstrip("/")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise StyleTransferError(
                f"{url!r} is not a server address: use e.g. http://gpu-box:8000"
            )
        return RemoteSettings(url=url, api_key=self.api_key.text().strip() or None)

    @classmethod
    def ask(cls, parent=None, settings: RemoteSettings | None = None) -> RemoteSettings | None:
        """Show the dialog; the settings, or None when cancelled."""
        dialog = cls(parent, settings)
        if dialog.exec_() != QDialog.Accepted:
            return None
        return dialog.settings()
