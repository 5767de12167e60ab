"""How a domain package plugs into the core.

A domain (gas, patrol, hazards, …) is one package under `appliance/` whose `__init__.py` has a
`domain()` function returning a `Domain`: its blueprints (JSON API and pages, with their own templates
and static files), its permissions, its scheduled jobs, its start/stop hooks and health checks, its
i18n texts, its navigation links, its migrations, its OpenAPI paths and the event types that ride the sync safety lane.
`appliance/domains.py` lists the enabled domains; the service registers each with the core at start.
The core never imports a domain: it only reads what was registered here.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Blueprint


@dataclass(frozen=True)
class NavLink:
    """A link to one of a domain's pages in the pages' top bar (shown to signed-in tablet users)."""

    endpoint: str       # the page's endpoint, e.g. "patrol_pages.tablet"
    text: str           # the i18n key of its label, in the domain's own catalogue, e.g. "nav.patrol"
    order: int = 100    # its place among every domain's links (smaller first)


@dataclass(frozen=True)
class Domain:
    """What one domain package brings to the running appliance."""

    name: str
    blueprints: Sequence[Blueprint] = ()
    # permission → roles holding it (merged into auth.PERMISSIONS); a permission may be declared once
    permissions: Mapping[str, Iterable[str]] = field(default_factory=dict)
    # permissions a read-only device token (a kiosk or checkpoint screen) may still write with
    device_writes: Iterable[str] = ()
    # jobs(scheduler, config, runtime): add the domain's periodic jobs
    jobs: Callable[[Any, Any, Any], None] | None = None
    # start(runtime): start the domain's loops and add its health checks; returns a stop callable or None
    start: Callable[[Any], Callable[[], None] | None] | None = None
    # init_app(app): anything else the domain wires into the Flask app (template globals, static files)
    init_app: Callable[[Any], None] | None = None
    # folder with zh-CN.json and en.json holding the domain's UI texts
    i18n: Path | None = None
    # links to its pages in the top bar of every page (the pages package shows those of registered domains)
    nav: Sequence[NavLink] = ()
    # folder of numbered NNNN_name.sql migrations (one global sequence across the core and domains)
    migrations: Path | None = None
    # OpenAPI document fragment (its "paths" and "components.schemas") describing the domain's API
    openapi: Path | None = None
    # event-type prefixes (e.g. "alarm.") that sync sends in the safety lane, ahead of other records
    safety_events: tuple[str, ...] = ()


_REGISTERED: dict[str, Domain] = {}
_LISTENERS: list[Callable[[Domain], None]] = []


def register(domain: Domain) -> Domain:
    """Add `domain` (once: registering an equal domain again is a no-op, a different one is an error)."""
    old = _REGISTERED.get(domain.name)
    if old is not None:
        if old != domain:
            raise ValueError(f"domain {domain.name!r} registered twice")
        return old
    _REGISTERED[domain.name] = domain
    for listener in _LISTENERS:
        listener(domain)
    return domain


def on_register(listener: Callable[[Domain], None]) -> None:
    """Call `listener` with every domain registered, before and after this call (how core modules such as
    `auth` take what domains declare without this module importing them)."""
    _LISTENERS.append(listener)
    for d in _REGISTERED.values():
        listener(d)


def registered() -> list[Domain]:
    """The registered domains, in registration order."""
    return list(_REGISTERED.values())


def registered_count() -> int:
    """How many domains are registered (they are only ever added): a key for what is worked out from them."""
    return len(_REGISTERED)


def safety_event_prefixes() -> tuple[str, ...]:
    """Event-type prefixes of every registered domain that ride the sync safety lane."""
    return tuple(p for d in _REGISTERED.values() for p in d.safety_events)
