"""The Flask app factory: one app for the JSON API and the pages of every registered domain.

`create_app(config, runtime)` wires the database, the session and CSRF protection, who is asking
(`g.principal`), the JSON error shape and the language choice. It is served by waitress (`service.py`).
"""
from __future__ import annotations

import logging
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, cast

from flask import Flask, g, request
from flask.json.provider import DefaultJSONProvider
from flask.sessions import SecureCookieSessionInterface
from werkzeug.exceptions import HTTPException

from appliance.core import access, auth, db, events, idempotency, logs, storage, templating
from appliance.core.access import error_response, lang
from appliance.core.domain import registered

if TYPE_CHECKING:
    from appliance.config import Config
from appliance.core.errors import ApplianceError

log = logging.getLogger(__name__)

@dataclass
class Runtime:
    """What the running appliance shares with the web layer: the bus, health checks, the login limiter."""

    config: Config
    bus: events.Bus | None = None
    limiter: auth.LoginLimiter | None = None
    sensors: object | None = None  # appliance.sensors.Sensors once the service runs the sensor loop
    syncer: object | None = None  # sync.engine.Syncer once the service runs the uplink sync
    https: object | None = None   # appliance.core.https.TlsFront when [web] tls is on
    backups: object | None = None  # appliance.core.backup.DeviceBackups when [backup] to is set
    web_port: int | None = None   # the plain listener's port (the configured one, or the free one a test got)
    vision: object | None = None   # appliance.vision_supervisor.VisionSupervisor when cameras are configured
    # name → callable returning {"status": "ok" | "degraded" | "fault", ...}; drivers add theirs.
    health_checks: dict[str, Callable[[], dict]] = field(default_factory=dict)
    # reason → {count, last, station} of refused satellite-station posts
    station_refusals: dict[str, dict] = field(default_factory=dict)
    started_at: float = field(default_factory=time.time)


CREDENTIAL = "session_key"


def credential_key() -> bytes | None:
    """The key systemd hands the service (`LoadCredential=session_key:...`: a root-only file the installer
    makes, read by the service in its private $CREDENTIALS_DIRECTORY); None without one."""
    folder = os.environ.get("CREDENTIALS_DIRECTORY")
    if not folder:
        return None
    try:
        key = (Path(folder) / CREDENTIAL).read_bytes().strip()
    except OSError as exc:
        log.warning("no session key credential; using the data directory's", extra={"error": str(exc)})
        return None
    if len(key) < 32:
        log.warning("the session key credential is shorter than 32 bytes; using the data directory's")
        return None
    return key


def secret_key(data_dir: Path) -> bytes:
    """The session-signing key: the systemd credential when the service has one, else a key made once per
    data directory, private (0600) from its first byte and written atomically (a power cut on first boot
    leaves no key or a whole one, never an empty one)."""
    key = credential_key()
    if key is not None:
        return key
    path = Path(data_dir) / "secret_key"
    try:
        key = path.read_bytes()
        if len(key) == 32:
            return key
        log.warning("session key file is damaged; making a new one (tablet logins end)")
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    key = secrets.token_bytes(32)
    try:
        os.write(fd, key)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
    return key


