"""The command line: every command has help and is in the README; each works on a real data directory."""
from __future__ import annotations

import argparse
import json
import re
import sqlite3

import pytest

from appliance.cli import build_parser
from conftest import ROOT, run_cli, write_config


def _commands() -> list[list[str]]:
    """Every command path, e.g. ["demo"], ["audit", "verify"]."""
    out = []

    def walk(parser, prefix):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    if any(isinstance(a, argparse._SubParsersAction) for a in sub._actions):
                        walk(sub, prefix + [name])
                    else:
                        out.append(prefix + [name])

    walk(build_parser(), [])
    return out


def test_the_contract_commands_exist():
    names = {" ".join(c) for c in _commands()}
    assert {"demo", "run", "check-config", "init-db", "create-user", "export", "backup", "audit verify"} <= names


@pytest.mark.parametrize("command", _commands(), ids=" ".join)
def test_every_command_has_help_and_is_in_the_readme(command):
    r = run_cli(*command, "--help")
    assert r.returncode == 0 and "usage: safety-appliance " + " ".join(command) in r.stdout
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"safety-appliance {' '.join(command)}" in readme


def test_python_dash_m_and_version():
    r = run_cli("--version")
    assert r.returncode == 0 and "safety-appliance" in r.stdout


@pytest.fixture
def cfg(tmp_path):
    return str(write_config(tmp_path / "d"))


def test_init_create_export_backup_verify(cfg, tmp_path):
    r = run_cli("init-db", "--config", cfg)
    from appliance.core.db import migrations
    assert r.returncode == 0 and f"schema v{len(migrations())}" in r.stdout, r.stderr
    r = run_cli("create-user", "--config", cfg, "--login", "boss", "--role", "admin", "--name", "厂长",
                "--password-stdin", input="long-enough-pw\n")
    assert r.returncode == 0 and "boss" in r.stdout, r.stderr
    r = run_cli("create-user", "--config", cfg, "--login", "boss", "--role", "admin", "--password-stdin",
                input="long-enough-pw\n")
    assert r.returncode == 1 and "login already exists: boss" in r.stderr and "Traceback" not in r.stderr
    r = run_cli("create-user", "--config", cfg, "--login", "xy", "--role", "worker", "--password-stdin", input="short\n")
    assert r.returncode == 1 and "password" in r.stderr
    r = run_cli("create-user", "--config", cfg, "--login", "bad login!", "--role", "worker", "--password-stdin",
                input="long-enough-pw\n")
    assert r.returncode == 2 and "login" in r.stderr and "Traceback" not in r.stderr
    r = run_cli("create-token", "--config", cfg, "--name", "wall")
    token = r.stdout.strip()
    assert r.returncode == 0 and len(token) >= 30 and "/kiosk?token=" in r.stderr

    r = run_cli("export", "--config", cfg, "--list")
    assert {"events", "people", "users", "device_tokens", "areas", "badges", "site"} <= set(r.stdout.split())
    r = run_cli("export", "--config", cfg, "users", "--format", "json")
    users = json.loads(r.stdout)
    assert users[0]["login"] == "boss" and users[0]["display_name"] == "厂长" and "password_hash" not in users[0]
    out = tmp_path / "events.csv"
    r = run_cli("export", "--config", cfg, "events", "--output", str(out))
    assert r.returncode == 0 and out.read_text(encoding="utf-8").splitlines()[0].startswith("seq,id,type")
    r = run_cli("export", "--config", cfg, "nope")
    assert r.returncode == 1 and "no such table: nope" in r.stderr

    dest = tmp_path / "b.db"
    r = run_cli("backup", "--config", cfg, "--output", str(dest))
    assert r.returncode == 0 and dest.exists()
    conn = sqlite3.connect(dest)
    assert conn.execute("SELECT login FROM users").fetchall() == [("boss",)]
    conn.close()
    r = run_cli("audit", "verify", "--config", cfg)
    assert r.returncode == 0 and "intact" in r.stdout


def test_commands_on_a_missing_database_say_so(cfg):
    r = run_cli("backup", "--config", cfg)
    assert r.returncode == 1 and "database does not exist" in r.stderr
    r = run_cli("audit", "verify", "--config", cfg)
    assert r.returncode == 2 and "database does not exist" in r.stderr


