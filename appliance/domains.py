"""The enabled domains, in one place: each entry is a package with a `domain()` function
(`appliance.core.domain.Domain`). A new domain is one new package and one line here.

`load()` registers them with the core (permissions, blueprints, jobs, start hooks, migrations, OpenAPI,
sync lanes); `create_app` builds the web app with all of them. The service and the CLI call these; the
core never imports a domain.
"""
from __future__ import annotations

import importlib

from appliance.core.domain import Domain, register

ENABLED = (
    "appliance.hazards",
    "appliance.risk",
    "appliance.training",
    "appliance.gas",
    "appliance.patrol",
    "appliance.stations",
    "appliance.vision",
    "appliance.contractors",
    "appliance.permits",
    "appliance.emergency",
    "appliance.cockpit",
    "sync",
    "kiosk_ui",
)


def load() -> list[Domain]:
    """Register every enabled domain with the core (idempotent) and return them in order."""
    out = []
    for name in ENABLED:
        make = importlib.import_module(name).domain
        out.append(register(make()))
    return out


def create_app(config, runtime=None):
    """The web app with every enabled domain (registering them first)."""
    from appliance.core.web import create_app as core_create_app

    load()
    return core_create_app(config, runtime)
