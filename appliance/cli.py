"""`safety-appliance` (also `python -m appliance`): every command has --help and is listed in README.md.

Exit codes: 0 done, 1 the check or operation failed (e.g. a broken audit chain), 2 bad usage or config.
"""
from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import time
from pathlib import Path

from pydantic import ValidationError

from appliance import __version__
from appliance.cli_demo import cmd_demo
from appliance.core.errors import ApplianceError

DEFAULT_CONFIG = "/etc/safety-appliance/appliance.toml"


def _config_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", "-c", default=os.environ.get("SAFETY_APPLIANCE_CONFIG", DEFAULT_CONFIG),
                   help=f"配置文件 / config file (default: $SAFETY_APPLIANCE_CONFIG or {DEFAULT_CONFIG})")


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="safety-appliance",
                                 description="安全生产管理系统边缘设备 / plant work-safety appliance")
    ap.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("demo", help="run the appliance on a demo plant with simulated devices",
                       description="Write a demo config and plant into DIR, then run the appliance and open the kiosk.")
    p.add_argument("--port", type=int, default=8080, help="web port (default 8080)")
    p.add_argument("--host", default="0.0.0.0", help="address to listen on (default 0.0.0.0)")
    p.add_argument("--data", default="var", help="data directory (default ./var)")
    p.add_argument("--no-browser", action="store_true", help="do not open the kiosk in a browser")
    p.add_argument("--scenario", choices=["gas-leak"], help="play a scenario on the simulated devices "
                   "(gas-leak: methane at the tank farm rises to level 1, level 2, past full scale, and clears, every 90 s)")
    p.add_argument("--scenario-speed", type=float, default=1.0, metavar="X",
                   help="play the scenario X times faster (tests use 4)")
    p.add_argument("--no-devices", action="store_true", help="run without the simulated gas controller")
    p.add_argument("--no-receiver", action="store_true", help="run without the demo sync receiver")

    p = sub.add_parser("run", help="run the appliance with a config file",
                       description="Start the web server, scheduler, drivers and mDNS; stop cleanly on SIGTERM.")
    _config_arg(p)

    p = sub.add_parser("check-config", help="validate a config file offline",
                       description="Parse and validate FILE; print every bad key in zh-CN and en.")
    p.add_argument("file", help="TOML config file")

    p = sub.add_parser("init-db", help="create or migrate the database",
                       description="Apply pending migrations (after a backup copy) and set up the site row.")
    _config_arg(p)

    p = sub.add_parser("create-user", help="add a user who logs in on a tablet or the admin page",
                       description="Create a user; the password is asked for, or read from stdin with --password-stdin.")
    _config_arg(p)
    p.add_argument("--login", required=True)
    p.add_argument("--role", required=True, choices=["admin", "safety_officer", "supervisor", "worker"])
    p.add_argument("--name", default="", help="display name")
    p.add_argument("--password-stdin", action="store_true", help="read the password from standard input")

    p = sub.add_parser("create-token", help="make a read-only device token for a kiosk screen",
                       description="Create a kiosk device token; it is printed once and only its hash is stored.")
    _config_arg(p)
    p.add_argument("--name", required=True, help="device name, e.g. control-room-wall")

    p = sub.add_parser("export", help="export a table as CSV or JSON",
                       description="Write every row of TABLE (secret columns left out); --list shows the tables.")
    _config_arg(p)
    p.add_argument("table", nargs="?", help="table name, e.g. events, people")
    p.add_argument("--format", "-f", choices=["csv", "json"], default="csv")
    p.add_argument("--output", "-o", help="file to write (default: standard output)")
    p.add_argument("--list", action="store_true", help="list the tables")

    p = sub.add_parser("backup", help="consistent online backup of the database (--to: with the photos, to a USB stick)",
                       description="Copy the live database with SQLite's online backup API. With --to DIR (a mounted "
                                   "USB stick or network share): one folder with the database, the photos, training "
                                   "media and vision snapshots and a manifest of SHA-256 sums, keeping the newest "
                                   "[backup] keep.")
    _config_arg(p)
    p.add_argument("--output", "-o", help="backup file (default: <data_dir>/backups/backup-<time>.db)")
    p.add_argument("--to", metavar="DIR", help="a second device: database and files, verifiable (MANIFEST.json)")
    p.add_argument("--keep", type=int, help="with --to: backups kept on the device (default: [backup] keep)")
    p.add_argument("--step-pages", type=int, default=None, metavar="N",
                   help="pages copied (and flushed) per step while the appliance runs (default 2048 = 8 MiB; "
                        "0: the whole file in one step, fastest with the service stopped)")

    p = sub.add_parser("restore", help="put a backup in place of the database (the service must be stopped)",
                       description="Check BACKUP (integrity and the event log's hash chain), keep the current "
                                   "database in <data_dir>/backups/before-restore-<time>.db, then replace it. Stop "
                                   "the service first: systemctl stop safety-appliance.")
    p.add_argument("backup_file", metavar="BACKUP", help="a file made by `safety-appliance backup`, or a folder made "
                   "by `backup --to` (every file checked against its manifest; the photos put back too)")
    _config_arg(p)

    p = sub.add_parser("import-register", help="import the risk register from a spreadsheet (XLSX or CSV)",
                       description="Check FILE (one row per control measure; see the template on /tablet/risks) and "
                                   "import it all in one transaction, or nothing. --dry-run only reports. Exit 1 "
                                   "when a row is bad.")
    _config_arg(p)
    p.add_argument("file", help="XLSX or CSV file (UTF-8 or GB18030)")
    p.add_argument("--dry-run", action="store_true", help="check and report what would change; write nothing")

    p = sub.add_parser("reader", help="run a satellite reader station at a far checkpoint",
                       description="Read badges locally, store each tap durably, post them signed to the appliance "
                                   "(found by mDNS or [station] appliance_url); keeps taps while the LAN is down.")
    p.add_argument("--config", "-c", required=True, help="station config file ([station] and [[readers]])")

    p = sub.add_parser("create-station", help="register a satellite reader station and print its key",
                       description="Register a station on this appliance; its HMAC key is printed once.")
    p.add_argument("name", help="station name, as in the station's [station] name")
    p.add_argument("--reader", action="append", required=True, dest="readers",
                   help="a reader name the station may post taps for (as in its [[readers]]); repeat for more")
    _config_arg(p)

    p = sub.add_parser("audit", help="audit-trail commands", description="Audit-trail commands.")
    asub = p.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    v = asub.add_parser("verify", help="verify the event log's hash chain",
                        description="Walk the event log from the last verified checkpoint (the whole log with "
                                    "--full); name the first bad seq. Exit 1 when broken.")
    v.add_argument("--full", action="store_true",
                   help="walk the whole log from the first event (also finds a row edited in place before the "
                        "checkpoint, which the incremental walk cannot see)")
    _config_arg(v)

    p = sub.add_parser("forecast", help="hazard hot-spot forecast commands", description="Hazard forecast commands.")
    f = p.add_subparsers(dest="forecast_command", metavar="ACTION", required=True).add_parser(
        "backtest", help="rolling-origin scores of the forecast model and the naive baselines",
        description="Predict each of the last N weeks from the weeks before it; print Poisson NLL, MAE and top-10 "
                    "capture for the model, last week and the all-time average.")
    f.add_argument("--weeks", type=int, default=12, help="weeks to backtest (default 12)")
    f.add_argument("--history", type=int, default=52, help="weeks of history read (default 52)")
    f.add_argument("--synthetic", action="store_true", help="use a generated synthetic history, not the database")
    f.add_argument("--seed", type=int, default=22, help="seed of the synthetic history (default 22)")
    f.add_argument("--json", action="store_true", help="print the scores as one JSON object")
    _config_arg(f)

    from appliance.cli_sync import add_parsers as add_sync_parsers  # sync-now, sync-dry-run, receiver
    add_sync_parsers(sub, _config_arg)
    from appliance.cli_ops import add_parsers as add_ops_parsers  # update, rollback, tls
    add_ops_parsers(sub, _config_arg)
    p = sub.add_parser("vision", help="PPE (hard-hat) detector on image files", description="PPE detector commands.")
    vsub = p.add_subparsers(dest="vision_command", metavar="ACTION", required=True)
    v = vsub.add_parser("detect", help="detect no_hardhat / hardhat heads in images",
                        description="Run the detector on each image; boxes in pixels of the original image, at "
                                    "the configured thresholds. A file that is not an image: error line, exit 1.")
    v.add_argument("paths", nargs="+", metavar="PATH", help="image files")
    v.add_argument("--json", action="store_true", help="one JSON object per image and line (the contract)")
    _vision_args(v)
    v = vsub.add_parser("eval", help="precision, recall and AP@0.5 per class on a YOLO-labelled folder",
                        description="Score the detector on DIR/images against DIR/labels (YOLO: class cx cy w h; "
                                    "class ids are the model's class order; labels of ids past the model's "
                                    "classes, such as the hard-hat sets' 2 = person, are counted, not scored).")
    v.add_argument("dir", help="folder with images/ and labels/")
    v.add_argument("--json", action="store_true", help="print the report as one JSON object")
    v.add_argument("--iou", type=float, default=0.5, help="IoU for a match (default 0.5)")
    v.add_argument("--sweep", action="store_true", help="also precision/recall at thresholds 0.10, 0.15 … 0.90")
    _vision_args(v)
    return ap


