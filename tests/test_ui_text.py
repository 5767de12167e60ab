"""Every user-visible text in zh-CN and en; pages render in both; nothing loads from the internet."""
from __future__ import annotations

import re

import pytest

import kiosk_ui
from conftest import ROOT, As

UI = ROOT / "kiosk_ui"


def test_catalogues_have_the_same_keys_and_no_blanks():
    zh, en = kiosk_ui.catalog("zh-CN"), kiosk_ui.catalog("en")
    assert set(zh) == set(en)
    assert all(v.strip() for v in zh.values()) and all(v.strip() for v in en.values())
    assert re.search(r"[\u4e00-\u9fff]", zh["app.title"])


def test_every_text_key_used_in_templates_exists():
    used = set()
    for f in (UI / "templates").rglob("*.html"):
        used |= set(re.findall(r"""\bt\(\s*['"]([a-z0-9_.]+)['"]\s*[,)]""", f.read_text(encoding="utf-8")))
    for f in (UI / "static" / "js").glob("*.js"):
        used |= set(re.findall(r"""text\(\s*"((?:live|cp)\.[a-z_]+)"\s*[,)]""", f.read_text(encoding="utf-8")))
    missing = {k for k in used if not k.endswith(".")} - set(kiosk_ui.catalog("zh-CN"))
    assert not missing
    # keys built at run time: roles, components, statuses, person kinds
    for prefix, names in [("role.", ("admin", "safety_officer", "supervisor", "worker", "kiosk")),
                          ("component.", ("database", "disk", "event_bus", "scheduler", "discovery")),
                          ("status.", ("ok", "degraded", "fault")), ("people.kind.", ("employee", "contractor")),
                          ("live.", ("connected", "reconnecting", "connecting"))]:
        for n in names:
            assert prefix + n in kiosk_ui.catalog("en")


def test_every_event_type_written_has_a_description():
    types = set()
    for f in (ROOT / "appliance").rglob("*.py"):
        types |= set(re.findall(r"""(?:emit|record)\(\s*\(?\s*"([a-z_]+\.[a-z_.]+)\"""", f.read_text(encoding="utf-8")))
    types |= {"badge.activated", "badge.deactivated"}  # chosen by a conditional expression
    assert types and all(f"ev.{t}" in kiosk_ui.catalog("zh-CN") for t in types), types


def test_no_page_or_asset_loads_from_the_internet():
    for f in list((UI / "templates").rglob("*.html")) + list((UI / "static").rglob("*.*")):
        if "vendor" in f.parts:
            continue
        text = f.read_text(encoding="utf-8", errors="replace")
        assert not re.search(r"""(src|href|url)\s*[=(]\s*["']?https?://""", text), f


@pytest.mark.parametrize("lang, expect, absent", [("zh-CN", "系统状态", "System status"), ("en", "System status", "系统状态")])
def test_pages_render_in_each_language(app, users, lang, expect, absent):
    c = As(app, "admin", users)
    c.c.set_cookie("lang", lang)
    for page in ("/kiosk", "/tablet", "/tablet/people", "/admin", "/checkpoint/R1"):
        html = c.get(page).get_data(as_text=True)
        assert f'<html lang="{lang}">' in html, page
    html = c.get("/kiosk").get_data(as_text=True)
    assert expect in html and absent not in html
