"""Fast mode's live updates, as a state machine with no Qt in it.

After a fast run, changing the strength, the style, the size or the colour
option re-renders into the same output layer, a moment after the last change
(the widget's debounce timer). A change while a live render runs replaces that
render; a change while a normal run runs waits for it.
"""

from __future__ import annotations

from collections.abc import Callable

START, SUPERSEDE, WAIT = "start", "supersede", "wait"


class LiveUpdates:
    """Which output layer follows the settings, and whether a re-render is owed.

    Parameters
    ----------
    is_alive : callable
        ``is_alive(layer)``: whether the layer is still in the viewer.
    """

    def __init__(self, is_alive: Callable[[object], bool]) -> None:
        self._is_alive = is_alive
        self.layer = None
        self.content = None
        self.pending = False

    def target(self, content) -> object | None:
        """The layer a live render of ``content`` would rewrite, or None."""
        if self.layer is None or not self._is_alive(self.layer):
            return None
        return self.layer if content is self.content else None

    def wants_rerun(self, fast: bool, content) -> bool:
        """Whether a settings change should (after the debounce) re-render."""
        return fast and self.target(content) is not None

    def when_due(self, running_is_live: bool | None) -> str:
        """What to do when the debounce ends.

        Parameters
        ----------
        running_is_live : bool or None
            None when nothing runs; True when a live render runs; False when a
            normal run does.

        Returns
        -------
        str
            :data:`START` a live render now; :data:`SUPERSEDE` the running live
            render (cancel it; a fresh one follows when it has stopped); or
            :data:`WAIT` for the normal run.
        """
        if running_is_live is None:
            return START
        if running_is_live:
            self.pending = True
            return SUPERSEDE
        return WAIT

    def run_started(self) -> None:
        """A run starts: until it ends well, no layer follows the settings."""
        self.layer = None

    def user_cancelled(self) -> None:
        """The user pressed Cancel: no re-render is owed any more."""
        self.pending = False

    def run_finished(
        self, cancelled: bool, keeps_following: bool, layer, content
    ) -> tuple[bool, bool]:
        """Record how a run ended.

        Parameters
        ----------
        cancelled : bool
            The run was cancelled.
        keeps_following : bool
            Its output should follow later changes (a fast run that ended
            well, or a live render that failed or was replaced).
        layer, content
            The run's output layer and content layer.

        Returns
        -------
        superseded : bool
            The run was cancelled to make way for a newer live render (its
            output must not be marked as cancelled).
        rerun : bool
            A live render is owed now.
        """
        superseded = cancelled and self.pending
        if keeps_following:
            self.layer, self.content = layer, content
        rerun, self.pending = self.pending, False
        return superseded, rerun