def _vision_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", "-c", help="config file whose [vision.model] is used (default: "
                   f"$SAFETY_APPLIANCE_CONFIG or {DEFAULT_CONFIG} if present, else the shipped model's defaults)")
    p.add_argument("--model", help="a .tflite file instead of the configured one")
    p.add_argument("--threads", type=int, help="interpreter threads (default: the config's num_threads)")


def _load(args):
    from appliance.config import load_config

    return load_config(args.config)


def _open(config):
    from appliance import domains
    from appliance.core import db

    domains.load()  # their migrations, permissions and safety lanes

    db.migrate(config.storage.db_path, config.storage.backup_dir, busy_timeout_ms=config.storage.busy_timeout_ms)
    db.open_database(config.storage.db_path, config.storage.busy_timeout_ms)


def cmd_check_config(args) -> int:
    from appliance.config import load_config

    cfg = load_config(args.file)
    print(f"配置有效 / config is valid: {args.file} (site {cfg.site.appliance_id}, data {cfg.storage.data_dir})")
    return 0


def cmd_init_db(args) -> int:
    from appliance import domains
    from appliance.core import db
    from appliance.core.people import Site, set_site

    cfg = _load(args)
    domains.load()
    applied = db.migrate(cfg.storage.db_path, cfg.storage.backup_dir, busy_timeout_ms=cfg.storage.busy_timeout_ms)
    db.open_database(cfg.storage.db_path, cfg.storage.busy_timeout_ms)
    if Site.get_or_none(Site.id == 1) is None:
        set_site(cfg.site.name, cfg.site.name_en, cfg.site.timezone, 1600, 900, actor="system:cli")
    print(f"数据库就绪 / database ready: {cfg.storage.db_path} "
          f"(schema v{db.schema_version(cfg.storage.db_path)}, applied: {', '.join(applied) or 'none'})")
    return 0


