"""Special work permits (特殊作业管理) per GB 30871-2022: the eight work types with their grades, approval
levels and validity, the JSA measures checklist, gas analyses by hand or from the live fixed detectors, the
people on the job verified on site by badge, the live gas interlock that suspends a permit, SIMOPS
(`rules` pure, `service` stored, `api` HTTP, `pages` the tablet and the guardian's phone)."""
from __future__ import annotations

from pathlib import Path

from appliance.core.domain import Domain, NavLink

SHIFT = ("admin", "safety_officer", "supervisor")
EVERYONE = ("admin", "safety_officer", "supervisor", "worker")


def _start(runtime):
    """The live interlock, the site readers and the cameras: gas events, badge taps and PPE violations from
    the event bus."""
    from appliance.permits import watch

    if runtime.bus is not None:
        runtime.bus.subscribe(watch.subscriber, watch.SUBSCRIBED)
    return None


def _jobs(s, config, runtime) -> None:
    from appliance.permits import watch

    # GB 30871-2022 §4 (validity) and §6.4 (confined space re-analysed every 2 h): checked every 15 s
    s.add_job(watch.tick, "interval", seconds=15, id="permits-watch", name="permit expiry and re-analysis",
              replace_existing=True)


def domain() -> Domain:
    from appliance.contractors import evaluation, gate
    from appliance.permits import api, certs, pages

    # contractors comes first and asks: the certificates today's permits need of a person (the gate), the
    # permit breaches of a job's people (its evaluation)
    gate.PERMIT_CERTS["permits"] = certs.certs_on_permits
    evaluation.PERMIT_BREACHES["permits"] = certs.breaches

    return Domain(
        name="permits",
        openapi=Path(__file__).parent / "openapi.json",
        blueprints=[api.api_bp, pages.bp],
        i18n=Path(__file__).parent / "i18n",
        migrations=Path(__file__).parent / "migrations",
        nav=[NavLink("permits_pages.tablet", "nav.permits", order=55)],
        # GB 30871-2022: the work unit applies (anyone with a login); the shift confirms measures, briefs,
        # analyses, starts and closes; approval by level (rules.APPROVER_ROLES, checked by the service);
        # anyone on the job may stop it
        permissions={"permits.apply": EVERYONE, "permits.operate": SHIFT, "permits.approve": SHIFT,
                     "permits.suspend": EVERYONE},
        start=_start,
        jobs=_jobs,
        safety_events=("permit.",),
    )
