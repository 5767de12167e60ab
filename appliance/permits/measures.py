"""Special work's safety measures (作业安全措施, the JSA checklist) per work type, as data: GB 30871-2022 附录 A's
forms as the sources quote them (see `rules`). Split from `rules` to keep each module one subject."""
from __future__ import annotations

from collections.abc import Mapping

# GB 30871-2022 附录 A forms: each type's safety measures (the sources' lists, abbreviated); each must be
# confirmed (涉及 or 不涉及) by a named person before approval.
MEASURES: dict[str, list[tuple[str, str, str]]] = {
    "hot_work": [
        ("isolate", "动火设备内部构件清洗干净，蒸汽吹扫或水洗、置换合格", "Equipment cleaned, purged and replaced"),
        ("blind", "断开与动火设备相连的所有管线，加盲板", "Connected lines disconnected and blinded"),
        ("drains", "动火点周围 15 m 内的下水井、地漏、地沟等已封严", "Drains within 15 m sealed"),
        ("combustibles", "动火点周围易燃物已清除", "Combustibles around removed"),
        ("no_release", "30 m 内无可燃气体排放，15 m 内无可燃液体排放", "No gas release within 30 m, liquid within 15 m"),
        ("extinguisher", "配备消防器材（灭火器、消防蒸汽带或水带）", "Fire extinguishers and hoses ready"),
        ("cylinders", "乙炔瓶直立、防回火装置，与动火点距离 > 10 m", "Acetylene upright with arrestor, > 10 m away"),
        ("fire_watch", "现场监护人到位，全程监护", "Fire watch present throughout"),
    ],
    "confined_space": [
        ("isolate", "与受限空间连通的管道已盲板隔离或拆除一段", "Connected lines blinded or removed"),
        ("energy", "电源已切断并上锁挂牌", "Power isolated, locked and tagged"),
        ("ventilate", "已清洗置换并强制通风", "Cleaned, purged, force-ventilated"),
        ("detect", "作业中连续检测氧、可燃、有毒气体", "Continuous O₂/combustible/toxic detection"),
        ("rescue", "配备救援器材（空气呼吸器、安全绳）", "Rescue gear (SCBA, lifeline) ready"),
        ("lighting", "使用安全电压照明", "Safe-voltage lighting"),
        ("guard", "出入口设监护人，保持联络", "Guardian at the entry, in contact"),
    ],
    "blinding": [
        ("depressure", "管道已泄压、排空", "Line depressurised and drained"),
        ("map", "盲板位置图已编制并编号", "Blind location drawing made and numbered"),
        ("tools", "使用防爆工具，穿防静电服", "Non-sparking tools, antistatic clothing"),
    ],
    "height": [
        ("harness", "佩戴安全带，高挂低用", "Harness worn, tied high"),
        ("scaffold", "脚手架、梯子经检查合格", "Scaffold and ladders inspected"),
        ("below", "下方设警戒区", "Area below cordoned off"),
    ],
    "lifting": [
        ("plan", "吊装方案已审批", "Lift plan approved"),
        ("rigging", "吊索具检查合格", "Rigging inspected"),
        ("zone", "吊物下方禁止人员通行", "No one under the load"),
        ("signal", "指挥人员、司索人员到位", "Signaller and rigger present"),
    ],
    "temp_power": [
        ("rcd", "安装漏电保护器", "RCD installed"),
        ("explosion_proof", "易燃易爆场所使用防爆电器", "Ex-rated equipment in hazardous areas"),
        ("electrician", "持证电工接线", "Certified electrician wires it"),
    ],
    "excavation": [
        ("utilities", "地下管线、电缆已查明并标注", "Buried lines and cables located"),
        ("shoring", "放坡或支护", "Slope or shoring"),
        ("barrier", "设置围栏和警示灯", "Barrier and warning lights"),
    ],
    "road_closure": [
        ("notice", "已通知相关部门及消防", "Departments and fire brigade notified"),
        ("signs", "设置路障和警示标志", "Barricades and signs"),
        ("detour", "绕行路线已确定", "Detour route set"),
    ],
}


def measures_missing(work_type: str, confirmed: Mapping[str, Mapping]) -> list[str]:
    """The measure codes not yet confirmed (each needs `applies` true/false and a named `by`)."""
    return [code for code, *_ in MEASURES[work_type]
            if code not in confirmed or not str(confirmed[code].get("by") or "").strip()]