def cmd_create_user(args) -> int:
    from appliance.core import auth

    cfg = _load(args)
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("密码 / password: ")
        if getpass.getpass("再次输入 / again: ") != password:
            print("两次输入的密码不一致 / the passwords differ", file=sys.stderr)
            return 2
    _open(cfg)
    u = auth.create_user(auth.UserIn(login=args.login, password=password, role=args.role, display_name=args.name),
                         actor="system:cli", min_password_length=cfg.auth.min_password_length)
    print(f"已创建用户 / created user {u.login} ({u.role})")
    return 0


def cmd_create_token(args) -> int:
    from appliance.core import auth

    cfg = _load(args)
    _open(cfg)
    token = auth.create_device_token(args.name, actor="system:cli")
    print(token)
    base = f"https://<appliance>:{cfg.web.tls_port}" if cfg.web.tls else f"http://<appliance>:{cfg.web.port}"
    print(f"# 大屏地址 / kiosk URL: {base}/kiosk?token={token}", file=sys.stderr)
    return 0


def cmd_export(args) -> int:
    from appliance.core import db

    cfg = _load(args)
    if args.list or not args.table:
        for t in db.tables(cfg.storage.db_path):
            print(t)
        return 0
    if args.output:
        tmp = Path(args.output + ".partial")
        with open(tmp, "w", encoding="utf-8", newline="") as fh:
            n = db.export_table(cfg.storage.db_path, args.table, args.format, fh)
        tmp.replace(args.output)
        print(f"已导出 / exported {n} rows of {args.table} to {args.output}", file=sys.stderr)
    else:
        db.export_table(cfg.storage.db_path, args.table, args.format, sys.stdout)
    return 0


def cmd_backup(args) -> int:
    from appliance.core import db

    # below the running appliance in the CPU queue: a backup of a year's database copies for seconds on a
    # 2-core box, and the web's and the alarm path's threads go first (bench/load.py maintenance, issue 14)
    try:
        os.nice(10)
    except OSError:
        pass
    cfg = _load(args)
    if args.to:
        from appliance import cli_ops

        return cli_ops.backup_to(cfg, Path(args.to), args.keep)
    dest = Path(args.output) if args.output else \
        cfg.storage.backup_dir / f"backup-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.db"
    db.backup(cfg.storage.db_path, dest, step_pages=db.STEP_PAGES if args.step_pages is None else args.step_pages)
    print(f"已备份 / backed up to {dest} ({dest.stat().st_size} bytes)")
    return 0


