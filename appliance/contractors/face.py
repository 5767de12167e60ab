"""The optional face check at the gate ([contractors] face_check, off by default).

A worker who consents is enrolled from one photo: the photo is decoded in memory, the face found and turned
into a template (128 numbers), and only the template is stored with the consent (who recorded it, when, the
wording agreed to); the photo is never written. At a gate reader with a camera ([contractors] face_cameras),
an entry the badge allows for an enrolled worker is compared with the camera's newest frame: no usable face
or a face that does not match refuses the entry for a guard to check (rules.face_verdict, rules.with_face).
Withdrawing consent deletes the template.

The models ship inside PyPI packages (no download at run time), the `face` extra:
- dlib-bin (dlib 20, Boost Software License 1.0, prebuilt for x86_64 and aarch64): the HOG frontal face
  detector (built into the library), the 5-point shape predictor and the ResNet descriptor runtime;
- face-recognition-models 0.3.0 (CC0 1.0: Davis King's dlib-models, released into the public domain):
  `shape_predictor_5_face_landmarks.dat` and `dlib_face_recognition_resnet_model_v1.dat`. The package also
  ships `shape_predictor_68_face_landmarks.dat`, whose training data (iBUG 300-W) excludes commercial use:
  it is never loaded here.
"""
from __future__ import annotations

import io
import logging
import threading
from collections.abc import Callable

from appliance.contractors import config as C
from appliance.contractors import rules as R
from appliance.contractors.models import FaceTemplate, Worker
from appliance.core import events
from appliance.core import people as P
from appliance.core.errors import NotFound, ValidationFailed

log = logging.getLogger(__name__)

MODEL = "dlib_face_recognition_resnet_model_v1"
CONSENT_TEXT = ("本人同意在进入厂区大门时由摄像头采集人脸，与本人登记的人脸特征比对以核实身份；厂方只保存人脸特征值，"
                "不保存照片；本人可随时撤回同意，撤回后特征值即删除。 / I agree that the gate camera compares my face with "
                "my enrolled face template to check my identity when I enter; the plant keeps the template only, "
                "never the photo; I may withdraw at any time, and the template is then deleted.")
MAX_PIXELS = 40_000_000   # a decompression bomb is refused before decoding
MAX_UPLOAD = 15 * 1024 * 1024

# Who supplies a gate camera's newest frame (JPEG bytes) by camera name: the vision process's supervisor,
# registered at start (contractors._start); keyed so that a second start replaces rather than doubles it.
FRAMES: dict[str, Callable[[str], bytes | None]] = {}


class FaceError(Exception):
    """No usable face in a photo (the message names the field)."""


def unavailable() -> str | None:
    """Why the face check cannot run here (the `face` extra is not installed), or None."""
    try:
        import dlib  # noqa: F401
        import face_recognition_models  # noqa: F401
    except ImportError as exc:
        return f"the face extra is not installed ({exc.name}): pip install '.[face]'"
    return None


class Engine:
    """dlib's detector, 5-point landmarks and ResNet descriptor, loaded once (≈ 30 MB), one call at a time."""

    _lock = threading.Lock()
    _loaded: tuple | None = None

    @classmethod
    def _models(cls):
        if cls._loaded is None:
            import dlib
            import face_recognition_models as M

            cls._loaded = (dlib.get_frontal_face_detector(),
                           dlib.shape_predictor(M.pose_predictor_five_point_model_location()),
                           dlib.face_recognition_model_v1(M.face_recognition_model_location()))
        return cls._loaded

    @classmethod
    def describe(cls, image: bytes, min_px: int = R.FACE_MIN_PX) -> tuple[list[float], int] | None:
        """(template, face width in px) of the largest face in the image, or None when none is found. The HOG
        detector's window is 80 px: for faces that size or larger it runs on the image as it is (76 ms for
        640x480 on the 2-core box, against 258 ms upsampled once, which finding 40 px faces would need)."""
        import numpy as np
        from PIL import Image

        try:
            img = Image.open(io.BytesIO(image))
            if img.width * img.height > MAX_PIXELS:
                raise FaceError("photo: image too large")
            rgb = np.asarray(img.convert("RGB"))
        except (OSError, ValueError, Image.DecompressionBombError) as exc:
            raise FaceError(f"photo: not a readable image ({exc.__class__.__name__})") from None
        with cls._lock:
            detector, landmarks, descriptor = cls._models()
            faces = detector(rgb, 0 if min_px >= 80 else 1)
            if not faces:
                return None
            face = max(faces, key=lambda r: r.area())
            vec = descriptor.compute_face_descriptor(rgb, landmarks(rgb, face))
        return [float(x) for x in vec], int(face.width())


