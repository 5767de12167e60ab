"""Users, roles, permissions, device tokens and login rate limiting.

Roles (fixed set): admin, safety_officer, supervisor, worker, kiosk. What each role may do is data
(`PERMISSIONS`), checked at the HTTP edge by `require(permission)`. Kiosk screens authenticate with a
read-only device token instead of a password.
"""
from __future__ import annotations

import functools
import hashlib
import logging
import secrets
import threading
import time
from collections import defaultdict, deque
from typing import Literal

import peewee
from pydantic import Field
from werkzeug.security import check_password_hash, generate_password_hash

from appliance.core import domain, events
from appliance.core.db import BaseModel as Model
from appliance.core.db import database
from appliance.core.errors import Conflict, NotFound, RateLimited, ValidationFailed
from appliance.core.people import Input, Person, Update

log = logging.getLogger(__name__)

ROLES = ("admin", "safety_officer", "supervisor", "worker", "kiosk")
Role = Literal["admin", "safety_officer", "supervisor", "worker", "kiosk"]

# permission → roles holding it. Reading the live board is every role's; master data is edited by the
# safety office; users, tokens and backups by the admin only.
PERMISSIONS: dict[str, frozenset[str]] = {
    "board.read": frozenset(ROLES),
    "events.read": frozenset({"admin", "safety_officer", "supervisor", "kiosk"}),
    "site.read": frozenset(ROLES),
    "site.write": frozenset({"admin"}),
    "areas.read": frozenset(ROLES),
    "areas.write": frozenset({"admin", "safety_officer"}),
    "people.read": frozenset({"admin", "safety_officer", "supervisor"}),
    "people.write": frozenset({"admin", "safety_officer"}),
    "badges.read": frozenset({"admin", "safety_officer", "supervisor"}),
    "badges.write": frozenset({"admin", "safety_officer"}),
    "users.read": frozenset({"admin"}),
    "users.write": frozenset({"admin"}),
    "tokens.write": frozenset({"admin"}),
    "admin.backup": frozenset({"admin"}),
    "tablet.use": frozenset({"admin", "safety_officer", "supervisor", "worker"}),
    "admin.use": frozenset({"admin"}),
}

# The only writes a (otherwise read-only) device token may make; domains add theirs when they register
# (the patrol checklist answered on a checkpoint screen right after a tap there).
DEVICE_WRITES: set[str] = set()


def add_permissions(permissions, device_writes=()) -> None:
    """Merge a domain's permissions (permission → roles) into `PERMISSIONS`; each is declared once."""
    for perm, roles in permissions.items():
        roles = frozenset(roles)
        unknown = roles - set(ROLES)
        if unknown:
            raise ValueError(f"permission {perm}: unknown roles {sorted(unknown)}")
        if perm in PERMISSIONS and PERMISSIONS[perm] != roles:
            raise ValueError(f"permission {perm} declared twice")
        PERMISSIONS[perm] = roles
    DEVICE_WRITES.update(device_writes)


domain.on_register(lambda d: add_permissions(d.permissions, d.device_writes))


def allowed(role: str | None, permission: str) -> bool:
    return role is not None and role in PERMISSIONS[permission]


class User(Model):
    login = peewee.TextField(unique=True)
    display_name = peewee.TextField()
    password_hash = peewee.TextField()
    role = peewee.TextField()
    person = peewee.ForeignKeyField(Person, column_name="person_id", null=True)
    person_id: int | None   # the column behind `person`, made by the ForeignKeyField
    active = peewee.BooleanField()
    created_at = peewee.IntegerField()
    updated_at = peewee.IntegerField()
    last_login_at = peewee.IntegerField(null=True)

    class Meta:
        table_name = "users"


class DeviceToken(Model):
    name = peewee.TextField(unique=True)
    token_hash = peewee.TextField(unique=True)
    role = peewee.TextField()
    active = peewee.BooleanField()
    created_at = peewee.IntegerField()
    last_used_at = peewee.IntegerField(null=True)

    class Meta:
        table_name = "device_tokens"


class UserIn(Input):
    login: str = Field(pattern=r"^[A-Za-z0-9_.@-]{2,40}$")
    password: str = Field(min_length=1, max_length=200)
    role: Role
    display_name: str = Field("", max_length=60)
    person_id: int | None = Field(None, gt=0, le=2**31)


