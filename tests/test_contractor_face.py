"""The optional face check at the gate with the real models (dlib-bin, face-recognition-models: the `face`
extra) on real public-domain photos of workers (../shared/data/hardhat_sample: Hard Hat Workers dataset,
Northeastern University – China, Harvard Dataverse doi:10.7910/DVN/7CBGOS, via Roboflow Universe; Public
Domain). Nothing is downloaded: the models ship inside the packages.

- enrolment needs the worker's consent (the error names the field) and a usable face; only the template
  (128 numbers) is stored, never the photo; withdrawing consent deletes it;
- at a gate reader with a camera, the enrolled worker's own face (mirrored and rescaled, as another frame
  would show it) lets them in; another worker's face, or none, refuses for a guard to check; the check is
  off by default and never applies to a worker who did not consent.
"""
from __future__ import annotations

import io
from pathlib import Path

import pytest

from appliance.core import events
from conftest import ROOT, need

SAMPLE = ROOT.parent / "shared" / "data" / "hardhat_sample" / "images"
WORKER, OTHER = "000060", "000074"       # one clear frontal face each (108 and 109 px wide)
UID, UID2 = "04FACE00000001", "04FACE00000002"


def photo(stem: str, mirror: bool = False, scale: float = 1.0) -> bytes:
    from PIL import Image, ImageOps

    files = sorted(SAMPLE.glob(f"{stem}*.jpg"))
    need(bool(files), f"{SAMPLE} (public-domain worker photos)")
    img = Image.open(files[0]).convert("RGB")
    if mirror:
        img = ImageOps.mirror(img)
    if scale != 1.0:
        img = img.resize((int(img.width * scale), int(img.height * scale)))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=85)
    return out.getvalue()


@pytest.fixture(autouse=True)
def models():
    from appliance.contractors import face

    need(face.unavailable() is None, face.unavailable() or "")


@pytest.fixture
def config(tmp_path):
    from appliance.config import load_config
    from conftest import write_config

    return load_config(write_config(tmp_path / "data", extra='\n[contractors]\nentry_readers = ["GATE"]\n'
                                                                'face_check = true\nface_cameras = { GATE = "CAM-GATE" }\n'))


@pytest.fixture
def c(app, users, as_role):
    return {role: as_role(role) for role in ("admin", "safety_officer", "supervisor")}


def ok(r, status=200):
    assert r.status_code == status, r.get_data(as_text=True)
    return r.get_json()


def admitted_worker(c, no: str, name: str, uid: str) -> dict:
    """A worker whose badge alone lets them in (qualified firm, trained, on an approved job today)."""
    from datetime import date, timedelta

    import test_contractors as T

    f = T.qualified_firm(c, f"{name}所在工程有限公司")
    w = ok(c["admin"].post(f"/api/v1/contractors/{f['id']}/workers",
                           json={"employee_no": no, "name": name, "badge_uid": uid}), 201)
    ok(c["admin"].post(f"/api/v1/contractors/workers/{w['person_id']}/training",
                       json={"trained_on": (date.today() - timedelta(days=3)).isoformat()}))
    T.job(c, f, [w])
    return w


def enroll(client, person_id: int, image: bytes, consent: str = "true"):
    return client.post(f"/api/v1/contractors/workers/{person_id}/face",
                       data={"consent": consent, "photo": (io.BytesIO(image), "face.jpg")},
                       content_type="multipart/form-data")


def test_the_same_face_is_near_and_another_workers_far():
    from appliance.contractors import face

    a, _ = face.Engine.describe(photo(WORKER))
    again, px = face.Engine.describe(photo(WORKER, mirror=True, scale=0.8))
    b, _ = face.Engine.describe(photo(OTHER))
    assert len(a) == 128 and px >= 80
    assert face.distance(a, again) < 0.35
    assert face.distance(a, b) > 0.8
    assert face.unpack(face.pack(a)) == pytest.approx(a, abs=1e-6)
    from PIL import Image

    blank = io.BytesIO()
    Image.new("RGB", (400, 300), (128, 128, 128)).save(blank, "PNG")
    assert face.Engine.describe(blank.getvalue()) is None
    with pytest.raises(face.FaceError, match="photo"):
        face.Engine.describe(b"not an image")


