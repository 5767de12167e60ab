"""Every user-visible text in zh-CN and en, in the shell's catalogue (kiosk_ui/i18n) and in each domain's
(appliance/<domain>/i18n); pages render in both; nothing loads from the internet."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import kiosk_ui
from appliance.core.domain import registered
from conftest import ROOT, As

UI = ROOT / "kiosk_ui"
KEY_IN_TEMPLATE = re.compile(r"""\bt\(\s*['"]([a-z0-9_.]+)['"]\s*[,)]""")
KEY_IN_SCRIPT = re.compile(r"""text\(\s*"((?:live|cp)\.[a-z_]+)"\s*[,)]""")


def _texts(folder: Path, lang: str) -> dict[str, str]:
    return json.loads((folder / f"{lang}.json").read_text(encoding="utf-8"))


def _sources() -> list[tuple[str, Path]]:
    """(name, i18n folder) of the shell and of every registered domain with texts, in registration order."""
    return [("kiosk_ui", UI / "i18n")] + [(d.name, d.i18n) for d in registered() if d.i18n is not None]


def _page_folders() -> list[tuple[str, Path]]:
    """(domain name, package folder) of every domain package holding pages or texts of its own."""
    return [(p.name, p) for p in sorted((ROOT / "appliance").iterdir())
            if p.is_dir() and ((p / "templates").is_dir() or (p / "i18n").is_dir())]


def _used_keys(folder: Path) -> set[str]:
    """The text keys named literally in the templates and page scripts under `folder`."""
    used: set[str] = set()
    for f in (folder / "templates").rglob("*.html"):
        used |= set(KEY_IN_TEMPLATE.findall(f.read_text(encoding="utf-8")))
    for f in (folder / "static").rglob("*.js"):
        if "vendor" not in f.parts:
            used |= set(KEY_IN_SCRIPT.findall(f.read_text(encoding="utf-8")))
    return {k for k in used if not k.endswith(".")}


def test_each_catalogue_has_the_same_keys_in_both_languages_and_no_blanks():
    sources = _sources()
    assert len(sources) > 5, "the domains' catalogues are registered"
    for name, folder in sources:
        zh, en = _texts(folder, "zh-CN"), _texts(folder, "en")
        assert zh and set(zh) == set(en), (name, set(zh) ^ set(en))
        assert all(isinstance(v, str) and v.strip() for v in [*zh.values(), *en.values()]), name
    zh, en = kiosk_ui.catalog("zh-CN"), kiosk_ui.catalog("en")
    assert set(zh) == set(en)
    assert len(zh) == sum(len(_texts(folder, "zh-CN")) for _, folder in sources)  # each key from one place
    assert re.search(r"[\u4e00-\u9fff]", zh["app.title"])


def test_every_domain_with_pages_or_texts_registers_its_texts():
    registered_i18n = {d.name: d.i18n for d in registered() if d.i18n is not None}
    for name, folder in _page_folders():
        assert registered_i18n.get(name) == folder / "i18n", f"appliance/{name}: Domain.i18n must name its i18n/"


def test_a_key_defined_twice_is_an_error(tmp_path):
    for name, texts in (("a", {"x.one": "1", "x.two": "2"}), ("b", {"x.two": "2"})):
        (tmp_path / name).mkdir()
        (tmp_path / name / "en.json").write_text(json.dumps(texts), encoding="utf-8")
    with pytest.raises(ValueError, match=r"'x\.two' is defined twice, by a and by b"):
        kiosk_ui._merged("en", (("a", str(tmp_path / "a")), ("b", str(tmp_path / "b"))))


def test_every_text_key_used_in_templates_exists():
    catalogue = set(kiosk_ui.catalog("zh-CN"))
    missing = _used_keys(UI) - catalogue
    assert not missing, f"kiosk_ui: {sorted(missing)}"
    # a domain's pages use the shell's texts, their own and those of the domains before them (never later)
    seen = set(_texts(UI / "i18n", "zh-CN"))
    for d in registered():
        if d.i18n is None:
            continue
        seen |= set(_texts(d.i18n, "zh-CN"))
        missing = _used_keys(d.i18n.parent) - seen
        assert not missing, f"appliance/{d.name}: {sorted(missing)}"
        for link in d.nav:  # a domain's top-bar link is labelled by its own catalogue
            assert link.text in _texts(d.i18n, "zh-CN") and link.text in _texts(d.i18n, "en"), link
    # keys built at run time: roles, components, statuses, person kinds
    for prefix, names in [("role.", ("admin", "safety_officer", "supervisor", "worker", "kiosk")),
                          ("component.", ("database", "disk", "event_bus", "scheduler", "discovery", "points", "bus",
                                          "reader", "stations", "vision", "camera", "sync")),
                          ("status.", ("ok", "degraded", "fault")), ("people.kind.", ("employee", "contractor")),
                          ("live.", ("connected", "reconnecting", "connecting"))]:
        for n in names:
            assert prefix + n in kiosk_ui.catalog("en")


def test_every_event_type_written_has_a_description():
    """…in the catalogue of the domain that writes it (the shell's for the core's events)."""
    own = {d.name: set(_texts(d.i18n, "zh-CN")) for d in registered() if d.i18n is not None}
    types = set()
    for f in (ROOT / "appliance").rglob("*.py"):
        found = set(re.findall(r"""(?:emit|record)\(\s*\(?\s*"([a-z_]+\.[a-z_.]+)\"""", f.read_text(encoding="utf-8")))
        types |= found
        where = f.relative_to(ROOT / "appliance").parts[0]
        if where in own:
            assert {f"ev.{t}" for t in found} <= own[where], (f, found)
    types |= {"badge.activated", "badge.deactivated"}  # chosen by a conditional expression
    assert types and all(f"ev.{t}" in kiosk_ui.catalog("zh-CN") for t in types), types


def test_no_page_or_asset_loads_from_the_internet():
    folders = [UI] + [p for _, p in _page_folders()]
    files = [f for d in folders for f in [*(d / "templates").rglob("*.html"), *(d / "static").rglob("*.*")]]
    assert len(files) > 20
    for f in files:
        if "vendor" in f.parts:
            continue
        text = f.read_text(encoding="utf-8", errors="replace")
        assert not re.search(r"""(src|href|url)\s*[=(]\s*["']?https?://""", text), f


PAGES = ("/kiosk", "/tablet", "/tablet/people", "/admin", "/checkpoint/R1", "/tablet/alarms", "/tablet/hazards",
         "/tablet/hazards/rules", "/tablet/risks", "/tablet/risks/labels", "/tablet/violations", "/tablet/patrol",
         "/tablet/permits", "/tablet/permits/guard",
         "/tablet/contractors", "/gate/GATE", "/tablet/training", "/tablet/training/mastery")


@pytest.mark.parametrize("lang, expect, absent", [("zh-CN", "系统状态", "System status"), ("en", "System status", "系统状态")])
def test_pages_render_in_each_language(app, users, lang, expect, absent):
    c = As(app, "admin", users)
    c.c.set_cookie("lang", lang)
    for page in PAGES:
        r = c.get(page)
        html = r.get_data(as_text=True)
        assert r.status_code == 200, page
        assert f'<html lang="{lang}">' in html, page
        # every script and stylesheet a page names is served
        for src in re.findall(r"""(?:src|href)="(/static/[^"]+)\"""", html):
            assert c.get(src).status_code == 200, (page, src)
    html = c.get("/kiosk").get_data(as_text=True)
    assert expect in html and absent not in html


def test_the_top_bar_links_every_domain_page_in_order(app, users):
    html = As(app, "admin", users).get("/tablet").get_data(as_text=True)
    nav = html[html.index("<nav>"):html.index("</nav>")]
    links = re.findall(r'href="(/[^"?]*)"', nav)
    assert links[:13] == ["/kiosk", "/tablet", "/tablet/alarms", "/tablet/hazards", "/tablet/risks", "/tablet/violations",
                         "/tablet/patrol", "/tablet/permits", "/tablet/contractors", "/tablet/training",
                         "/tablet/emergency", "/cockpit", "/tablet/people"], links
    worker = As(app, "worker", users).get("/tablet/patrol").get_data(as_text=True)
    assert 'href="/tablet/alarms"' in worker and 'href="/tablet/people"' not in worker


def test_static_assets_are_cached_and_their_urls_change_with_a_restart(app, users):
    """Assets are cached by browsers for a week (no re-fetch per page on 50 tablets); the URLs the pages
    use carry a stamp of this start, so an update reaches every screen at the next restart."""
    c = As(app, "supervisor", users)
    html = c.get("/tablet").get_data(as_text=True)
    css = re.search(r'href="(/static/css/app\.css\?v=\d+)"', html)
    assert css, html[:500]
    r = c.get(css.group(1))
    assert r.status_code == 200 and r.cache_control.max_age == 7 * 86_400


def test_the_new_checkpoint_form_preselects_no_area(app, users):
    """Issue 15 item 9: a checkpoint is placed in the area someone chose, never in the first one by default."""
    html = As(app, "admin", users).get("/tablet/patrol").get_data(as_text=True)
    select = re.search(r'<select name="area_id"[^>]*>(.*?)</select>', html, re.S)
    assert select, "the new checkpoint form is on the page"
    assert 'required' in select.group(0).split(">", 1)[0]
    first = re.search(r"<option[^>]*>", select.group(1)).group(0)
    assert 'value=""' in first and "selected" in first and "disabled" in first, first
