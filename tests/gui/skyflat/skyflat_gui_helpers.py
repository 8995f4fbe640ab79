"""Helpers of the sky-flat GUI tests (a module of its own: a second conftest name would clash)."""


def wait_idle(qtbot, window, timeout=60_000):
    """Until nothing runs and every result has been delivered (the panels count their own workers
    done when the GUI thread receives ``finished``, after the result)."""
    sky, dead = window.analysis_panels["Sky flat"], window.analysis_panels["Dead pixels"]
    qtbot.waitUntil(lambda: window.idle and sky.idle and dead.idle, timeout=timeout)


def load_and_run(qtbot, window, sky, sim_set, predictions=True):
    sky.setup.add_paths([sim_set])
    qtbot.waitUntil(lambda: not sky.setup.busy and len(sky.session.setup.images) == 16, timeout=30_000)
    if predictions:
        sky.setup.set_predictions(str(sim_set / "predictions.ecsv"))
    with qtbot.waitSignal(sky.session.result_changed, timeout=120_000):
        sky.setup.run_button.click()
    wait_idle(qtbot, window)
    return sky.session.result
