"""The question bank (题库): single/multiple choice and true/false questions with explanations and tags (topic,
work type, difficulty), imported from and exported to the spreadsheet layout plants keep (one question per
row: 题型, 题干, 选项A…选项H, 答案, 解析, 知识点, 工种, 难度, optional 题号).

The import is like the risk register's (`appliance/risk/importer.py`): read (`core.spreadsheet`), check every
row (`parse_rows`, pure), then report (dry run) or apply all of it in one transaction, or nothing. Questions
are matched by their 题号, or, without one, by a code made from the kind and stem, so importing the same file
twice changes nothing the second time.
"""
from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, cast

import peewee

from appliance.core import events, offload, spreadsheet
from appliance.core.db import BaseModel as Model
from appliance.core.errors import ValidationFailed
from appliance.training import rules as R

LETTERS = "ABCDEFGH"
# key, zh header, en header, required
COLUMNS: list[tuple[str, str, str, bool]] = [
    ("code", "题号", "Code", False),
    ("kind", "题型", "Kind", True),
    ("stem", "题干", "Question", True),
    *[(f"opt_{ch}", f"选项{ch}", f"Option {ch}", False) for ch in LETTERS],
    ("answer", "答案", "Answer", True),
    ("explanation", "解析", "Explanation", False),
    ("topic", "知识点", "Topic", True),
    ("work_type", "工种", "Work type", False),
    ("difficulty", "难度", "Difficulty", False),
]
_LABEL = {k: (zh, en) for k, zh, en, _ in COLUMNS}
_BY_HEADER = {re.sub(r"[\s_()（）]", "", h).lower(): k for k, zh, en, _ in COLUMNS for h in (k, zh, en)}
_BY_HEADER.update({"试题类型": "kind", "题目": "stem", "试题": "stem", "正确答案": "answer", "答案解析": "explanation",
                   "主题": "topic", "分类": "topic", "难易程度": "difficulty", "试题编号": "code"})
KIND_WORDS = {"单选": "single", "单选题": "single", "单项选择题": "single", "single": "single",
              "多选": "multiple", "多选题": "multiple", "多项选择题": "multiple", "multiple": "multiple",
              "判断": "judge", "判断题": "judge", "judge": "judge", "true/false": "judge"}
JUDGE_WORDS = {"正确": 0, "对": 0, "√": 0, "✓": 0, "t": 0, "true": 0, "y": 0, "a": 0,
               "错误": 1, "错": 1, "×": 1, "✗": 1, "x": 1, "f": 1, "false": 1, "n": 1, "b": 1}
JUDGE_OPTIONS = ["正确", "错误"]
DIFFICULTY_WORDS = {"1": 1, "易": 1, "简单": 1, "easy": 1, "2": 2, "中": 2, "中等": 2, "一般": 2, "medium": 2,
                    "3": 3, "难": 3, "困难": 3, "hard": 3, "": 2}
HEADER_SEARCH = 10


class Question(Model):
    code = peewee.TextField(unique=True)
    kind = peewee.TextField()
    stem = peewee.TextField()
    options = peewee.TextField()
    answer = peewee.TextField()
    explanation = peewee.TextField()
    topic = peewee.TextField()
    work_type = peewee.TextField()
    difficulty = peewee.IntegerField()
    active = peewee.BooleanField()
    created_at = peewee.IntegerField()
    updated_at = peewee.IntegerField()

    class Meta:
        table_name = "questions"


def question_dict(q: Question, with_answer: bool = True) -> dict:
    d = {"id": q.id, "code": q.code, "kind": q.kind, "stem": q.stem, "options": json.loads(q.options),
         "topic": q.topic, "work_type": q.work_type, "difficulty": q.difficulty, "active": bool(q.active)}
    if with_answer:
        d |= {"answer": json.loads(q.answer), "explanation": q.explanation}
    return d


class QuestionRowsInvalid(ValidationFailed):
    """One or more rows of the question spreadsheet are bad; `details` lists each with its row number."""

    code = "question_rows_invalid"


@dataclass(frozen=True)
class Row:
    row: int
    code: str
    kind: str
    stem: str
    options: list[str]
    answer: list[int]
    explanation: str
    topic: str
    work_type: str
    difficulty: int

    def fields(self) -> dict:
        return {"kind": self.kind, "stem": self.stem, "options": json.dumps(self.options, ensure_ascii=False),
                "answer": json.dumps(self.answer), "explanation": self.explanation, "topic": self.topic,
                "work_type": self.work_type, "difficulty": self.difficulty}


