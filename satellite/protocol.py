"""The wire protocol between a satellite reader station and the appliance: a post signed with the
station's HMAC key over its timestamp, nonce and body, and the appliance's answer signed over the same
nonce, so neither a replay nor a rogue address can make a station drop taps. Pure functions."""
from __future__ import annotations

import hashlib
import hmac
import re

MAX_SKEW_S = 300  # a signed post older or newer than this is refused (replay and clock-skew guard)


def station_signature(key: bytes, timestamp: str, nonce: str, body: bytes) -> str:
    """HMAC-SHA256 over "timestamp\\nnonce\\n" + body, hex. The station and the appliance share `key`."""
    msg = timestamp.encode() + b"\n" + nonce.encode() + b"\n" + body
    return hmac.new(key, msg, hashlib.sha256).hexdigest()


def answer_signature(key: bytes, nonce: str, body: bytes) -> str:
    """The appliance's answer to a station's post, signed with the same key over the post's nonce and the
    answer's body: the station knows the answer came from its appliance before it drops the taps."""
    return hmac.new(key, b"answer\n" + nonce.encode() + b"\n" + body, hashlib.sha256).hexdigest()


def check_station_post(key: bytes | None, timestamp: str, nonce: str, body: bytes, signature: str,
                       now_s: float, seen_nonce: bool) -> str | None:
    """None when the post is authentic and fresh, else the reason it is refused (a short code)."""
    if key is None:
        return "unknown_station"
    if not re.fullmatch(r"\d{1,12}", timestamp or ""):
        return "bad_timestamp"
    ts = int(timestamp)
    if not re.fullmatch(r"[A-Za-z0-9]{8,64}", nonce or ""):
        return "bad_nonce"
    if not re.fullmatch(r"[0-9a-f]{64}", signature or ""):   # also keeps non-ASCII out of compare_digest
        return "bad_signature"
    if not hmac.compare_digest(station_signature(key, timestamp, nonce, body), signature):
        return "bad_signature"
    if abs(now_s - ts) > MAX_SKEW_S:
        return "stale"
    if seen_nonce:
        return "replayed"
    return None
