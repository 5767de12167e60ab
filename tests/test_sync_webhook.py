"""Certificate warnings to a webhook (sync/webhook.py, [training] webhook_url), against the reference receiver
in its own process (`POST /v1/hooks/<name>`):

- the URL is checked at start-up and a bad one names training.webhook_url;
- a whole appliance with the URL set posts each certificate.warned as JSON, once, and records each delivery
  (webhook.delivered) — the warning job never waits for it;
- a receiver that is down, or answers 429, is tried again; a refusal (404) is recorded as webhook.failed and
  the next warning still goes; after a restart the worker resumes after what it recorded, sending none twice.
"""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
import requests

from appliance.core import events
from appliance.core import people as P
from appliance.core.errors import ConfigError
from appliance.training import certificates as C
from conftest import free_port, stop_peer, write_config
from sync import webhook
from sync_helpers import start_receiver, wait_for


def hooks(port: int, name: str = "training") -> list[dict]:
    try:
        return requests.get(f"http://127.0.0.1:{port}/v1/hooks/{name}", timeout=5).json()["hooks"]
    except requests.RequestException:
        return []


def outcomes() -> list[dict]:
    return [{"type": e.type, **json.loads(e.payload)} for e in
            events.Event.select().where(events.Event.type.in_(webhook.OUTCOMES)).order_by(events.Event.seq)]


def certificate_due(number: str, days: int) -> C.Certificate:
    """A certificate of a new person whose last valid day is `days` from today (inside a warning window)."""
    p = P.create_person(P.PersonIn(employee_no=f"W{number}", name=f"焊工{number}", kind="employee"), actor="t")
    today = C.day_of(events.now_ms())
    return C.add(C.CertificateIn(person_id=p.id, kind="WELD-FUSION", number=number, issued_on=(today - timedelta(days=400)).isoformat(),
                                 expires_on=(today + timedelta(days=days)).isoformat()), actor="t")


@pytest.mark.parametrize("url,fragment", [
    ("ftp://hooks.example.com/x", "http:// or https://"),
    ("http://", "with a host"),
    ("http://hooks.example.com:99999/x", "port"),
    ("http://hooks.example.com/a b", "no spaces"),
])
def test_a_bad_webhook_url_names_the_key(url, fragment):
    from appliance.config import parse_config

    with pytest.raises(ConfigError) as e:
        parse_config(f'[training]\nwebhook_url = "{url}"\n', "test.toml")
    assert [d["key"] for d in e.value.details] == ["training.webhook_url"]
    assert fragment in e.value.details[0]["en"] and "training.webhook_url" in e.value.zh


def test_no_url_no_webhook(config):
    assert config.training.webhook_url is None and webhook.training_hook(config) is None


def test_an_appliance_posts_each_warning_once_and_records_the_delivery(tmp_path):
    from appliance.config import load_config
    from appliance.service import Appliance

    receiver, port = start_receiver(tmp_path / "recv")
    url = f"http://127.0.0.1:{port}/v1/hooks/training?key=secret-token"
    cfg = load_config(write_config(tmp_path / "live", extra=f'\n[training]\nwebhook_url = "{url}"\nwebhook_attempts = 3\n'))
    appliance = Appliance(cfg).start()
    try:
        assert webhook.training_hook(cfg) is not None
        a, b = certificate_due("T-5", 5), certificate_due("T-25", 25)
        C.scan()                                # the job: records the warnings and returns, nothing sent by it
        assert events.Event.select().where(events.Event.type == "certificate.warned").count() == 2
        got = wait_for(lambda: len(hooks(port)) == 2 and hooks(port), what="two warnings at the receiver")
        bodies = [h["body"] for h in got]
        assert [x["type"] for x in bodies] == ["certificate.warned"] * 2
        assert {x["payload"]["number"] for x in bodies} == {"T-5", "T-25"}
        assert {x["entity"][1] for x in bodies} == {str(a.id), str(b.id)}
        assert all(x["appliance_id"] == "test-1" and x["payload"]["to"] for x in bodies)
        assert [h["headers"]["Idempotency-Key"] for h in got] == [x["id"] for x in bodies]
        done = wait_for(lambda: len(outcomes()) == 2 and outcomes(), what="two delivery records")
        assert [o["type"] for o in done] == ["webhook.delivered"] * 2
        assert [o["event_id"] for o in done] == [x["id"] for x in bodies]
        assert all(o["attempts"] == 1 and o["status"] == 201 for o in done)
        assert done[0]["url"] == f"http://127.0.0.1:{port}/v1/hooks/training"   # the key in the query is not kept
        health = requests.get(f"{appliance.url}/api/v1/health", timeout=5).json()
        assert health["components"]["webhook:training"]["status"] == "ok"
        assert C.scan() == 0                    # nothing new due: nothing more sent
    finally:
        appliance.stop()
        stop_peer(receiver)


