"""Approval by several levels (逐级审批) and the structured JSA (作业危害分析) of a special work permit, as data
and pure functions (split from `rules` to keep each module one subject; `approvals` stores them).

Approval chain: GB 30871-2022 附录 A's 动火安全作业票 as the sources reproduce it has, in this order, the rows
所在单位意见 (the workshop), 安全管理部门意见 (the safety department) and 动火审批人意见 (the approver of the
grade: 特级 → 主要负责人, 一级 → 安全管理负责人, 二级 → 车间负责人; RULES.md §B.1 "Approval authority", [U]).
So a 特级动火 needs the workshop, then the safety department, then the main person in charge; a 一级 the
workshop, then the safety level; a 二级 the workshop. The other types' forms carry one approver row: their
grade's level. A SIMOPS escalation (rules.required_level) adds the safety level after the grade's own — our
rule: the approver who weighs the neighbouring job is the one the escalation asked for, after the workshop.
Each level is signed by a different person, none of them the applicant or one on the job (§4, no
self-approval), in order; a rejection at any level ends the permit.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from appliance.permits import rules as R

# (type, grade) → the levels that sign, in order (GB 30871-2022 附录 A 动火安全作业票, see above)
CHAINS: dict[tuple[str, str], tuple[str, ...]] = {
    ("hot_work", "special"): ("workshop", "safety", "principal"),
    ("hot_work", "1"): ("workshop", "safety"),
    ("hot_work", "2"): ("workshop",),
}


def chain_for(work_type: str, grade: str, required: str | None = None) -> tuple[str, ...]:
    """The levels that must approve, in order: the type/grade's chain (CHAINS, else its grade's one level),
    then up to `required` (the level after SIMOPS, rules.required_level) where that is higher."""
    levels = CHAINS.get((work_type, grade)) or (R.grade_of(work_type, grade).approver,)
    if required and R.LEVEL_RANK[required] > max(R.LEVEL_RANK[x] for x in levels):
        levels = (*levels, required)
    return levels


@dataclass(frozen=True)
class Step:
    """One level's decision: who (actor login, their person id), approved or rejected."""
    level: str
    actor: str
    person_id: int | None
    decision: str   # approved | rejected


def pending_level(chain: Sequence[str], steps: Sequence[Step]) -> str | None:
    """The next level to sign (None once every level approved, or after a rejection)."""
    if any(s.decision == "rejected" for s in steps):
        return None
    done = sum(1 for s in steps if s.decision == "approved")
    return chain[done] if done < len(chain) else None


def may_decide(chain: Sequence[str], steps: Sequence[Step], *, actor: str, role: str, person_id: int | None,
               applicant: str, people_on_job: Iterable[int]) -> str | None:
    """Why this user may not approve (or reject) the permit's next level now, or None.
    Reasons: "done" (nothing pending), "role" (not this level's role, rules.APPROVER_ROLES), "self" (the
    applicant or one on the job, §4), "again" (signed an earlier level of this permit: each level another
    person)."""
    level = pending_level(chain, steps)
    if level is None:
        return "done"
    if not R.approver_may(level, role):
        return "role"
    login = actor.removeprefix("user:")
    if R.self_approval(login, person_id, applicant.removeprefix("user:"), people_on_job):
        return "self"
    if any(s.actor.removeprefix("user:") == login or (person_id is not None and s.person_id == person_id)
           for s in steps):
        return "again"
    return None


# ---------------------------------------------------------------- JSA (作业危害分析) as rows

# GB 30871-2022 §4 (基本要求): before special work the plant identifies the hazards of the site and of the
# work and sets the control measures (the sources' wording: 作业前应对作业现场和作业过程中可能存在的危险、
# 有害因素进行辨识，制定相应的安全措施) — for every type. The form of it, a step-by-step JSA (each step, its
# hazards, its measures and who sees to them), is common practice for the high-risk grades, not the
# standard's words: OUR RULE — required where the permit needs approval above the workshop (特级/一级动火,
# 高处 Ⅲ/Ⅳ, 吊装一级, 盲板抽堵一级) and for every confined-space entry (the deadliest of the eight); optional
# for the others (their free-text 风险辨识 still goes on the permit).
JSA_REQUIRED: dict[str, frozenset[str]] = {
    "hot_work": frozenset({"special", "1"}),
    "confined_space": frozenset({"-"}),
    "blinding": frozenset({"1"}),
    "height": frozenset({"III", "IV"}),
    "lifting": frozenset({"1"}),
}
JSA_MAX_ROWS = 30
JSA_FIELDS = ("step", "hazards", "measures", "responsible")


def jsa_required(work_type: str, grade: str) -> bool:
    """Whether the permit needs a structured JSA (JSA_REQUIRED, our rule over GB 30871-2022 §4)."""
    return grade in JSA_REQUIRED.get(work_type, frozenset())


def jsa_problems(work_type: str, grade: str, rows: Sequence[Mapping[str, str]]) -> list[tuple[str, str]]:
    """(field key, what is wrong) for a JSA: required and empty; a row with a step but no hazard, no measure
    or nobody responsible (each named `jsa_rows.<i>.<field>`, i from 0); a step given twice."""
    out: list[tuple[str, str]] = []
    if not rows:
        if jsa_required(work_type, grade):
            out.append(("jsa_rows", "required"))
        return out
    if len(rows) > JSA_MAX_ROWS:
        out.append(("jsa_rows", "too_many"))
    seen: set[str] = set()
    for i, row in enumerate(rows):
        for f in JSA_FIELDS:
            if not str(row.get(f) or "").strip():
                out.append((f"jsa_rows.{i}.{f}", "empty"))
        step = str(row.get("step") or "").strip()
        if step and step in seen:
            out.append((f"jsa_rows.{i}.step", "repeated"))
        seen.add(step)
    return out
