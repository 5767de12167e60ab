"""Contractors (承包商管理) and the gate: the firm archive with document review and the blacklist, their
workers and entry training, jobs with their safety briefing (交底), evaluation after each job, and the
badge-checked entry at gate readers (`rules` pure, `service` and `gate` stored, `api` HTTP, `pages`)."""
from __future__ import annotations

from pathlib import Path

from appliance.core.domain import Domain, NavLink


def _init_app(app) -> None:
    from appliance.contractors import config

    config.configure(getattr(app.config.get("APPLIANCE"), "contractors", None))


def _start(runtime):
    """Gate readers: every `patrol.tap` at one (patrol owns the readers) is decided on the bus thread."""
    import logging

    from appliance.contractors import config, gate

    cfg = getattr(runtime.config, "contractors", None)
    config.configure(cfg)
    readers = {r.name for r in getattr(runtime.config, "readers", [])}
    for name in [*(cfg.entry_readers if cfg else []), *(cfg.exit_readers if cfg else [])]:
        if name not in readers:   # a satellite station's reader is not in [[readers]]: say so once, go on
            logging.getLogger(__name__).warning("gate reader is not a configured reader (a station's?)",
                                                extra={"reader": name})
    if runtime.bus is not None and cfg and (cfg.entry_readers or cfg.exit_readers):
        runtime.bus.subscribe(gate.on_event, ("patrol.tap",))
    if cfg and cfg.face_check:
        from appliance.contractors import face

        why = face.unavailable()
        if why:
            logging.getLogger(__name__).warning("face check configured but not available: the badge decides alone",
                                                extra={"why": why})

        def vision_frame(camera: str) -> bytes | None:   # the vision process's newest frame of that camera
            got = runtime.vision.frame(camera) if getattr(runtime, "vision", None) is not None else None
            return got[2] if got else None

        face.FRAMES["vision"] = vision_frame
        cameras = {c.name for c in getattr(runtime.config, "cameras", [])}
        for reader, camera in cfg.face_cameras.items():
            if camera not in cameras:   # every enrolled worker would be refused for a guard: say why, once
                logging.getLogger(__name__).warning("face check camera is not a configured camera",
                                                    extra={"reader": reader, "camera": camera})
    return None


def domain() -> Domain:
    from appliance.contractors import api, evaluation, pages
    from appliance.hazards import firms

    # hazards comes first and asks: the firms a hazard may name (its contractor-firm field, issue 19)
    firms.SOURCES["contractors"] = evaluation.hazard_firms

    return Domain(
        name="contractors",
        openapi=Path(__file__).parent / "openapi.json",
        blueprints=[api.api_bp, pages.bp],
        i18n=Path(__file__).parent / "i18n",
        nav=[NavLink("contractors_pages.tablet", "nav.contractors", order=60)],
        # the archive and the gate log are read by the shift, the office and the board; the office keeps the
        # archive and reviews documents, jobs and the blacklist; the shift briefs, starts and evaluates jobs
        permissions={"contractors.read": ("admin", "safety_officer", "supervisor", "kiosk"),
                     "contractors.write": ("admin", "safety_officer"),
                     "contractors.review": ("admin", "safety_officer"),
                     "contractors.brief": ("admin", "safety_officer", "supervisor")},
        start=_start,
        init_app=_init_app,
        migrations=Path(__file__).parent / "migrations",
        safety_events=("contractor.",),
    )