def cmd_restore(args) -> int:
    import socket

    from appliance.core import db, events
    from appliance.core.errors import ChainBroken, DatabaseError

    cfg = _load(args)
    host = "127.0.0.1" if cfg.web.host in ("0.0.0.0", "::", "") else cfg.web.host
    with socket.socket() as s:   # the running appliance answers on its port: never swap its file under it
        s.settimeout(0.5)
        if cfg.web.port and s.connect_ex((host, cfg.web.port)) == 0:
            print(f"设备正在运行（端口 {cfg.web.port}），请先停止服务 / the appliance is running on port {cfg.web.port}; "
                  "stop it first: sudo systemctl stop safety-appliance", file=sys.stderr)
            return 2
    if Path(args.backup_file).is_dir():
        from appliance import cli_ops

        return cli_ops.restore_folder(cfg, Path(args.backup_file))
    try:
        kept = db.restore(args.backup_file, cfg.storage.db_path, cfg.storage.backup_dir, events.verify_chain)
    except (DatabaseError, ChainBroken) as exc:
        print(exc.bilingual(), file=sys.stderr)
        return 1
    print(f"已恢复 / restored {args.backup_file} → {cfg.storage.db_path}"
          + (f"; 原数据库保存在 / the previous database is kept at {kept}" if kept else ""))
    return 0


def cmd_forecast(args) -> int:
    import json

    from appliance.cockpit import backtest

    if not args.synthetic:
        _open(_load(args))
    result = backtest.run(args.weeks, args.history, synthetic=args.synthetic, seed=args.seed)
    print(json.dumps(result, ensure_ascii=False) if args.json else backtest.text(result))
    return 0


def cmd_audit_verify(args) -> int:
    from appliance.core import db, events
    from appliance.core.errors import ChainBroken

    cfg = _load(args)
    if not cfg.storage.db_path.exists():
        print(f"数据库不存在 / database does not exist: {cfg.storage.db_path}", file=sys.stderr)
        return 2
    # the last verified (seq, hash): the next run walks only what came after it (a nightly run over a growing
    # log stays short); --full walks everything
    ckpt_path = cfg.storage.data_dir / "audit-checkpoint.json"
    start = None
    if not args.full and ckpt_path.exists():
        try:
            c = json.loads(ckpt_path.read_text(encoding="utf-8"))
            start = (int(c["seq"]), str(c["hash"]))
        except (ValueError, KeyError, TypeError):
            start = None  # an unreadable checkpoint: walk everything
    conn = db.connect_raw(cfg.storage.db_path)
    try:
        n = events.verify_chain(conn, start=start)
        row = conn.execute("SELECT hash FROM events WHERE seq = ?", (n,)).fetchone()
    except ChainBroken as exc:
        print(exc.bilingual(), file=sys.stderr)
        print(f"first_bad_seq={exc.seq}")
        return 1
    finally:
        conn.close()
    if row is not None:
        tmp = ckpt_path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"seq": n, "hash": row[0], "at": int(time.time() * 1000)}), encoding="utf-8")
        os.replace(tmp, ckpt_path)
    since = f" (from checkpoint {start[0]})" if start else ""
    print(f"审计链完好 / audit chain intact: {n} events{since}")
    return 0


