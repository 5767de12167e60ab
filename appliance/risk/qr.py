"""Area lookup from the QR label of a piece of equipment in a hazard photo (OpenCV's QRCodeDetector).

Label format (printed on the equipment's nameplate label; case of the prefix does not matter):

    SA:AREA:<area code>     the area itself, e.g. SA:AREA:TANK
    SA:EQ:<equipment code>  a piece of equipment: the risk analysis object with that code (风险分析对象编码,
                            e.g. SA:EQ:OBJ-T01), located in its own area or else in its units' area

Anything else in a QR code (a URL, a vendor's serial) is "not one of our labels". The photo is decoded by
`photos.decode` (so the same checks apply as for an upload) and scaled down before detection. OpenCV is
imported on first use only: the appliance runs without it, and says so, rather than failing to start.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from appliance.core.errors import ApplianceError

log = logging.getLogger(__name__)

LABEL_RE = re.compile(r"^SA:(AREA|EQ):([A-Za-z0-9_-]{1,40})$", re.IGNORECASE)
DETECT_SIDE = 1600  # phone photos are 4000 px wide; a label big enough to read survives this


class QrUnavailable(ApplianceError):
    """OpenCV is not installed on this box: choose the area by hand."""

    code = "qr_unavailable"
    http_status = 503


@dataclass(frozen=True)
class Label:
    kind: str  # "area" or "equipment"
    code: str


def parse_label(text: str) -> Label | None:
    """The appliance label a QR text carries, or None for any other text."""
    m = LABEL_RE.match(text.strip())
    if not m:
        return None
    return Label("area" if m.group(1).upper() == "AREA" else "equipment", m.group(2))


def detect(data: bytes) -> list[str]:
    """The texts of every QR code OpenCV finds in the photo (may be empty)."""
    from appliance.core.photos import decode

    img = decode(data).convert("L")
    img.thumbnail((DETECT_SIDE, DETECT_SIDE))
    try:
        import cv2
        import numpy as np
    except ImportError:
        raise QrUnavailable("本设备未安装 OpenCV，无法识别二维码，请手动选择区域",
                            "OpenCV is not installed on this box; choose the area by hand") from None
    gray = np.asarray(img)
    detector = cv2.QRCodeDetector()
    try:
        ok, texts, _, _ = detector.detectAndDecodeMulti(gray)
    except cv2.error as exc:  # OpenCV can fail on odd geometry; that is "no label found", not a crash
        log.warning("QR detection failed: %s", exc)
        return []
    found = [t for t in texts if t] if ok else []
    if not found:  # the multi detector misses some single, tilted codes the single one reads
        text, _, _ = detector.detectAndDecode(gray)
        found = [text] if text else []
    return found


def _area_of(label: Label):
    """The active area a label names, or None."""
    from appliance.core.people import Area
    from appliance.risk.register import RiskObject, RiskUnit

    if label.kind == "area":
        return Area.get_or_none((Area.code == label.code) & Area.active)
    obj = RiskObject.get_or_none((RiskObject.code == label.code) & RiskObject.active)
    if obj is None:
        return None
    area_id = obj.area_id
    if area_id is None:  # the equipment's units name one area between them: that is where it stands
        ids = {u.area_id for u in RiskUnit.select(RiskUnit.area_id).where(RiskUnit.object_id == obj.id)} - {None}
        area_id = ids.pop() if len(ids) == 1 else None
    return Area.get_or_none((Area.id == area_id) & Area.active) if area_id else None


MESSAGES = {
    "found": ("已按二维码“{label}”选择区域：{area}", "area chosen from QR label '{label}': {area}"),
    "no_qr": ("照片中没有识别到二维码，请手动选择区域", "no QR code found in the photo; choose the area by hand"),
    "not_a_label": ("二维码“{label}”不是本系统的设备标签，请手动选择区域",
                    "QR code '{label}' is not one of the appliance's labels; choose the area by hand"),
    "unknown_code": ("标签“{label}”没有对应的区域，请手动选择区域",
                     "label '{label}' names no known area; choose the area by hand"),
}


def locate(data: bytes) -> dict:
    """{area_id, area_code, label, reason, messages} for a photo: reason is "found", "no_qr",
    "not_a_label" or "unknown_code"; area_id is None unless found."""
    texts = detect(data)
    labels = [(t, parse_label(t)) for t in texts]
    ours = [(t, lb) for t, lb in labels if lb is not None]
    area, text = None, texts[0] if texts else ""
    for t, lb in ours:
        text = t
        area = _area_of(lb)
        if area is not None:
            break
    reason = "found" if area else "unknown_code" if ours else "not_a_label" if texts else "no_qr"
    zh, en = MESSAGES[reason]
    shown = text[:80]
    return {"area_id": area.id if area else None, "area_code": area.code if area else None, "label": shown,
            "reason": reason, "messages": {"zh-CN": zh.format(label=shown, area=area.name if area else ""),
                                           "en": en.format(label=shown, area=(area.name_en or area.name) if area else "")}}


def label_text(kind: str, code: str) -> str:
    """The text printed in the QR label of an area ("area") or a piece of equipment ("equipment")."""
    return f"SA:{'AREA' if kind == 'area' else 'EQ'}:{code}"


def label_png(text: str, module_px: int = 10) -> bytes:
    """A printable QR code of `text` as PNG: `module_px` pixels a module, with the 4-module quiet zone
    scanners need (OpenCV's encoder leaves it out)."""
    import io

    from PIL import Image, ImageOps

    try:
        import cv2
    except ImportError:
        raise QrUnavailable("本设备未安装 OpenCV，无法生成二维码标签", "OpenCV is not installed on this box; no QR labels") from None
    modules = cv2.QRCodeEncoder.create().encode(text)
    img = Image.fromarray(modules).convert("L")
    img = ImageOps.expand(img, border=4, fill=255)
    img = img.resize((img.width * module_px, img.height * module_px), Image.Resampling.NEAREST)
    out = io.BytesIO()
    img.save(out, "PNG", optimize=True)
    return out.getvalue()
