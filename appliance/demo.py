"""The demo plant: a fictional chemical plant (储罐区, 反应车间, 仓库, 装卸站台, 中控室, 大门) with people,
badges, users and a kiosk token, so the wall board means something from the first run.

`prepare(data_dir, port)` writes the demo's own config into its data directory and seeds the database once;
credentials go to `demo-credentials.json` (0600) in the same directory.
"""
from __future__ import annotations

import json
import os
import secrets
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from appliance import domains
from appliance.config import Config, load_config
from appliance.core import auth, db
from appliance.core import people as P
from drivers.sim.plant import field_devices_toml, points_toml

if TYPE_CHECKING:
    import subprocess

SITE: dict[str, Any] = {"name": "滨江精细化工厂（演示）", "name_en": "Binjiang Fine Chemicals (demo)",
        "timezone": "Asia/Shanghai", "plan_width": 1600, "plan_height": 900}

# (code, name, name_en, kind, polygon) on a 1600 × 900 plan.
AREAS = [
    ("TANK", "储罐区", "Tank farm", "tank_farm", [[360, 40], [900, 40], [900, 420], [360, 420]]),
    ("REACT", "反应车间", "Reactor building", "process", [[960, 40], [1560, 40], [1560, 420], [960, 420]]),
    ("WH", "仓库", "Warehouse", "warehouse", [[360, 480], [820, 480], [820, 860], [360, 860]]),
    ("DOCK", "装卸站台", "Loading dock", "loading", [[880, 480], [1560, 480], [1560, 860], [880, 860]]),
    ("CTRL", "中控室", "Control room", "control", [[40, 40], [300, 40], [300, 420], [40, 420]]),
    ("GATE", "大门", "Gate", "gate", [[40, 600], [300, 600], [300, 860], [40, 860]]),
]

# (employee_no, name, kind, department, job, company, badge uid)
PEOPLE = [
    ("E1001", "张伟", "employee", "安全环保部", "安全员", "", "04A1B2C3D4E5F6"),
    ("E1002", "王芳", "employee", "生产部", "班组长", "", "04A1B2C3D4E5F7"),
    ("E1003", "李强", "employee", "生产部", "操作工", "", "04A1B2C3D4E5F8"),
    ("E1004", "刘洋", "employee", "生产部", "巡检员", "", "04A1B2C3D4E5F9"),
    ("E1005", "陈静", "employee", "设备部", "仪表工", "", "04A1B2C3D4E5FA"),
    ("E1006", "杨磊", "employee", "仓储物流部", "装卸工", "", "04A1B2C3D4E5FB"),
    ("E1007", "赵敏", "employee", "中控室", "内操", "", "04A1B2C3D4E5FC"),
    ("E1008", "黄勇", "employee", "设备部", "电工", "", "04A1B2C3D4E5FD"),
    ("E1009", "周杰", "employee", "生产部", "巡检员", "", "03FEFFE011223344"),
    ("C2001", "吴刚", "contractor", "", "焊工", "江东建设工程有限公司", "04C0FFEE000001"),
    ("C2002", "孙丽", "contractor", "", "架子工", "江东建设工程有限公司", "04C0FFEE000002"),
    ("C2003", "周平", "contractor", "", "管道安装工", "临江安装工程有限公司", "04C0FFEE000003"),  # refused at the gate
    # refused at the gate: his 焊工 特种作业操作证 expired (demo_contractors, seed_training)
    ("C2004", "钱勇", "contractor", "", "焊工", "滨海焊接工程有限公司", "04C0FFEE000004"),
    ("E1010", "郑浩", "employee", "厂部", "厂长", "", "04A1B2C3D4E600"),
]

# (login, role, display name, employee_no)
USERS = [
    ("admin", "admin", "系统管理员", None),
    ("zhangwei", "safety_officer", "张伟", "E1001"),
    ("wangfang", "supervisor", "王芳", "E1002"),
    ("liuyang", "worker", "刘洋", "E1004"),
]

KIOSK_DEVICE = "control-room-wall"

