"""What a domain's page views share without importing the pages package (`kiosk_ui`).

A domain's `pages.py` makes its blueprint a `PageBlueprint`: its templates live under
`templates/<domain>/` (they extend the shell's `base.html` and use the template globals the shell
registers: `t`, `fmt_time`, `area_label`, `js_texts`, …) and its static files are served, to anyone like
the shared `/static`, at `/static/<domain>/`. The shell treats every `PageBlueprint` as a page (a kiosk URL's
`?token=` signs the device in there too). `text` and `site_view` are the Python-side helpers such a view may
need.
"""
from __future__ import annotations

from flask import Blueprint, current_app

from appliance.core import people as P
from appliance.core.access import lang, public


class PageBlueprint(Blueprint):
    """A blueprint of pages (not of the JSON API)."""

    @public  # like the shared /static (its `permission` is read by the authorisation test)
    def send_static_file(self, filename: str):
        return super().send_static_file(filename)


def text(key: str, **values) -> str:
    """The viewer's-language text for `key`, through the translator the pages package registered
    (`app.config["TRANSLATE"]`, as `translate(lang, key, **values)`); the key itself without one."""
    translate = current_app.config.get("TRANSLATE")
    return translate(lang(), key, **values) if translate is not None else key


def site_view() -> dict:
    """The site as the pages show it: its stored details, or the configured name and time zone before the
    site has been set up."""
    cfg = current_app.config["APPLIANCE"]
    s = P.Site.get_or_none(P.Site.id == 1)
    if s is None:
        return {"name": cfg.site.name, "name_en": cfg.site.name_en, "timezone": cfg.site.timezone,
                "plan_width": 1600, "plan_height": 900}
    return P.site_dict(s)
