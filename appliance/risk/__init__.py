"""Risk grading and control (风险分级管控): the register (object → unit → event → measure) with LEC / LS
grading (`rules`, `register`), its spreadsheet import (`rows`, `importer`), control tasks per measure
(`task_rules`, `tasks`), major hazard installations graded per GB 18218-2018 (`major_rules`, `major`),
the register's spreadsheet export (`export`), QR labels that locate an area from a photo (`qr`) and the API."""
from __future__ import annotations

from datetime import UTC
from pathlib import Path

from appliance.core.domain import Domain, NavLink


def _jobs(s, config, runtime) -> None:
    from datetime import datetime

    from appliance.risk import settings, tasks

    settings.configure(getattr(config, "risk", None))   # the job runs outside requests
    # one task per control measure per check cycle; reminders before the period ends; 未排查 after it
    s.add_job(tasks.tick, "interval", seconds=60, id="control-tasks", name="control tasks",
              replace_existing=True, next_run_time=datetime.now(UTC))


def _init_app(app) -> None:
    from appliance.risk import settings

    settings.configure(getattr(app.config.get("APPLIANCE"), "risk", None))

    def major_hazard_levels() -> dict:
        from appliance.risk import major

        return major.area_levels()

    # the floor plan (四色图, kiosk/_plan.html) marks the areas holding a major hazard installation
    app.jinja_env.globals["major_hazard_levels"] = major_hazard_levels


def domain() -> Domain:
    from appliance.risk import api, pages, tasks_api

    return Domain(
        name="risk",
        openapi=Path(__file__).parent / "openapi.json",
        blueprints=[api.api_bp, tasks_api.api_bp, pages.bp],
        i18n=Path(__file__).parent / "i18n",
        nav=[NavLink("risk_pages.tablet", "nav.risks", order=30)],
        # the risk register is told to everyone (风险告知); the safety office maintains it
        permissions={"risks.write": ("admin", "safety_officer")},
        jobs=_jobs,
        init_app=_init_app,
        migrations=Path(__file__).parent / "migrations",
        safety_events=("risk.", "control_task."),
    )