# The demo risk register: (object code, name, major hazard, area, unit, department, liable person,
#   [(event, method, inherent factors, residual factors, [(measure, classify1, classify2, cycle, unit)])])
_Measure = tuple[str, int, str, int | None, str | None]
_RiskEvent = tuple[str, str, dict[str, int], dict[str, int] | None, list[_Measure]]
RISKS: list[tuple[str, str, bool, str, str, str, str, list[_RiskEvent]]] = [
    ("OBJ-TANK", "甲醇储罐区", True, "TANK", "甲醇储罐 V-101/102", "生产部", "王芳", [
        ("储罐泄漏引发火灾爆炸", "LEC", {"l": 3, "e": 6, "c": 40}, {"l": 1, "e": 6, "c": 40}, [
            ("液位、温度、压力远传监控与高液位联锁", 1, "1-4", 1, "hour"),
            ("可燃气体检测报警仪定期标定", 2, "2-2", 1, "month"),
            ("罐区巡检：呼吸阀、阻火器、防火堤", 3, "3-2", 1, "day")])]),
    ("OBJ-REACT", "加氢反应装置", True, "REACT", "加氢反应釜 R-201", "生产部", "李强", [
        ("反应釜超温超压", "LS", {"l": 3, "s": 5}, {"l": 2, "s": 5}, [
            ("温度压力SIS联锁切断进料", 1, "1-4", None, None),
            ("操作规程培训与交接班记录", 3, "3-3", 1, "day")])]),
    ("OBJ-WH", "危化品仓库", False, "WH", "甲类仓库", "仓储物流部", "杨磊", [
        ("叉车作业碰撞伤害", "LEC", {"l": 3, "e": 6, "c": 3}, None, [
            ("叉车司机持证上岗", 3, "3-1", 1, "year")])]),
    ("OBJ-DOCK", "装卸站台", False, "DOCK", "槽车装卸鹤位", "仓储物流部", "杨磊", [
        ("装卸静电引发火灾", "LS", {"l": 3, "s": 4}, {"l": 2, "s": 4}, [
            ("静电接地报警器与装卸联锁", 1, "1-3", 1, "day")])]),
    ("OBJ-CTRL", "中控室", False, "CTRL", "DCS操作站", "中控室", "赵敏", [
        ("误操作导致工艺波动", "LS", {"l": 1, "s": 3}, None, [
            ("操作权限分级管理", 3, "3-1", None, None)])]),
]


SAMPLE = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "hardhat_sample"


def camera_toml(sample: Path = SAMPLE) -> str:
    """A camera on the loading dock looping a still clip of sample photos (read by path, never copied):
    three with bare heads between three with hard hats, each held five seconds. Empty without the data."""
    from models.config import DEFAULT_MODEL

    labels = sample / "labels"
    if not labels.is_dir():
        print(f" 演示摄像头未启用：找不到样例图片 {sample} / demo camera off: no sample images at {sample}", flush=True)
        return ""
    bare, covered = [], []
    for f in sorted(labels.glob("*.txt")):
        classes = [line.split()[0] for line in f.read_text().splitlines() if line.strip()]
        image = sample / "images" / f"{f.stem}.jpg"
        if not image.exists():
            continue
        if 1 <= classes.count("0") <= 2:
            bare.append(image.name)
        elif "0" not in classes and "1" in classes:
            covered.append(image.name)
    files = [n for pair in zip(covered[:3], bare[:3], strict=False) for n in pair]
    if not files:
        return ""
    if not DEFAULT_MODEL.exists():
        print(f" 演示摄像头：尚无 PPE 模型（{DEFAULT_MODEL}），只显示画面 / demo camera: no PPE model yet "
              f"({DEFAULT_MODEL}); frames only, health says so", flush=True)
    return ("\n[[cameras]]\n"
            f'type = "file"\nname = "dock-cam-1"\ntitle = "装卸站台 1号摄像头"\narea = "DOCK"\n'
            f"path = {json.dumps(str(sample / 'images'))}\nfiles = {json.dumps(files)}\n"
            "fps = 4\nframes_per_image = 20\n"
            "[cameras.detect]\nfps = 2\nmin_frames = 3\nmin_seconds = 1.0\ncooldown_s = 600\n"
            "camera_cooldown_s = 60\n"
            '[[cameras.zones]]\nname = "dock"\npolygon = [[0, 0], [1, 0], [1, 1], [0, 1]]\n')