class UserUpdate(Update):
    display_name: str | None = Field(None, max_length=60)
    role: Role | None = None
    active: bool | None = None
    password: str | None = Field(None, min_length=1, max_length=200)


def user_dict(u: User) -> dict:
    return {"id": u.id, "login": u.login, "display_name": u.display_name, "role": u.role,
            "person_id": u.person_id, "active": bool(u.active), "last_login_at": u.last_login_at}


def _check_password(pw: str, min_length: int) -> None:
    if len(pw) < min_length:
        raise ValidationFailed(f"password：密码至少 {min_length} 个字符", f"password: needs at least {min_length} characters",
                               details=[{"key": "password"}])


def create_user(data: UserIn, *, actor: str, min_password_length: int = 8) -> User:
    _check_password(data.password, min_password_length)
    pw_hash = hash_password(data.password)  # outside the write lock: hashing is slow on purpose
    with events.recording(actor) as rec:
        if User.get_or_none(User.login == data.login):
            raise Conflict(f"登录名已存在：{data.login}", f"login already exists: {data.login}")
        if data.person_id is not None and Person.get_or_none(Person.id == data.person_id) is None:
            raise ValidationFailed(f"person_id：人员 {data.person_id} 不存在", f"person_id: person {data.person_id} does not exist",
                                   details=[{"key": "person_id"}])
        t = events.now_ms()
        u = User.create(login=data.login, display_name=data.display_name or data.login, password_hash=pw_hash,
                        role=data.role, person=data.person_id, active=True, created_at=t, updated_at=t)
        rec.emit("user.created", entity=("user", u.id), payload=user_dict(u))  # never the password
    return u


def update_user(user_id: int, data: UserUpdate, *, actor: str, min_password_length: int = 8) -> User:
    values = data.model_dump(exclude_unset=True, exclude={"password"})
    if data.password is not None:
        _check_password(data.password, min_password_length)
        values["password_hash"] = hash_password(data.password)
    with events.recording(actor) as rec:
        u = User.get_or_none(User.id == user_id)
        if u is None:
            raise NotFound(f"用户 {user_id} 不存在", f"user {user_id} does not exist")
        changed = {k: v for k, v in values.items() if getattr(u, k) != v}
        if u.role == "admin" and u.active and (changed.get("role", "admin") != "admin" or changed.get("active") is False):
            if User.select().where((User.role == "admin") & User.active & (User.id != u.id)).count() == 0:
                raise Conflict("不能停用或降级最后一个管理员", "cannot demote or deactivate the last admin")
        if changed:
            User.update(**changed, updated_at=events.now_ms()).where(User.id == u.id).execute()
            shown = {k: v for k, v in changed.items() if k != "password_hash"}
            if "password_hash" in changed:
                shown["password_changed"] = True
            rec.emit("user.updated", entity=("user", u.id), payload={"login": u.login, **shown})
    return User.get_by_id(user_id)


# scrypt takes ~32 MB per hash by design; on a 1 GB box a burst of logins must not take the memory the
# pollers need, so one hash is computed at a time (the rest wait their turn, ~0.1 s each): measured with
# bench/footprint.py, two at once put the peak RSS at 185 MB against the 150 MB target.
_HASHING = threading.BoundedSemaphore(1)
# werkzeug's method string; each stored hash names its own, so a hash made with another cost still checks.
# The test suite lowers the cost (conftest.py): thousands of logins there are not what it measures.
HASH_METHOD = "scrypt:32768:8:1"


def hash_password(password: str) -> str:
    with _HASHING:
        return generate_password_hash(password, method=HASH_METHOD)


def password_matches(pw_hash: str, password: str) -> bool:
    with _HASHING:
        return check_password_hash(pw_hash, password)


@functools.cache
def _dummy_hash() -> str:
    """A hash to compare against when the login does not exist, so both paths cost the same time."""
    return hash_password("not-a-real-password")


