"""The sync commands of `safety-appliance`: sync-now, sync-dry-run and receiver (wired in appliance/cli.py)."""
from __future__ import annotations

import json
import os
import sys


def add_parsers(sub, config_arg) -> None:
    p = sub.add_parser("sync-now", help="send everything pending to the sync endpoints now",
                       description="Send pending records to every enabled endpoint (or one) until caught up; "
                       "print each endpoint's status. Exit 1 when an endpoint could not be brought up to date.")
    config_arg(p)
    p.add_argument("--endpoint", help="only this endpoint")
    p.add_argument("--max-seconds", type=float, default=300, help="give up after this long (default 300)")

    p = sub.add_parser("sync-dry-run", help="show what would be sent to an endpoint, and which records fail",
                       description="Map the pending records through ENDPOINT's adapter without sending: print the "
                       "requests (before encryption) and every record that would fail its mapping. Exit 1 if any fails.")
    config_arg(p)
    p.add_argument("endpoint", help="endpoint name from [[sync.endpoints]]")
    p.add_argument("--limit", type=int, default=200, help="pending records per lane to map (default 200)")

    p = sub.add_parser("receiver", help="run the reference sync receiver (head office, tests, demo)",
                       description="A strict sync receiver storing into SQLite under DIR. Secrets come from the "
                       "options or the environment (SYNC_RECEIVER_SECRET, WWYT_PASSWORD, WWYT_AES_KEY, WWYT_AES_IV, "
                       "SHA1_APP_SECRET).")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--data", required=True, help="data directory")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--mode", choices=["http-json", "wwyt", "sha1-sign"], default="http-json")
    p.add_argument("--secret", help="http-json: signing secret for every appliance")
    p.add_argument("--secrets-file", help="http-json: JSON {appliance id: secret}")
    p.add_argument("--max-skew", type=float, default=300, help="http-json: seconds of clock difference allowed")
    p.add_argument("--clock-offset", type=float, default=0, help="http-json: run the receiver's clock this many "
                   "seconds off (to try clock skew)")
    p.add_argument("--throttle-every", type=int, default=0, metavar="N", help="answer 429 to every Nth request")
    p.add_argument("--retry-after", type=float, default=1, help="Retry-After with --throttle-every (seconds)")
    p.add_argument("--min-interval", type=float, default=0, help="429 when one client asks more often than this")
    p.add_argument("--max-db-mb", type=float, help="answer 507 (disk full) once the database is this large")
    p.add_argument("--threads", type=int, default=8)
    p.add_argument("--reject-type", action="append", default=[], metavar="TYPE",
                   help="http-json: refuse records of this event type (repeatable; to try dead letters)")
    p.add_argument("--hook-secret", help="http-json: webhooks under /v1/hooks must be signed with this secret "
                   "(X-Timestamp, X-Signature; or HOOK_SECRET)")
    p.add_argument("--wecom-key", help="http-json: the key of the stand-in WeCom robot (/wecom/cgi-bin/webhook/send)")
    p.add_argument("--dingtalk-token", help="http-json: the access_token of the stand-in DingTalk robot (/dingtalk/robot/send)")
    p.add_argument("--dingtalk-secret", help="http-json: the stand-in DingTalk robot's 加签 secret (or DINGTALK_SECRET)")
    p.add_argument("--username", default="wwyt", help="wwyt: Basic-auth user")
    p.add_argument("--password", help="wwyt: Basic-auth password")
    p.add_argument("--aes-key", help="wwyt: AES key (text or hex)")
    p.add_argument("--aes-iv", help="wwyt: AES IV (text or hex)")
    p.add_argument("--app-key", default="appkey", help="sha1-sign: the appKey issued")
    p.add_argument("--app-secret", help="sha1-sign: the appSecret issued")


def _open(config_path: str):
    from appliance import domains
    from appliance.config import load_config
    from appliance.core.db import migrate, open_database

    cfg = load_config(config_path)
    domains.load()
    migrate(cfg.storage.db_path, cfg.storage.backup_dir, busy_timeout_ms=cfg.storage.busy_timeout_ms)
    open_database(cfg.storage.db_path, cfg.storage.busy_timeout_ms)
    return cfg


