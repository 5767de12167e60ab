"""Emergency management (应急管理): a level-2 gas alarm opens an incident draft with the people seen around it,
the permits there, the nearest resources and teams and an evacuation route that avoids the affected and
downwind areas; the muster at assembly points by badge; resources, teams, plans and drills (marked DRILL,
never an alarm record); accidents graded and clocked by 国务院令第493号 with investigation and corrective
hazards (`rules` pure; `setup`, `incidents`, `accidents` stored; `api` HTTP; `pages` the tablet, the
muster roll and the wall board's incident view)."""
from __future__ import annotations

from pathlib import Path

from appliance.core.domain import Domain, NavLink

SHIFT = ("admin", "safety_officer", "supervisor")
EVERYONE = ("admin", "safety_officer", "supervisor", "worker")


def _start(runtime):
    """Level-2 alarms and assembly-point taps from the event bus (after permits, which suspends its own on the
    same alarm event first); the wind from the [emergency] wind_point when one is set."""
    from appliance.emergency import incidents

    emergency = getattr(runtime.config, "emergency", None)
    incidents.configure_wind(wind_reader(runtime, emergency.wind_point) if emergency and emergency.wind_point
                             else None)
    if runtime.bus is not None:
        runtime.bus.subscribe(incidents.subscriber, incidents.SUBSCRIBED)
    return None


def wind_reader(runtime, point: str):
    """The [emergency] wind_point's live value from the gas domain's sensors (in memory, no query), None
    while it has no reading or is in fault (stale, out of range, bus down)."""
    def read() -> float | None:
        sensors = getattr(runtime, "sensors", None)
        p = sensors.points.get(point) if sensors is not None else None
        if p is None:
            return None
        v = p.view()
        return None if v["state"] == "fault" else v["value"]
    return read


def _jobs(s, config, runtime) -> None:
    """The daily upkeep scan of the resources (07:00 plant time: the scheduler runs in the site's zone), and
    once at start (a box that was off sends the missed warnings late); with a wind point, the wind follower."""
    from datetime import UTC, datetime

    from appliance.emergency import upkeep

    s.add_job(upkeep.scan, "cron", hour=7, minute=0, id="emergency-resource-warnings",
              name="emergency resource expiry and inspection warnings", replace_existing=True,
              next_run_time=datetime.now(UTC))
    if getattr(getattr(config, "emergency", None), "wind_point", None):
        from appliance.emergency import wind

        # the wind of an open incident follows the weather point (rules.wind_follow: a gust does not flip it)
        wind.SUSTAIN_S = config.emergency.wind_sustain_s
        s.add_job(wind.job, "interval", seconds=wind.EVERY_S, id="emergency-wind-follow",
                  name="emergency wind follows the weather point", replace_existing=True, max_instances=1,
                  coalesce=True)


def _init_app(app) -> None:
    """`emergency_open()` for the wall board's one include line (kiosk/board.html)."""
    from appliance.emergency import pages

    app.add_template_global(pages.board_incident, "emergency_board_incident")
    app.add_template_global(pages.area_label, "em_area")
    app.add_template_filter(pages.area_label, "em_area")
    app.add_template_global(pages.board_upkeep, "emergency_board_upkeep")


def domain() -> Domain:
    from appliance.emergency import api, pages, setup
    from appliance.permits import near

    # the walk graph says which areas are near each other: the permits' interlock and SIMOPS read it
    near.WALK_GRAPH["emergency"] = setup.edges

    return Domain(
        name="emergency",
        openapi=Path(__file__).parent / "openapi.json",
        blueprints=[api.api_bp, pages.bp],
        i18n=Path(__file__).parent / "i18n",
        migrations=Path(__file__).parent / "migrations",
        nav=[NavLink("emergency_pages.tablet", "nav.emergency", order=70)],
        # the board and the shift read; anyone with a login may raise a manual call or report an accident; the
        # shift commands (checklist, wind, muster marks, drills, closing); the safety office keeps the master
        # data and investigates accidents
        permissions={"emergency.read": (*SHIFT, "worker", "kiosk"), "emergency.call": EVERYONE,
                     "emergency.command": SHIFT, "emergency.write": ("admin", "safety_officer")},
        start=_start,
        jobs=_jobs,
        init_app=_init_app,
        safety_events=("emergency.",),
    )