def write_config(data_dir: Path, port: int, host: str, sim_port: int | None = None,
                 field_ports: tuple[str, str] | None = None, sync_port: int | None = None,
                 readers_toml: str = "") -> Path:
    """The demo's own config, rewritten each start so --port and --data are honoured; with `sim_port`, the
    gas points and the bus that reads the simulated controller listening there; with `sync_port`, a sync
    endpoint to the demo receiver there."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "appliance.toml"
    path.write_text(
        "# Written by `safety-appliance demo`; edited copies belong in /etc/safety-appliance/appliance.toml.\n"
        "[site]\n"
        f'name = "{SITE["name"]}"\nname_en = "{SITE["name_en"]}"\nappliance_id = "demo-plant"\n'
        f'timezone = "{SITE["timezone"]}"\n\n'
        "[storage]\n"
        f"data_dir = {json.dumps(str(data_dir.resolve()))}\n\n"
        "[web]\n"
        # plain HTTP in the demo (the browser it opens does not know the appliance's CA); a box has tls = true
        f'host = "{host}"\nport = {port}\ntls = false\n\n'
        "[discovery]\nenabled = true\n"
        # listening on loopback only: advertise there too, not on a LAN that cannot reach us
        + ('interfaces = ["127.0.0.1"]\n' if host == "127.0.0.1" else "") + "\n"
        '[logging]\nformat = "text"\n\n'
        # 16号令 Art. 18: a major hazard is closed by the principal's sign-off; in the demo the admin plays him
        '[hazards]\nprincipal_logins = ["admin"]\n\n'
        '[contractors]\nentry_readers = ["GATE"]\n\n'   # the gate's badge reader (appliance/demo_contractors.py)
        + (points_toml(sim_port) if sim_port else "")
        + ("\n" + field_devices_toml(*field_ports) if field_ports else "")
        + ("\n" + sync_toml(sync_port) if sync_port else "")
        + ("\n# the demo's emulated badge readers (drivers/sim/badges.py)\n" + readers_toml + "\n" if readers_toml else "")
        + camera_toml(),
        encoding="utf-8")
    return path


# ---- the demo sync receiver: records visibly arrive at a "head office" on this machine ----------------
SYNC_ENDPOINT = "demo-receiver"
SYNC_SECRET_ENV = "SAFETY_DEMO_SYNC_SECRET"  # the secret never goes into the config file


def sync_toml(port: int) -> str:
    return (f'[[sync.endpoints]]\nname = "{SYNC_ENDPOINT}"\ntype = "http-json"\n'
            f'url = "http://127.0.0.1:{port}/v1"\nsecret_env = "{SYNC_SECRET_ENV}"\n'
            "probe_interval_s = 3.0\nbackoff_cap_s = 15.0\n")


class DemoReceiver:
    """`safety-appliance receiver` in a subprocess with its data under <data>/demo-receiver; its secret is
    made once (0600) and handed over in the environment; the port is kept so a restart reuses it."""

    def __init__(self, data_dir: Path):
        import socket

        self.dir = Path(data_dir).resolve() / "demo-receiver"
        self.dir.mkdir(parents=True, exist_ok=True)
        secret_file = self.dir / "secret"
        if not secret_file.exists():
            fd = os.open(secret_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(24))
        self.secret = secret_file.read_text().strip()
        port_file = self.dir / "port"
        self.port = int(port_file.read_text()) if port_file.exists() else 0
        if not self.port:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                self.port = s.getsockname()[1]
            port_file.write_text(str(self.port))
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def command(self) -> str:
        import sys

        return (f"SYNC_RECEIVER_SECRET=$(cat {self.dir / 'secret'}) {sys.executable} -m appliance receiver "
                f"--port {self.port} --data {self.dir}")

    def start(self, retry: bool = True) -> DemoReceiver:
        import socket
        import subprocess
        import sys
        import time

        os.environ[SYNC_SECRET_ENV] = self.secret
        log = open(self.dir / "receiver.log", "a")
        self.proc = subprocess.Popen([sys.executable, "-m", "appliance", "receiver", "--port", str(self.port),
                                      "--data", str(self.dir)], stdout=log, stderr=subprocess.STDOUT,
                                     env={**os.environ, "SYNC_RECEIVER_SECRET": self.secret})
        log.close()
        (self.dir / "pid").write_text(str(self.proc.pid))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and "READY" not in (self.dir / "receiver.log").read_text():
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        if self.proc.poll() is not None and retry:  # its old port is taken now: take another
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                self.port = s.getsockname()[1]
            (self.dir / "port").write_text(str(self.port))
            return self.start(retry=False)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except Exception:
                self.proc.kill()


def seed(config: Config) -> dict:
    """Seed the demo plant once; returns the demo credentials (kept in the data directory)."""
    cred_path = config.storage.data_dir / "demo-credentials.json"
    if cred_path.exists():
        return json.loads(cred_path.read_text(encoding="utf-8"))
    actor = "system:demo"
    domains.load()
    db.migrate(config.storage.db_path, config.storage.backup_dir)
    db.open_database(config.storage.db_path, config.storage.busy_timeout_ms)
    with db.relaxed_durability():   # a seed cut short is made again at the next start
        creds = _seed(actor)
    write_credentials(cred_path, creds)   # once the seed is on disk: its passwords are the users'
    return creds


def _seed(actor: str) -> dict:
    P.set_site(**SITE, actor=actor)
    for code, name, name_en, kind, poly in AREAS:
        if P.Area.get_or_none(P.Area.code == code) is None:
            P.create_area(P.AreaIn(code=code, name=name, name_en=name_en, kind=kind, polygon=poly), actor=actor)
    person_ids: dict[str | None, int] = {}   # looked up by a user's employee number, which may be None
    for no, name, kind, dept, job, company, uid in PEOPLE:
        p = P.Person.get_or_none(P.Person.employee_no == no) or P.create_person(
            P.PersonIn(employee_no=no, name=name, kind=kind, department=dept, job=job, company=company), actor=actor)
        person_ids[no] = p.id
        if P.Badge.get_or_none(P.Badge.uid == uid) is None:
            P.issue_badge(P.BadgeIn(uid=uid, person_id=p.id), actor=actor)
    seed_risks(actor)
    seed_training(actor, person_ids)
    creds: dict[str, Any] = {"users": {}, "kiosk_token": None}
    for login, role, display, emp in USERS:
        password = secrets.token_urlsafe(9)
        if auth.User.get_or_none(auth.User.login == login) is None:
            auth.create_user(auth.UserIn(login=login, password=password, role=role, display_name=display,
                                         person_id=person_ids.get(emp)), actor=actor)
            creds["users"][login] = {"role": role, "password": password}
    if auth.DeviceToken.get_or_none(auth.DeviceToken.name == KIOSK_DEVICE) is None:
        creds["kiosk_token"] = auth.create_device_token(KIOSK_DEVICE, actor=actor)
    return creds


def write_credentials(path: Path, creds: dict) -> None:
    """The demo's passwords and tokens, private (0600) from the first byte, written atomically."""
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(creds, fh, ensure_ascii=False, indent=1)
    tmp.replace(path)