def _endpoints(cfg, name: str | None):
    eps = [e for e in cfg.sync.endpoints if (name is None and e.enabled) or e.name == name]
    if name and not eps:
        from appliance.core.errors import ConfigError

        known = ", ".join(e.name for e in cfg.sync.endpoints) or "none"
        raise ConfigError(f"没有名为 {name} 的同步端点（已配置：{known}）",
                          f"no sync endpoint named {name} (configured: {known})", code="config_endpoint")
    return eps


def cmd_sync_now(args) -> int:
    from sync.adapters import Context
    from sync.engine import Worker

    cfg = _open(args.config)
    ctx = Context(cfg.site.appliance_id, cfg.storage.data_dir / "photos", cfg.site.timezone)
    ok = True
    for ep in _endpoints(cfg, args.endpoint):
        w = Worker(ep, ctx)
        done = w.run_until_idle(args.max_seconds)
        s = w.snapshot()
        ok &= done
        state = "已同步 / up to date" if done else f"未完成 / not up to date: {s['last_error']}"
        print(f"{ep.name} ({s['url']}): sent {s['sent_events']} events, {s['sent_photos']} photos; "
              f"backlog {s['backlog_total']}; dead letters {s['dead_letters']}; {state}")
        w.adapter.close()
    return 0 if ok else 1


def cmd_sync_dry_run(args) -> int:
    from sync import store
    from sync.adapters import Context, make

    cfg = _open(args.config)
    ep = _endpoints(cfg, args.endpoint)[0]
    adapter = make(ep, Context(cfg.site.appliance_id, cfg.storage.data_dir / "photos", cfg.site.timezone))
    failures = 0
    for lane in [lane for lane in store.LANES_ORDER if lane in ep.lanes and lane not in ("photos", "aggregates")]:
        rows = store.read_batch(lane, store.cursor(ep.name, lane), args.limit, 1 << 62)
        out = adapter.preview(rows)
        failures += len(out["failures"])
        print(json.dumps({"endpoint": ep.name, "lane": lane, "pending_shown": len(rows), **out},
                         ensure_ascii=False, indent=1))
    print(f"# {failures} 条记录映射失败 / record(s) fail their mapping", file=sys.stderr)
    return 1 if failures else 0


def cmd_receiver(args) -> int:
    from sync.receiver import Throttle, serve

    throttle = Throttle(args.throttle_every, args.retry_after, args.min_interval)
    if args.mode == "http-json":
        from sync.receiver import create_receiver

        if args.secrets_file:
            with open(args.secrets_file, encoding="utf-8") as fh:
                secrets = json.load(fh)
        else:
            secrets = args.secret or os.environ.get("SYNC_RECEIVER_SECRET")
        if not secrets:
            print("错误 / error: --secret, --secrets-file or SYNC_RECEIVER_SECRET is needed", file=sys.stderr)
            return 2
        app = create_receiver(args.data, secrets, max_skew_s=args.max_skew, throttle=throttle,
                              max_db_mb=args.max_db_mb, reject_types=tuple(args.reject_type), clock_offset_s=args.clock_offset,
                              hooks={"hook_secret": args.hook_secret or os.environ.get("HOOK_SECRET"),
                                     "wecom_key": args.wecom_key, "dingtalk_token": args.dingtalk_token,
                                     "dingtalk_secret": args.dingtalk_secret or os.environ.get("DINGTALK_SECRET")})
    else:
        from sync.receiver_gov import create_gov_receiver

        app = create_gov_receiver(
            args.data, args.mode, throttle=throttle, max_db_mb=args.max_db_mb, username=args.username,
            password=args.password or os.environ.get("WWYT_PASSWORD", ""),
            aes_key=args.aes_key or os.environ.get("WWYT_AES_KEY", ""),
            aes_iv=args.aes_iv or os.environ.get("WWYT_AES_IV", ""), app_key=args.app_key,
            app_secret=args.app_secret or os.environ.get("SHA1_APP_SECRET", ""))
    serve(app, args.host, args.port, args.threads)
    return 0


HANDLERS = {"sync-now": cmd_sync_now, "sync-dry-run": cmd_sync_dry_run, "receiver": cmd_receiver}
