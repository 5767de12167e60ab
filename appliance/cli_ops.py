"""Operating commands of `safety-appliance` (wired in appliance/cli.py): backups to a second device and their
restore, `update` and `rollback` between releases installed side by side, `tls` (the HTTPS CA that a box's first
boot makes and shows), and the refusal to work on the service's data as root."""
from __future__ import annotations

import json
import os
import shlex
import shutil
import sys
from pathlib import Path

# commands that open or write the service's data directory: as root they would leave root-owned files there
# (a root-created database makes the service crash-loop on "attempt to write a readonly database")
DATA_COMMANDS = {"run", "init-db", "create-user", "create-token", "export", "backup", "restore", "import-register",
                 "create-station", "audit", "forecast", "sync-now", "sync-dry-run", "tls"}


def add_parsers(sub, config_arg) -> None:
    from appliance.core import releases

    p = sub.add_parser("update", help="install a release bundle beside the running one and switch to it",
                       description="Install BUNDLE (a wheel or sdist of this project, or a folder holding one and "
                                   "constraints.txt and any wheels it needs) into <root>/releases/<version>/ as a new "
                                   "venv, back the database up, then switch <root>/current to it. Restart the service "
                                   "afterwards: systemctl restart safety-appliance.")
    p.add_argument("bundle", metavar="BUNDLE")
    p.add_argument("--root", default=os.environ.get("SAFETY_APPLIANCE_ROOT", releases.DEFAULT_ROOT),
                   help=f"install root (default: $SAFETY_APPLIANCE_ROOT or {releases.DEFAULT_ROOT})")
    p.add_argument("--system-site-packages", action="store_true",
                   help="let the new venv see the system's packages (Debian's picamera2 on a Pi)")
    config_arg(p)

    p = sub.add_parser("rollback", help="switch back to the release before the last update",
                       description="Point <root>/current at the previous release again; when the update had "
                                   "migrated the database, put the backup taken before it back (the newer database "
                                   "is kept beside it). Stop the service first: systemctl stop safety-appliance.")
    p.add_argument("--root", default=os.environ.get("SAFETY_APPLIANCE_ROOT", releases.DEFAULT_ROOT),
                   help=f"install root (default: $SAFETY_APPLIANCE_ROOT or {releases.DEFAULT_ROOT})")
    config_arg(p)

    p = sub.add_parser("tls", help="make the HTTPS CA and certificate if missing; print the CA fingerprint and setup URLs",
                       description="Make the appliance's own CA and server certificate (<data_dir>/tls/) when they are "
                                   "missing or the LAN names changed, as the service does at start, then print the CA's "
                                   "SHA-256 fingerprint and the setup address for each LAN address (first boot shows "
                                   "them on the console).")
    config_arg(p)
    p.add_argument("--json", action="store_true", help='print {"fingerprint", "urls", "made"} as one JSON object')


def _command_line(args, argv: list[str]) -> str:
    """The command the user ran, as it must be typed under sudo (which drops $SAFETY_APPLIANCE_CONFIG)."""
    # an absolute path: sudo's secure_path does not hold the venv's bin folder
    prog = sys.argv[0]
    if not (os.path.isabs(prog) and os.path.basename(prog) == "safety-appliance"):
        prog = shutil.which("safety-appliance") or f"{sys.executable} -m appliance"
    words = list(argv)
    if getattr(args, "config", None) and not any(w in ("--config", "-c") or w.startswith("--config=") for w in words):
        words += ["--config", str(Path(args.config).resolve())]
    return " ".join([prog, *(shlex.quote(w) for w in words)])


def refuse_root(args, argv: list[str]) -> int | None:
    """As root against a data directory that another user owns (the service's): print the exact command to use
    instead and return 2; None when the command may go on."""
    if os.geteuid() != 0 or args.command not in DATA_COMMANDS or getattr(args, "synthetic", False):
        return None
    try:
        from appliance.config import load_config

        data_dir = load_config(args.config).storage.data_dir
        owner = data_dir.stat().st_uid
    except Exception:  # no config, no data yet: the command itself says what is wrong
        return None
    if owner == 0:
        return None
    import pwd

    try:
        user = pwd.getpwuid(owner).pw_name
    except KeyError:
        user = f"#{owner}"
    print(f"错误 / error: 请勿以 root 身份操作服务的数据（{data_dir} 属于 {user}），否则服务将无法写入数据库 / "
          f"do not run this as root against the service's data ({data_dir} belongs to {user}): files root creates "
          f"there stop the service (\"readonly database\"). Run instead:\n"
          f"  sudo -u {shlex.quote(user)} {_command_line(args, argv)}", file=sys.stderr)
    return 2