def _text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return str(v).strip()


def _err(row: int, column: str, zh: str, en: str) -> dict:
    czh, cen = _LABEL.get(column, ("", ""))
    return {"row": row, "column": column, "column_zh": czh, "column_en": cen, "zh": zh, "en": en}


def parse_rows(rows: list[tuple[int, list[Any]]]) -> tuple[list[Row], list[dict], int]:
    """(questions, errors, header row) from (row number, cells). Pure."""
    h = next((i for i, (_, cells) in enumerate(rows[:HEADER_SEARCH])
              if sum(re.sub(r"[\s_()（）]", "", _text(c)).lower() in _BY_HEADER for c in cells) >= 3), 0)
    header_no, header = rows[h] if rows else (1, [])
    colmap: dict[int, str] = {}
    for i, c in enumerate(header):
        key = _BY_HEADER.get(re.sub(r"[\s_()（）]", "", _text(c)).lower())
        if key and key not in colmap.values():
            colmap[i] = key
    missing = [k for k, _, _, req in COLUMNS if req and k not in colmap.values()]
    if missing:
        return [], [_err(header_no, k, f"缺少列「{_LABEL[k][0]}」", f"column '{_LABEL[k][1]}' is missing") for k in missing], header_no
    out: list[Row] = []
    errors: list[dict] = []
    seen: dict[str, int] = {}
    for n, cells in rows[h + 1:]:
        c = {key: _text(cells[i]) if i < len(cells) else "" for i, key in colmap.items()}
        if not any(c.values()):
            continue
        before = len(errors)
        kind = KIND_WORDS.get(c.get("kind", "").lower())
        if kind is None:
            errors.append(_err(n, "kind", f"题型「{c.get('kind')}」应为 单选/多选/判断", f"kind {c.get('kind')!r} must be single/multiple/judge"))
        stem = c.get("stem", "")
        if not 2 <= len(stem) <= 1000:
            errors.append(_err(n, "stem", "题干应为 2–1000 字", "the question must be 2–1000 characters"))
        options = [c.get(f"opt_{ch}", "") for ch in LETTERS]
        while options and not options[-1]:
            options.pop()
        if "" in options:
            errors.append(_err(n, f"opt_{LETTERS[options.index('')]}", "选项中间不能留空", "an option in the middle is empty"))
        if kind == "judge" and not options:
            options = list(JUDGE_OPTIONS)
        raw = c.get("answer", "").upper().replace(",", "").replace("，", "").replace(" ", "").replace("、", "")
        if kind == "judge" and raw.lower() in JUDGE_WORDS:
            answer = [JUDGE_WORDS[raw.lower()]]
        else:
            answer = [LETTERS.index(ch) for ch in raw if ch in LETTERS] if raw and all(ch in LETTERS for ch in raw) else []
        if kind is not None and len(errors) == before:
            why = R.check_answer(kind, options, answer)
            if why == "options":
                errors.append(_err(n, "opt_A", "选项数量不符（选择题 2–8 个，判断题 2 个）",
                                   "wrong number of options (choice: 2–8, true/false: 2)"))
            elif why == "answer":
                errors.append(_err(n, "answer", f"答案「{c.get('answer')}」与题型或选项不符",
                                   f"answer {c.get('answer')!r} does not fit the kind or the options"))
        topic = c.get("topic", "")
        if not 1 <= len(topic) <= 40:
            errors.append(_err(n, "topic", "知识点应为 1–40 字", "the topic must be 1–40 characters"))
        diff = DIFFICULTY_WORDS.get(c.get("difficulty", "").lower())
        if diff is None:
            errors.append(_err(n, "difficulty", "难度应为 易/中/难 或 1–3", "difficulty must be easy/medium/hard or 1–3"))
        code = c.get("code") or "Q" + hashlib.sha256(f"{kind}|{stem}".encode()).hexdigest()[:12]
        if not re.fullmatch(r"[A-Za-z0-9_.-]{1,40}", code):
            errors.append(_err(n, "code", "题号只能用字母、数字、_ . -（≤40）", "the code may hold letters, digits, _ . - (≤ 40)"))
        elif code in seen:
            errors.append(_err(n, "code", f"题号 {code} 与第 {seen[code]} 行重复", f"code {code} repeats row {seen[code]}"))
        seen.setdefault(code, n)
        if len(errors) == before:
            assert kind is not None and diff is not None
            out.append(Row(n, code, kind, stem, options, answer, c.get("explanation", "")[:2000], topic,
                           c.get("work_type", "")[:40], diff))
    return out, errors, header_no


