"""The demo's course (`make demo`): a 5-second video encoded at seed time (PyAV, VP8 in WebM) and a one-page
PDF written by hand (no PDF library is a dependency), in one course assigned to the 巡检员 work type (the
demo's worker 刘洋) and to a contractor firm; the demo exam assigned to the worker role."""
from __future__ import annotations

import io
import tempfile
from pathlib import Path

COURSE = "个体防护与受限空间作业安全"
FIRM = "江东建设工程有限公司"


def minimal_pdf(title: str, lines: list[str]) -> bytes:
    """A one-page A4 PDF of text lines. CJK text uses the PDF standard's Adobe-GB1 font STSong-Light
    (UniGB-UCS2-H: the text as UTF-16BE), which PDF viewers supply themselves, so nothing is embedded."""

    def hexs(s: str) -> str:
        return "<" + s.encode("utf-16-be").hex().upper() + ">"

    body = ["BT", "/F1 20 Tf", "60 770 Td", f"{hexs(title)} Tj", "/F1 13 Tf", "0 -40 Td"]
    for ln in lines:
        body += [f"{hexs(ln)} Tj", "0 -24 Td"]
    body.append("ET")
    stream = "\n".join(body).encode("ascii")
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type0 /BaseFont /STSong-Light /Encoding /UniGB-UCS2-H /DescendantFonts [6 0 R] >>",
        b"<< /Type /Font /Subtype /CIDFontType0 /BaseFont /STSong-Light "
        b"/CIDSystemInfo << /Registry (Adobe) /Ordering (GB1) /Supplement 2 >> /FontDescriptor 7 0 R >>",
        b"<< /Type /FontDescriptor /FontName /STSong-Light /Flags 6 /FontBBox [-25 -254 1000 880] /ItalicAngle 0 "
        b"/Ascent 880 /Descent -120 /CapHeight 880 /StemV 93 >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, o in enumerate(objs, 1):
        offsets.append(out.tell())
        out.write(f"{i} 0 obj\n".encode() + o + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n".encode())
    for off in offsets:
        out.write(f"{off:010d} 00000 n \n".encode())
    out.write(f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


def start_video(tmp: str | Path):
    """The demo video's encoding, started now in a child process (media.DemoVideo) to be picked up by `seed`."""
    from appliance.training import media

    return media.DemoVideo(Path(tmp) / "helmet.webm")


def seed(config, video=None) -> None:
    """Once: the demo course with its two units, assigned; the demo exam assigned to the worker role. `video`:
    the encoding `start_video` began (else it is encoded now)."""
    from appliance.training import courses as K
    from appliance.training import exams

    if K.Course.select().where(K.Course.title == COURSE).exists():
        return
    actor = "system:demo"
    data_dir = config.storage.data_dir
    c = K.create_course(K.CourseIn(title=COURSE, description="5 秒视频：安全帽的正确佩戴；PDF：受限空间作业安全须知。"), actor=actor)
    with tempfile.TemporaryDirectory() as tmp:
        with open((video or start_video(tmp)).path(), "rb") as fh:
            # probed here, not on the media worker: the appliance's start re-opens the database under a worker
            # that was still writing the probe's answer, and the unit stayed "pending" with no length (CI)
            K.add_unit(c.id, K.UnitIn(title="安全帽的正确佩戴", topic="个体防护"), fh, data_dir, actor=actor,
                       probe_now=True)
    pdf = minimal_pdf("受限空间作业安全须知", [
        "1. 作业前必须办理受限空间作业许可证（GB 30871-2022）。",
        "2. 作业前 30 分钟内进行气体分析，氧含量 19.5%–21%。",
        "3. 必须设专人监护，监护人不得离开。",
        "4. 使用安全电压照明，配备应急救援器材。",
        "Confined space entry: permit, gas test within 30 min, O2 19.5-21 %, a guardian present.",
    ])
    K.add_unit(c.id, K.UnitIn(title="受限空间作业安全须知", topic="受限空间"), io.BytesIO(pdf), data_dir, actor=actor)
    K.assign(K.AssignIn(item_id=c.id, target_kind="work_type", target="巡检员"), actor=actor)
    K.assign(K.AssignIn(item_id=c.id, target_kind="company", target=FIRM), actor=actor)
    exam = exams.Exam.select().where(exams.Exam.active).order_by(exams.Exam.id).first()
    if exam is not None:
        K.assign(K.AssignIn(item_kind="exam", item_id=exam.id, target_kind="role", target="worker"), actor=actor)