def authenticate(login: str, password: str) -> User | None:
    """The active user with this login and password, else None (same cost either way). A successful
    login is an event: the audit trail shows who was on duty at the tablet."""
    u = User.get_or_none(User.login == login)
    if u is None or not u.active:
        password_matches(_dummy_hash(), password)
        return None
    if not password_matches(u.password_hash, password):
        return None
    with events.recording(f"user:{u.login}") as rec:
        User.update(last_login_at=events.now_ms()).where(User.id == u.id).execute()
        rec.emit("user.logged_in", entity=("user", u.id), payload={"login": u.login, "role": u.role})
    return u


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_device_token(name: str, *, actor: str) -> str:
    """Make a read-only kiosk token; returns the token (shown once, only its hash is stored)."""
    token = secrets.token_urlsafe(24)
    with events.recording(actor) as rec:
        if DeviceToken.get_or_none(DeviceToken.name == name):
            raise Conflict(f"设备名已存在：{name}", f"device name already exists: {name}")
        t = DeviceToken.create(name=name, token_hash=_token_hash(token), role="kiosk", active=True,
                               created_at=events.now_ms())
        rec.emit("device_token.created", entity=("device_token", t.id), payload={"name": name, "role": "kiosk"})
    return token


def revoke_device_token(token_id: int, *, actor: str) -> None:
    with events.recording(actor) as rec:
        t = DeviceToken.get_or_none(DeviceToken.id == token_id)
        if t is None:
            raise NotFound(f"设备令牌 {token_id} 不存在", f"device token {token_id} does not exist")
        if t.active:
            DeviceToken.update(active=False).where(DeviceToken.id == t.id).execute()
            rec.emit("device_token.revoked", entity=("device_token", t.id), payload={"name": t.name})


# The lookups every request and every live stream's heartbeat make, in plain SQL: peewee builds a query's SQL
# anew at each call (~200 µs against the query's ~10 µs), 50 wall boards ask on every request and 50 streams
# at every heartbeat (py-spy under bench/load.py: 6 % of the busy samples, issue 14).
_TOKEN_SQL = "SELECT id, name, role, created_at, last_used_at FROM device_tokens WHERE token_hash = ? AND active"


def device_for_token(token: str) -> DeviceToken | None:
    if not token or len(token) > 200:
        return None
    digest = _token_hash(token)
    row = database.execute_sql(_TOKEN_SQL, (digest,)).fetchone()
    if row is None:
        return None
    t = DeviceToken(id=row[0], name=row[1], token_hash=digest, role=row[2], active=True, created_at=row[3],
                    last_used_at=row[4])
    if t.last_used_at is None or events.now_ms() - t.last_used_at > 60_000:
        token_use.note(t.id)
    return t


def token_active(token_id: int) -> bool:
    """Whether the device token still stands (not revoked)."""
    return database.execute_sql("SELECT 1 FROM device_tokens WHERE id = ? AND active", (token_id,)).fetchone() is not None


def active_role(user_id: int) -> str | None:
    """The account's role while it is active; None once it is deactivated (or gone)."""
    row = database.execute_sql("SELECT role FROM users WHERE id = ? AND active", (user_id,)).fetchone()
    return row[0] if row else None


