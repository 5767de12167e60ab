"""The apply form's checks that name their fields: a blinding permit's line conditions (rules) and the
structured JSA (chain), as bilingual 422s (split from `service`)."""
from __future__ import annotations

from appliance.core.errors import ValidationFailed
from appliance.permits import chain as C
from appliance.permits import rules as R

_UNITS = {"medium_temp_c": ("介质温度", "°C", "the medium's temperature", R.BLINDING_TEMP_RANGE_C),
          "medium_pressure_mpa": ("介质压力", "MPa，表压", "the medium's pressure", R.BLINDING_PRESSURE_RANGE_MPA)}


def check_blinding(temp_c: float | None, pressure_mpa: float | None) -> None:
    """GB 30871-2022 §7: a blinding permit records the line's temperature and pressure (RULES.md §B.1);
    each error names its field, its unit and the range."""
    problems = R.blinding_condition_problems(temp_c, pressure_mpa)
    if not problems:
        return
    zh, en = [], []
    for key, why in problems:
        name, unit, name_en, (lo, hi) = _UNITS[key]
        unit_en = unit.replace("，表压", " gauge")
        if why == "missing":
            zh.append(f"{key}：盲板抽堵作业须填写{name}（{unit}）")
            en.append(f"{key}: a blinding permit needs {name_en} ({unit_en})")
        else:
            zh.append(f"{key}：{name}应在 {lo:g} 至 {hi:g} {unit} 之间")
            en.append(f"{key}: {name_en} must be {lo:g} to {hi:g} {unit_en}")
    raise ValidationFailed("；".join(zh), "; ".join(en), details=[{"key": k, "reason": w} for k, w in problems])


_JSA_NAMES = {"step": ("作业步骤", "step"), "hazards": ("危害", "hazards"), "measures": ("控制措施", "control measures"),
              "responsible": ("负责人", "who is responsible")}


def check_jsa(work_type: str, grade: str, rows: list[dict]) -> None:
    """The structured JSA (chain.jsa_problems): every error names its row and field."""
    problems = C.jsa_problems(work_type, grade, rows)
    if not problems:
        return
    zh, en = [], []
    for key, why in problems:
        if why == "required":
            zh.append(f"{key}：此作业须填写作业危害分析（JSA）：至少一个作业步骤，及其危害、控制措施和负责人")
            en.append(f"{key}: this work needs a job safety analysis: at least one step with its hazards, "
                      "control measures and who is responsible")
        elif why == "too_many":
            zh.append(f"{key}：作业步骤最多 {C.JSA_MAX_ROWS} 个")
            en.append(f"{key}: at most {C.JSA_MAX_ROWS} steps")
        else:
            _, i, field = key.split(".")
            fz, fe = _JSA_NAMES[field]
            if why == "repeated":
                zh.append(f"{key}：第 {int(i) + 1} 行的作业步骤与前面重复")
                en.append(f"{key}: row {int(i) + 1} repeats an earlier step")
            else:
                zh.append(f"{key}：第 {int(i) + 1} 行的{fz}不能为空")
                en.append(f"{key}: row {int(i) + 1}: {fe} is empty")
    raise ValidationFailed("；".join(zh), "; ".join(en), details=[{"key": k, "reason": w} for k, w in problems])
