"""How an event reads as a short message for people outside the appliance (a group robot, a push): a title
and its lines, zh-CN first, then en. Domains register theirs by event type (the training domain: a
certificate warning); the senders (sync.webhook) look them up here, so they never import a domain."""
from __future__ import annotations

from collections.abc import Callable

Formatter = Callable[[dict], tuple[str, list[str]]]

FORMATTERS: dict[str, Formatter] = {}


def register(event_type: str, fn: Formatter) -> None:
    FORMATTERS[event_type] = fn


def message(event_type: str, payload: dict) -> tuple[str, list[str]] | None:
    """The event as (title, lines), or None when no domain said how it reads."""
    fn = FORMATTERS.get(event_type)
    return fn(payload) if fn else None
