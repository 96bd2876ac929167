"""The "Style transfer" dock running its jobs on a real server process ("Remote server…")."""

from __future__ import annotations

import os
import secrets
import stat

import numpy as np
import pytest
from qtpy.QtCore import QTimer
from qtpy.QtWidgets import QApplication

from napari_styletransfer import stylize
from napari_styletransfer.client import Client
from napari_styletransfer.widgets import style_transfer as style_transfer_module
from napari_styletransfer.widgets.form import FAST, QUALITY, StyleChoice
from napari_styletransfer.widgets.output import METADATA_KEY
from napari_styletransfer.widgets.remote import (
    CONFIG_DIR_VARIABLE,
    REMOTE_DEVICE,
    RemoteDialog,
    RemoteSettings,
    load_settings,
    settings_path,
)
from serving import running_server

KEY = secrets.token_urlsafe(24)
TIMEOUT_MS = 90_000


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("remote") / "results", key=KEY) as running:
        yield running


@pytest.fixture(autouse=True)
def config(tmp_path, monkeypatch):
    """The plugin's settings go to a temporary folder, not the user's."""
    monkeypatch.setenv(CONFIG_DIR_VARIABLE, str(tmp_path / "config"))


@pytest.fixture
def errors(monkeypatch):
    shown: list[str] = []
    monkeypatch.setattr(style_transfer_module, "show_error", shown.append)
    return shown


def fill_dialog_when_it_opens(url: str, key: str) -> QTimer:
    """Type into the server dialog like a user, once it is shown, and press OK."""
    timer = QTimer()

    def fill():
        dialog = QApplication.activeModalWidget()
        if isinstance(dialog, RemoteDialog):
            timer.stop()
            dialog.url.setText(url)
            dialog.api_key.setText(key)
            dialog.accept()

    timer.timeout.connect(fill)
    timer.start(20)
    return timer


def choose_remote(widget, url: str, key: str | None) -> None:
    timer = fill_dialog_when_it_opens(url, key or "")
    widget.form.device.value = REMOTE_DEVICE  # opens the dialog (modal) and connects
    timer.stop()


def start_long_quality_run(widget, photo, painting: str) -> None:
    form = widget.form
    form.content.value = photo
    form.method.value = QUALITY
    form.style.value = StyleChoice("painting", painting)
    form.max_size.value = 64
    form.steps.value = 2000
    assert widget.run()


def last_job(server) -> dict:
    with Client(server.url, KEY) as client:
        jobs = client._http.get("/v1/jobs").json()["jobs"]
        return client.status(jobs[-1]["id"])


def test_a_remote_run_gives_the_local_result_and_names_the_server(
    qtbot, style_widget, server, gradient_rgb, errors
):
    viewer, widget = style_widget
    photo = viewer.add_image(gradient_rgb, name="photo")
    choose_remote(widget, server.url, KEY)
    assert not errors
    assert widget.form.device.value == REMOTE_DEVICE
    host = server.url.removeprefix("http://")
    assert widget.device_label.text() == f"Device: server {host} (cpu)"
    assert load_settings() == RemoteSettings(server.url, KEY)
    assert stat.S_IMODE(os.stat(settings_path()).st_mode) == 0o600  # the key is a secret

    form = widget.form
    form.content.value = photo
    form.method.value = FAST
    form.style.value = StyleChoice("preset", "preset:7")
    form.max_size.value = 64
    assert widget.run()
    qtbot.waitUntil(lambda: not widget.busy, timeout=TIMEOUT_MS)
    assert not errors
    output = viewer.layers["photo · preset:7"]
    local = stylize(gradient_rgb, "preset:7", method="fast", max_size=64)
    np.testing.assert_array_equal(output.data, local)
    record = output.metadata[METADATA_KEY]
    assert record["status"] == "done" and record["server"] == server.url
    assert record["device"] == f"server {host} (cpu)"
    assert f"on server {host} (cpu)" in widget.status_label.text()
    assert last_job(server)["state"] == "done"
    np.testing.assert_array_equal(photo.data, gradient_rgb)


def test_remote_previews_and_cancel(qtbot, style_widget, server, gradient_rgb, errors):
    viewer, widget = style_widget
    photo = viewer.add_image(gradient_rgb, name="photo")
    assert widget.connect_remote(RemoteSettings(server.url, KEY))
    start_long_quality_run(widget, photo, "kandinsky")
    output = viewer.layers["photo · kandinsky"]
    # a preview from the server replaces the content the layer starts with
    qtbot.waitUntil(lambda: not np.array_equal(output.data, gradient_rgb), timeout=TIMEOUT_MS)
    assert "step" in widget.status_label.text().lower()
    widget.cancel()
    qtbot.waitUntil(lambda: not widget.busy, timeout=TIMEOUT_MS)
    assert not errors
    assert output.name.endswith("(cancelled)")
    assert output.metadata[METADATA_KEY]["status"] == "cancelled"
    qtbot.waitUntil(lambda: last_job(server)["state"] == "cancelled", timeout=30_000)


def test_a_wrong_key_or_a_bad_address_leaves_the_device_as_it_was(
    qtbot, style_widget, server, errors
):
    _, widget = style_widget
    widget.form.device.value = "cpu"
    choose_remote(widget, server.url, "not-the-right-key-" * 2)
    assert widget.form.device.value == "cpu"
    assert errors and "The API key is wrong" in errors[-1]
    choose_remote(widget, "gpu-box:8000", KEY)  # no scheme
    assert widget.form.device.value == "cpu"
    assert "not a server address" in errors[-1]
    assert load_settings() is None  # nothing saved


def test_a_server_killed_mid_job_fails_clearly_and_removes_nothing_of_the_users(
    qtbot, style_widget, tmp_path, gradient_rgb, errors
):
    viewer, widget = style_widget
    photo = viewer.add_image(gradient_rgb, name="photo")
    before = [layer.name for layer in viewer.layers]
    with running_server(tmp_path / "doomed") as doomed:
        assert widget.connect_remote(RemoteSettings(doomed.url))
        start_long_quality_run(widget, photo, "starry-night")
        qtbot.waitUntil(lambda: widget.progress_bar.value() > 0, timeout=TIMEOUT_MS)
        doomed.kill()
        qtbot.waitUntil(lambda: not widget.busy, timeout=TIMEOUT_MS)
    assert errors and "Lost the connection to the server" in errors[-1]
    assert widget.status_label.text() == "Failed."
    assert [layer.name for layer in viewer.layers] == before  # the run's own layer is gone
    np.testing.assert_array_equal(photo.data, gradient_rgb)
