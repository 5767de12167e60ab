"""Safety training (安全培训): certificates per person with expiry warnings at 100 % coverage (`certificates`,
the interface the permits and contractors domains call), the question bank and its spreadsheet import
(`bank`), exams generated from rules and taken on a phone or tablet (`exams`), training records and hours
against the 3号令 minimums (`records`), courses in short units with assignment, progress and "learn now"
offers (`courses`, files and their probe in `media`); pure rules in `rules`, settings in `config` ([training])."""
from __future__ import annotations

from datetime import UTC
from pathlib import Path

from appliance.core.domain import Domain, NavLink


def _jobs(s, config, runtime) -> None:
    from datetime import datetime

    from appliance.training import certificates, exams, settings

    settings.configure(getattr(config, "training", None))
    # every warning whose day has come, at start (a box that was off sends the missed ones late) and then often
    s.add_job(certificates.scan, "interval", minutes=10, id="certificate-warnings", name="certificate expiry warnings",
              replace_existing=True, next_run_time=datetime.now(UTC))
    s.add_job(exams.close_timed_out, "interval", minutes=1, id="exam-timeouts", name="exam time limits",
              replace_existing=True)


def _start(runtime):
    """ "Learn now": hazards and confirmed PPE violations about a person, from the event bus (by type: the
    hazards and vision domains are never imported)."""
    from appliance.training import courses

    if runtime.bus is not None:
        runtime.bus.subscribe(courses.on_event, courses.LEARN_NOW_EVENTS)
    return None


def _init_app(app) -> None:
    from appliance.core import messages
    from appliance.training import rules, settings

    messages.register("certificate.warned", rules.warning_message)   # how the webhook's robots word it

    settings.configure(getattr(app.config.get("APPLIANCE"), "training", None))

    def certificate_counts() -> dict:
        from appliance.core import answers
        from appliance.training import certificates

        return answers.shared("board:certificate-counts", certificates.counts)  # the same for every board

    # the wall board's certificate panel (kiosk/_certificates.html): lapsed, expiring, unacknowledged warnings
    app.jinja_env.globals["certificate_counts"] = certificate_counts


def domain() -> Domain:
    from appliance.training import api, pages

    return Domain(
        name="training",
        openapi=Path(__file__).parent / "openapi.json",
        blueprints=[api.api_bp, pages.bp],
        i18n=Path(__file__).parent / "i18n",
        nav=[NavLink("training_pages.tablet", "nav.training", order=65)],
        # the safety office keeps certificates, the bank, exams and records; the shift reads them and answers
        # warnings; everyone with a login takes their own exams
        permissions={"training.write": ("admin", "safety_officer"),
                     "training.read": ("admin", "safety_officer", "supervisor"),
                     "training.ack": ("admin", "safety_officer", "supervisor"),
                     "training.take": ("admin", "safety_officer", "supervisor", "worker")},
        jobs=_jobs,
        start=_start,
        init_app=_init_app,
        migrations=Path(__file__).parent / "migrations",
        safety_events=("certificate.", "training."),
    )
