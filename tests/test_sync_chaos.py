"""Sync under faults: connections cut at random points by a TCP proxy, and the appliance and the receiver
killed with SIGKILL in turns over 20 rounds while records keep being written. At the end the receiver holds
every event exactly once and the appliance's chain verifies there, link by link."""
from __future__ import annotations

import random
import subprocess
import sys
import time

import pytest

from conftest import ROOT, close_pipes, free_port, wait_healthy, write_config
from sync_helpers import ChaosProxy, endpoint_toml, receiver_count, receiver_status, start_receiver, verify, wait_for

ROUNDS = 20


def _spawn_appliance(config, log):
    return subprocess.Popen([sys.executable, "-m", "appliance", "run", "--config", str(config)], cwd=ROOT,
                            stdout=log, stderr=subprocess.STDOUT)


@pytest.mark.slow
def test_every_event_arrives_exactly_once_through_cuts_and_kills(tmp_path):
    from appliance.core import db, events
    from sync import store

    rng = random.Random(20261129)
    rx_port = free_port()
    rx, _ = start_receiver(tmp_path / "rx", port=rx_port)
    proxy = ChaosProxy(rx_port, cut=0.7, seed=11, max_bytes=3000)
    web = free_port()
    cfg_path = write_config(tmp_path / "app", port=web, extra=endpoint_toml(
        f"http://127.0.0.1:{proxy.port}/v1", batch_max_events=13, timeout_s=3, probe_interval_s=0.3))
    cfg_path.chmod(0o600)
    log = open(tmp_path / "appliance.log", "w")
    app = _spawn_appliance(cfg_path, log)
    procs = {"app": app, "rx": rx}
    try:
        wait_healthy(f"http://127.0.0.1:{web}", timeout=30)
        db.open_database(tmp_path / "app" / "appliance.db")
        written = 0
        for rnd in range(ROUNDS):
            for i in range(25):  # both lanes: safety records and others, interleaved
                kind = "alarm.raised" if rng.random() < 0.4 else "person.created"
                events.record(kind, actor="system:test", payload={"round": rnd, "i": i, "pad": "x" * rng.randint(0, 400)})
                written += 1
            time.sleep(rng.uniform(0.2, 0.8))
            if rnd % 2 == 0:
                procs["app"].kill()          # SIGKILL mid-sync: no clean shutdown, no cursor flush
                procs["app"].wait()
                procs["app"] = _spawn_appliance(cfg_path, log)
            else:
                procs["rx"].kill()           # the receiver dies mid-batch
                procs["rx"].wait()
                close_pipes(procs["rx"])
                procs["rx"], _ = start_receiver(tmp_path / "rx", port=rx_port)
        wait_healthy(f"http://127.0.0.1:{web}", timeout=30)
        proxy.cut = 0.2  # still cutting some, but let it finish
        # the last start writes its system.started a moment after it answers: wait for a settled head
        wait_for(lambda: receiver_count(rx_port, "test-1") >= events.head_seq(), timeout=120, what="the backlog drains")
        time.sleep(1.0)
        head = events.head_seq()
        wait_for(lambda: receiver_count(rx_port, "test-1") >= head, timeout=60, what=f"{head} events at the receiver")
        assert written >= ROUNDS * 25 and head > written  # plus each start's system.started
        v = verify(rx_port, "test-1")
        assert v == {"ok": True, "events": head, "contiguous_head": head, "head_hash": v["head_hash"]}
        own = db.database.execute_sql("SELECT hash FROM events WHERE seq = ?", (head,)).fetchone()[0]
        assert v["head_hash"] == own
        st = receiver_status(rx_port)
        assert st["stats"]["accepted"] == head and st["stats"]["rejected"] == 0
        assert store.dead_letters("hq") == []
        assert proxy.cuts > 0
        print(f"\n{head} events, {proxy.cuts} connections cut, {st['stats'].get('duplicates', 0)} duplicates "
              f"deduplicated by the receiver")
    finally:
        proxy.close()
        for p in procs.values():
            if p.poll() is None:
                p.kill()
                p.wait()
            close_pipes(p)
        log.close()
        db.database.close()