def create_app(config: Config, runtime: Runtime | None = None) -> Flask:
    """Build the web app on the database named by `config` (migrating it if needed)."""

    logs.set_timezone(config.site.timezone)   # log lines in plant time, labelled with its offset
    runtime = runtime or Runtime(config)
    if runtime.limiter is None:
        runtime.limiter = auth.LoginLimiter(config.auth.login_max_failures, config.auth.login_window_s)
    store = config.storage
    db.migrate(store.db_path, store.backup_dir, busy_timeout_ms=store.busy_timeout_ms)
    db.open_database(store.db_path, store.busy_timeout_ms)

    app = Flask(__name__, static_folder=None)
    app.jinja_environment = templating.FastEnvironment   # before the environment is made (kiosk_ui.init_app)
    app.config.update(
        SECRET_KEY=secret_key(store.data_dir),
        MAX_CONTENT_LENGTH=int(config.web.max_body_mb * 1024 * 1024),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_NAME="sa_session",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=config.web.session_hours),
        JSON_AS_ASCII=False,
        APPLIANCE=config,
    )
    cast(DefaultJSONProvider, app.json).ensure_ascii = False   # Flask's default provider
    app.session_interface = _SecureWhenHttps()
    app.extensions["appliance"] = runtime
    # Static assets (CSS, JS, fonts, vendored ECharts) are cached by the browsers for a week; their URLs
    # carry this start's stamp, so a restart after an update makes every kiosk and tablet fetch them anew.
    app.config["SEND_FILE_MAX_AGE_DEFAULT"] = timedelta(days=7)
    asset_stamp = str(int(time.time()))

    @app.url_defaults
    def _asset_stamp(endpoint: str, values: dict) -> None:
        if endpoint == "static" or endpoint.endswith(".static"):
            values.setdefault("v", asset_stamp)

    @app.before_request
    def _before():
        g.default_lang = config.site.default_language
        g.t0 = time.perf_counter()
        access.load_principal()
        access.check_csrf()

    @app.teardown_request
    def _release_db(_exc: BaseException | None) -> None:
        db.release_connection()   # one connection per request in flight, not one per waitress thread

    # after the principal and CSRF (before_request runs in order); its teardown runs before _release_db's
    idempotency.init_app(app)

    @app.errorhandler(ApplianceError)
    def _appliance_error(exc: ApplianceError):
        if not request.path.startswith("/api/") and exc.http_status in (401, 403, 404):
            return error_page(exc.http_status, exc.message(lang()))
        headers = {"Retry-After": str(exc.retry_after)} if hasattr(exc, "retry_after") else None
        return error_response(exc.code, exc.zh, exc.en, exc.http_status, exc.details, headers)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        assert exc.code is not None   # Flask hands an HTTPException without a code to no handler
        zh, en = _HTTP_MESSAGES.get(exc.code, ("请求错误", exc.name))
        if not request.path.startswith("/api/"):
            return error_page(exc.code, zh if lang() != "en" else en)
        return error_response(exc.name.lower().replace(" ", "_"), zh, en, exc.code)

    @app.errorhandler(OverflowError)
    def _overflow(exc: OverflowError):
        # an id or number too large for SQLite's 64-bit integers: no such record can exist
        if not request.path.startswith("/api/"):
            return error_page(404, "找不到该资源" if lang() != "en" else "not found")
        return error_response("number_too_large", "数字超出范围", "a number is out of range", 422)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        if storage.is_disk_full(exc):
            # 507: the data disk is full — say so, naming it; health shows the disk and database at fault
            storage.note_full(exc)
            where = str(config.storage.data_dir)
            log.error("write refused: data disk full", extra={"path": request.path, "disk": where})
            zh = f"数据盘已满（{where}），无法保存；请联系管理员清理空间。报警、确认和打卡记录仍会优先保存。"
            en = (f"the data disk is full ({where}); nothing could be saved. Ask the administrator to free space; "
                  "alarms, acknowledgements and badge taps are still stored first.")
            if not request.path.startswith("/api/"):
                return error_page(507, zh if lang() != "en" else en)
            return error_response("disk_full", zh, en, 507)
        log.exception("unhandled error", extra={"path": request.path})
        if not request.path.startswith("/api/"):
            return error_page(500, "内部错误，已记录日志" if lang() != "en" else "internal error; it has been logged")
        return error_response("internal_error", "内部错误，已记录日志", "internal error; it has been logged", 500)

    from appliance.core import admin_api, masterdata_api, routes

    for bp in (routes.api_bp, routes.root_bp, admin_api.api_bp, masterdata_api.api_bp):  # the core's own API
        app.register_blueprint(bp)
    for d in registered():
        for bp in d.blueprints:
            app.register_blueprint(bp)
        if d.init_app is not None:
            d.init_app(app)
    return app


class _SecureWhenHttps(SecureCookieSessionInterface):
    """The session cookie is Secure when the request came over HTTPS: a tablet's cookie never goes back over
    plain HTTP, while the box's own screen on plain loopback still keeps its session."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(request.is_secure or app.config["SESSION_COOKIE_SECURE"])


def error_page(status: int, message: str):
    """The page shown for an error outside /api/: the UI's own (`app.config["ERROR_PAGE"]`, set by the
    pages package) or plain text."""
    from flask import current_app

    render = current_app.config.get("ERROR_PAGE")
    if render is not None:
        return render(status, message)
    return message, status, {"Content-Type": "text/plain; charset=utf-8"}


_HTTP_MESSAGES = {
    400: ("请求格式错误", "bad request"),
    404: ("找不到该资源", "not found"),
    405: ("不支持该请求方法", "method not allowed"),
    413: ("请求体过大", "request body too large"),
    415: ("请求体应为 JSON", "request body must be JSON"),
}