def import_questions(data: bytes, *, actor: str, dry_run: bool, filename: str = "") -> dict:
    """Check the file and report (dry run), or apply it all at once: created / updated / unchanged. Bad rows:
    a dry run lists them (`ok` false); a real import raises QuestionRowsInvalid having written nothing."""
    rows = offload.run(spreadsheet.read_rows, data, size=len(data))   # a big file in a child (core.offload)
    if not rows:
        raise spreadsheet.BadSpreadsheet("文件为空", "the file is empty")
    parsed, errors, header_row = parse_rows(rows)
    digest = hashlib.sha256(data).hexdigest()
    report: dict[str, Any] = {"dry_run": dry_run, "ok": not errors, "rows": len(parsed) + len({e["row"] for e in errors}),
                              "header_row": header_row, "sha256": digest, "errors": errors}
    if errors:
        if dry_run:
            return report
        raise QuestionRowsInvalid(
            f"题库有 {len(errors)} 处错误，未导入任何内容（第一处：第 {errors[0]['row']} 行 {errors[0]['zh']}）",
            f"the question bank has {len(errors)} errors; nothing was imported (first: row {errors[0]['row']}: {errors[0]['en']})",
            details=errors)
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    with events.recording(actor) as rec:
        existing = {q.code: q for q in Question.select()}
        t = events.now_ms()
        for r in parsed:
            f = r.fields()
            q = existing.get(r.code)
            if q is None:
                counts["created"] += 1
                if not dry_run:
                    Question.create(code=r.code, **f, active=True, created_at=t, updated_at=t)
            elif all(getattr(q, k) == v for k, v in f.items()) and q.active:
                counts["unchanged"] += 1
            else:
                counts["updated"] += 1
                if not dry_run:
                    Question.update(**f, active=True, updated_at=t).where(Question.id == q.id).execute()
        report["summary"] = counts
        if not dry_run and (counts["created"] or counts["updated"]):
            rec.emit("training.questions_imported", entity=("question_bank", digest[:16]),
                     payload={"file": filename[:200], "sha256": digest, **counts})
    return report


def export_rows(lang: str = "zh-CN") -> list[list]:
    """The bank in the import layout (header in `lang`), the template when the bank is empty."""
    header = [en if lang == "en" else zh for _, zh, en, _ in COLUMNS]
    kind_word = {"single": "单选", "multiple": "多选", "judge": "判断"}
    out: list[list] = [header]
    for q in Question.select().where(Question.active).order_by(Question.topic, Question.id):
        opts = json.loads(q.options)
        ans = json.loads(q.answer)
        answer = JUDGE_OPTIONS[ans[0]] if q.kind == "judge" else "".join(LETTERS[i] for i in ans)
        out.append([q.code, kind_word[q.kind], q.stem, *[opts[i] if i < len(opts) else "" for i in range(len(LETTERS))],
                    answer, q.explanation, q.topic, q.work_type, q.difficulty])
    if len(out) == 1:
        out.append(["Q0001", "单选", "动火作业前气体分析后超过多少分钟未动火，应重新分析？", "10", "30", "60", "120",
                    "", "", "", "", "B", "GB 30871-2022：超过30 min 应重新分析", "动火作业", "动火", 2])
    return out


def pool(active_only: bool = True) -> dict[int, tuple[str, int, str]]:
    """id → (topic, difficulty, kind) for drawing papers."""
    q = Question.select(Question.id, Question.topic, Question.difficulty, Question.kind)
    if active_only:
        q = q.where(Question.active)
    rows = cast(Iterable[tuple[int, str, int, str]], q.tuples())   # plain rows: no model object per question
    return {qid: (topic, difficulty, kind) for qid, topic, difficulty, kind in rows}


def topics() -> dict[str, dict[int, int]]:
    """topic → {difficulty: active questions}."""
    out: dict[str, dict[int, int]] = {}
    for topic, diff, _ in pool().values():
        out.setdefault(topic, {}).setdefault(diff, 0)
        out[topic][diff] += 1
    return dict(sorted(out.items()))
