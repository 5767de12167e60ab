"""The certificate-warning webhook's signing secret and its formats (issue 20), against the reference
receiver in its own process (`sync/receiver_hooks.py`: our signed JSON, and stand-ins for the WeCom and
DingTalk group robots that check what the robots document):

- `[training] webhook_secret` is checked at start, each error naming the key, never quoting the secret;
  it is never in a repr, an event or the page, where it is shown masked;
- json: X-Timestamp/X-Signature verify at the receiver; a wrong secret or none is refused (401) and
  recorded as webhook.failed; the signature is the documented HMAC-SHA256 over timestamp "." body;
- wecom: markdown and text bodies as the robot expects, Chinese intact (UTF-8, not escaped), the key from
  the URL sent but not recorded; a wrong key (errcode 93000) is a refusal, a rate limit (45009) is retried;
- dingtalk: markdown {title, text} and text, `timestamp`/`sign` in the query as DingTalk's 加签 says (the
  same value as its published recipe); a wrong secret (errcode 310000) is a refusal.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import urllib.parse

import pytest
import requests

from appliance.core import events
from appliance.core.errors import ConfigError
from appliance.training import certificates as C
from conftest import stop_peer
from sync import crypto, webhook
from sync_helpers import start_receiver, wait_for
from test_sync_webhook import certificate_due, hooks, outcomes

HOOK_SECRET = "hook-secret-0123456789abcdef"
DING_SECRET = "SEC" + "0f" * 32
WECOM_KEY = "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"


def parse(extra: str):
    from appliance.config import parse_config

    return parse_config("[training]\n" + extra + "\n", "test.toml")


@pytest.mark.parametrize("toml,key,fragment", [
    ('webhook_secret = "short"', "webhook_secret", "at least 16"),
    ('webhook_secret = "has a space in it, sixteen+"', "webhook_secret", "spaces"),
    ('webhook_format = "wecom"\nwebhook_url = "https://q.example/cgi-bin/webhook/send?key=k"\nwebhook_secret = "0123456789abcdefXYZ"',
     "webhook_secret", "takes no secret"),
    ('webhook_format = "wecom"\nwebhook_url = "https://q.example/cgi-bin/webhook/send"', "webhook_url", "key="),
    ('webhook_format = "dingtalk"\nwebhook_url = "https://o.example/robot/send"', "webhook_url", "access_token="),
    ('webhook_format = "dingtalk"\nwebhook_url = "https://o.example/robot/send?access_token=t"\nwebhook_secret = "0123456789abcdef0123"',
     "webhook_secret", "SEC"),
    ('webhook_format = "slack"', "webhook_format", ""),
    ('webhook_msgtype = "image"', "webhook_msgtype", ""),
    ('webhook_secret = "0123456789abcdef0123"\nwebhook_secret_env = "HOOK_SECRET_T"', "webhook_secret_env", "not both"),
    ('webhook_secret_env = "NO_SUCH_VARIABLE_T20"', "webhook_secret_env", "is not set"),
])
def test_a_bad_setting_names_its_key_and_never_quotes_the_secret(toml, key, fragment, monkeypatch):
    monkeypatch.setenv("HOOK_SECRET_T", "0123456789abcdef0123")
    with pytest.raises(ConfigError) as e:
        parse(toml)
    assert [d["key"] for d in e.value.details] == [f"training.{key}"]
    assert fragment in e.value.details[0]["en"]
    for secret in ("0123456789abcdefXYZ", "0123456789abcdef0123", "has a space in it"):
        assert secret not in str(e.value.details) and secret not in e.value.zh + e.value.en


def test_the_secret_is_masked_everywhere_it_is_shown(monkeypatch):
    cfg = parse(f'webhook_url = "https://hooks.example.com/x"\nwebhook_secret = "{HOOK_SECRET}"')
    t = cfg.training
    assert t.webhook_secret_value == HOOK_SECRET and t.webhook_secret_shown == "••••cdef"
    assert HOOK_SECRET not in repr(t) and HOOK_SECRET not in str(t.model_dump())
    hook = webhook.training_hook(cfg)
    assert hook is not None and hook.secret == HOOK_SECRET and HOOK_SECRET not in repr(hook)
    monkeypatch.setenv("T20_HOOK", HOOK_SECRET)
    env = parse('webhook_url = "https://hooks.example.com/x"\nwebhook_secret_env = "T20_HOOK"').training
    assert env.webhook_secret_value == HOOK_SECRET and env.webhook_secret is None


def test_the_signature_is_the_documented_hmac():
    ev = events.Committed(seq=7, id="e-7", type="certificate.warned", occurred_at=1, recorded_at=1, actor="t",
                          entity_type="certificate", entity_id="3", payload={"person": "王建国"}, hash="")
    hook = webhook.Hook("training", "https://h.example/in?tenant=a", ("certificate.warned",), secret=HOOK_SECRET)
    path, data, headers = webhook.prepare(hook, ev, "box-1", 1_700_000_000_123)
    assert path == "?tenant=a" and headers["X-Timestamp"] == "1700000000123"
    expected = hmac.new(HOOK_SECRET.encode(), b"1700000000123." + data, hashlib.sha256).hexdigest()
    assert headers["X-Signature"] == expected == crypto.sign(HOOK_SECRET, "1700000000123", data)
    assert "王建国".encode() in data                      # UTF-8 as is, not \\u escapes
    unsigned = webhook.prepare(webhook.Hook("training", "https://h.example/in", ()), ev, "box-1", 1)[2]
    assert "X-Signature" not in unsigned and "X-Timestamp" not in unsigned


def test_dingtalk_sign_is_dingtalks_published_recipe():
    ts = "1700000000123"
    # DingTalk's Python sample: quote_plus(b64encode(hmac(secret, ts + "\n" + secret, sha256).digest()))
    doc = urllib.parse.quote_plus(base64.b64encode(hmac.new(DING_SECRET.encode("utf-8"), f"{ts}\n{DING_SECRET}".encode(),
                                                            digestmod=hashlib.sha256).digest()))
    assert webhook.dingtalk_sign(DING_SECRET, ts) == doc


def fast(url: str, **kw) -> webhook.Hook:
    from appliance.training.rules import warning_message

    return webhook.Hook("training", url, ("certificate.warned",),
                        **{"attempts": 5, "backoff_base_s": 0.05, "backoff_cap_s": 0.2, "poll_s": 0.2,
                           "message": lambda ev: warning_message(ev.payload), **kw})


def robot(port: int, name: str) -> list[dict]:
    try:
        return requests.get(f"http://127.0.0.1:{port}/v1/robots/{name}", timeout=5).json()["messages"]
    except requests.RequestException:
        return []


def run(hook: webhook.Webhook, n: int, *numbers_days: tuple[str, int]) -> list[dict]:
    hook.start()
    try:
        for number, days in numbers_days:
            certificate_due(number, days)
        C.scan()
        return wait_for(lambda: len(outcomes()) >= n and outcomes(), what=f"{n} outcomes")
    finally:
        hook.stop()


def test_json_signed_verifies_and_a_wrong_or_missing_secret_is_refused(app, tmp_path, caplog):
    receiver, port = start_receiver(tmp_path / "recv", "--hook-secret", HOOK_SECRET)
    url = f"http://127.0.0.1:{port}/v1/hooks/training"
    try:
        done = run(webhook.Webhook(fast(url, secret=HOOK_SECRET), "test-1"), 1, ("S-1", 5))
        assert done[0]["type"] == "webhook.delivered" and done[0]["status"] == 201
        (got,) = hooks(port)
        assert got["headers"]["X-Timestamp"].isdigit() and len(got["headers"]["X-Signature"]) == 64
        assert got["body"]["payload"]["number"] == "S-1" and got["body"]["payload"]["person"] == "焊工S-1"
        # the next warnings with a wrong secret, then with none: refused once each, recorded, not retried
        done = run(webhook.Webhook(fast(url, secret="another-secret-0123456789"), "test-1"), 2, ("S-2", 6))
        assert (done[1]["type"], done[1]["status"], done[1]["attempts"]) == ("webhook.failed", 401, 1)
        done = run(webhook.Webhook(fast(url), "test-1"), 3, ("S-3", 7))
        assert (done[2]["type"], done[2]["status"]) == ("webhook.failed", 401)
        assert len(hooks(port)) == 1
        for o in done:
            assert HOOK_SECRET not in json.dumps(o)
        assert "webhook delivery failed" in caplog.text          # logged, without the secrets
        assert HOOK_SECRET not in caplog.text and "another-secret" not in caplog.text
    finally:
        stop_peer(receiver)


@pytest.mark.parametrize("msgtype", ["markdown", "text"])
def test_wecom_bodies_are_what_the_robot_takes_with_chinese_intact(app, tmp_path, msgtype):
    receiver, port = start_receiver(tmp_path / "recv", "--wecom-key", WECOM_KEY)
    url = f"http://127.0.0.1:{port}/wecom/cgi-bin/webhook/send?key={WECOM_KEY}"
    try:
        done = run(webhook.Webhook(fast(url, format="wecom", msgtype=msgtype), "test-1"), 1, ("W-5", 5))
        assert done[0]["type"] == "webhook.delivered", done
        assert done[0]["url"] == f"http://127.0.0.1:{port}/wecom/cgi-bin/webhook/send"    # the key not recorded
        (m,) = robot(port, "wecom")
        assert m["query"] == f"key={WECOM_KEY}"
        assert set(m["body"]) == {"msgtype", msgtype} and m["body"]["msgtype"] == msgtype
        content = m["body"][msgtype]["content"]
        assert set(m["body"][msgtype]) == {"content"} and len(content.encode()) <= (4096 if msgtype == "markdown" else 2048)
        assert "资质证书预警：焊工W-5 熔化焊接与热切割作业" in content and "还剩 5 天" in content and "5 day(s) left" in content
        assert content.startswith("### 资质证书预警") == (msgtype == "markdown")
        assert "焊工W-5".encode() in m["raw"].encode() and "\\u" not in m["raw"]         # UTF-8, not escaped
        assert m["headers"]["Content-Type"] == "application/json; charset=utf-8"
    finally:
        stop_peer(receiver)


def test_wecom_wrong_key_is_refused_and_a_rate_limit_is_tried_again(app, tmp_path):
    receiver, port = start_receiver(tmp_path / "recv", "--wecom-key", WECOM_KEY, "--throttle-every", "2")
    base = f"http://127.0.0.1:{port}/wecom/cgi-bin/webhook/send"
    try:
        done = run(webhook.Webhook(fast(base + "?key=wrong", format="wecom"), "test-1"), 1, ("K-1", 5))
        assert (done[0]["type"], done[0]["status"], done[0]["attempts"]) == ("webhook.failed", 200, 1)
        assert done[0]["error"].startswith("errcode 93000")
        done = run(webhook.Webhook(fast(base + f"?key={WECOM_KEY}", format="wecom"), "test-1"), 2, ("K-2", 6))
        assert done[1]["type"] == "webhook.delivered" and done[1]["attempts"] == 2     # 45009 first, then sent
        assert len(robot(port, "wecom")) == 1
    finally:
        stop_peer(receiver)


@pytest.mark.parametrize("msgtype", ["markdown", "text"])
def test_dingtalk_signed_in_the_query_and_the_bodies_it_takes(app, tmp_path, msgtype):
    receiver, port = start_receiver(tmp_path / "recv", "--dingtalk-token", "tok", "--dingtalk-secret", DING_SECRET)
    url = f"http://127.0.0.1:{port}/dingtalk/robot/send?access_token=tok"
    try:
        done = run(webhook.Webhook(fast(url, format="dingtalk", msgtype=msgtype, secret=DING_SECRET), "test-1"), 1,
                   ("D-0", 0))
        assert done[0]["type"] == "webhook.delivered", done
        (m,) = robot(port, "dingtalk")
        q = urllib.parse.parse_qs(m["query"])
        assert q["access_token"] == ["tok"] and q["timestamp"][0].isdigit()
        mac = hmac.new(DING_SECRET.encode(), f"{q['timestamp'][0]}\n{DING_SECRET}".encode(), hashlib.sha256).digest()
        assert q["sign"] == [base64.b64encode(mac).decode()]
        b = m["body"]
        if msgtype == "markdown":
            assert set(b["markdown"]) == {"title", "text"} and b["markdown"]["title"].startswith("资质证书预警")
            assert "今天是最后有效日" in b["markdown"]["text"]
        else:
            assert set(b["text"]) == {"content"} and "今天是最后有效日" in b["text"]["content"]
        assert "焊工D-0".encode() in m["raw"].encode() and "\\u" not in m["raw"]
        assert DING_SECRET not in json.dumps(outcomes())
    finally:
        stop_peer(receiver)


def test_dingtalk_wrong_secret_is_refused(app, tmp_path):
    receiver, port = start_receiver(tmp_path / "recv", "--dingtalk-token", "tok", "--dingtalk-secret", DING_SECRET)
    url = f"http://127.0.0.1:{port}/dingtalk/robot/send?access_token=tok"
    try:
        done = run(webhook.Webhook(fast(url, format="dingtalk", secret="SEC" + "1e" * 32), "test-1"), 1, ("X-1", 5))
        assert done[0]["type"] == "webhook.failed" and done[0]["error"].startswith("errcode 310000")
        assert robot(port, "dingtalk") == []
    finally:
        stop_peer(receiver)