def seed_risks(actor: str) -> None:
    from appliance.risk import register as R

    areas = {a.code: a.id for a in P.Area.select()}
    for code, name, major, area, unit, dept, person, evs in RISKS:
        if R.RiskObject.get_or_none(R.RiskObject.code == code):
            continue
        o = R.create_object(R.ObjectIn(code=code, name=name, major_hazard=major, area_id=areas[area]), actor=actor)
        u = R.create_unit(R.UnitIn(object_id=o.id, name=unit, department=dept, liable_person=person), actor=actor)
        for ev_name, method, inherent, residual, measures in evs:
            e = R.create_event(R.EventIn(unit_id=u.id, name=ev_name, method=method, inherent=inherent,
                                         residual=residual), actor=actor)
            for desc, c1, c2, cycle, cu in measures:
                R.create_measure(R.MeasureIn(event_id=e.id, description=desc, classify1=c1, classify2=c2,
                                             check_cycle=cycle, check_cycle_unit=cu), actor=actor)


def seed_cockpit() -> None:
    """A year of SYNTHETIC history for the cockpit and the forecast (appliance/cockpit/synthetic.py: seeded,
    documented, every row marked 【模拟】/system:synthetic), up to last midnight; demo only, never a real plant."""
    from appliance.cockpit import synthetic

    synthetic.seed()


def seed_permits() -> None:
    """The demo's special work permits (appliance/permits): hot work at the tank farm, a confined-space entry
    in the reactor hall, both active (`--scenario gas-leak` suspends the tank-farm one)."""
    from appliance.permits.seed import seed_demo

    seed_demo()


