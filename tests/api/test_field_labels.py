"""Every field a client sends has a Chinese label, so an error names it in Chinese
(`操作:取值无效`, never `action:取值无效`); found by the QA walk after issues 9-14."""

from typing import Any

from app.labels import LABELS
from app.main import create_app

API = "/api/v1"


def _sent_fields(spec: dict[str, Any]) -> dict[str, str]:
    """Each query parameter and top-level request-body property, with one place it is sent."""
    schemas = spec["components"]["schemas"]
    found: dict[str, str] = {}
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            where = f"{method.upper()} {path}"
            for param in op.get("parameters", []):
                if param["in"] == "query":
                    found.setdefault(param["name"], where)
            for content in op.get("requestBody", {}).get("content", {}).values():
                ref = content.get("schema", {}).get("$ref")
                if ref:
                    for name in schemas[ref.rsplit("/", 1)[-1]].get("properties", {}):
                        found.setdefault(name, where)
    return found


def test_every_field_a_client_sends_has_a_chinese_label() -> None:
    spec = create_app().openapi()
    missing = {name: where for name, where in _sent_fields(spec).items()
               if name not in LABELS["field"]}
    assert missing == {}


def test_an_error_names_the_field_in_chinese(world: Any, login: Any) -> None:
    r = login("admin").patch(f"{API}/notifications/1", json={"read": "maybe"})
    assert r.status_code == 422, r.text
    assert r.json()["detail"].startswith("已读:"), r.json()["detail"]
    r = login("admin").post(f"{API}/tokens", json={"name": "县平台", "expires_days": "abc"})
    assert r.status_code == 422, r.text
    assert "有效天数:" in r.json()["detail"], r.json()["detail"]
    r = login("staff").post(f"{API}/imports/branches")
    assert r.status_code == 422, r.text
    assert r.json()["detail"].startswith("文件:"), r.json()["detail"]


def test_an_error_in_the_whole_body_or_a_list_item_is_named_in_chinese(world: Any,
                                                                     login: Any) -> None:
    staff = login("staff")
    r = staff.post(f"{API}/problems", content=b"[1, 2]",
                   headers={"Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    assert r.json()["detail"] == "请求体应为 JSON 对象"
    r = staff.post(f"{API}/acceptances", json={
        "rectification_id": 1, "held_on": "2026-11-01",
        "item_scores": [{"code": "leadership", "score": "NaN"}]})
    assert r.status_code == 422, r.text
    assert r.json()["detail"] == "评分第1项:取值无效", r.json()["detail"]
    assert r.json()["errors"][0]["field"] == "item_scores.0.score"
