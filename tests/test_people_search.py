"""The person pickers' search (issue 20 item 3): pinyin initials from GB 2312's order (table tests on common
surnames, the level-2 and polyphonic ones listed), the ranking, and `GET /api/v1/people/search` — active
people only, a limit with the total and `more`, ordering, errors that name the parameter, and who may ask."""
from __future__ import annotations

import pytest

from appliance.core import people as P
from appliance.core import people_search as S


@pytest.mark.parametrize("name,expected", [
    ("王建国", "wjg"), ("张伟", "zw"), ("李娜", "ln"), ("刘洋", "ly"), ("陈静", "cj"), ("杨磊", "yl"), ("赵敏", "zm"),
    ("黄丽", "hl"), ("周杰", "zj"), ("吴刚", "wg"), ("徐涛", "xt"), ("孙强", "sq"), ("马超", "mc"), ("胡军", "hj"),
    ("郭芳", "gf"), ("何勇", "hy"), ("高明", "gm"), ("罗平", "lp"), ("曾华", "zh"), ("欧阳娟", "oyj"), ("丁一", "dy"),
    ("阿依", "ay"), ("鄂红", "eh"), ("昂扬", "ay"), ("左右", "zy"), ("邹平", "zp"),
    # level 2 (ordered by radical, not sound): the listed ones
    ("闫涛", "yt"), ("覃明", "qm"), ("靳东", "jd"), ("缪斌", "mb"),
    # surname readings in the first place only: 单 Shàn, 解 Xiè, 仇 Qiú, 区 Ōu, 查 Zhā, 翟 Zhái, 乐 Yuè
    ("单雄信", "sxx"), ("解放", "xf"), ("仇英", "qy"), ("区伟", "ow"), ("查理", "zl"), ("翟军", "zj"), ("乐平", "yp"),
    ("王单", "wd"),
    ("Li Ming", "liming"), ("阿卜杜·热合曼", "abdrhm"), ("张3", "z3"),
])
def test_initials(name, expected):
    assert S.initials(name) == expected


def test_a_character_without_a_known_initial_stays_itself():
    assert S.initial("㐀") is None and S.initials("王㐀") == "w㐀"


PEOPLE = [S.Candidate(1, "E1001", "王建国", "生产部"), S.Candidate(2, "E1002", "王娟", "设备部"),
          S.Candidate(3, "C2001", "吴刚", "江东建设"), S.Candidate(4, "E10021", "万家光", "仓储部"),
          S.Candidate(5, "E3001", "张伟", "安全部")]


@pytest.mark.parametrize("q,ids", [
    ("E1002", [2, 4]),           # the number exactly, then the numbers starting with it
    ("e100", [1, 2, 4]),         # any case
    ("王", [2, 1]),               # the name's start; then by initials (王娟 wj before 王建国 wjg)
    ("wjg", [1, 4]),             # initials (万家光 is wjg too): then by employee number
    ("wj", [2, 1, 4]),
    ("建国", [1]),               # inside the name
    ("2001", [3]),               # inside the number
    ("江东", [3]),                # the firm
    ("王 建国", [1]),             # spaces typed are ignored
    ("zzz", []),
])
def test_ranking(q, ids):
    found, total = S.search(q, PEOPLE)
    assert [c.id for c in found] == ids and total == len(ids)


def test_the_limit_keeps_the_best_and_counts_them_all():
    found, total = S.search("", PEOPLE, limit=2)
    assert total == 5 and [c.name for c in found] == ["吴刚", "王娟"]   # by initials: wg, wj, wjg, wjg, zw


@pytest.fixture
def many(app):
    """1,200 active people and one inactive, as a large plant has (inserted in bulk: test data)."""
    surnames, given = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗", "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平"
    rows = [{"employee_no": f"E{i:05d}", "name": surnames[i % 20] + given[(i // 20) % 20] + given[i % 7],
             "kind": "employee", "department": f"车间{i % 12}", "created_at": 1, "updated_at": 1} for i in range(1200)]
    P.Person.insert_many(rows).execute()
    P.create_person(P.PersonIn(employee_no="E09999", name="王建国", kind="employee", department="生产部"), actor="t")
    gone = P.create_person(P.PersonIn(employee_no="E09998", name="王建国", kind="contractor", company="老厂"), actor="t")
    P.update_person(gone.id, P.PersonUpdate(active=False), actor="t")
    return rows


def test_the_search_endpoint(many, as_role):
    sup = as_role("supervisor")
    r = sup.get("/api/v1/people/search?q=wjg")
    assert r.status_code == 200
    j = r.get_json()
    assert j["people"][0]["name"] == "王建国" and j["people"][0]["employee_no"] == "E09999"
    assert all(p["employee_no"] != "E09998" for p in j["people"])           # the inactive one is not offered
    assert set(j["people"][0]) == {"id", "employee_no", "name", "department", "company", "job", "kind"}
    # a broad query: the first 20 and how many in all
    j = sup.get("/api/v1/people/search?q=王").get_json()
    assert len(j["people"]) == 20 and j["total"] == 61 and j["more"] is True
    j = sup.get("/api/v1/people/search?q=E0119&limit=50").get_json()
    assert [p["employee_no"] for p in j["people"]] == [f"E0119{d}" for d in range(10)] and j["more"] is False
    assert sup.get("/api/v1/people/search?q=E00042").get_json()["people"][0]["employee_no"] == "E00042"
    assert sup.get("/api/v1/people/search?kind=contractor").get_json() == {"people": [], "total": 0, "more": False}
    assert len(sup.get("/api/v1/people/search").get_json()["people"]) == 20      # empty: the first by name
    for query, key in (("q=" + "王" * 41, "q"), ("limit=0", "limit"), ("limit=51", "limit"), ("limit=x", "limit"),
                       ("kind=robot", "kind")):
        bad = sup.get(f"/api/v1/people/search?{query}")
        assert bad.status_code == 422 and bad.get_json()["error"]["details"][0]["key"] == key, query
    assert as_role("worker").get("/api/v1/people/search?q=w").status_code == 403
    assert as_role("kiosk").get("/api/v1/people/search?q=w").status_code == 403
    assert as_role("safety_officer").get("/api/v1/people/search?q=w").status_code == 200
