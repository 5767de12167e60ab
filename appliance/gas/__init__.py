"""Gas and environment monitoring: the gases and their GB/T 50493-2019 set-points (`gases`), the alarm
state machine (`rules`), alarm-load KPIs (`load`), the live points and stored alarms (`sensors`), the
config section (`config`) and the API (`api`)."""
from __future__ import annotations

from pathlib import Path

from appliance.core.domain import Domain, NavLink

SUPERVISORS = ("admin", "safety_officer", "supervisor")
# who may shelve a point in a level-2 alarm (rules.check_shelve)
SAFETY_OFFICERS = ("admin", "safety_officer")


def _start(runtime):
    """The sensor loop and one driver per configured bus; a driver that cannot run here is a fault."""
    import drivers
    from appliance.gas.sensors import Sensors

    cfg = runtime.config
    sensors = runtime.sensors = Sensors(cfg)
    sensors.record_deviations()  # accepted deviations from GB/T 50493-2019 go to the audit log
    if cfg.points:
        runtime.health_checks["points"] = sensors.health
    return drivers.start_all(cfg.buses, sensors.ingest, runtime.health_checks, "bus")


def _jobs(s, config, runtime) -> None:
    sensors = runtime.sensors
    if sensors is None or not config.points:
        return
    # stale values, expired shelving and finished minutes; a missed second is simply skipped
    s.add_job(sensors.tick, "interval", seconds=1, id="sensors-tick", name="sensor tick",
              replace_existing=True, misfire_grace_time=1)
    s.add_job(sensors.escalate, "interval", seconds=15, args=[config.alarms.escalate_after_min],
              id="alarm-escalation", name="escalate unacknowledged alarms", replace_existing=True)
    s.add_job(sensors.prune, "cron", hour=config.storage.backup_hour, minute=47,
              args=[config.storage.readings_keep_days, config.storage.minutes_keep_days],
              id="telemetry-retention", name="telemetry retention", replace_existing=True)


def domain() -> Domain:
    from appliance.gas import api, pages

    return Domain(
        name="gas",
        openapi=Path(__file__).parent / "openapi.json",
        blueprints=[api.api_bp, pages.bp],
        i18n=Path(__file__).parent / "i18n",
        migrations=Path(__file__).parent / "migrations",
        nav=[NavLink("gas_pages.tablet", "nav.alarms", order=10)],
        # acknowledging and shelving gas alarms: the people responsible on the shift, from the tablet
        permissions={"alarms.ack": SUPERVISORS, "alarms.shelve": SUPERVISORS},
        start=_start,
        jobs=_jobs,
        safety_events=("alarm.", "point."),
    )