def test_missing_config_file_is_a_clear_error(tmp_path):
    r = run_cli("init-db", "--config", str(tmp_path / "none.toml"))
    assert r.returncode == 2 and "config file not found" in r.stderr and "找不到配置文件" in r.stderr


def test_backup_then_restore_end_to_end(cfg, tmp_path):
    """Backup, more records, restore: the database is the backup again (chain intact), the newer one is kept
    aside; a damaged or tampered backup is refused and changes nothing; a running appliance is refused."""
    assert run_cli("init-db", "--config", cfg).returncode == 0
    assert run_cli("create-user", "--config", cfg, "--login", "boss", "--role", "admin", "--password-stdin",
                   input="long-enough-pw\n").returncode == 0
    good = tmp_path / "good.db"
    assert run_cli("backup", "--config", cfg, "--output", str(good)).returncode == 0
    assert run_cli("create-user", "--config", cfg, "--login", "later", "--role", "worker", "--password-stdin",
                   input="long-enough-pw\n").returncode == 0
    data = tmp_path / "d"

    def logins(path):
        conn = sqlite3.connect(path)
        try:
            return sorted(r[0] for r in conn.execute("SELECT login FROM users"))
        finally:
            conn.close()

    assert logins(data / "appliance.db") == ["boss", "later"]
    # a damaged file and a tampered log are refused before anything is touched
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"SQLite format 3\0" + b"\x00" * 100)
    r = run_cli("restore", str(bad), "--config", cfg)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    tampered = tmp_path / "tampered.db"
    tampered.write_bytes(good.read_bytes())
    conn = sqlite3.connect(tampered)
    conn.execute("DROP TRIGGER IF EXISTS events_no_update")
    conn.execute("UPDATE events SET actor = 'user:x' WHERE seq = 1")
    conn.commit()
    conn.close()
    r = run_cli("restore", str(tampered), "--config", cfg)
    assert r.returncode == 1 and "seq 1" in r.stderr
    assert logins(data / "appliance.db") == ["boss", "later"]

    r = run_cli("restore", str(good), "--config", cfg)
    assert r.returncode == 0, r.stderr
    assert logins(data / "appliance.db") == ["boss"]
    kept = list((data / "backups").glob("before-restore-*.db"))
    assert len(kept) == 1 and logins(kept[0]) == ["boss", "later"]
    r = run_cli("audit", "verify", "--full", "--config", cfg)
    assert r.returncode == 0 and "intact" in r.stdout


def test_restore_refuses_while_the_appliance_runs(tmp_path):
    import socket

    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        cfg = str(write_config(tmp_path / "d", port=srv.getsockname()[1]))
        r = run_cli("restore", str(tmp_path / "x.db"), "--config", cfg)
    assert r.returncode == 2 and "stop it first" in r.stderr


def test_tls_makes_the_ca_once_and_prints_its_fingerprint(tmp_path):
    """`tls` (first boot of a Pi image runs it): the CA and server certificate as the service makes them,
    the CA's fingerprint and the setup URLs; a second run keeps the same CA."""
    path = write_config(tmp_path / "d")
    path.write_text(path.read_text(encoding="utf-8").replace("tls = false", "tls = true\ntls_port = 8443"),
                    encoding="utf-8")
    r = run_cli("tls", "--config", str(path), "--json")
    assert r.returncode == 0, r.stderr
    first = json.loads(r.stdout)
    assert re.fullmatch(r"([0-9A-F]{2}:){31}[0-9A-F]{2}", first["fingerprint"]) and first["made"], first
    assert all(u.startswith("https://") and u.endswith(":8443/") and "127.0.0.1" not in u for u in first["urls"])
    tls_dir = tmp_path / "d" / "tls"
    assert {p.name for p in tls_dir.iterdir()} == {"ca.crt", "ca.key", "server.crt", "server.key"}
    assert (tls_dir / "ca.key").stat().st_mode & 0o777 == 0o600
    r = run_cli("tls", "--config", str(path))
    assert r.returncode == 0 and f"CA fingerprint (SHA-256): {first['fingerprint']}" in r.stdout, r.stdout + r.stderr
