"""数据决策: the safety cockpit (KPIs over a window with their trend), the compliance reports (双重预防机制, patrol,
alarms, training) as XLSX and PDF signed with the event-log head, written monthly by a job, and the hazard hot-spot forecast with its backtest (`rules`, `forecast` and
`synthetic` pure; `service` and `report` read the other domains' records; `api` HTTP; `pages` the screen).

It reads every domain before it and writes nothing of theirs, except the demo's synthetic history
(`synthetic.seed`, demo only)."""
from __future__ import annotations

from pathlib import Path

from appliance.core.domain import Domain, NavLink


def _jobs(s, config, runtime) -> None:
    from appliance.cockpit import export

    export.jobs(s, config, runtime)


def domain() -> Domain:
    from appliance.cockpit import api, pages

    return Domain(
        name="cockpit",
        openapi=Path(__file__).parent / "openapi.json",
        blueprints=[api.api_bp, pages.bp],
        i18n=Path(__file__).parent / "i18n",
        nav=[NavLink("cockpit_pages.cockpit", "nav.cockpit", order=80)],
        # the compliance report is for those who answer to the regulator and run the shift
        permissions={"cockpit.reports": ("admin", "safety_officer", "supervisor"),
                     # the hours worked (the rates' denominator) are the safety office's to record
                     "cockpit.hours": ("admin", "safety_officer")},
        migrations=Path(__file__).parent / "migrations",
        jobs=_jobs,
    )
