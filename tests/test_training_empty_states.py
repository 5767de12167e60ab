"""Empty states on the training pages (issue 15 via 20): every empty list says, in zh-CN and in en, what is
missing and what to do next — no bare 暂无 or "—" — per audience (the safety office is told where to act,
a supervisor who cannot act is told who does); and the certificate-warning webhook is shown on the page
with its secret masked."""
from __future__ import annotations

import re

import pytest

from appliance.config import load_config
from conftest import write_config

BARE = re.compile(r">\s*(暂无|尚无[^<]{0,6}|—|-|No \w+)\s*<")


def empties(html: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", m).strip() for m in
            re.findall(r'class="[^"]*\bempty\b[^"]*"[^>]*>(.*?)</(?:p|tr|li)>', html, re.S)]


def page(c, path: str, lang: str) -> str:
    if lang == "en":
        c.get("/lang/en?next=/")
    r = c.get(path)
    assert r.status_code == 200, path
    return r.get_data(as_text=True)


@pytest.mark.parametrize("lang,actions", [
    ("zh-CN", ["新建课程", "登记证书", "登记培训", "仅检查，不导入", "新建考试"]),
    ("en", ["New course", "Record a certificate", "Record training", "Check only, do not import", "New exam"]),
])
def test_the_safety_office_is_told_what_is_missing_and_where_to_act(as_role, lang, actions):
    office = as_role("safety_officer")
    html = page(office, "/tablet/training", lang)
    texts = empties(html)
    # my courses, my exams, warnings, certificates, hours, the bank, all courses
    assert len(texts) >= 7, texts
    assert all(len(x) >= 30 for x in texts), texts
    joined = " ".join(texts)
    for action in actions:
        assert action in joined, (action, texts)
    assert not BARE.search(html), BARE.search(html)
    # a course with nothing assigned yet: the assignment table says how
    office.post("/api/v1/training/courses", json={"title": "个体防护"})
    html = page(office, "/tablet/training", lang)
    assert ("还没有分配任何培训" if lang == "zh-CN" else "Nothing assigned yet") in " ".join(empties(html))
    cid = office.get("/api/v1/training/courses").get_json()["courses"][0]["id"]
    course = page(office, f"/tablet/training/courses/{cid}", lang)
    assert any(("WebM/MP4" in x) for x in empties(course)), empties(course)
    progress = page(office, "/tablet/training/progress", lang)
    assert any(len(x) >= 30 for x in empties(progress)) and not BARE.search(progress)
    assert ">—<" not in progress


def test_a_supervisor_is_told_who_acts_and_a_worker_what_comes(as_role):
    sup = page(as_role("supervisor"), "/tablet/training", "zh-CN")
    joined = " ".join(empties(sup))
    assert "请安全科" in joined and "登记证书" in joined
    worker = page(as_role("worker"), "/tablet/training", "zh-CN")
    texts = empties(worker)
    assert any("还没有分配给您的课程" in x for x in texts)
    assert any("没有关联人员" in x and "管理员" in x for x in texts)       # u_worker is linked to nobody
    mastery = page(as_role("worker"), "/tablet/training/mastery", "en")
    assert any("After an exam" in x for x in empties(mastery))


@pytest.fixture
def config(tmp_path):
    return load_config(write_config(tmp_path / "data", extra='\n[training]\nwebhook_format = "dingtalk"\n'
                                    'webhook_url = "https://oapi.example/robot/send?access_token=tok-123"\n'
                                    'webhook_secret = "SEC0123456789abcdef0123456789abcdefWXYZ"\n'))


def test_the_webhook_is_shown_with_its_secret_masked(as_role):
    html = page(as_role("safety_officer"), "/tablet/training", "zh-CN")
    line = re.search(r'id="webhook-setting">(.*?)</p>', html, re.S).group(1)
    assert "钉钉自定义机器人" in line and "https://oapi.example/robot/send" in line and "••••WXYZ" in line
    assert "SEC0123" not in html and "tok-123" not in html
    assert 'id="webhook-setting"' not in page(as_role("supervisor"), "/tablet/training", "zh-CN")
