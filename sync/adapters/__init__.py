"""Endpoint adapters, one file each, chosen by the endpoint's `type` (see `base.Adapter`)."""
from __future__ import annotations

from sync.adapters import http_json, sha1_sign, wwyt  # noqa: F401,E402  (register the types)
from sync.adapters.base import REGISTRY, Ack, Adapter, Context, SyncError  # noqa: F401


def make(cfg, ctx: Context) -> Adapter:
    return REGISTRY[cfg.type](cfg, ctx)
