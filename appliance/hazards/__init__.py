"""The hazard closed loop (隐患排查治理): report → dispatch → rectify → accept → close, with deadlines by
grade, reminders and escalation (`rules` pure, `service` stored, `api` HTTP)."""
from __future__ import annotations

from pathlib import Path

from appliance.core.domain import Domain, NavLink


def _jobs(s, config, runtime) -> None:
    from appliance.hazards.service import chase_deadlines, configure

    configure(config.hazards)

    s.add_job(chase_deadlines, "interval", minutes=5, id="hazard-deadlines", name="hazard reminders and escalation",
              replace_existing=True)


def _init_app(app) -> None:
    """The plant's [hazards] settings (deadlines, reminder lead, principals) for the service."""
    from appliance.hazards.service import configure

    cfg = app.config.get("APPLIANCE")
    if cfg is not None and hasattr(cfg, "hazards"):
        configure(cfg.hazards)


def domain() -> Domain:
    from appliance.hazards import api, pages

    return Domain(
        name="hazards",
        openapi=Path(__file__).parent / "openapi.json",
        blueprints=[api.api_bp, pages.bp],
        i18n=Path(__file__).parent / "i18n",
        nav=[NavLink("hazards_pages.tablet", "nav.hazards", order=20)],
        # every person with a login may report a hazard (and rectify one assigned to them); the shift and
        # the safety office dispatch and accept (hazards.rules checks who within these)
        permissions={"hazards.report": ("admin", "safety_officer", "supervisor", "worker"),
                     "hazards.handle": ("admin", "safety_officer", "supervisor")},
        jobs=_jobs,
        init_app=_init_app,
        safety_events=("hazard.",),
        migrations=Path(__file__).parent / "migrations",
    )
