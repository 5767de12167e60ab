"""Who may do what: the authorisation matrix (every endpoint × every role), CSRF, tokens, login limits."""
from __future__ import annotations

import json

import pytest

from appliance.core import auth, events
from appliance.core.auth import DEVICE_WRITES, PERMISSIONS, allowed
from appliance.core.errors import RateLimited
from conftest import PASSWORD, As, csrf_from
from kiosk_ui.views import KNOWN_COOKIE

ALL_ROLES = (None, "admin", "safety_officer", "supervisor", "worker", "kiosk")
SAFE = {"GET", "HEAD", "OPTIONS"}


def _routes(app):
    """(method, sample path, permission) for every route the app serves, static files aside."""
    out = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        view = app.view_functions[rule.endpoint]
        assert hasattr(view, "permission"), f"{rule.rule} declares no permission (use @require or @public)"
        path = rule.rule
        for arg in rule.arguments:
            path = path.replace(f"<int:{arg}>", "999").replace(f"<{arg}>", "R1")
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            out.append((method, path, view.permission))
    return out


def test_every_permission_is_known(app):
    for _, path, perm in _routes(app):
        assert perm is None or perm in PERMISSIONS, path


def test_authorisation_matrix(app, users, as_role):
    clients = {role: as_role(role) for role in ALL_ROLES}
    checked = 0
    for method, path, perm in _routes(app):
        if path in ("/logout", "/login") or path.startswith("/lang/"):
            continue  # public by nature; covered below
        for role in ALL_ROLES:
            c = clients[role]
            kw = {"json": {}} if method not in SAFE else {}
            r = c.open(method, path, **kw)
            code = r.status_code
            if path == "/api/v1/stream" and code == 200:
                r.close()
            label = f"{method} {path} as {role}: {code} {r.get_data()[:200].decode('utf-8', 'replace')}"  # may be a file
            if perm is None and path == "/api/v1/patrol/station-taps":
                # authenticated by its own HMAC signature, not by a session: unsigned posts are refused
                assert code == 401 and r.get_json()["error"]["code"].startswith("station_"), label
            elif perm is None:
                assert code not in (401, 403), label
            elif role is None:
                assert code == 401 if path.startswith("/api/") else (code == 302 and "/login" in r.headers["Location"]), label
            elif allowed(role, perm) and not (role == "kiosk" and method not in SAFE and perm not in DEVICE_WRITES):
                assert code not in (401, 403), label
            else:
                assert code == 403, label
                if path.startswith("/api/"):
                    assert r.get_json()["error"]["code"] == "forbidden", label
            checked += 1
    assert checked > 100


def test_openapi_documents_every_api_route_with_its_permission(app, client):
    doc = client.get("/api/v1/openapi.json").get_json()
    documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    served = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        path = rule.rule.removeprefix("/api/v1").replace("<int:", "{").replace("<", "{").replace(">", "}")
        view = app.view_functions[rule.endpoint]
        for m in rule.methods - {"HEAD", "OPTIONS"}:
            served.add((m, path))
            assert doc["paths"][path][m.lower()]["x-permission"] == view.permission, (m, path)
    assert served == documented


def test_kiosk_token_is_read_only_and_forged_tokens_are_refused(app, users, client):
    ok = client.get("/api/v1/me", headers={"Authorization": f"Bearer {users['kiosk']}"})
    assert ok.status_code == 200 and ok.get_json()["role"] == "kiosk"
    bad = client.get("/api/v1/me", headers={"Authorization": "Bearer forged-token"})
    assert bad.status_code == 401 and bad.get_json()["error"]["code"] == "bad_token"
    r = client.get("/kiosk?token=forged")
    assert r.status_code == 401
    r = client.get(f"/kiosk?token={users['kiosk']}")
    assert r.status_code == 302 and r.headers["Location"].endswith("/kiosk")  # token leaves the address bar
    assert client.get("/kiosk").status_code == 200  # now a cookie session
    tok = auth.DeviceToken.get(auth.DeviceToken.name == "test-wall")
    auth.revoke_device_token(tok.id, actor="test")
    assert client.get("/kiosk").status_code == 302  # revoked: back to login
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {users['kiosk']}"}).status_code == 401


