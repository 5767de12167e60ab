"""Helpers for the JSON API under /api/v1/ (each domain has its own blueprint), described by openapi.json.

Errors are always `{"error": {"code", "message", "messages": {"zh-CN", "en"}}}` with the right 4xx.
"""
from __future__ import annotations

from typing import TypeVar

from flask import request
from pydantic import BaseModel, ValidationError

from appliance.core.config import describe_validation_error
from appliance.core.errors import ApplianceError, ValidationFailed

M = TypeVar("M", bound=BaseModel)


class BadJson(ApplianceError):
    """The request body is not a JSON object."""

    code = "bad_json"
    http_status = 400


def body(model: type[M]) -> M:
    """Parse the request's JSON body into `model`; 400 for non-JSON, 422 naming each bad field."""
    raw = request.get_data(cache=True)
    data = request.get_json(silent=True, force=True)
    if data is None:
        if not raw.strip():
            raise BadJson("请求体为空，应为 JSON 对象", "the body is empty; send a JSON object")
        raise BadJson("请求体不是有效的 JSON", "the body is not valid JSON")
    if not isinstance(data, dict):
        raise BadJson("请求体应为 JSON 对象", "the body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = describe_validation_error(exc)
        raise ValidationFailed("；".join(f"{k}：{z}" for k, z, _ in problems),
                               "; ".join(f"{k}: {e}" for k, _, e in problems),
                               details=[{"key": k, "zh": z, "en": e} for k, z, e in problems]) from None


def int_arg(name: str, default: int, lo: int, hi: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        v = int(raw)
    except ValueError:
        raise ValidationFailed(f"参数 {name} 应为整数", f"parameter {name} must be an integer",
                               details=[{"key": name}]) from None
    if not lo <= v <= hi:
        raise ValidationFailed(f"参数 {name} 应在 {lo}..{hi} 之间", f"parameter {name} must be within {lo}..{hi}",
                               details=[{"key": name}])
    return v
