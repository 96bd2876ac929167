"""Fast mode's live-update state machine, without Qt."""

from napari_styletransfer.widgets.live import START, SUPERSEDE, WAIT, LiveUpdates


class Layers:
    def __init__(self, *layers):
        self.layers = set(layers)

    def alive(self, layer):
        return layer in self.layers


def test_nothing_follows_before_a_fast_run_ended_well():
    live = LiveUpdates(Layers("out").alive)
    assert not live.wants_rerun(True, "photo")
    superseded, rerun = live.run_finished(False, False, "out", "photo")
    assert (superseded, rerun) == (False, False)
    assert live.target("photo") is None


def test_a_finished_fast_run_is_followed_for_its_content_only():
    layers = Layers("out")
    live = LiveUpdates(layers.alive)
    live.run_finished(False, True, "out", "photo")
    assert live.wants_rerun(True, "photo")
    assert not live.wants_rerun(False, "photo")  # quality mode: no live updates
    assert not live.wants_rerun(True, "another photo")
    layers.layers.clear()  # the user removed the output
    assert live.target("photo") is None


def test_a_change_while_a_live_render_runs_supersedes_it():
    live = LiveUpdates(Layers("out").alive)
    live.run_finished(False, True, "out", "photo")
    assert live.when_due(running_is_live=True) == SUPERSEDE
    # the cancelled render is superseded (not marked cancelled) and a new one is owed
    superseded, rerun = live.run_finished(True, True, "out", "photo")
    assert superseded and rerun
    assert live.when_due(running_is_live=None) == START


def test_a_change_during_a_normal_run_waits_and_cancel_forgets_it():
    live = LiveUpdates(Layers("out").alive)
    assert live.when_due(running_is_live=False) == WAIT
    live.run_finished(False, True, "out", "photo")
    live.when_due(running_is_live=True)
    live.user_cancelled()
    superseded, rerun = live.run_finished(True, False, "out", "photo")
    assert not superseded and not rerun


def test_a_new_run_stops_following_the_old_layer():
    live = LiveUpdates(Layers("out").alive)
    live.run_finished(False, True, "out", "photo")
    live.run_started()
    assert live.target("photo") is None
