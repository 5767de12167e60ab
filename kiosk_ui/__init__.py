"""The pages people look at: the control-room wall board (/kiosk), the supervisor tablet (/tablet), the
checkpoint screen (/checkpoint/<reader>), administration (/admin) and login.

Here: page blueprints (`views.py`), Jinja templates under `templates/<blueprint>/`, static CSS/JS, vendored
third-party assets under `static/vendor/` (each with its licence; nothing is loaded from the internet), and
the zh-CN / en texts in `i18n/`. Not here: JSON API routes or domain rules (the domain packages under `appliance/`).
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
LANGS = ("zh-CN", "en")


@lru_cache(maxsize=None)
def catalog(lang: str) -> dict[str, str]:
    """The text catalogue of `lang` (zh-CN or en)."""
    return json.loads((HERE / "i18n" / f"{lang}.json").read_text(encoding="utf-8"))


def translate(lang: str, key: str, **values) -> str:
    """Text for `key` in `lang`, falling back to zh-CN, then to the key itself; {name} placeholders filled."""
    text = catalog(lang).get(key) or catalog("zh-CN").get(key) or key
    for k, v in values.items():
        text = text.replace("{" + k + "}", str(v))
    return text


def init_app(app) -> None:
    """The shared static files at /static, the error page, and the template globals every page uses."""
    from kiosk_ui import views

    app.static_folder = str(STATIC)
    app.static_url_path = "/static"
    app.add_url_rule("/static/<path:filename>", endpoint="static", view_func=app.send_static_file)
    app.config["ERROR_PAGE"] = views.error_page
    app.jinja_env.globals.update(views.template_globals())


def domain():
    from appliance.core.domain import Domain
    from kiosk_ui import views

    return Domain(name="ui", blueprints=[views.ui], init_app=init_app)
