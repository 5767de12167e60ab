"""The contractors' people on a permit: a worker who belongs to a contractor firm is briefed on or starts
special work only when the gate would admit them now (firm qualified and not blacklisted, entry training,
certificates, an active job — `contractors.gate.permit_refusals`) and they confirmed the contractor job's
safety briefing (GB 30871-2022 §4 作业前安全交底). The other way round, the gate asks
`certs.certs_on_permits` which certificates today's permits need of a person."""
from __future__ import annotations

from collections.abc import Iterable

from appliance.core import people as P
from appliance.core.errors import Conflict

_PROBLEM = {"missing": ("缺失", "missing"), "expired": ("已过期", "expired"),
            "review_overdue": ("逾期未复审", "review overdue")}


def reason_words(codes: Iterable[str]) -> tuple[str, str]:
    """The refusal codes of one person in words (zh, en), certificate details named by type."""
    from appliance.contractors import rules as CR
    from appliance.contractors import service as CS

    zh: list[str] = []
    en: list[str] = []
    for code in codes:
        if ":" in code:
            what, t = code.split(":", 1)
            name = CR.CERT_TYPES.get(t, (t, t))
            z, e = _PROBLEM.get(what, (what, what))
            zh.append(f"{name[0]}操作证{z}")
            en.append(f"{name[1]} certificate {e}")
        elif code != "certificate":     # its details follow it
            z, e = CS.reason_text(code)
            zh.append(z)
            en.append(e[0].lower() + e[1:])
    return "；".join(zh), "; ".join(en)


def contractor_refusal(workers: Iterable[int], at: int) -> tuple[str, str] | None:
    """(zh, en) naming each contractor's worker on the permit who may not work on it now and why, or None."""
    from appliance.contractors import gate

    lines_zh, lines_en = [], []
    for pid in workers:
        codes = gate.permit_refusals(pid, at)
        if not codes:
            continue
        person = P.Person.get_or_none(P.Person.id == pid)
        name = person.name if person else str(pid)
        zh, en = reason_words(codes)
        lines_zh.append(f"{name}（{zh}）")
        lines_en.append(f"{name} ({en})")
    if not lines_zh:
        return None
    return ("承包商作业人员不能上岗：" + "，".join(lines_zh) + "（安全生产法第四十九条；GB 30871-2022 作业前安全交底）",
            "contractor workers may not work on this permit: " + ", ".join(lines_en)
            + " (Work Safety Law Art. 49; GB 30871-2022 safety briefing before work)")


def check_admitted(workers: Iterable[int], at: int) -> None:
    """Conflict naming the contractors' workers not admitted or not briefed (`contractor_refusal`)."""
    refusal = contractor_refusal(workers, at)
    if refusal:
        raise Conflict(*refusal)
