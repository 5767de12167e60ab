"""重大事故隐患 (major hazards): the extra steps of their closed loop, as data and pure functions.

《安全生产事故隐患排查治理暂行规定》 (原国家安监总局 16号令):
- Art. 14 (second paragraph): a major hazard's report holds (一) 隐患的现状及其产生原因, (二) 隐患的危害程度和
  整改难易程度分析, (三) 隐患的治理方案 — all three before it leaves the reported state (`missing_report`).
- Art. 15: the treatment plan's six parts (`rules.MAJOR_PLAN_FIELDS`).
- Art. 18: after treatment, an evaluation (评估) by the plant's own technical staff and experts or by a
  qualified safety-evaluation agency (安全评价机构); only then may it be closed — here by the principal's
  (主要负责人) sign-off (`check_sign_off`).
- The reporter's grade is a proposal: the safety office confirms or changes it with a reason
  (`check_regrade`); a ticked 121号 item forces the major grade (`checklist.forces_major`).
"""
from __future__ import annotations

from appliance.hazards.rules import MAJOR_PLAN_FIELDS, TransitionRefused, missing_plan_fields

# Art. 14 (一) and (二); (三) is the Art. 15 plan
REPORT_FIELDS = ("status_cause", "harm_analysis")

# who is the safety office (安全管理部门) for re-grading and recording the evaluation
SAFETY_OFFICE = frozenset({"admin", "safety_officer"})

# a grade may change while the hazard is still being handled; once rectified the evaluation (major) or
# acceptance (general) judges the work done against the grade it had
REGRADE_STATES = ("reported", "rectifying")

ASSESSOR_KINDS = ("internal_experts", "agency")   # Art. 18: 本单位技术人员和专家 / 安全评价机构
EVAL_RESULTS = ("pass", "fail")                    # 符合安全生产条件 / 不符合


def missing_report(status_cause: str | None, harm_analysis: str | None, plan: dict | None) -> list[str]:
    """Art. 14 (一)(二)(三): the parts of a major hazard's report still empty (plan parts as plan.<part>)."""
    out = [k for k, v in (("status_cause", status_cause), ("harm_analysis", harm_analysis)) if not (v or "").strip()]
    return out + [f"plan.{f}" for f in missing_plan_fields(plan)]


def check_regrade(role: str, state: str, old: str, new: str, reason: str, checklist: list[str]) -> dict:
    """The safety office re-grades (一般 ↔ 重大) with a reason; returns what the event records.

    The reporter's grade is only a proposal, so nobody outside the safety office changes it; a grade forced
    by a ticked 121号 item may be lowered only by the safety office, and the event says it overrode the
    checklist."""
    if role not in SAFETY_OFFICE:
        raise TransitionRefused("只有安全管理部门可以调整隐患等级", "only the safety office may re-grade a hazard", who=True)
    if state not in REGRADE_STATES:
        raise TransitionRefused(f"状态为“{state}”的隐患不能调整等级（已整改完成或已销号）",
                                f"a hazard in state {state!r} can no longer be re-graded")
    if new == old:
        raise TransitionRefused(f"隐患已是该等级（{new}）", f"the hazard is already {new}")
    if not reason.strip():
        raise ValueError("reason")
    return {"from": old, "to": new, "reason": reason.strip(),
            "checklist_overridden": bool(new == "general" and checklist)}


def check_evaluate(role: str, login: str, rectifier: str | None) -> None:
    """Art. 18: the safety office records the evaluation; not the person who did the rectification."""
    if role not in SAFETY_OFFICE:
        raise TransitionRefused("只有安全管理部门可以登记重大事故隐患治理评估",
                                "only the safety office records a major hazard's evaluation", who=True)
    if login == rectifier:
        raise TransitionRefused("整改人不能登记对自己整改的评估", "the rectifier may not record the evaluation of their own work",
                                who=True)


def evaluation_problems(kind: str | None, assessor: str, result: str | None, document: str, photo: str | None) -> list[str]:
    """Art. 18: the keys of an evaluation that are missing — who evaluated (kind and name), the result, and
    the evaluation report (a document reference or a photo/scan of it)."""
    out = []
    if kind not in ASSESSOR_KINDS:
        out.append("assessor_kind")
    if not assessor.strip():
        out.append("assessor")
    if result not in EVAL_RESULTS:
        out.append("result")
    if not document.strip() and not photo:
        out.append("document")
    return out


def check_sign_off(login: str, principals: list[str], rectifier: str | None, evaluation: dict | None) -> None:
    """Art. 18: a major hazard closes only after its evaluation is recorded with a pass, by the principal's
    (主要负责人) sign-off; the principal may not sign off their own rectification."""
    if not evaluation:
        raise TransitionRefused("重大事故隐患须先登记治理评估（16号令第十八条），才能验收销号",
                                "a major hazard is accepted only after its evaluation is recorded (SAWS order 16 Art. 18)")
    if evaluation.get("result") != "pass":
        raise TransitionRefused("评估结论为不符合安全生产条件，不能验收销号",
                                "the evaluation found it does not meet safety conditions; it cannot be accepted")
    if not principals:
        raise TransitionRefused("未配置主要负责人（配置项 hazards.principal_logins），无人可签字验收重大事故隐患",
                                "no principal is configured (config key hazards.principal_logins): nobody may sign "
                                "off a major hazard", who=True)
    user = login.removeprefix("user:")
    if user not in principals:
        raise TransitionRefused("重大事故隐患须由主要负责人签字验收", "a major hazard is signed off by the principal (主要负责人)",
                                who=True)
    if login == rectifier:
        raise TransitionRefused("整改人不能验收自己的整改（禁止自验收）",
                                "the rectifier may not accept their own rectification", who=True)


def stage(grade: str, state: str, evaluation: dict | None) -> str | None:
    """Where a major hazard awaiting acceptance stands: 待评估 (awaiting_evaluation) or 待主要负责人签字
    (awaiting_sign_off); None for anything else."""
    if grade != "major" or state != "pending_acceptance":
        return None
    return "awaiting_sign_off" if evaluation and evaluation.get("result") == "pass" else "awaiting_evaluation"


__all__ = ["ASSESSOR_KINDS", "EVAL_RESULTS", "MAJOR_PLAN_FIELDS", "REPORT_FIELDS", "SAFETY_OFFICE", "check_evaluate",
           "check_regrade", "check_sign_off", "evaluation_problems", "missing_report", "stage"]