class TokenUse:
    """A device token's "last used" time, noted in memory and written by a job once a minute
    (`flush`). A read never writes: when 50 wall boards shared one token, each request after the minute
    wrote the same row, and under a register import those writes queued for SQLite's one write lock for
    5 s — every page waited with them (bench/load.py, issue 14)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # keyed by (database file, token id): ids start again at 1 in another database (a restore, the next
        # appliance in a test process), and a use noted for the old one is not the new token's
        self._pending: dict[tuple[str, int], int] = {}

    def note(self, token_id: int) -> None:
        with self._lock:
            self._pending[(str(database.database), token_id)] = events.now_ms()

    def last(self, token_id: int, stored: int | None) -> int | None:
        """The last use: noted and not yet written, or as stored."""
        with self._lock:
            noted = self._pending.get((str(database.database), token_id))
        return max(noted, stored or 0) if noted else stored

    def flush(self) -> int:
        """Write what was noted for the open database, in one short transaction; best effort (a full disk
        keeps it for the next). Uses noted for another database file are dropped."""
        here = str(database.database)
        with self._lock:
            pending = {i: ms for (f, i), ms in self._pending.items() if f == here}
            self._pending = {}
        if not pending:
            return 0
        try:
            with database.atomic():
                database.connection().executemany(
                    "UPDATE device_tokens SET last_used_at = MAX(COALESCE(last_used_at, 0), ?) WHERE id = ?",
                    [(ms, i) for i, ms in pending.items()])
        except peewee.PeeweeException as exc:
            log.warning("could not note device tokens' last use", extra={"tokens": len(pending), "error": str(exc)})
            with self._lock:
                for i, ms in pending.items():
                    self._pending.setdefault((here, i), ms)
            return 0
        return len(pending)


token_use = TokenUse()


# ---------------------------------------------------------------- sessions ended at logout

def new_session_id() -> str:
    return secrets.token_urlsafe(18)


def session_revoked(sid: str | None) -> bool:
    """A session without an id (issued before ids existed) or logged out is not honoured."""
    if not sid:
        return True
    return database.execute_sql("SELECT 1 FROM revoked_sessions WHERE sid = ?", (sid,)).fetchone() is not None


def revoke_session(sid: str, user_id: int, keep_hours: float) -> None:
    """End a session server-side (logout); entries older than the session lifetime are pruned."""
    now = events.now_ms()
    with database.atomic():
        database.execute_sql("INSERT OR IGNORE INTO revoked_sessions (sid, user_id, revoked_at) VALUES (?, ?, ?)",
                             (sid, user_id, now))
        database.execute_sql("DELETE FROM revoked_sessions WHERE revoked_at < ?", (now - int(keep_hours * 3_600_000),))


class LoginLimiter:
    """Throttles password guessing without letting anyone lock a named user out.

    - per address and login name: `max_failures` failures in `window_s` refuse that name from that address
      until the oldest failure leaves the window — a guesser on the LAN stops himself, not the supervisor
      at her tablet;
    - per address (all names): four times as many failures refuse the address; a success from that address
      does not forgive them (it only forgives its own name's failures);
    - per login name (all addresses): a growing delay, never a lockout (1, 2, 4 … at most 30 s between
      attempts after `max_failures` failures), skipped for a browser that has logged in as that user before
      (a known kiosk or tablet), so the person who must acknowledge alarms can always log in.
    Memory only: a restart forgives, which is acceptable on a LAN box and costs no SD-card writes.
    """

    MAX_DELAY_S = 30

    def __init__(self, max_failures: int = 5, window_s: int = 300, clock=time.monotonic):
        self.max_failures = max_failures
        self.ip_max_failures = 4 * max_failures
        self.window_s = window_s
        self.clock = clock
        self._fails: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _trim(self, key: str, now: float) -> deque[float]:
        q = self._fails[key]
        while q and now - q[0] >= self.window_s:
            q.popleft()
        if not q:
            del self._fails[key]
        return q

    @staticmethod
    def _refuse(wait: float) -> None:
        wait = max(1, int(wait) + 1)
        raise RateLimited(f"登录失败次数过多，请 {wait} 秒后再试", f"too many failed logins; try again in {wait} s",
                          retry_after=wait)

    def check(self, ip: str, login: str, known_device: bool = False) -> None:
        """Raise RateLimited (429, Retry-After) when this attempt must wait."""
        now = self.clock()
        with self._lock:
            for key, limit in ((f"pair:{ip}:{login}", self.max_failures), (f"ip:{ip}", self.ip_max_failures)):
                if key not in self._fails:  # never create entries for keys that only check
                    continue
                q = self._trim(key, now)
                if len(q) >= limit:
                    self._refuse(self.window_s - (now - q[0]))
            key = f"login:{login}"
            if known_device or key not in self._fails:
                return
            q = self._trim(key, now)
            excess = len(q) - self.max_failures
            if excess >= 0:
                delay = min(self.MAX_DELAY_S, 2 ** excess)
                if now - q[-1] < delay:
                    self._refuse(delay - (now - q[-1]))

    def failed(self, ip: str, login: str) -> None:
        now = self.clock()
        with self._lock:
            for key in (f"pair:{ip}:{login}", f"ip:{ip}", f"login:{login}"):
                self._fails[key].append(now)

    def succeeded(self, ip: str, login: str) -> None:
        """The right password: forgive this name's failures (from here and overall), not the address's."""
        with self._lock:
            for key in (f"pair:{ip}:{login}", f"login:{login}"):
                self._fails.pop(key, None)