def test_enrolment_needs_consent_and_a_face_and_stores_the_template_only(c, config):
    from appliance.contractors.models import FaceTemplate

    w = admitted_worker(c, "F1001", "陈工", UID)
    r = enroll(c["safety_officer"], w["person_id"], photo(WORKER), consent="false")
    assert r.status_code == 422 and r.get_json()["error"]["details"][0]["key"] == "consent"
    from PIL import Image

    blank = io.BytesIO()
    Image.new("RGB", (400, 300), (90, 90, 90)).save(blank, "JPEG")
    r = enroll(c["safety_officer"], w["person_id"], blank.getvalue())
    assert r.status_code == 422 and r.get_json()["error"]["details"][0]["key"] == "photo"
    assert enroll(c["supervisor"], w["person_id"], photo(WORKER)).status_code == 403
    assert FaceTemplate.select().count() == 0

    photos_before = sorted(p.name for p in Path(config.storage.data_dir).rglob("*") if p.is_file())
    mark = events.head_seq()
    out = ok(enroll(c["safety_officer"], w["person_id"], photo(WORKER)), 201)
    assert out["face_px"] >= 80 and out["consent_by"] == "user:u_safety_officer"
    t = FaceTemplate.get_by_id(w["person_id"])
    assert len(t.template) == 128 * 4 and "撤回" in t.consent_text and t.model == "dlib_face_recognition_resnet_model_v1"
    # the photo went nowhere: no new file but the database's own, and the event holds no template
    photos_after = sorted(p.name for p in Path(config.storage.data_dir).rglob("*") if p.is_file())
    assert [p for p in photos_after if p not in photos_before and not p.startswith("appliance.db")] == []
    [ev] = [e for e in events.read_after(mark, 10) if e.type == "contractor.face_enrolled"]
    assert "template" not in ev.payload and ev.payload["person_id"] == w["person_id"]

    assert ok(c["safety_officer"].delete(f"/api/v1/contractors/workers/{w['person_id']}/face"))["withdrawn"] is True
    assert FaceTemplate.select().count() == 0
    assert c["safety_officer"].delete(f"/api/v1/contractors/workers/{w['person_id']}/face").status_code == 404


def test_the_gate_lets_the_enrolled_face_in_and_asks_a_guard_for_another(c, config):
    from appliance.contractors import face
    from test_contractors import tap

    shown: dict[str, bytes | None] = {"CAM-GATE": None}
    face.FRAMES["test"] = lambda camera: shown.get(camera)   # the gate camera's newest frame
    try:
        w = admitted_worker(c, "F2001", "陈工", UID)
        other = admitted_worker(c, "F2002", "刘工", UID2)
        ok(enroll(c["safety_officer"], w["person_id"], photo(WORKER)), 201)

        shown["CAM-GATE"] = photo(WORKER, mirror=True, scale=0.8)
        assert tap("GATE", UID).type == "contractor.gate_allowed"
        shown["CAM-GATE"] = photo(OTHER)                      # someone else holds 陈工's badge
        ev = tap("GATE", UID)
        assert ev.type == "contractor.gate_refused" and ev.payload["reason"] == "face_mismatch"
        assert ev.payload["reason_zh"] == "人脸与登记不符，请保安核实"
        shown["CAM-GATE"] = None                              # the camera shows nothing
        assert tap("GATE", UID).payload["reason"] == "face_unseen"
        # 刘工 did not consent: no template, no check — his badge decides
        shown["CAM-GATE"] = photo(WORKER)
        assert tap("GATE", UID2).type == "contractor.gate_allowed"
        assert other["person_id"] != w["person_id"]
    finally:
        face.FRAMES.pop("test", None)


def test_the_face_check_is_off_by_default():
    from appliance.contractors.config import ContractorsConfig

    cfg = ContractorsConfig(entry_readers=["GATE"])
    assert cfg.face_check is False and cfg.face_cameras == {}
    with pytest.raises(ValueError, match="face_cameras"):
        ContractorsConfig(entry_readers=["GATE"], face_cameras={"CP-TANK": "CAM-1"})