def fast(url: str, **kw) -> webhook.Hook:
    return webhook.Hook("training", url, ("certificate.warned",), **{"attempts": 30, "backoff_base_s": 0.05,
                                                                     "backoff_cap_s": 0.3, "poll_s": 0.2, **kw})


def test_down_then_up_is_retried_and_the_job_never_waits(app, tmp_path):
    port = free_port()
    hook = webhook.Webhook(fast(f"http://127.0.0.1:{port}/v1/hooks/training"), "test-1").start()
    receiver = None
    try:
        certificate_due("D-7", 7)
        assert C.scan() == 1 and C.Warning.select().count() == 3     # 60, 30, 7 days: recorded while down
        wait_for(lambda: hook.status["retrying"], what="the sender retrying")
        assert outcomes() == [] and hook.health()["status"] == "degraded"
        receiver, _ = start_receiver(tmp_path / "recv", port=port)
        done = wait_for(lambda: outcomes(), what="the delivery once the receiver is up")
        assert done[0]["type"] == "webhook.delivered" and done[0]["attempts"] >= 2
        assert len(hooks(port)) == 1 and hook.health()["status"] == "ok"
    finally:
        hook.stop()
        if receiver is not None:
            stop_peer(receiver)


def test_throttled_refused_and_resumed_without_repeats(app, tmp_path):
    receiver, port = start_receiver(tmp_path / "recv", "--throttle-every", "2", "--retry-after", "0.1")
    try:
        bad = webhook.Webhook(fast(f"http://127.0.0.1:{port}/v1/nowhere", attempts=3), "test-1").start()
        certificate_due("R-1", 5)
        C.scan()
        done = wait_for(lambda: outcomes(), what="the refusal recorded")
        assert done[0]["type"] == "webhook.failed" and done[0]["status"] == 404 and done[0]["attempts"] == 1
        bad.stop()
        # the next worker (the URL corrected) resumes after the failed one: it is not sent again
        hook = webhook.Webhook(fast(f"http://127.0.0.1:{port}/v1/hooks/training"), "test-1").start()
        certificate_due("R-2", 6)
        certificate_due("R-3", 7)
        C.scan()
        done = wait_for(lambda: len(outcomes()) == 3 and outcomes(), what="two more deliveries")
        assert [o["type"] for o in done[1:]] == ["webhook.delivered"] * 2
        assert sorted(o["attempts"] for o in done[1:]) == [1, 2]       # every 2nd request got 429: tried again
        hook.stop()
        # a restart resumes after the last recorded delivery: nothing twice
        again = webhook.Webhook(fast(f"http://127.0.0.1:{port}/v1/hooks/training"), "test-1")
        assert webhook.resume_after(again.hook) == done[-1]["event_seq"]
        again.start()
        certificate_due("R-4", 8)
        C.scan()
        wait_for(lambda: len(outcomes()) == 4, what="the fourth delivery")
        again.stop()
        numbers = [h["body"]["payload"]["number"] for h in hooks(port)]
        assert numbers == ["R-2", "R-3", "R-4"]
    finally:
        stop_peer(receiver)
