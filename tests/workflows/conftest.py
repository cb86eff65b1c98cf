"""A fake GitHub REST API (the handful of routes the workflow scripts use), no network."""

from __future__ import annotations

import json
import re
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

import pytest

from scripts.github_api import Request, Response

API = "https://api.github.test"
REPO = "octo/mlgate"
BOT = {"login": "github-actions[bot]", "type": "Bot"}


@dataclass
class FakeGitHub:
    """In-memory pull requests, comments and issues of one repository."""

    page_size: int = 100
    pulls: dict[int, str] = field(default_factory=dict)  # number -> head sha
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    issues: list[dict[str, Any]] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    fail_with: int | None = None
    _next_id: int = 1000

    def _id(self) -> int:
        self._next_id += 1
        return self._next_id

    def add_comment(self, pr: int, body: str, user: dict[str, str] | None = None) -> int:
        comment = {"id": self._id(), "body": body, "user": user or BOT}
        self.comments.setdefault(pr, []).append(comment)
        return int(comment["id"])

    def add_issue(self, title: str, body: str, labels: list[str], user: dict | None = None) -> int:
        number = len(self.issues) + 1
        self.issues.append(
            {
                "number": number,
                "title": title,
                "body": body,
                "state": "open",
                "labels": [{"name": name} for name in labels],
                "user": user or BOT,
            }
        )
        return number

    @property
    def writes(self) -> list[Request]:
        return [r for r in self.requests if r.method != "GET"]

    def __call__(self, request: Request) -> Response:
        self.requests.append(request)
        assert request.headers["Authorization"] == "Bearer t0ken"
        if self.fail_with:
            return self._json({"message": "boom"}, self.fail_with)
        parts = urllib.parse.urlsplit(request.url)
        assert f"{parts.scheme}://{parts.netloc}" == API
        path = parts.path.removeprefix(f"/repos/{REPO}/")
        query = dict(urllib.parse.parse_qsl(parts.query))
        body = json.loads(request.body) if request.body else None
        route = (request.method, re.sub(r"\d+", "N", path))
        if route == ("GET", "pulls/N"):
            number = int(path.split("/")[1])
            if number not in self.pulls:
                return self._json({"message": "Not Found"}, 404)
            return self._json({"number": number, "head": {"sha": self.pulls[number]}})
        if route == ("GET", "issues/N/comments"):
            return self._page(self.comments.get(int(path.split("/")[1]), []), request.url, query)
        if route == ("POST", "issues/N/comments"):
            number = int(path.split("/")[1])
            comment_id = self.add_comment(number, body["body"])
            return self._json({"id": comment_id}, 201)
        if route == ("PATCH", "issues/comments/N"):
            comment_id = int(path.split("/")[2])
            for comment in (c for cs in self.comments.values() for c in cs):
                if comment["id"] == comment_id:
                    comment["body"] = body["body"]
                    return self._json(comment)
            return self._json({"message": "Not Found"}, 404)
        if route == ("GET", "issues"):
            label = query.get("labels")
            found = [
                i
                for i in self.issues
                if i["state"] == query.get("state", "open")
                and (label is None or label in [lb["name"] for lb in i["labels"]])
            ]
            return self._page(found, request.url, query)
        if route == ("POST", "issues"):
            number = self.add_issue(body["title"], body["body"], body.get("labels", []))
            return self._json({"number": number}, 201)
        if route == ("PATCH", "issues/N"):
            issue = self.issues[int(path.split("/")[1]) - 1]
            issue.update(title=body["title"], body=body["body"])
            return self._json(issue)
        return self._json({"message": f"no route {route}"}, 404)

    def _page(self, items: list[dict[str, Any]], url: str, query: dict[str, str]) -> Response:
        page = int(query.get("page", "1"))
        size = min(self.page_size, int(query.get("per_page", "30")))
        chunk = items[(page - 1) * size : page * size]
        headers = {}
        if page * size < len(items):
            base = url.split("?", 1)[0]
            next_query = urllib.parse.urlencode({**query, "page": page + 1})
            headers["Link"] = f'<{base}?{next_query}>; rel="next"'
        return self._json(chunk, 200, headers)

    @staticmethod
    def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        return Response(status, headers or {}, json.dumps(data).encode())


@pytest.fixture
def fake_github() -> FakeGitHub:
    return FakeGitHub()


@pytest.fixture
def github_env() -> dict[str, str]:
    return {"GITHUB_REPOSITORY": REPO, "GITHUB_TOKEN": "t0ken", "GITHUB_API_URL": API}
