"""The house rules of docs/ARCHITECTURE.md, checked on the source: which package may import which, and no
import circles between packages or between files. An import inside `if TYPE_CHECKING:` is for the type
checker only and is not counted; every other import is, at module level or inside a function."""
from __future__ import annotations

import ast
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from appliance.domains import ENABLED
from conftest import ROOT

PACKAGES = ("appliance", "drivers", "models", "kiosk_ui", "sync", "satellite")
# domain packages, each allowed to import only those before it: the order of appliance/domains.py ENABLED
DOMAINS = tuple(m.split(".")[1] for m in ENABLED if m.startswith("appliance."))
# the composition layer: it wires the core, the domains, the drivers and sync together
COMPOSITION = {"appliance", "appliance.cli", "appliance.cli_sync", "appliance.service", "appliance.domains",
               "appliance.config", "appliance.demo", "appliance.demo_patrol", "appliance.__main__"}


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for sub in node.body:
                lines.update(range(sub.lineno, (sub.end_lineno or sub.lineno) + 1))
    return lines


def _imports(path: Path, modules: set[str]) -> set[str]:
    """The project modules `path` imports (a `from pkg import name` of a submodule counts as that module)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _type_checking_lines(tree)
    me = _module(path)
    is_pkg = path.name == "__init__.py"
    out: set[str] = set()
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                pkg = me.split(".") if is_pkg else me.split(".")[:-1]
                pkg = pkg[: len(pkg) - node.level + 1]
                base = ".".join(pkg + ([base] if base else []))
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        else:
            continue
        for n in names:
            if n.split(".")[0] in PACKAGES:
                while n not in modules and "." in n:
                    n = n.rsplit(".", 1)[0]
                if n in modules and n != me:
                    out.add(n)
    return out


def _graph() -> dict[str, set[str]]:
    files = [p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")
             if "ppe" not in p.relative_to(ROOT).parts[:2] or p.relative_to(ROOT).parts[0] != "models"]
    modules = {_module(p) for p in files}
    return {_module(p): _imports(p, modules) for p in files}


GRAPH = _graph()


def layer(mod: str) -> str:
    """core, domain:<name>, composition, or the top-level package's name."""
    parts = mod.split(".")
    if parts[0] != "appliance":
        return parts[0]
    if mod in COMPOSITION:
        return "composition"
    if parts[1] == "core":
        return "core"
    if parts[1] in DOMAINS:
        return f"domain:{parts[1]}"
    return "composition"


def _may_import(src: str, dst: str) -> bool:
    a, b = layer(src), layer(dst)
    if a == b:
        return True
    if b == "composition":                      # only the composition layer uses itself
        return False
    if a == "composition":
        return True
    if a == "core":                             # the core stands on itself and the drivers' value types
        return dst == "drivers.base"
    if a.startswith("domain:"):
        if b.startswith("domain:"):
            return DOMAINS.index(b[7:]) < DOMAINS.index(a[7:])
        return b in ("core", "drivers", "models") or dst == "satellite.protocol"
    if a == "kiosk_ui":                         # pages read domains, never their API modules, never sync
        return (b == "core" or b.startswith("domain:")) and not dst.endswith(".api") and not dst.endswith("_api")
    if a == "sync":                             # sync reads the appliance only through the core
        return b == "core"
    if a == "satellite":                        # the reader station: drivers and a few core basics, no app
        return b == "drivers" or dst in ("appliance.core.config", "appliance.core.errors",
                                          "appliance.core.discovery", "appliance.core.logs")
    if a in ("drivers", "models"):              # libraries of their own: nothing of the appliance
        return False
    return False


def test_domains_in_dependency_order():
    assert DOMAINS == ("hazards", "risk", "training", "gas", "patrol", "stations", "vision", "contractors", "permits",
                       "emergency", "cockpit")


def test_graph_sees_the_packages():
    assert {"appliance.core.events", "appliance.gas.sensors", "appliance.patrol.api", "sync.engine",
            "kiosk_ui.views", "satellite.station", "drivers.modbus", "models.detector"} <= set(GRAPH)
    assert "appliance.core.db" in GRAPH["appliance.core.events"]


@pytest.mark.parametrize("src,dst", [
    ("appliance.core.web", "appliance.gas.sensors"), ("appliance.core.web", "kiosk_ui.views"),
    ("appliance.core.events", "sync.store"), ("appliance.gas.sensors", "appliance.patrol.taps"),
    ("kiosk_ui.views", "appliance.hazards.api"), ("kiosk_ui.views", "sync.store"),
    ("sync.engine", "appliance.hazards.service"), ("models.runner", "appliance.core.errors"),
    ("satellite.station", "appliance.patrol.taps"), ("appliance.hazards.service", "appliance.risk.register"),
    ("appliance.gas.api", "appliance.service"), ("appliance.core.people", "drivers.modbus"),
])
def test_the_rules_refuse_what_they_must(src, dst):
    assert not _may_import(src, dst)


def test_no_forbidden_import():
    bad = sorted(f"{src} imports {dst} ({layer(src)} → {layer(dst)})"
                 for src, dsts in GRAPH.items() for dst in dsts if not _may_import(src, dst))
    assert not bad, "imports that break docs/ARCHITECTURE.md:\n" + "\n".join(bad)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one member (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]
    sys.setrecursionlimit(10000)

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in list(graph):
        if v not in index:
            visit(v)
    return out


def _parents(mod: str) -> set[str]:
    parts = mod.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts))}


def test_no_import_circle_between_files():
    # a package's __init__ is imported with each of its modules: an edge into a package is not a circle
    graph = {src: {d for d in dsts if d not in _parents(src)} for src, dsts in GRAPH.items()}
    assert _cycles(graph) == []


def test_no_import_circle_between_packages():
    def pkg(mod: str) -> str:
        return layer(mod) if mod.startswith("appliance") else mod.split(".")[0]

    graph: dict[str, set[str]] = defaultdict(set)
    for src, dsts in GRAPH.items():
        for dst in dsts:
            if pkg(src) != pkg(dst):
                graph[pkg(src)].add(pkg(dst))
    assert _cycles(dict(graph)) == []


def test_reader_station_does_not_load_the_appliance():
    code = ("import sys, satellite.station; "
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('flask', 'peewee', 'sync', 'kiosk_ui') "
            "or m.startswith(('appliance.gas', 'appliance.patrol', 'appliance.hazards', 'appliance.risk', "
            "'appliance.vision', 'appliance.stations', 'appliance.core.web', 'appliance.core.db'))); "
            "print(bad); sys.exit(1 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr


def test_reader_libraries_are_loaded_only_for_a_configured_reader():
    """nfcpy (~9 MB) and pyscard are imported when a reader of theirs is set up (its `available()`), not when
    the appliance starts: an appliance whose readers are satellite stations carries neither (issue 14)."""
    import subprocess
    import sys

    code = ("import sys; from appliance import domains; domains.load(); import drivers.nfc, drivers.pcsc; "
            "before = ('nfc' in sys.modules, 'smartcard' in sys.modules); "
            "why = (drivers.nfc.NfcReader.available(), drivers.pcsc.PcscReader.available()); "
            "print(before, why, ('nfc' in sys.modules) == (why[0] is None), ('smartcard' in sys.modules) == (why[1] is None))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out.startswith("(False, False)") and out.endswith("True True"), out
