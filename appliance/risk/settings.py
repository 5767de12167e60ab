"""The plant's risk settings in force ([risk], `config.RiskConfig`): the running app's config inside a
request, else what the service configured at start (the scheduler's jobs), else the defaults."""
from __future__ import annotations

from appliance.risk import rules as RR
from appliance.risk.config import RiskConfig

_configured: RiskConfig | None = None


def configure(cfg: RiskConfig | None) -> None:
    """Use `cfg` outside requests (called when the app is built and when the jobs are)."""
    global _configured
    _configured = cfg


def current() -> RiskConfig:
    from flask import current_app, has_app_context

    if has_app_context():
        cfg = getattr(current_app.config.get("APPLIANCE"), "risk", None)
        if isinstance(cfg, RiskConfig):
            return cfg
    return _configured or RiskConfig()


def lec_profiles(cfg: RiskConfig | None = None) -> dict[str, RR.LecProfile]:
    """The LEC profiles to grade by: "default" is the plant's [risk.lec] cut-offs."""
    c = (cfg or current()).lec
    return {"default": RR.LecProfile(c.red_above, c.orange_from, c.yellow_from, c.acceptable_below)}


def ls_profiles(cfg: RiskConfig | None = None) -> dict[str, RR.LsProfile]:
    """The LS profiles to grade by: A and B as shipped, changed or added to by [risk.ls.NAME]."""
    return {k: RR.LsProfile(v.major_from, v.significant_from, v.general_from)
            for k, v in (cfg or current()).ls_profiles.items()}
