"""Config validation: a table of bad files, each rejected with the key named in zh-CN and en."""
from __future__ import annotations

import pytest

from appliance.config import Config, load_config, parse_config
from appliance.core.errors import ConfigError
from conftest import ROOT, run_cli


def test_defaults_and_example_file_are_valid():
    assert parse_config("") == Config()
    cfg = load_config(ROOT / "appliance.example.toml")
    assert cfg.site.timezone == "Asia/Shanghai"
    assert str(cfg.storage.db_path).endswith("appliance.db")


WIND_POINTS = """
[[points]]
id = "WD-1"
name = "气象站风向"
gas = "WD"
range_high = 360
[[points]]
id = "GT-1"
name = "储罐区甲烷"
gas = "CH4"
"""


def test_the_wind_point_is_a_wind_direction_point():
    """[emergency] wind_point is optional and, when set, names a [[points]] entry with gas = "WD"."""
    assert parse_config("").emergency.wind_point is None
    c = parse_config(WIND_POINTS + "[emergency]\nwind_point = 'WD-1'\n")
    assert c.emergency.wind_point == "WD-1" and c.points[0].unit_or_default == "°"


@pytest.mark.parametrize("text, key, en_fragment", [
    ("[web]\nprot = 8080\n", "web.prot", "unknown key"),
    ("[sit]\nname = 'x'\n", "sit", "unknown key"),
    ("[web]\nport = 'eighty'\n", "web.port", "must be an integer"),
    ("[web]\nport = 70000\n", "web.port", "too large"),
    ("[web]\nhost = 'not-an-ip'\n", "web.host", "not valid"),
    ("[web]\nthreads = 1\n", "web.threads", "too small"),
    ("[site]\ntimezone = 'Mars/Olympus'\n", "site.timezone", "unknown time zone"),
    ("[site]\nappliance_id = 'has space'\n", "site.appliance_id", "wrong format"),
    ("[site]\ndefault_language = 'fr'\n", "site.default_language", "allowed values"),
    ("[storage]\nbackup_hour = 24\n", "storage.backup_hour", "too large"),
    ("[discovery]\nenabled = 'yes please'\n", "discovery.enabled", "true or false"),
    ("[discovery]\ninterfaces = ['10.0.0.300']\n", "discovery.interfaces", "not valid"),
    ("[logging]\nlevel = 'LOUD'\n", "logging.level", "allowed values"),
    ("web = 3\n", "web", "must be a table"),
    ("[emergency]\nwind_point = 'WD 1'\n", "emergency.wind_point", "wrong format"),
    ("[emergency]\nwind_pt = 'WD-1'\n", "emergency.wind_pt", "unknown key"),
    (WIND_POINTS + "[emergency]\nwind_point = 'WD-2'\n", "emergency.wind_point", "not in [[points]]"),
    (WIND_POINTS + "[emergency]\nwind_point = 'GT-1'\n", "emergency.wind_point", "not a wind-direction point"),
])
def test_bad_values_name_the_key(text, key, en_fragment):
    with pytest.raises(ConfigError) as e:
        parse_config(text, "test.toml")
    keys = [d["key"] for d in e.value.details]
    assert key in keys
    detail = e.value.details[keys.index(key)]
    assert en_fragment in detail["en"]
    assert detail["zh"] and detail["zh"] != detail["en"]  # a Chinese message too
    assert key in e.value.zh and key in e.value.en


def test_every_problem_is_reported_at_once():
    with pytest.raises(ConfigError) as e:
        parse_config("[web]\nport = 'x'\nbogus = 1\n[storage]\nbackup_keep = 0\n")
    assert {d["key"] for d in e.value.details} == {"web.port", "web.bogus", "storage.backup_keep"}


@pytest.mark.parametrize("text, code", [("[web\nport = 1", "config_syntax"), ("a = \n", "config_syntax")])
def test_toml_syntax_errors(text, code):
    with pytest.raises(ConfigError) as e:
        parse_config(text)
    assert e.value.code == code and "line" in e.value.en


