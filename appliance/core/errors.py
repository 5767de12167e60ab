"""The appliance's one exception hierarchy.

Errors carry a stable machine code and a message in both zh-CN and en; they become user-facing only at
the edges (CLI, HTTP, kiosk), which pick the language.
"""
from __future__ import annotations


class ApplianceError(Exception):
    """Base of every error the appliance raises on purpose."""

    code = "error"
    http_status = 400

    def __init__(self, zh: str, en: str, *, code: str | None = None, details: object = None):
        super().__init__(en)
        self.zh = zh
        self.en = en
        if code:
            self.code = code
        self.details = details

    def message(self, lang: str = "zh-CN") -> str:
        """The message in `lang` (zh-CN unless it starts with "en")."""
        return self.en if lang.startswith("en") else self.zh

    def bilingual(self) -> str:
        """Both languages on one line, for logs and the CLI."""
        return f"{self.zh} / {self.en}"


class ConfigError(ApplianceError):
    """The configuration file is unreadable, malformed or invalid."""

    code = "config_invalid"


class DatabaseError(ApplianceError):
    """The database cannot be opened, migrated, backed up or exported."""

    code = "database_error"
    http_status = 500


class ValidationFailed(ApplianceError):
    """Input from a user or a device does not fit the expected shape."""

    code = "validation_failed"
    http_status = 422


class NotFound(ApplianceError):
    """A record that was asked for does not exist."""

    code = "not_found"
    http_status = 404


class Conflict(ApplianceError):
    """The change conflicts with what is already stored (a duplicate, a stale state)."""

    code = "conflict"
    http_status = 409


class AuthError(ApplianceError):
    """The caller is not authenticated."""

    code = "unauthenticated"
    http_status = 401


class Forbidden(ApplianceError):
    """The caller is authenticated but its role may not do this."""

    code = "forbidden"
    http_status = 403


class RateLimited(ApplianceError):
    """Too many attempts in a short time; retry later."""

    code = "rate_limited"
    http_status = 429

    def __init__(self, zh: str, en: str, *, retry_after: int, **kw):
        super().__init__(zh, en, **kw)
        self.retry_after = retry_after


class ChainBroken(ApplianceError):
    """The event log's hash chain does not verify."""

    code = "chain_broken"

    def __init__(self, seq: int, reason_zh: str, reason_en: str):
        super().__init__(f"审计链在序号 {seq} 处损坏：{reason_zh}", f"audit chain broken at seq {seq}: {reason_en}")
        self.seq = seq
