"""A small GitHub REST client on the standard library, with an injectable transport.

The workflows' scripts (``pr_comment``, ``drift_issue``, ``sweep_ci``) need a handful of
calls: read or open a pull request, list/create/update issue comments, list/create/update
issues. This wraps them
with pagination (the ``Link: rel="next"`` header) and one error type, ``GitHubError``.
``Transport`` is the only thing that touches the network, so tests pass a fake GitHub.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
TIMEOUT_S = 30
MAX_PAGES = 50  # 5,000 comments or issues: far beyond any real pull request
_REPO_RE = re.compile(r"(?!\.\.?/)[A-Za-z0-9_.-]+/(?!\.\.?$)[A-Za-z0-9_.-]+")  # fullmatch
_NEXT_LINK = re.compile(r'<([^>]+)>\s*;\s*rel="next"')


class GitHubError(Exception):
    """A GitHub API call failed, or the caller's inputs are unusable."""


@dataclass(frozen=True)
class Request:
    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes | None = None


@dataclass(frozen=True)
class Response:
    status: int
    headers: Mapping[str, str]
    body: bytes = b""

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8")) if self.body else None


Transport = Callable[[Request], Response]


def urllib_transport(request: Request) -> Response:  # pragma: no cover - network
    raw = urllib.request.Request(
        request.url, data=request.body, headers=dict(request.headers), method=request.method
    )
    try:
        with urllib.request.urlopen(raw, timeout=TIMEOUT_S) as reply:
            return Response(reply.status, dict(reply.headers.items()), reply.read())
    except urllib.error.HTTPError as exc:
        return Response(exc.code, dict(exc.headers.items()), exc.read())
    except urllib.error.URLError as exc:
        raise GitHubError(f"{request.method} {request.url}: {exc.reason}") from exc


@dataclass(frozen=True)
class GitHub:
    """The REST API of one repository (``owner/name``)."""

    repo: str
    token: str = field(repr=False)  # never in a log or traceback
    api_url: str = API_URL
    transport: Transport = field(default=urllib_transport, repr=False)

    def __post_init__(self) -> None:
        if not _REPO_RE.fullmatch(self.repo):
            raise GitHubError(f"repository '{self.repo}' is not 'owner/name'")
        if not self.token:
            raise GitHubError("no token (set GITHUB_TOKEN)")

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, transport: Transport | None = None
    ) -> GitHub:
        """The repository and token GitHub Actions provides (GITHUB_REPOSITORY etc.)."""
        env = os.environ if env is None else env
        return cls(
            repo=env.get("GITHUB_REPOSITORY", ""),
            token=env.get("GITHUB_TOKEN", ""),
            api_url=env.get("GITHUB_API_URL", API_URL).rstrip("/"),
            transport=transport or urllib_transport,
        )

    # --- plumbing --------------------------------------------------------------------------

    def _url(self, path: str, query: Mapping[str, str | int] | None = None) -> str:
        url = f"{self.api_url}/repos/{self.repo}/{path.lstrip('/')}"
        return f"{url}?{urllib.parse.urlencode(query)}" if query else url

    def _send(self, method: str, url: str, payload: Any = None) -> Response:
        headers = {
            "Accept": "application/vnd.github+json",
            "Authorization": f"Bearer {self.token}",
            "X-GitHub-Api-Version": API_VERSION,
            "User-Agent": "mlgate-ci",
        }
        body = None
        if payload is not None:
            body = json.dumps(payload).encode("utf-8")
            headers["Content-Type"] = "application/json"
        response = self.transport(Request(method, url, headers, body))
        if not 200 <= response.status < 300:
            detail = ""
            with contextlib.suppress(ValueError, AttributeError):
                detail = str((response.json() or {}).get("message", ""))
            path = url.split("?", 1)[0].removeprefix(self.api_url)
            raise GitHubError(f"{method} {path}: HTTP {response.status} {detail}".rstrip())
        return response

    def _paginate(self, path: str, query: Mapping[str, str | int]) -> Iterator[dict[str, Any]]:
        url: str | None = self._url(path, {**query, "per_page": 100})
        for _page in range(MAX_PAGES):
            if url is None:
                return
            response = self._send("GET", url)
            items = response.json()
            if not isinstance(items, list):
                raise GitHubError(f"GET {path}: expected a list")
            yield from items
            link = {k.lower(): v for k, v in response.headers.items()}.get("link", "")
            match = _NEXT_LINK.search(link)
            url = match.group(1) if match else None
            if url is not None and not url.startswith(self.api_url + "/"):
                raise GitHubError(f"GET {path}: pagination left the API ({url})")
        raise GitHubError(f"GET {path}: more than {MAX_PAGES} pages")

    # --- pull requests and comments --------------------------------------------------------

    def pull_request(self, number: int) -> dict[str, Any]:
        return self._send("GET", self._url(f"pulls/{number}")).json()

    def create_pull_request(self, title: str, head: str, base: str, body: str) -> dict[str, Any]:
        payload = {"title": title, "head": head, "base": base, "body": body}
        return self._send("POST", self._url("pulls"), payload).json()

    def issue_comments(self, number: int) -> Iterator[dict[str, Any]]:
        return self._paginate(f"issues/{number}/comments", {})

    def create_comment(self, number: int, body: str) -> dict[str, Any]:
        return self._send("POST", self._url(f"issues/{number}/comments"), {"body": body}).json()

    def update_comment(self, comment_id: int, body: str) -> dict[str, Any]:
        url = self._url(f"issues/comments/{comment_id}")
        return self._send("PATCH", url, {"body": body}).json()

    def open_pulls(self, head: str) -> Iterator[dict[str, Any]]:
        """Open pull requests from branch ``head`` of this repository."""
        owner = self.repo.split("/", 1)[0]
        return self._paginate("pulls", {"state": "open", "head": f"{owner}:{head}"})

    def update_pull(self, number: int, title: str, body: str) -> dict[str, Any]:
        payload = {"title": title, "body": body}
        return self._send("PATCH", self._url(f"pulls/{number}"), payload).json()

    # --- issues ----------------------------------------------------------------------------

    def open_issues(self, label: str) -> Iterator[dict[str, Any]]:
        """Open issues (not pull requests) carrying ``label``."""
        for item in self._paginate("issues", {"state": "open", "labels": label}):
            if "pull_request" not in item:
                yield item

    def create_issue(self, title: str, body: str, labels: list[str]) -> dict[str, Any]:
        payload = {"title": title, "body": body, "labels": labels}
        return self._send("POST", self._url("issues"), payload).json()

    def update_issue(self, number: int, title: str, body: str) -> dict[str, Any]:
        payload = {"title": title, "body": body}
        return self._send("PATCH", self._url(f"issues/{number}"), payload).json()


BOT_LOGIN = "github-actions[bot]"
BODY_LIMIT = 65_536  # GitHub rejects comment and issue bodies of this many characters


def by_bot(item: Mapping[str, Any], login: str = BOT_LOGIN) -> bool:
    """Whether a comment or issue was written by ``login`` (ours to edit)."""
    user = item.get("user") or {}
    return isinstance(user, Mapping) and user.get("login") == login


def cap_body(body: str, limit: int = BODY_LIMIT - 1_000) -> str:
    """``body`` cut to ``limit`` characters with a note saying so."""
    if len(body) <= limit:
        return body
    note = "\n\n… (truncated: the full report is in the workflow run's artifact)\n"
    return (body[: max(limit - len(note), 0)] + note)[:limit]
