"""QR area lookup: a label made with OpenCV's QRCodeEncoder, pasted (tilted) onto a real photo of a
worksite, found by POST /api/v1/hazards/locate; label parsing as a table."""
from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from appliance.risk import qr
from conftest import As, need

SAMPLE = sorted((Path(__file__).resolve().parents[2] / "shared" / "data" / "hardhat_sample" / "images").glob("*.jpg"))

try:  # a missing OpenCV fails in CI and skips elsewhere, through need() below
    import cv2
except ImportError:  # pragma: no cover
    cv2 = None


def photo_with(texts: list[str], fmt: str = "JPEG", index: int = 0) -> bytes:
    """A real worksite photo (the hard-hat sample) with a QR label for each text pasted into it, tilted."""
    need(cv2 is not None, "opencv-python-headless (pyproject.toml) is not installed")
    need(bool(SAMPLE), "../shared/data/hardhat_sample (a real photo)")
    img = Image.open(SAMPLE[index]).convert("RGB")
    img = img.resize((img.width * 2, img.height * 2))  # a phone-sized photo, the label a small part of it
    enc = cv2.QRCodeEncoder.create()
    for i, text in enumerate(texts):
        code = Image.fromarray(enc.encode(text))
        code = code.resize((code.width * 5, code.height * 5), Image.NEAREST).rotate(10 + 5 * i, expand=True, fillcolor=255)
        img.paste(code.convert("RGB"), (20 + i * (code.width + 40), img.height - code.height - 20))
    out = io.BytesIO()
    img.save(out, fmt, quality=85)
    return out.getvalue()


@pytest.mark.parametrize("text, kind, code", [
    ("SA:AREA:TANK", "area", "TANK"),
    ("sa:area:tank", "area", "tank"),
    ("SA:EQ:OBJ-T01", "equipment", "OBJ-T01"),
    ("  SA:EQ:V_101 \n", "equipment", "V_101"),
    ("SA:AREA:", None, None),
    ("SA:AREA:TANK FARM", None, None),
    ("SA:PIPE:P-1", None, None),
    ("https://vendor.example/serial/123", None, None),
    ("TANK", None, None),
])
def test_label_format(text, kind, code):
    lb = qr.parse_label(text)
    assert (lb.kind, lb.code) == (kind, code) if kind else lb is None


@pytest.fixture
def reporter(app, users):
    officer = As(app, "safety_officer", users)
    ids = {}
    for code, name in (("TANK", "储罐区"), ("WH", "仓库")):
        ids[code] = officer.post("/api/v1/areas", json={"code": code, "name": name, "name_en": code.title(),
                                                        "polygon": [[0, 0], [9, 0], [9, 9]]}).get_json()["id"]
    o = officer.post("/api/v1/risk/objects", json={"code": "V-101", "name": "甲醇储罐"}).get_json()
    officer.post("/api/v1/risk/units", json={"object_id": o["id"], "name": "罐体", "area_id": ids["TANK"]})
    officer.post("/api/v1/risk/objects", json={"code": "LOOSE", "name": "无区域设备"})
    w = As(app, "worker", users)
    w.areas = ids
    return w


def locate(c, data: bytes, name="p.jpg"):
    return c.post("/api/v1/hazards/locate", data={"photo": (io.BytesIO(data), name)}, content_type="multipart/form-data")


@pytest.mark.parametrize("texts, reason, area", [
    (["SA:AREA:WH"], "found", "WH"),
    (["SA:EQ:V-101"], "found", "TANK"),              # equipment → its unit's area
    (["https://vendor.example/x", "SA:AREA:TANK"], "found", "TANK"),  # our label among others
    (["SA:AREA:NOPE"], "unknown_code", None),
    (["SA:EQ:LOOSE"], "unknown_code", None),         # equipment with no area anywhere
    (["https://vendor.example/x"], "not_a_label", None),
    ([], "no_qr", None),
])
def test_locate_on_a_real_photo(reporter, texts, reason, area):
    r = locate(reporter, photo_with(texts))
    assert r.status_code == 200, r.get_json()
    j = r.get_json()
    assert j["reason"] == reason and j["area_id"] == (reporter.areas[area] if area else None), j
    assert j["messages"]["zh-CN"] and j["messages"]["en"] and j["messages"]["zh-CN"] != j["messages"]["en"]
    if reason != "found":
        assert "by hand" in j["messages"]["en"] and "手动" in j["messages"]["zh-CN"]


def test_locate_png_and_bad_uploads(reporter, as_role):
    assert locate(reporter, photo_with(["SA:AREA:WH"], fmt="PNG", index=3), "x.png").get_json()["reason"] == "found"
    r = locate(reporter, b"SA:AREA:WH is not an image", "fake.jpg")
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "bad_photo"
    r = locate(reporter, photo_with(["SA:AREA:WH"])[:3000], "cut.jpg")  # a truncated upload
    assert r.status_code == 422
    assert reporter.post("/api/v1/hazards/locate", data={}, content_type="multipart/form-data").status_code == 422
    assert locate(as_role("kiosk"), photo_with([])).status_code == 403
    assert locate(As(reporter.c.application, None, {}), photo_with([])).status_code == 401


def test_report_form_carries_the_lookup(reporter):
    html = reporter.get("/tablet/hazards").get_data(as_text=True)
    assert 'id="report-photo"' in html and 'id="report-area"' in html and "js/locate.js" in html


def test_printed_labels_are_found_in_a_photo(reporter):
    """The label the appliance prints (PNG with its quiet zone), photographed small on a real worksite photo,
    gives the area back: what a plant prints is what the report form reads."""
    need(bool(SAMPLE), "../shared/data/hardhat_sample (a real photo)")
    for kind, code, area in (("area", "WH", "WH"), ("equipment", "V-101", "TANK")):
        r = reporter.get(f"/api/v1/labels/{kind}/{code}.png")
        assert r.status_code == 200 and r.mimetype == "image/png", r.get_data()[:200]
        label = Image.open(io.BytesIO(r.data)).convert("RGB")
        photo = Image.open(SAMPLE[5]).convert("RGB").resize((1000, 750))
        label = label.resize((160, 160)).rotate(-8, expand=True, fillcolor=(255, 255, 255))
        photo.paste(label, (760, 40))
        out = io.BytesIO()
        photo.save(out, "JPEG", quality=80)
        j = locate(reporter, out.getvalue()).get_json()
        assert (j["reason"], j["area_id"]) == ("found", reporter.areas[area]), j
    assert reporter.get("/api/v1/labels/area/NOPE.png").status_code == 404
    assert reporter.get("/api/v1/labels/pipe/WH.png").status_code == 404
    html = reporter.get("/tablet/risks/labels").get_data(as_text=True)
    assert 'data-label="SA:AREA:WH"' in html and 'data-label="SA:EQ:V-101"' in html and "/api/v1/labels/area/TANK.png" in html
