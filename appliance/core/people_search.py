"""Finding a person by part of a name, an employee number or the pinyin initials of the name (the pickers
on the violation confirm and wherever training assigns people: a plant can have thousands of people, so
the page asks the server, `GET /api/v1/people/search`).

Pinyin initials without a dictionary: GB 2312's level-1 characters (the 3,755 most used, rows 16–55) are
ordered by pinyin, so a character's code tells its initial (the boundaries below: the first character of
each initial in that order; there are no syllables in i, u or v). Level-2 characters are ordered by radical,
not by sound: the surnames among them that plants meet are listed (`EXTRA`), and the common surnames read
differently from the character's first reading in the table (单 Shàn, 解 Xiè, 仇 Qiú, 区 Ōu, 查 Zhā, 乐 Yuè,
尉 Yù, 翟 Zhái, 朴 Piáo) count by their surname reading in the first place of a name (`SURNAME`). A
character with no initial known stays itself (it still matches when typed).

Ranking (lower first): the employee number exactly, the employee number's start, the name's start, the
initials' start, inside the name, inside the employee number, inside the initials, inside the department or
firm. Within a rank, a number match is ordered by the employee number, the others by the initials (roughly
the pinyin order people expect, where code-point order of characters means nothing), then the number.
"""
from __future__ import annotations

import bisect
import heapq
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import cast

import peewee

# GB 2312 level-1 (0xB0A1–0xD7F9): the code of the first character of each initial
_BOUNDS: tuple[tuple[int, str], ...] = (
    (0xB0A1, "a"), (0xB0C5, "b"), (0xB2C1, "c"), (0xB4EE, "d"), (0xB6EA, "e"), (0xB7A2, "f"), (0xB8C1, "g"),
    (0xB9FE, "h"), (0xBBF7, "j"), (0xBFA6, "k"), (0xC0AC, "l"), (0xC2E8, "m"), (0xC4C3, "n"), (0xC5B6, "o"),
    (0xC5BE, "p"), (0xC6DA, "q"), (0xC8BB, "r"), (0xC8F6, "s"), (0xCBFA, "t"), (0xCDDA, "w"), (0xCEF4, "x"),
    (0xD1B9, "y"), (0xD4D1, "z"))
_KEYS = tuple(b for b, _ in _BOUNDS)
_LEVEL1_END = 0xD7F9

# level-2 characters (not in pinyin order) that are surnames or common in given names
EXTRA: dict[str, str] = {
    "闫": "y", "覃": "q", "缪": "m", "佘": "s", "邸": "d", "禤": "x", "靳": "j", "鄢": "y", "逯": "l", "晏": "y",
    "郗": "x", "冼": "x", "蔺": "l", "臧": "z", "濮": "p", "亓": "q", "芮": "r", "琚": "j", "邝": "k", "邬": "w",
    "钮": "n", "栾": "l", "郦": "l", "阚": "k", "苌": "c", "岑": "c", "昝": "z", "殳": "s", "隗": "w", "訾": "z",
    "璐": "l", "琦": "q", "瑶": "y", "琪": "q", "钰": "y", "彧": "y", "晗": "h", "昊": "h", "珂": "k", "梓": "z",
    "骁": "x", "婧": "j", "璇": "x", "斌": "b", "煜": "y", "皓": "h", "淼": "m", "喆": "z", "翊": "y", "妍": "y",
}
# surnames whose surname reading differs from the table's: only in a name's first place
SURNAME: dict[str, str] = {"单": "s", "解": "x", "仇": "q", "区": "o", "查": "z", "乐": "y", "尉": "y", "翟": "z",
                           "朴": "p", "盖": "g", "种": "c", "繁": "p", "员": "y", "召": "s"}

NUMBER_RANKS = frozenset({0, 1, 5})
MAX_QUERY = 40
DEFAULT_LIMIT = 20
MAX_LIMIT = 50


