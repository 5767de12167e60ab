"""The 20 situations that are 重大事故隐患 by themselves (直判), as a checklist a hazard report may tick.

Source: 《化工和危险化学品生产经营单位重大生产安全事故隐患判定标准(试行)》 (安监总管三〔2017〕121号), items
一 to 二十. /work/shared/domain/RULES.md §B.5 lists the standard and its sources and glosses several items in
English, but quotes none of them in Chinese; the Chinese below is the standard's wording as published by
third parties (items 一–十二 checked against a public copy of the text; 十三–二十 as the standard names them,
marked [P] = paraphrase-level confidence until checked against the official notice). The "2023" revision that
RULES.md mentions is known by title only and is not encoded.

A "yes" to any item forces the major grade (RULES.md §B.5: "直判重大隐患" forces DANGER_LEVEL=1): the
reporter cannot downgrade it; only the safety office can, with a reason, and the event records the override.
"""
from __future__ import annotations

from typing import NamedTuple


class Item(NamedTuple):
    code: str      # stable id stored on the hazard: "121-01" … "121-20"
    zh: str
    en: str        # a short gloss, not a translation


CHECKLIST_121: tuple[Item, ...] = (
    # 121号 一
    Item("121-01", "危险化学品生产、经营单位主要负责人和安全生产管理人员未依法经考核合格",
         "principal or safety managers not certified by examination"),
    # 121号 二
    Item("121-02", "特种作业人员未持证上岗", "special-operation workers without a certificate"),
    # 121号 三
    Item("121-03", "涉及“两重点一重大”的生产装置、储存设施外部安全防护距离不符合国家标准要求",
         "external safety distances of 两重点一重大 units or storage non-compliant"),
    # 121号 四
    Item("121-04", "涉及重点监管危险化工工艺的装置未实现自动化控制，系统未实现紧急停车功能，装备的自动化控制系统、"
                   "紧急停车系统未投入使用",
         "key-supervised hazardous process without automatic control / ESD, or not in service"),
    # 121号 五
    Item("121-05", "构成一级、二级重大危险源的危险化学品罐区未实现紧急切断功能；涉及毒性气体、液化气体、剧毒液体的"
                   "一级、二级重大危险源的危险化学品罐区未配备独立的安全仪表系统",
         "level-1/2 major-hazard tank farm without emergency shut-off, or (toxic/liquefied) without an independent SIS"),
    # 121号 六
    Item("121-06", "全压力式液化烃储罐未按国家标准设置注水措施", "pressurised LPG tanks without water injection"),
    # 121号 七
    Item("121-07", "液化烃、液氨、液氯等易燃易爆、有毒有害液化气体的充装未使用万向管道充装系统",
         "loading of liquefied flammable/toxic gases without a swivel-arm (万向管道) system"),
    # 121号 八
    Item("121-08", "光气、氯气等剧毒气体及硫化氢气体管道穿越除厂区（包括化工园区、工业园区）外的公共区域",
         "highly toxic gas or H₂S pipelines crossing public areas outside the plant or park"),
    # 121号 九
    Item("121-09", "地区架空电力线路穿越生产区且不符合国家标准要求",
         "overhead power lines crossing the production area, non-compliant"),
    # 121号 十
    Item("121-10", "在役化工装置未经正规设计且未进行安全设计诊断",
         "unit in service never formally designed and without a safety design review"),
    # 121号 十一
    Item("121-11", "使用淘汰落后安全技术工艺、设备目录列出的工艺、设备",
         "process or equipment on the phase-out list in use"),
    # 121号 十二
    Item("121-12", "涉及可燃和有毒有害气体泄漏的场所未按国家标准设置检测报警装置，爆炸危险场所未按国家标准安装使用"
                   "防爆电气设备",
         "leak areas without gas detection alarms, or non-Ex electrics in hazardous areas"),
    # 121号 十三 [P] wording as the standard names it, not checked against the official text
    Item("121-13", "控制室或机柜间面向具有火灾、爆炸危险性装置一侧不满足国家标准关于防火防爆的要求",
         "control room or rack room facing a fire/explosion-hazard unit not fire- and blast-resistant"),
    # 121号 十四 [P]
    Item("121-14", "化工生产装置未按国家标准要求设置双重电源供电，自动化控制系统未设置不间断电源",
         "no dual power supply for the unit, or no UPS for the control system"),
    # 121号 十五 [P]
    Item("121-15", "安全阀、爆破片等安全附件未正常投用", "safety valves, rupture discs or other safety accessories not in service"),
    # 121号 十六 [P]
    Item("121-16", "未建立与岗位相匹配的全员安全生产责任制或者未制定实施生产安全事故隐患排查治理制度",
         "no post-matched safety responsibility system, or no hazard investigation and treatment system in force"),
    # 121号 十七 [P]
    Item("121-17", "未制定操作规程和工艺控制指标", "no operating procedures or process control limits"),
    # 121号 十八 [P]
    Item("121-18", "未按照国家标准制定动火、进入受限空间等特殊作业管理制度，或者制度未有效执行",
         "no special-work (hot work, confined space) management system, or not enforced"),
    # 121号 十九 [P]
    Item("121-19", "新开发的危险化学品生产工艺未经小试、中试、工业化试验直接进行工业化生产；国内首次使用的化工工艺未经过"
                   "省级人民政府有关部门组织的安全可靠性论证；新建装置未制定试生产方案投料开车；精细化工企业未按规范性文件"
                   "要求开展反应安全风险评估",
         "new process industrialised without pilot trials, first-use process unreviewed, no trial-run plan, or no "
         "reaction hazard assessment (fine chemicals)"),
    # 121号 二十 [P]
    Item("121-20", "未按国家标准分区分类储存危险化学品，超量、超品种储存危险化学品，相互禁配物质混放混存",
         "hazardous chemicals not stored by zone and class, over quantity or kind, or incompatibles stored together"),
)

CODES = tuple(i.code for i in CHECKLIST_121)
BY_CODE = {i.code: i for i in CHECKLIST_121}


def unknown(ticked: list[str]) -> list[str]:
    """The ticked codes that are not items of the checklist (a typo or a stale client)."""
    return [c for c in ticked if c not in BY_CODE]


def forces_major(ticked: list[str]) -> bool:
    """121号: any one of the 20 situations is a major hazard by itself."""
    return any(c in BY_CODE for c in ticked)