def cmd_import_register(args) -> int:
    from appliance.risk import importer as RI

    cfg = _load(args)
    try:
        data = Path(args.file).read_bytes()
    except OSError as exc:
        print(f"错误 / error: 无法读取文件 / cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 2
    _open(cfg)
    try:
        report = RI.import_register(data, actor="system:cli", dry_run=args.dry_run, filename=Path(args.file).name)
    except RI.RegisterRowsInvalid as exc:
        report = {"errors": exc.details, "ok": False}
    for e in report["errors"]:
        col = f" [{e['column_zh']} / {e['column_en']}]" if e["column"] else ""
        print(f"第 {e['row']} 行 / row {e['row']}{col}: {e['zh']} / {e['en']}", file=sys.stderr)
    if not report["ok"]:
        print(f"{len(report['errors'])} 处错误，未导入 / {len(report['errors'])} errors; nothing imported", file=sys.stderr)
        return 1
    verb = "将会 / would be" if args.dry_run else "已 / were"
    for kind, c in report["summary"].items():
        print(f"{kind}: {verb} created {c['created']}, updated {c['updated']}; unchanged {c['unchanged']}")
    print(f"{'检查通过（未写入）/ checked, nothing written' if args.dry_run else '已导入 / imported'}: "
          f"{report['rows']} rows of {args.file}")
    return 0


def cmd_run(args) -> int:
    from appliance.service import run

    return run(_load(args))


def cmd_reader(args) -> int:
    from appliance.core import logs
    from satellite.station import Station, load_station_config

    cfg = load_station_config(args.config)
    logs.setup(cfg.logging.level, cfg.logging.format)
    station = Station(cfg).start()
    print(f"卫星读卡站已启动 / reader station {cfg.station.name} running "
          f"({len(station.drivers)} reader(s), appliance {cfg.station.appliance_url or 'by mDNS'})", flush=True)
    station.run_forever()
    return 0


def cmd_create_station(args) -> int:
    from appliance.stations import service as stations

    cfg = _load(args)
    _open(cfg)
    s, key = stations.create_station(stations.StationIn(name=args.name, readers=args.readers), actor="system:cli")
    print(key)
    print(f"# 写入读卡站配置 [station] key_env 所指的环境变量，或 key / put it in the station's config "
          f"([station] name = \"{s.name}\", key_env or key)", file=sys.stderr)
    return 0


def _vision_config(args):
    from models.config import VisionModelConfig

    path = args.config or os.environ.get("SAFETY_APPLIANCE_CONFIG")
    if not path and Path(DEFAULT_CONFIG).exists():
        path = DEFAULT_CONFIG
    cfg = _load(argparse.Namespace(config=path)).vision.model if path else VisionModelConfig()
    update = {}
    if args.model:
        from models.runner import ModelError, TFLiteRunner

        update["path"] = Path(args.model)
        try:  # a file named by hand is run at its own input size
            update["input_size"] = TFLiteRunner(args.model).input_size
        except ModelError:
            pass  # loading it again in the detector names what is wrong with the file
    if args.threads:
        update["num_threads"] = args.threads
    return VisionModelConfig.model_validate({**cfg.model_dump(), **update}) if update else cfg


def cmd_vision(args) -> int:
    import json

    from models import commands

    cfg = _vision_config(args)
    if args.vision_command == "detect":
        return commands.detect_files(cfg, args.paths, args.json)
    try:
        sweep = tuple(round(0.1 + 0.05 * i, 2) for i in range(17)) if args.sweep else ()
        report = commands.evaluate_dir(cfg, Path(args.dir), args.iou, sweep)
    except (FileNotFoundError, ValueError) as exc:
        print(f"错误 / error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        commands.print_eval(report)
    return 0


HANDLERS = {"demo": cmd_demo, "run": cmd_run, "check-config": cmd_check_config, "init-db": cmd_init_db,
            "create-user": cmd_create_user, "create-token": cmd_create_token, "export": cmd_export,
            "backup": cmd_backup, "vision": cmd_vision, "reader": cmd_reader, "create-station": cmd_create_station,
            "import-register": cmd_import_register, "restore": cmd_restore,
            "forecast": cmd_forecast}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from appliance import cli_ops
    from appliance.cli_sync import HANDLERS as SYNC_HANDLERS

    handler = cmd_audit_verify if args.command == "audit" else \
        {**HANDLERS, **SYNC_HANDLERS, **cli_ops.HANDLERS}[args.command]
    from models.runner import ModelError

    try:
        refused = cli_ops.refuse_root(args, argv if argv is not None else sys.argv[1:])
        if refused is not None:
            return refused
        return handler(args)
    except (ApplianceError, ModelError) as exc:
        details = getattr(exc, "details", None)   # ApplianceError has it; ModelError does not
        if isinstance(details, list) and details and "zh" in details[0]:
            print(f"错误 / error: {exc.zh.split(' — ')[0]} / {exc.en.split(' — ')[0]}", file=sys.stderr)
            for d in details:
                print(f"  {d['key']}: {d['zh']} / {d['en']}", file=sys.stderr)
        else:
            print(f"错误 / error: {exc.bilingual()}", file=sys.stderr)
        return 2 if exc.code.startswith("config") else 1
    except ValidationError as exc:
        from appliance.config import describe_validation_error
        for key, zh, en in describe_validation_error(exc):
            print(f"错误 / error: {key}: {zh} / {en}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        return 130