def initial(ch: str) -> str | None:
    """The pinyin initial of one character (a–z), or None where it is not known (not a Chinese character
    of the table)."""
    if ch in EXTRA:
        return EXTRA[ch]
    try:
        g = ch.encode("gb2312")
    except UnicodeEncodeError:
        return None
    if len(g) != 2:
        return None
    code = g[0] << 8 | g[1]
    if not _KEYS[0] <= code <= _LEVEL1_END:
        return None
    return _BOUNDS[bisect.bisect_right(_KEYS, code) - 1][1]


@lru_cache(maxsize=20_000)
def initials(name: str) -> str:
    """The name's initials, lower case: 王建国 → wjg, 单雄信 → sxx; letters and digits kept (Li Ming → liming,
    lowered), other characters without an initial kept as they are, spaces and dots dropped."""
    out = []
    for i, ch in enumerate(name):
        if ch.isspace() or ch in "·.•-_":
            continue
        if ch.isascii():
            out.append(ch.lower())
            continue
        ini = SURNAME.get(ch) if i == 0 else None
        out.append(ini or initial(ch) or ch)
    return "".join(out)


@dataclass(frozen=True)
class Candidate:
    id: int
    employee_no: str
    name: str
    unit: str = ""      # department, or the contractor's firm

    # what a query is compared with, worked out once per candidate (the index keeps candidates)
    @cached_property
    def keys(self) -> tuple[str, str, str, str]:
        return self.employee_no.lower(), normalise(self.name), initials(self.name), self.unit.lower()


def normalise(q: str) -> str:
    return "".join(q.split()).lower()


def rank(q: str, c: Candidate) -> int | None:
    """How well `c` matches the normalised query `q` (see the module docstring), None: not at all."""
    if not q:
        return 9
    no, name, ini, unit = c.keys
    if no == q:
        return 0
    if no.startswith(q):
        return 1
    if name.startswith(q):
        return 2
    if ini.startswith(q):
        return 3
    if q in name:
        return 4
    if q in no:
        return 5
    if q in ini:
        return 6
    if unit and q in unit:
        return 7
    return None


_index: dict = {"key": None, "rows": []}
_index_lock = threading.Lock()


def active_people() -> list[tuple[Candidate, dict]]:
    """Every active person as (Candidate, the fields the picker shows), kept in memory between requests and
    read again only when the people table changed (its row count, newest id or newest update differ, or it
    is another database): a search over 10,000 people then costs a loop, not a query and 10,000 rows."""
    from appliance.core.db import database
    from appliance.core.people import Person

    stamp = cast(tuple, Person.select(peewee.fn.COUNT(Person.id), peewee.fn.MAX(Person.id),
                                      peewee.fn.MAX(Person.updated_at)).tuples().get())
    key = (database.database, *stamp)
    with _index_lock:
        if _index["key"] != key:
            rows = cast(Iterable[tuple[int, str, str, str, str, str, str]],
                        Person.select(Person.id, Person.employee_no, Person.name, Person.department, Person.company,
                                      Person.job, Person.kind).where(Person.active).tuples())
            _index["rows"] = [(Candidate(i, no, name, dept or firm),
                               {"id": i, "employee_no": no, "name": name, "department": dept, "company": firm,
                                "job": job, "kind": kind}) for i, no, name, dept, firm, job, kind in rows]
            _index["key"] = key
        return _index["rows"]


def search(q: str, candidates: Iterable[Candidate], limit: int = DEFAULT_LIMIT) -> tuple[list[Candidate], int]:
    """The best `limit` matches (see the module docstring for the order), and how many matched in all."""
    nq = normalise(q)
    hits = []
    for c in candidates:
        r = rank(nq, c)
        if r is not None:
            hits.append((r, "" if r in NUMBER_RANKS else c.keys[2], c.employee_no, c.id, c))
    best = heapq.nsmallest(limit, hits, key=lambda h: h[:4])
    return [h[4] for h in best], len(hits)
