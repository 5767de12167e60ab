"""Signatures and encryption used on the wire (pure functions; the only user of `cryptography`).

- `sign`/`verify`: HMAC-SHA256 over `timestamp + "." + body` (body as sent, i.e. gzipped), hex.
- `aes_cbc_encrypt`/`aes_cbc_decrypt`: AES/CBC/PKCS5Padding as the 五位一体 platform uses it, Base64 text.
- `sha1_signature`: sha1(appKey + appSecret + timestamp), hex (the municipal reporting pattern).
- `dingtalk_signature`: a DingTalk custom robot's 加签, Base64(HMAC-SHA256(secret, timestamp + "\n" + secret))
  (the sender URL-encodes it into the query; sync/webhook.py).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re


def sign(secret: str, timestamp: str, body: bytes) -> str:
    return hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()


def verify(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    return hmac.compare_digest(sign(secret, timestamp, body), signature or "")


def key_bytes(text: str, sizes: tuple[int, ...], what: str) -> bytes:
    """A key or IV given as text of the right length, or as hex of the right length."""
    raw = text.encode("utf-8")
    if len(raw) in sizes:
        return raw
    if re.fullmatch(r"[0-9a-fA-F]+", text) and len(text) // 2 in sizes and len(text) % 2 == 0:
        return bytes.fromhex(text)
    raise ValueError(f"{what} must be {' or '.join(map(str, sizes))} bytes (as text, or as hex)")


def aes_cbc_encrypt(key: bytes, iv: bytes, plaintext: bytes) -> str:
    from cryptography.hazmat.primitives import padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    padder = padding.PKCS7(128).padder()
    data = padder.update(plaintext) + padder.finalize()
    enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return base64.b64encode(enc.update(data) + enc.finalize()).decode("ascii")


def aes_cbc_decrypt(key: bytes, iv: bytes, text: str) -> bytes:
    """Raises ValueError on bad Base64, a wrong key or bad padding."""
    from cryptography.hazmat.primitives import padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    try:
        raw = base64.b64decode(text, validate=True)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"datas is not Base64: {exc}") from None
    if not raw or len(raw) % 16:
        raise ValueError("datas is not a whole number of AES blocks")
    dec = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    data = dec.update(raw) + dec.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        return unpadder.update(data) + unpadder.finalize()
    except ValueError:
        raise ValueError("datas does not decrypt (wrong key or IV, or damaged)") from None


def sha1_signature(app_key: str, app_secret: str, timestamp: str) -> str:
    return hashlib.sha1((app_key + app_secret + timestamp).encode("utf-8")).hexdigest()


def dingtalk_signature(secret: str, timestamp: str) -> str:
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(mac).decode("ascii")
