"""scripts/github_api.py: pagination, errors and the token's reach, on a fake transport."""

from __future__ import annotations

import json

import pytest

from scripts.github_api import GitHub, GitHubError, Request, Response, by_bot, cap_body

API = "https://api.github.test"


def client(transport) -> GitHub:
    return GitHub("octo/mlgate", "t0ken", API, transport)


def reply(data: object, status: int = 200, link: str | None = None) -> Response:
    return Response(status, {"Link": link} if link else {}, json.dumps(data).encode())


def test_pagination_follows_next_links_within_the_api() -> None:
    pages = {
        f"{API}/repos/octo/mlgate/issues/7/comments?per_page=100": reply(
            [{"id": 1}], link=f'<{API}/repos/octo/mlgate/issues/7/comments?page=2>; rel="next"'
        ),
        f"{API}/repos/octo/mlgate/issues/7/comments?page=2": reply([{"id": 2}]),
    }
    assert [c["id"] for c in client(lambda r: pages[r.url]).issue_comments(7)] == [1, 2]


def test_a_next_link_to_another_host_is_not_followed_with_the_token() -> None:
    seen: list[Request] = []

    def transport(request: Request) -> Response:
        seen.append(request)
        return reply([{"id": 1}], link='<https://evil.test/steal?page=2>; rel="next"')

    with pytest.raises(GitHubError, match="pagination left the API"):
        list(client(transport).issue_comments(7))
    assert [r.url.split("/")[2] for r in seen] == ["api.github.test"]


def test_endless_pagination_stops() -> None:
    url = f"{API}/repos/octo/mlgate/issues?page=2"
    looping = client(lambda r: reply([], link=f'<{url}>; rel="next"'))
    with pytest.raises(GitHubError, match="more than 50 pages"):
        list(looping.open_issues("x"))


def test_errors_name_the_call_and_never_the_token() -> None:
    with pytest.raises(GitHubError) as caught:
        client(lambda r: Response(502, {}, b"<html>bad gateway</html>")).pull_request(3)
    assert str(caught.value) == "GET /repos/octo/mlgate/pulls/3: HTTP 502"
    assert "t0ken" not in repr(client(lambda r: reply({})))


def test_open_issues_skip_pull_requests_and_requests_carry_the_api_headers() -> None:
    seen: list[Request] = []

    def transport(request: Request) -> Response:
        seen.append(request)
        return reply([{"number": 1}, {"number": 2, "pull_request": {}}])

    assert [i["number"] for i in client(transport).open_issues("data-drift")] == [1]
    assert "labels=data-drift" in seen[0].url and "state=open" in seen[0].url
    assert seen[0].headers["Authorization"] == "Bearer t0ken"
    assert seen[0].headers["X-GitHub-Api-Version"] == "2022-11-28"


@pytest.mark.parametrize(
    ("repo", "token"),
    [("octo", "t"), ("octo/mlgate/x", "t"), ("../x", "t"), ("octo/..", "t"), ("octo/m", "")],
)
def test_unusable_repository_or_token(repo: str, token: str) -> None:
    with pytest.raises(GitHubError):
        GitHub(repo, token, API, lambda r: reply({}))


def test_by_bot_and_cap_body() -> None:
    assert by_bot({"user": {"login": "github-actions[bot]"}})
    assert not by_bot({"user": {"login": "github-actions"}})
    assert not by_bot({"user": None})
    assert cap_body("short") == "short"
    capped = cap_body("x" * 1000, limit=200)
    assert len(capped) == 200 and capped.endswith("artifact)\n")
    assert len(cap_body("x" * 1000, limit=10)) == 10
