"""NFC patrol (巡检): checkpoints, routes and plans, every badge tap, rounds and their verdicts, the
checklist answered at a checkpoint, the review of suspicious rounds and "last seen" per person
(`rules` pure, `service` stored, `api` HTTP)."""
from __future__ import annotations

from datetime import UTC
from pathlib import Path

from appliance.core.domain import Domain, NavLink

STAFF = ("admin", "safety_officer", "supervisor", "worker", "kiosk")


def _start(runtime):
    """One driver per configured badge reader; each tap goes to `taps.record_tap`."""
    import logging
    import time

    import drivers
    from appliance.patrol import taps

    log = logging.getLogger(__name__)

    def on_tap(tap) -> None:
        # a busy database (a long write elsewhere) is retried; the reader's loop never dies of it
        for attempt in range(5):
            try:
                taps.record_tap(tap.reader, tap.uid, tap.at_ms)
                return
            except Exception:
                if attempt == 4:
                    log.exception("tap not recorded", extra={"reader": tap.reader, "uid_tail": tap.uid[-4:],
                                                             "at": tap.at_ms})
                else:
                    time.sleep(0.2 * 2 ** attempt)

    return drivers.start_all(runtime.config.readers, on_tap, runtime.health_checks, "reader")


def _jobs(s, config, runtime) -> None:
    from datetime import datetime

    from appliance.patrol import rounds

    # rounds are scheduled a day ahead and closed (judged) once their window and grace are over
    s.add_job(rounds.tick, "interval", seconds=30, id="patrol-rounds", name="patrol rounds",
              replace_existing=True, next_run_time=datetime.now(UTC))


def domain() -> Domain:
    from appliance.patrol import api, pages

    return Domain(
        name="patrol",
        openapi=Path(__file__).parent / "openapi.json",
        blueprints=[api.api_bp, pages.bp],
        i18n=Path(__file__).parent / "i18n",
        nav=[NavLink("patrol_pages.tablet", "nav.patrol", order=50)],
        # the board and the shift read rounds; the safety office edits checkpoints, routes and plans; the
        # shift reviews suspicious rounds; whoever tapped answers the checklist, at the checkpoint's own
        # screen (a kiosk device token) or on a tablet
        permissions={"patrol.read": ("admin", "safety_officer", "supervisor", "kiosk"),
                     "patrol.write": ("admin", "safety_officer"),
                     "patrol.review": ("admin", "safety_officer", "supervisor"),
                     "patrol.answer": STAFF},
        # the one write a checkpoint screen's device token may make: the checklist right after a tap there
        # (service.answer checks that the tap is recent and unanswered)
        device_writes=("patrol.answer",),
        start=_start,
        jobs=_jobs,
        safety_events=("patrol.",),
    )
