"""core.templating: the pages' faster attribute lookups and calls give exactly what Jinja's own give, for
the cases templates meet: dict keys and dict methods, missing keys, objects, functions that want the
context or the environment, built-ins, callables in loops and blocks, a StopIteration."""
from __future__ import annotations

import collections

import pytest
from flask import Flask
from flask.templating import Environment
from jinja2 import DictLoader, StrictUndefined, pass_context, pass_environment, pass_eval_context

from appliance.core.templating import FastContext, FastEnvironment


class Thing:
    name = "thing"
    items = "an attribute called items"

    def __getitem__(self, key):
        return f"item {key}"


class Shouter:
    """A callable object that wants the context (Jinja looks at its __call__)."""

    @pass_context
    def __call__(self, ctx, word):
        return f"{word.upper()} in {ctx.get('where')}"


def stop():
    raise StopIteration


@pass_context
def who(ctx, x):
    return f"{x}@{ctx.get('where')}"


@pass_environment
def env_name(env, x):
    return f"{x}:{env.autoescape}"


@pass_eval_context
def auto(ectx, x):
    return f"{x}:{ectx.autoescape}"


TEMPLATES = {
    "dict": "{{ d.state }}|{{ d.items }}|{{ d['items'] }}|{{ d.keys()|list|length }}|{{ d.get('state') }}|"
            "{{ d.missing is defined }}|{{ d.missing or 'none' }}|{{ d.copy }}",
    "odd": "{{ od.a }}|{{ dd.a }}|{{ dd.b is defined }}|{{ t.name }}|{{ t.items }}|{{ t.other }}|{{ n.x is defined }}|"
           "{{ s.upper() }}|{{ l.0 }}|{{ l.count(1) }}",
    "calls": "{{ f(1) }}|{{ who(2) }}|{{ env_name(3) }}|{{ auto(4) }}|{{ shout('hi') }}|{{ len([1, 2]) }}|"
             "{{ d.get('state', 'x') }}|{{ lam(5, k=6) }}|{{ stop() is defined }}",
    "loops": "{% for i in range(3) %}{% set where = 'loop' ~ i %}{{ who(i) }} {{ f(i) }} {{ d.state }};{% endfor %}"
             "{% block b %}{% set where = 'block' %}{{ who('b') }}{% endblock %}",
    "macro": "{% macro m(x) %}[{{ who(x) }}{{ caller() if caller else '' }}]{% endmacro %}{{ m(1) }}"
             "{% call m(2) %}c{{ f(9) }}{% endcall %}",
}
CTX = {"d": {"state": "open", "items": "key called items", "copy": 7}, "od": collections.OrderedDict(a=1),
       "dd": collections.defaultdict(int, a=2), "t": Thing(), "n": None, "s": "abc", "l": [1, 2, 1],
       "f": lambda x: x * 10, "lam": lambda a, k=0: a + k, "who": who, "env_name": env_name, "auto": auto,
       "shout": Shouter(), "len": len, "stop": stop, "where": "top", "range": range}


def pair(**options):
    app = Flask(__name__)
    plain = Environment(app, loader=DictLoader(TEMPLATES), **options)
    fast = FastEnvironment(app, loader=DictLoader(TEMPLATES), **options)
    return plain, fast


@pytest.mark.parametrize("name", sorted(TEMPLATES))
@pytest.mark.parametrize("autoescape", [False, True])
def test_the_fast_lookups_render_what_jinja_renders(name, autoescape):
    plain, fast = pair(autoescape=autoescape)
    want = plain.get_template(name).render(**CTX)
    got = fast.get_template(name).render(**CTX)
    assert got == want
    assert want.strip() and "Undefined" not in want


def test_a_missing_key_is_jinja_undefined_and_strict_undefined_still_raises():
    plain, fast = pair(undefined=StrictUndefined)
    for env in (plain, fast):
        with pytest.raises(Exception) as e:
            env.from_string("{{ d.nope }}").render(d={"a": 1})
        assert "nope" in str(e.value)
    assert FastEnvironment.context_class is FastContext


def test_the_appliance_renders_its_pages_with_it(app):
    assert isinstance(app.jinja_env, FastEnvironment)


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_the_per_page_t_and_fmt_time_give_what_the_globals_give(app, lang):
    """kiosk_ui.views.render_globals binds `t` and `fmt_time` once per page: same texts (placeholders, a key
    only zh-CN has, an unknown key) and same times (with and without the date, none, across a day's end in
    the plant's zone) as the globals."""
    from flask import g

    from kiosk_ui import catalog, views

    key_with_value = next(k for k, v in catalog(lang).items() if "{" in v)
    placeholder = catalog(lang)[key_with_value].split("{", 1)[1].split("}", 1)[0]
    only_zh = next((k for k in catalog("zh-CN") if k not in catalog("en")), None)
    with app.test_request_context(f"/tablet/hazards?lang={lang}"):
        g.default_lang = "zh-CN"
        per_page = views.render_globals()
        for key, kw in ((key_with_value, {placeholder: "甲 <b>"}), (key_with_value, {}), ("hz.overdue", {}),
                        ("no.such.key", {}), (only_zh or "hz.overdue", {})):
            assert per_page["t"](key, **kw) == views.translate(lang, key, **kw)
        for ms, with_date in ((None, False), (0, True), (1_764_000_000_000, False), (1_764_000_000_000, True),
                              (1_764_086_399_999, True), (1_764_086_400_000, True)):
            assert per_page["fmt_time"](ms, with_date) == views.fmt_time(ms, with_date)


def test_a_page_uses_the_per_page_functions(app, as_role):
    """The context processor's `t` and `fmt_time` are the ones a page's template calls."""
    from kiosk_ui import views

    calls: list[str] = []
    real = views.render_globals

    def spy() -> dict:
        out = real()
        t = out["t"]
        out["t"] = lambda key, **kw: calls.append(key) or t(key, **kw)
        return out

    app.template_context_processors[None] = [spy if f is real else f for f in app.template_context_processors[None]]
    html = as_role("supervisor").get("/tablet/hazards").get_data(as_text=True)
    assert len(calls) > 10, calls   # the page's own texts came through it
    from markupsafe import escape

    shown = [k for k in calls if str(escape(views.translate("zh-CN", k))) in html]
    assert len(shown) > 10, "the texts it gave are not on the page"