def test_missing_and_unreadable_files(tmp_path):
    with pytest.raises(ConfigError) as e:
        load_config(tmp_path / "nope.toml")
    assert e.value.code == "config_missing"
    bad = tmp_path / "latin1.toml"
    bad.write_bytes(b"name = '\xe9'\n")
    with pytest.raises(ConfigError) as e:
        load_config(bad)
    assert e.value.code == "config_unreadable"


def test_check_config_cli(tmp_path):
    good = run_cli("check-config", str(ROOT / "appliance.example.toml"))
    assert good.returncode == 0 and "config is valid" in good.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text("[web]\nport = 'x'\n[sit]\n", encoding="utf-8")
    r = run_cli("check-config", str(bad))
    assert r.returncode == 2
    assert "web.port" in r.stderr and "应为整数" in r.stderr and "must be an integer" in r.stderr
    assert "sit:" in r.stderr and "Traceback" not in r.stderr


def test_example_points_and_buses_parse():
    text = (ROOT / "appliance.example.toml").read_text(encoding="utf-8")
    block = text.split("# BEGIN EXAMPLE POINTS\n")[1].split("# END EXAMPLE POINTS")[0]
    uncommented = "\n".join(line[2:] if line.startswith("# ") else line.lstrip("#") for line in block.splitlines())
    cfg = parse_config(uncommented, "example points")
    assert [p.id for p in cfg.points] == ["GT-101", "GT-302", "GT-402"]
    assert [b.type for b in cfg.buses] == ["modbus_tcp", "modbus_rtu", "serial_line"]


def test_example_readers_parse():
    text = (ROOT / "appliance.example.toml").read_text(encoding="utf-8")
    block = text.split("# BEGIN EXAMPLE READERS\n")[1].split("# END EXAMPLE READERS")[0]
    uncommented = "\n".join(line[2:] if line.startswith("# ") else line.lstrip("#") for line in block.splitlines())
    cfg = parse_config(uncommented, "example readers")
    assert [(r.type, r.name) for r in cfg.readers] == [("nfc", "CP-TANK"), ("pcsc", "GATE-1")]
    assert cfg.readers[0].path == "usb" and cfg.readers[1].reader == "ACR122"


@pytest.mark.parametrize("text, key, en_fragment", [
    ('[[readers]]\ntype = "rfid"\nname = "CP-1"\n', "readers.0.type", "unknown type 'rfid': one of 'nfc', 'pcsc'"),
    ('[[readers]]\nname = "CP-1"\n', "readers.0.type", "required key is missing"),
    ('[[readers]]\ntype = "nfc"\nname = "CP-1"\npath = "COM3"\n', "readers.0.nfc.path", "not an nfcpy device path"),
    ('[[readers]]\ntype = "nfc"\nname = "CP-1"\nbaud = 9600\n', "readers.0.nfc.baud", "unknown key"),
    ('[[readers]]\ntype = "nfc"\nname = "CP-1"\ntargets = ["13MHz"]\n', "readers.0.nfc.targets.0", "allowed values"),
    ('[[readers]]\ntype = "pcsc"\nname = "GATE"\n', "readers.0.pcsc.reader", "required key is missing"),
    ('[[readers]]\ntype = "pcsc"\nname = "has space"\nreader = "ACR"\n', "readers.0.pcsc.name", "wrong format"),
    ('[[readers]]\ntype = "pcsc"\nname = "G"\nreader = "ACR"\nrearm_after_s = -1\n', "readers.0.pcsc.rearm_after_s",
     "too small"),
    ('[[readers]]\ntype = "nfc"\nname = "CP-1"\n[[readers]]\ntype = "pcsc"\nname = "CP-1"\nreader = "ACR"\n',
     "(root)", "readers: name used twice: CP-1"),
    ('[[buses]]\ntype = "can"\nname = "x"\n', "buses.0.type", "unknown type 'can'"),
])
def test_bad_readers_name_the_key(text, key, en_fragment):
    with pytest.raises(ConfigError) as e:
        parse_config(text, "test.toml")
    keys = [d["key"] for d in e.value.details]
    assert key in keys, keys
    detail = e.value.details[keys.index(key)]
    assert en_fragment in detail["en"] and detail["zh"] != detail["en"]