def test_csrf_is_required_for_session_writes(app, users):
    c = As(app, "admin", users)
    body = {"employee_no": "E1", "name": "甲"}
    assert c.c.post("/api/v1/people", json=body).status_code == 403
    r = c.c.post("/api/v1/people", json=body, headers={"X-CSRF-Token": "wrong"})
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "csrf_failed"
    assert c.post("/api/v1/people", json=body).status_code == 201
    # a login form posted from elsewhere (no token) is refused too
    assert app.test_client().post("/login", data={"login": "u_admin", "password": PASSWORD}).status_code == 403


def test_login_is_rate_limited(app, users):
    c = app.test_client()
    token = csrf_from(c.get("/login").get_data(as_text=True))
    codes = [c.post("/login", data={"login": "u_admin", "password": "wrong", "csrf_token": token}).status_code
             for _ in range(6)]
    assert codes == [401] * 5 + [429]
    r = c.post("/login", data={"login": "u_admin", "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0  # even the right password waits


def test_limiter_window_table():
    now = [0.0]
    lim = auth.LoginLimiter(max_failures=2, window_s=60, clock=lambda: now[0])
    lim.failed("a", "sup")
    lim.check("a", "sup")
    lim.failed("a", "sup")
    with pytest.raises(Exception) as e:
        lim.check("a", "sup")
    assert e.value.retry_after == 61
    lim.check("b", "other")  # other clients and names unaffected
    now[0] = 60.0
    lim.check("a", "sup")  # the window has passed


def test_a_guesser_cannot_lock_a_named_user_out():
    """Failures from one address for a name stop that address, not the user at her own tablet: elsewhere she
    waits at most a growing delay (≤ 30 s), and not at all on a browser she has logged in from before."""
    now = [0.0]
    lim = auth.LoginLimiter(max_failures=5, window_s=300, clock=lambda: now[0])
    for _ in range(5):
        lim.failed("10.0.0.66", "sup")
    with pytest.raises(RateLimited):
        lim.check("10.0.0.66", "sup")           # the guesser's address is stopped for this name
    lim.check("10.0.0.9", "sup", known_device=True)  # her known tablet: no wait at all
    with pytest.raises(RateLimited) as e:
        lim.check("10.0.0.9", "sup")            # an unknown browser: a short delay, never the window
    assert e.value.retry_after <= 2
    now[0] += 2
    lim.check("10.0.0.9", "sup")
    # the delay grows but is capped
    for _ in range(20):
        lim.failed(f"10.0.1.{_}", "sup")
    with pytest.raises(RateLimited) as e:
        lim.check("10.0.0.9", "sup")
    assert e.value.retry_after <= auth.LoginLimiter.MAX_DELAY_S + 1


def test_a_success_does_not_forgive_the_address():
    """An attacker cannot reset the per-address count by logging in with his own account in between."""
    now = [0.0]
    lim = auth.LoginLimiter(max_failures=5, window_s=300, clock=lambda: now[0])
    names = [f"u{i}" for i in range(20)]
    for n in names:
        lim.failed("10.0.0.66", n)
    lim.succeeded("10.0.0.66", "mallory")
    with pytest.raises(RateLimited):
        lim.check("10.0.0.66", "someone-else")  # 20 failures from the address: refused for every name


def test_lockout_attack_through_the_login_form(app, users):
    attacker = app.test_client()
    attacker.environ_base["REMOTE_ADDR"] = "10.0.0.66"
    token = csrf_from(attacker.get("/login").get_data(as_text=True))
    for _ in range(8):
        attacker.post("/login", data={"login": "u_supervisor", "password": "wrong", "csrf_token": token})
    assert attacker.post("/login", data={"login": "u_supervisor", "password": PASSWORD,
                                         "csrf_token": token}).status_code == 429
    # the supervisor, on the tablet she used yesterday (a known browser), logs in at once
    tablet = app.test_client()
    tablet.environ_base["REMOTE_ADDR"] = "10.0.0.9"
    t = csrf_from(tablet.get("/login").get_data(as_text=True))
    r = tablet.post("/login", data={"login": "u_supervisor", "password": PASSWORD, "csrf_token": t})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) <= 31  # an unknown browser: a short delay
    tablet.set_cookie(KNOWN_COOKIE, _known_cookie(app, ["u_supervisor"]))
    r = tablet.post("/login", data={"login": "u_supervisor", "password": PASSWORD, "csrf_token": t})
    assert r.status_code == 302, r.status_code
    fails = [e for e in events.read_after(0, 500) if e.type == "auth.login_failed"]
    assert len(fails) == 5 and fails[0].payload  # the refused attempts write nothing == {"login": "u_supervisor", "address": "10.0.0.66"}


def _known_cookie(app, logins):
    from itsdangerous import URLSafeSerializer

    return URLSafeSerializer(app.secret_key, salt="known-device").dumps(logins)


def test_logout_ends_the_session_server_side(app, users):
    """A copy of the session cookie taken before logout reads and writes nothing afterwards."""
    sup = As(app, "supervisor", users)
    cookie = sup.c.get_cookie("sa_session").value
    assert sup.get("/api/v1/me").status_code == 200
    assert sup.post("/logout").status_code == 302
    thief = app.test_client()
    thief.set_cookie("sa_session", cookie)
    assert thief.get("/api/v1/me").status_code == 401


def test_sessions_end_when_user_is_deactivated_or_password_changes(app, users):
    admin = As(app, "admin", users)
    sup = As(app, "supervisor", users)
    assert sup.get("/api/v1/me").status_code == 200
    sup_id = auth.User.get(auth.User.login == "u_supervisor").id
    r = admin.patch(f"/api/v1/users/{sup_id}", json={"password": "another-pass-1"})
    assert r.status_code == 200
    assert sup.get("/api/v1/me").status_code == 401
    officer = As(app, "safety_officer", users)
    oid = auth.User.get(auth.User.login == "u_safety_officer").id
    admin.patch(f"/api/v1/users/{oid}", json={"active": False})
    assert officer.get("/api/v1/me").status_code == 401


def test_the_last_admin_cannot_be_removed(app, users):
    admin = As(app, "admin", users)
    aid = auth.User.get(auth.User.login == "u_admin").id
    r = admin.patch(f"/api/v1/users/{aid}", json={"role": "worker"})
    assert r.status_code == 409 and "last admin" in r.get_json()["error"]["messages"]["en"]


def test_passwords_are_hashed_and_never_in_events(app, users):
    u = auth.User.get(auth.User.login == "u_admin")
    assert PASSWORD not in u.password_hash and u.password_hash.startswith(("scrypt:", "pbkdf2:"))
    from appliance.core import events
    for ev in events.read_after(0, 1000):
        assert PASSWORD not in json.dumps(ev.payload) and "password_hash" not in ev.payload


def test_short_passwords_are_refused(app, users):
    admin = As(app, "admin", users)
    r = admin.post("/api/v1/users", json={"login": "new", "password": "short", "role": "worker"})
    assert r.status_code == 422 and r.get_json()["error"]["details"][0]["key"] == "password"


def test_workers_see_the_board_but_not_the_event_log(app, users, as_role):
    worker = as_role("worker")
    html = worker.get("/kiosk").get_data(as_text=True)
    assert 'id="floor-plan"' in html and 'id="feed"' not in html and 'data-live="0"' in html
    html = as_role("supervisor").get("/kiosk").get_data(as_text=True)
    assert 'id="feed"' in html and 'data-live="1"' in html


def test_token_login_keeps_other_query_arguments(app, users, client):
    r = client.get(f"/checkpoint/R1?token={users['kiosk']}&reader=x&_external=1")
    assert r.status_code == 302
    loc = r.headers["Location"]
    assert loc.startswith("/checkpoint/R1?") and "token" not in loc and "reader=x" in loc


def test_damaged_session_key_is_replaced(tmp_path):
    from appliance.core.web import secret_key

    (tmp_path / "secret_key").write_bytes(b"")
    key = secret_key(tmp_path)
    assert len(key) == 32 and secret_key(tmp_path) == key
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600



def test_session_key_comes_from_the_systemd_credential(tmp_path, monkeypatch):
    """With LoadCredential=session_key:... systemd sets $CREDENTIALS_DIRECTORY: that key signs the sessions and
    none is written in the data directory; a missing or short credential falls back to the data directory's."""
    from appliance.core.web import secret_key

    creds, data = tmp_path / "creds", tmp_path / "data"
    creds.mkdir()
    (creds / "session_key").write_text("ab" * 32 + "\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    assert secret_key(data) == b"ab" * 32
    assert not (data / "secret_key").exists()
    (creds / "session_key").write_text("short\n")
    fallback = secret_key(data)
    assert len(fallback) == 32 and (data / "secret_key").read_bytes() == fallback
    (creds / "session_key").unlink()
    assert secret_key(data) == fallback
    monkeypatch.delenv("CREDENTIALS_DIRECTORY")
    assert secret_key(data) == fallback

def test_passwords_are_hashed_at_full_cost_outside_the_tests():
    """The suite lowers the scrypt cost for speed (conftest.py); the appliance itself must not."""
    import subprocess
    import sys

    code = "from appliance.core import auth; h = auth.hash_password('x' * 12); print(h.split('$')[0])"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    method = r.stdout.strip()
    assert method.startswith("scrypt:") and int(method.split(":")[1]) >= 32768, method


def test_a_token_read_writes_nothing_and_its_last_use_is_written_by_the_job(app, users, client):
    """A kiosk token's "last used" is noted in memory and written once a minute by a job: 50 wall boards on
    one token each wrote the same row after every minute, and under an import those writes queued 5 s for
    the write lock with every page behind them (issue 14). The admin list shows the noted time at once."""
    auth.token_use.flush()   # what earlier tests in this process noted
    tok = auth.DeviceToken.get(auth.DeviceToken.name == "test-wall")
    auth.DeviceToken.update(last_used_at=None).where(auth.DeviceToken.id == tok.id).execute()
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {users['kiosk']}"}).status_code == 200
    assert auth.DeviceToken.get_by_id(tok.id).last_used_at is None   # the read wrote nothing
    assert auth.token_use.last(tok.id, None) is not None            # what the admin list shows meanwhile
    assert auth.token_use.flush() == 1
    assert auth.DeviceToken.get_by_id(tok.id).last_used_at is not None
    assert auth.token_use.flush() == 0


def test_a_token_use_noted_for_one_database_is_not_another_databases(app, users, client, tmp_path):
    """Token ids start again at 1 in another database (a restore; the next appliance in a test process): a
    use noted for the old file must neither show as the new token's last use nor be written into it."""
    from appliance.core import db

    tok = auth.DeviceToken.get(auth.DeviceToken.name == "test-wall")
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {users['kiosk']}"}).status_code == 200
    old = db.database.database
    db.database.close()
    db.migrate(tmp_path / "other.db", tmp_path / "backups")
    db.open_database(tmp_path / "other.db")
    try:
        assert auth.token_use.last(tok.id, None) is None
        assert auth.token_use.flush() == 0
    finally:
        db.database.close()
        db.open_database(old)


def test_the_plain_sql_lookups_say_what_the_models_say(app, users):
    """The per-request token lookup and the live streams' heartbeat checks run as plain SQL (issue 14: peewee
    built their SQL anew each time, 20x the query): a standing token gives its row, a revoked or unknown one
    nothing; an active account gives its role, a deactivated or unknown one none."""
    tok = auth.DeviceToken.get(auth.DeviceToken.name == "test-wall")
    t = auth.device_for_token(users["kiosk"])
    assert t is not None and (t.id, t.name, t.role, t.created_at) == (tok.id, tok.name, tok.role, tok.created_at)
    assert auth.token_active(tok.id) is True
    assert auth.device_for_token("forged-token") is None and auth.token_active(10_000) is False
    u = auth.User.get(auth.User.login == "u_supervisor")
    assert auth.active_role(u.id) == "supervisor" and auth.active_role(10_000) is None
    auth.User.update(active=False).where(auth.User.id == u.id).execute()
    assert auth.active_role(u.id) is None
    auth.revoke_device_token(tok.id, actor="test")
    assert auth.token_active(tok.id) is False and auth.device_for_token(users["kiosk"]) is None