def backup_to(cfg, to: Path, keep: int | None) -> int:
    from appliance.core import backup

    try:
        s = backup.write(cfg, to, keep or cfg.backup.keep, cfg.backup.require_other_device)
    except backup.BackupError as exc:
        print(f"错误 / error: {exc.bilingual()}", file=sys.stderr)
        return 1
    print(f"已备份 / backed up to {s['path']}: {s['files']} files, {s['bytes'] / 2**20:.1f} MB in {s['seconds']} s"
          + (f"; removed {len(s['pruned'])} older" if s["pruned"] else ""))
    return 0


def restore_folder(cfg, folder: Path) -> int:
    from appliance.core import backup, events
    from appliance.core.errors import ChainBroken, DatabaseError

    try:
        r = backup.restore(folder, cfg, events.verify_chain)
    except (backup.BackupError, DatabaseError, ChainBroken) as exc:
        print(f"错误 / error: {exc.bilingual()}", file=sys.stderr)
        return 1
    print(f"已恢复 / restored {folder} (made {r['created_at']}, {r['event_head']} events, schema "
          f"v{r['schema_version']}) → {cfg.storage.data_dir}; {r['files_restored']} files put back"
          + (f"; 原数据库保存在 / the previous database is kept at {r['kept']}" if r["kept"] else ""))
    return 0


def cmd_update(args) -> int:
    from appliance.core import releases

    cfg = _config_or_none(args.config)
    try:
        r = releases.update(Path(args.bundle), Path(args.root), cfg, system_site_packages=args.system_site_packages)
    except OSError as exc:
        print(f"错误 / error: {exc} (sudo?)", file=sys.stderr)
        return 1
    print(f"已安装并切换到 / installed and switched to {r['version']} ({r['path']}); previous: "
          f"{r['previous'] or 'none'}; database backup: {r['db_backup'] or 'none'}. "
          "Restart the service: sudo systemctl restart safety-appliance")
    return 0


def cmd_rollback(args) -> int:
    from appliance.core import releases

    cfg = _config_or_none(args.config)
    if cfg is not None and _service_running(cfg):
        print(f"设备正在运行（端口 {cfg.web.port}），请先停止服务 / the appliance is running on port {cfg.web.port}; "
              "stop it first: sudo systemctl stop safety-appliance", file=sys.stderr)
        return 2
    r = releases.rollback(Path(args.root), cfg)
    print(f"已回退到 / rolled back to {r['version']} (from {r['from']})"
          + (f"; database restored from {r['db_restored']} (the newer one kept at {r['db_kept']})"
             if r["db_restored"] else "; database unchanged")
          + ". Start the service: sudo systemctl start safety-appliance")
    return 0


def _service_running(cfg) -> bool:
    """The appliance answers on its port: its database must not be swapped under it."""
    import socket

    host = "127.0.0.1" if cfg.web.host in ("0.0.0.0", "::", "") else cfg.web.host
    with socket.socket() as s:
        s.settimeout(0.5)
        return bool(cfg.web.port) and s.connect_ex((host, cfg.web.port)) == 0


def _config_or_none(path: str):
    """The config when its file exists (the database is then backed up or restored); None on a box without one."""
    if not Path(path).exists():
        return None
    from appliance.config import load_config

    return load_config(path)


def cmd_tls(args) -> int:
    from appliance.config import load_config
    from appliance.core import tls

    cfg = load_config(args.config)
    paths = tls.paths_for(cfg)
    made = None
    dns, ips = tls.lan_names(cfg)
    if cfg.web.tls:
        made = tls.ensure(paths, dns, ips, f"Safety appliance CA ({cfg.site.appliance_id})")
    fp = tls.ca_fingerprint(paths) if cfg.web.tls else None
    if cfg.web.tls:
        urls = [f"https://{a if ':' not in a else f'[{a}]'}:{cfg.web.tls_port}/" for a in ips if not a.startswith("127.")]
    else:
        urls = [f"http://{a if ':' not in a else f'[{a}]'}:{cfg.web.port}/" for a in ips if not a.startswith("127.")]
    if args.json:
        print(json.dumps({"fingerprint": fp, "urls": urls, "made": made}))
        return 0
    for u in urls or ["(no LAN address yet / 尚无局域网地址)"]:
        print(f"设置地址 / setup URL: {u}")
    print(f"CA 指纹 / CA fingerprint (SHA-256): {fp or '-'}")
    return 0


HANDLERS = {"update": cmd_update, "rollback": cmd_rollback, "tls": cmd_tls}
