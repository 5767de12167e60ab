"""Photo uploads: real images are re-encoded and stored by hash; anything else is refused clearly."""
from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from conftest import As

SAMPLE = sorted((Path(__file__).resolve().parents[2] / "shared" / "data" / "hardhat_sample" / "images").glob("*.jpg"))


def png(w=64, h=48) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (w, h), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def worker(app, users):
    return As(app, "worker", users)


def upload(c, data: bytes, name="x.jpg"):
    return c.post("/api/v1/photos", data={"photo": (io.BytesIO(data), name)}, content_type="multipart/form-data")


def test_real_photos_are_stored_by_hash_with_a_thumbnail(worker, config):
    data = SAMPLE[0].read_bytes() if SAMPLE else png()
    r = upload(worker, data)
    assert r.status_code == 201
    digest = r.get_json()["sha256"]
    root = config.storage.data_dir / "photos"
    assert (root / f"{digest}.jpg").exists() and (root / f"{digest}.thumb.jpg").exists()
    got = worker.get(f"/api/v1/photos/{digest}")
    assert got.status_code == 200 and got.mimetype == "image/jpeg"
    assert Image.open(io.BytesIO(got.data)).format == "JPEG"
    thumb = Image.open(io.BytesIO(worker.get(f"/api/v1/photos/{digest}?thumb=1").data))
    assert max(thumb.size) <= 320
    assert upload(worker, data).get_json()["sha256"] == digest  # same photo, same file


@pytest.mark.parametrize("data, name, why", [
    (b"", "empty.jpg", "empty"),
    (b"<html>not an image</html>", "evil.jpg", "not a valid image"),
    (b"GIF89a" + b"\x00" * 100, "a.gif", "not a valid image"),
    (png()[:60], "cut.png", "not a valid image"),                    # truncated upload
])
def test_bad_uploads(worker, data, name, why):
    r = upload(worker, data, name)
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "bad_photo"
    assert why in r.get_json()["error"]["messages"]["en"]


def test_photo_paths_cannot_be_chosen(worker):
    assert worker.get("/api/v1/photos/..%2F..%2Fappliance.toml").status_code == 404
    assert worker.get("/api/v1/photos/" + "0" * 64).status_code == 404
    assert worker.post("/api/v1/photos", data={}, content_type="multipart/form-data").status_code == 422


def test_hazard_with_photos(app, users, worker, as_role):
    admin = as_role("admin")
    area = admin.post("/api/v1/areas", json={"code": "A", "name": "区", "polygon": [[0, 0], [9, 0], [9, 9]]}).get_json()
    digest = upload(worker, png()).get_json()["sha256"]
    r = worker.post("/api/v1/hazards", json={"area_id": area["id"], "category": "消防", "description": "灭火器过期",
                                             "photo": digest})
    assert r.status_code == 201 and r.get_json()["photo"] == digest
    r = worker.post("/api/v1/hazards", json={"area_id": area["id"], "category": "消防", "description": "x2",
                                             "photo": "f" * 64})
    assert r.status_code == 422 and "no such uploaded photo" in r.get_json()["error"]["messages"]["en"]
    hid = r.get_json() and worker.get("/api/v1/hazards").get_json()["hazards"][0]["id"]
    as_role("supervisor").post(f"/api/v1/hazards/{hid}/dispatch", json={"assignee": "u_worker"})
    after = upload(worker, png(80, 60)).get_json()["sha256"]
    r = worker.post(f"/api/v1/hazards/{hid}/rectify", json={"note": "已更换", "photo": after})
    assert r.get_json()["after_photo"] == after


def test_a_decompression_bomb_is_refused_from_its_header(worker):
    """79 megapixels in a few hundred KB (Pillow alone only warns below twice its limit): refused from the
    header, before anything is decoded — and just over the limit is refused too."""
    for w, h in ((8900, 8900), (8000, 5001)):   # 79.2 MP, 40.008 MP
        out = io.BytesIO()
        Image.new("1", (w, h)).save(out, "PNG")
        assert len(out.getvalue()) < 2_000_000
        r = upload(worker, out.getvalue(), "bomb.png")
        assert r.status_code == 422 and "too large" in r.get_json()["error"]["messages"]["en"], r.get_json()


def test_a_big_phone_jpeg_is_decoded_small_and_stored(worker, config):
    out = io.BytesIO()
    Image.new("RGB", (4000, 3000), (20, 120, 200)).save(out, "JPEG", quality=80)
    r = upload(worker, out.getvalue(), "phone.jpg")
    assert r.status_code == 201
    with Image.open(config.storage.data_dir / "photos" / f"{r.get_json()['sha256']}.jpg") as stored:
        assert max(stored.size) == 2560