def seed_training(actor: str, person_ids: dict) -> None:
    """Training: certificates of demo people (two lapsed, three due in 5, 25 and 55 days, the rest valid), the
    200-question bank (appliance/training/demo_bank.py), an exam, categories and some hours; then the warning
    scan, as the job would."""
    from datetime import timedelta

    from appliance.core import events, spreadsheet
    from appliance.training import bank, demo_bank, exams, records
    from appliance.training import certificates as C

    if C.Certificate.select().exists():
        return
    today = C.day_of(events.now_ms())

    def day(n: int) -> str:
        return (today + timedelta(days=n)).isoformat()

    # (employee_no, kind, number, issued days ago, expires in days or None for the kind's default)
    for no, kind, number, issued, expires in [
        ("C2001", "WELD-FUSION", "T320102198805120011", 2100, 5),      # 吴刚 焊工: 5 days left
        ("E1008", "ELEC-LV", "T320102199001010022", 2170, 25),         # 黄勇 电工: 25 days
        ("C2002", "HEIGHT-SCAFFOLD", "T320102199203030033", 2140, 55), # 孙丽 架子工: 55 days
        ("E1006", "SE-N1", "N1-2021-00451", 1470, -10),               # 杨磊 叉车: lapsed 10 days ago
        ("C2004", "WELD-FUSION", "T320102198602140055", 2205, -15),    # 钱勇 焊工 (滨海): lapsed 15 days ago
        ("E1005", "CHEM-INSTRUMENT", "T320102198711110044", 400, None),
        ("E1001", "MGR-SAFETY", "AQ-2024-0187", 300, None),
        ("E1010", "MGR-PRINCIPAL", "ZF-2024-0032", 300, None),
    ]:
        C.add(C.CertificateIn(person_id=person_ids[no], kind=kind, number=number, issuer="江东市应急管理局",
                              issued_on=day(-issued), expires_on=day(expires) if expires is not None else None,
                              # reviewed on time: the review no longer comes before the expiry
                              review_due_on=day(expires) if expires is not None and C.KINDS[kind].review_years else None),
              actor=actor)
    header = [zh for _, zh, _, _ in bank.COLUMNS]
    bank.import_questions(spreadsheet.write_csv([header, *demo_bank.rows()]), actor=actor, dry_run=False, filename="demo-bank.csv")
    exams.create_exam(exams.ExamIn(title="特殊作业安全知识考试", picks=[exams.PickIn(topic=None, count=8)],
                                   pass_mark=75, time_limit_min=20), actor=actor)
    for no, cat in [("E1010", "principal"), ("E1001", "safety_manager"), ("E1004", "worker"), ("E1008", "worker")]:
        records.set_profile(person_ids[no], records.ProfileIn(category=cat, initial_year=today.year - 1), actor=actor)
    for no, hours, title in [("E1001", 8, "危险化学品安全管理再培训"), ("E1004", 4, "巡检岗位安全操作规程"),
                             ("E1008", 24, "年度电气安全再培训")]:
        records.add_record(records.RecordIn(person_id=person_ids[no], held_on=day(-20), hours=hours, title=title), actor=actor)
    C.scan(actor=actor)


def prepare(data_dir: str | Path, port: int, host: str = "0.0.0.0",
            sim_port: int | None = None, field_ports: tuple[str, str] | None = None,
            sync_port: int | None = None, readers_toml: str = "") -> tuple[Config, dict]:
    from appliance.training import demo as training_demo

    path = write_config(Path(data_dir), port, host, sim_port, field_ports, sync_port, readers_toml)
    config = load_config(path)
    with tempfile.TemporaryDirectory() as tmp:
        # the first start: the demo video is encoded in a child process while the rest is seeded
        video = None if (config.storage.data_dir / "demo-credentials.json").exists() else training_demo.start_video(tmp)
        try:
            return _prepare(config, video)
        finally:
            if video is not None:
                video.close()


def _prepare(config: Config, video) -> tuple[Config, dict]:
    from appliance import demo_contractors, demo_emergency, demo_patrol
    from appliance.training import demo as training_demo

    creds = seed(config)
    domains.load()
    db.migrate(config.storage.db_path, config.storage.backup_dir)
    db.open_database(config.storage.db_path, config.storage.busy_timeout_ms)
    with db.relaxed_durability():   # each seed below is made again at the next start if it was cut short
        demo_patrol.seed()
        # the contractors first: 吴刚 (江东) welds on the hot-work permit, which needs him admitted and briefed
        demo_contractors.seed()   # contractor firms at the gate: one in good standing, refused ones with their reasons
        seed_permits()
        demo_emergency.seed()     # walk graph, gate assembly point (reader MUSTER-1), resources, team, plans
        seed_cockpit()
        training_demo.seed(config, video)   # a short video and a PDF in a course, assigned (training/demo.py)
    # each checkpoint screen has its own device token, named after its reader: it may answer the
    # checklist of taps at that reader only
    tokens = creds.setdefault("checkpoint_tokens", {})
    made = False
    for code, *_ in demo_patrol.CHECKPOINTS:
        if code not in tokens and auth.DeviceToken.get_or_none(auth.DeviceToken.name == code) is None:
            tokens[code] = auth.create_device_token(code, actor="system:demo")
            made = True
    if made:
        write_credentials(config.storage.data_dir / "demo-credentials.json", creds)
    return config, creds
