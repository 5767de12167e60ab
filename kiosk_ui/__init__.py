"""The shared shell of the pages: the control-room wall board (/kiosk, composing panels from several
domains), the tablet home (/tablet), people and badges (/tablet/people), administration (/admin), login,
logout, the language switch and the error page.

Here: the shell's page blueprint (`views.py`), the base template every page extends (`templates/base.html`,
with the top bar: the shell's links and those the registered domains declare in `Domain.nav`), shared
static CSS/JS at /static (`live.js`, `forms.js`, `board.js`, …), vendored third-party assets under
`static/vendor/` (each with its licence; nothing is loaded from the internet), the template globals every
page uses (`t`, `fmt_time`, `area_label`, `js_texts`, …) and the translation machinery: `catalog()` merges the
shell's zh-CN / en texts in `i18n/` with those of every registered domain (`Domain.i18n`). Not here: a
domain's own pages (its `pages.py`, `templates/<domain>/`, `static/`, `i18n/`), JSON API routes or domain
rules.
"""
from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from appliance.core.domain import registered, registered_count

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
LANGS = ("zh-CN", "en")


def catalog(lang: str) -> dict[str, str]:
    """The text catalogue of `lang` (zh-CN or en): the shell's texts and every registered domain's."""
    return _catalog(lang, registered_count())   # a board page asks for it once per text: ~150 times


@cache
def _catalog(lang: str, _domains: int) -> dict[str, str]:
    return _merged(lang, _sources(tuple((d.name, d.i18n) for d in registered())))


@cache
def _sources(domains: tuple) -> tuple[tuple[str, str], ...]:
    # a page asks for its catalogue once per text: the paths are worked out once per set of domains
    return (("kiosk_ui", str(HERE / "i18n")),) + tuple((name, str(i18n)) for name, i18n in domains if i18n is not None)


@cache
def _merged(lang: str, sources: tuple[tuple[str, str], ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    owner: dict[str, str] = {}
    for name, folder in sources:
        texts = json.loads((Path(folder) / f"{lang}.json").read_text(encoding="utf-8"))
        for key, text in texts.items():
            if key in owner:
                raise ValueError(f"text key {key!r} is defined twice, by {owner[key]} and by {name} "
                                 f"({Path(folder) / f'{lang}.json'})")
            owner[key] = name
            out[key] = text
    return out


def translate(lang: str, key: str, **values) -> str:
    """Text for `key` in `lang`, falling back to zh-CN, then to the key itself; {name} placeholders filled."""
    text = catalog(lang).get(key) or catalog("zh-CN").get(key) or key
    for k, v in values.items():
        text = text.replace("{" + k + "}", str(v))
    return text


def init_app(app) -> None:
    """The shared static files at /static, the error page, the translator and the template globals every
    page uses (the domains' pages too), and the device login from a kiosk URL's ?token= on every page."""
    from kiosk_ui import views

    app.static_folder = str(STATIC)
    app.static_url_path = "/static"
    app.add_url_rule("/static/<path:filename>", endpoint="static", view_func=app.send_static_file)
    app.config["ERROR_PAGE"] = views.error_page
    app.config["TRANSLATE"] = translate
    app.jinja_env.globals.update(views.template_globals())
    app.context_processor(views.render_globals)   # the same two, bound once per page
    app.before_request(views.device_login_from_query)


def domain():
    from appliance.core.domain import Domain
    from kiosk_ui import views

    return Domain(name="ui", blueprints=[views.ui], init_app=init_app)
