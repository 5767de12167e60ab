"""The pages people look at: the control-room wall board (/kiosk), the supervisor tablet (/tablet), the
checkpoint screen (/checkpoint/<reader>), administration (/admin) and login.

Here: page blueprints (`views.py`), Jinja templates under `templates/<blueprint>/`, static CSS/JS, vendored
third-party assets under `static/vendor/` (each with its licence; nothing is loaded from the internet), and
the zh-CN / en texts in `i18n/`. Not here: JSON API routes (`appliance/api`) or domain rules (`appliance/`).
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
    from . import views

    app.register_blueprint(views.ui)
    app.jinja_env.globals.update(views.template_globals())