def pack(template: list[float]) -> bytes:
    import numpy as np

    return np.asarray(template, dtype="<f4").tobytes()


def unpack(blob: bytes) -> list[float]:
    import numpy as np

    return [float(x) for x in np.frombuffer(blob, dtype="<f4")]


def distance(a: list[float], b: list[float]) -> float:
    import numpy as np

    return float(np.linalg.norm(np.asarray(a) - np.asarray(b)))


# ---------------------------------------------------------------- enrolment (consent) and withdrawal

def enroll(person_id: int, photo: bytes, consent: bool, *, actor: str) -> dict:
    """Store a consenting worker's face template from one photo; the photo itself is not kept."""
    if not consent:
        raise ValidationFailed("consent：须先取得本人对人脸核验的单独同意", "consent: the worker's separate consent "
                               "to the face check is required first", details=[{"key": "consent"}])
    if Worker.get_or_none(Worker.person_id == person_id) is None:
        raise NotFound(f"承包商人员 {person_id} 不存在", f"contractor worker {person_id} does not exist")
    why = unavailable()
    if why:
        raise ValidationFailed(f"人脸核验未安装：{why}", why)
    try:
        found = Engine.describe(photo, C.current().face_min_px)
    except FaceError as exc:
        raise ValidationFailed(f"照片无法读取：{exc}", str(exc), details=[{"key": "photo"}]) from None
    cfg = C.current()
    if found is None or found[1] < cfg.face_min_px:
        raise ValidationFailed(f"photo：照片中没有足够清晰的人脸（须正面、宽度不少于 {cfg.face_min_px} 像素）",
                               f"photo: no usable face in the photo (frontal, at least {cfg.face_min_px} px wide)",
                               details=[{"key": "photo"}])
    template, px = found
    with events.recording(actor) as rec:
        now = events.now_ms()
        FaceTemplate.insert(person_id=person_id, template=pack(template), model=MODEL, consent_at=now,
                            consent_by=actor, consent_text=CONSENT_TEXT, created_at=now) \
            .on_conflict_replace().execute()
        # the event says that consent was recorded; the template stays out of the log (and of the sync)
        who = P.Person.get_or_none(P.Person.id == person_id)
        out = {"person_id": person_id, "person": who.name if who else None, "model": MODEL, "consent_at": now,
               "consent_by": actor, "face_px": px}
        rec.emit("contractor.face_enrolled", entity=("person", person_id), payload=out)
    return out


def withdraw(person_id: int, *, actor: str) -> dict:
    with events.recording(actor) as rec:
        n = FaceTemplate.delete().where(FaceTemplate.person_id == person_id).execute()
        if not n:
            raise NotFound("该人员没有登记人脸", "no face template for this person")
        who = P.Person.get_or_none(P.Person.id == person_id)
        rec.emit("contractor.face_withdrawn", entity=("person", person_id),
                 payload={"person_id": person_id, "person": who.name if who else None})
    return {"person_id": person_id, "withdrawn": True}


# ---------------------------------------------------------------- at the gate

def frame(camera: str) -> bytes | None:
    for source in FRAMES.values():
        got = source(camera)
        if got:
            return got
    return None


def check(reader: str, person_id: int | None) -> str | None:
    """The face verdict for a tap at `reader` ("match" | "mismatch" | "unseen"), or None when no check is
    made: the check is off, the reader has no camera, the person has no template (no consent), or the
    extra is not installed."""
    cfg = C.current()
    if not cfg.face_check or not person_id or reader not in cfg.face_cameras:
        return None
    t = FaceTemplate.get_or_none(FaceTemplate.person_id == person_id)
    if t is None or unavailable():
        return None
    image = frame(cfg.face_cameras[reader])
    if image is None:
        return R.face_verdict(None, 0, cfg.face_max_distance, cfg.face_min_px)
    try:
        found = Engine.describe(image, cfg.face_min_px)
    except FaceError:
        found = None
    if found is None:
        return R.face_verdict(None, 0, cfg.face_max_distance, cfg.face_min_px)
    return R.face_verdict(distance(unpack(t.template), found[0]), found[1], cfg.face_max_distance, cfg.face_min_px)
