"""A fake GitHub REST API on loopback: real HTTP, every request recorded, state kept like GitHub's.

It serves the endpoints the harness jobs use, paginates with `Link` headers, rejects review
comments outside the diff hunks with 422 (as GitHub does), and can inject faults (e.g. a 403
secondary rate limit with Retry-After) for the next N matching requests.
"""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlparse

from tests.local_server import LocalServer

BOT = {"login": "github-actions[bot]", "type": "Bot", "id": 41898282}


def hunk_lines(patch: str) -> tuple[set[int], set[int]]:
    """(RIGHT, LEFT) lines of a file patch: an independent re-implementation for checking the harness."""
    right, left, old, new = set(), set(), 0, 0
    for text in patch.split("\n"):
        m = re.match(r"@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@", text)
        if m:
            old, new = int(m.group(1)), int(m.group(2))
        elif text.startswith("+"):
            right.add(new)
            new += 1
        elif text.startswith("-"):
            left.add(old)
            old += 1
        elif text.startswith(" "):
            right.add(new)
            left.add(old)
            old, new = old + 1, new + 1
    return right, left


class FakeGitHub(LocalServer):
    """State: pull files, issue comments, review comments, reviews, statuses, permissions, created PRs."""

    def __init__(self, repository: str = "octo/calc", per_page_max: int = 2) -> None:
        self.repository = repository
        # Small pages so pagination is exercised with only a few comments.
        self.per_page_max = per_page_max
        self.pull_files: dict[int, list[dict[str, Any]]] = {}
        self.issue_comments: list[dict[str, Any]] = []
        self.review_comments: list[dict[str, Any]] = []
        self.reviews: list[dict[str, Any]] = []
        self.statuses: list[dict[str, Any]] = []
        self.created_pulls: list[dict[str, Any]] = []
        self.labels: dict[int, list[str]] = {}
        self.review_requests: list[dict[str, Any]] = []
        self.permissions: dict[str, str] = {}
        self.requests: list[dict[str, Any]] = []
        self.faults: list[dict[str, Any]] = []
        self._next_id = 1000
        self._lock = threading.Lock()
        super().__init__(self._handler())


    def fail(self, method: str, path_pattern: str, status: int, times: int = 1, headers: dict[str, str] | None = None,
             message: str = "fault") -> None:
        """Answer the next `times` requests matching method and path regex with an error."""
        self.faults.append({"method": method, "pattern": re.compile(path_pattern), "status": status, "times": times,
                            "headers": headers or {}, "message": message})

    def add_issue_comment(self, number: int, body: str, user: dict[str, Any] | None = None) -> dict[str, Any]:
        """Seed a comment (e.g. a human's)."""
        return self._issue_comment(number, body, user or {"login": "someone", "type": "User"})

    def writes(self) -> list[dict[str, Any]]:
        """Recorded requests that change state."""
        return [r for r in self.requests if r["method"] in ("POST", "PATCH", "PUT", "DELETE")]

    # -- state changes -----------------------------------------------------------

    def _id(self) -> int:
        self._next_id += 1
        return self._next_id

    def _issue_comment(self, number: int, body: str, user: dict[str, Any]) -> dict[str, Any]:
        cid = self._id()
        comment = {"id": cid, "issue_number": number, "body": body, "user": user,
                   "html_url": f"https://github.example/{self.repository}/issues/{number}#issuecomment-{cid}"}
        self.issue_comments.append(comment)
        return comment

    def _route(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        base = f"/repos/{self.repository}"
        if not path.startswith(base):
            return 404, {"message": "Not Found"}
        rest = path[len(base):]
        if m := re.fullmatch(r"/pulls/(\d+)/files", rest):
            return 200, self.pull_files.get(int(m.group(1)), [])
        if m := re.fullmatch(r"/pulls/(\d+)/comments", rest):
            return 200, [c for c in self.review_comments if c["pull_number"] == int(m.group(1))]
        if (m := re.fullmatch(r"/pulls/(\d+)/reviews", rest)) and method == "POST":
            return self._review(int(m.group(1)), body)
        if (m := re.fullmatch(r"/issues/(\d+)/comments", rest)) and method == "GET":
            return 200, [c for c in self.issue_comments if c["issue_number"] == int(m.group(1))]
        if (m := re.fullmatch(r"/issues/(\d+)/comments", rest)) and method == "POST":
            return 201, self._issue_comment(int(m.group(1)), body["body"], BOT)
        if (m := re.fullmatch(r"/issues/comments/(\d+)", rest)) and method == "PATCH":
            for c in self.issue_comments:
                if c["id"] == int(m.group(1)):
                    if c["user"] != BOT:
                        return 403, {"message": "Resource not accessible by integration"}
                    c["body"] = body["body"]
                    return 200, c
            return 404, {"message": "Not Found"}
        if (m := re.fullmatch(r"/statuses/([0-9a-f]{40})", rest)) and method == "POST":
            self.statuses.append({"sha": m.group(1), **body})
            return 201, {"id": self._id(), **body}
        if m := re.fullmatch(r"/collaborators/([^/]+)/permission", rest):
            user = m.group(1)
            if user not in self.permissions:
                return 404, {"message": f"{user} is not a user"}
            return 200, {"permission": self.permissions[user], "user": {"login": user}}
        if (m := re.fullmatch(r"/issues/(\d+)/labels", rest)) and method == "POST":
            self.labels.setdefault(int(m.group(1)), []).extend(body["labels"])
            return 200, [{"name": n} for n in self.labels[int(m.group(1))]]
        if (m := re.fullmatch(r"/pulls/(\d+)/requested_reviewers", rest)) and method == "POST":
            self.review_requests.append({"pull_number": int(m.group(1)), **body})
            return 201, {"number": int(m.group(1))}
        if rest == "/pulls" and method == "POST":
            number = 100 + len(self.created_pulls)
            pr = {"number": number, "html_url": f"https://github.example/{self.repository}/pull/{number}", **body}
            self.created_pulls.append(pr)
            return 201, pr
        return 404, {"message": "Not Found"}

    def _review(self, number: int, body: dict[str, Any]) -> tuple[int, Any]:
        files = {f["filename"]: hunk_lines(f.get("patch", "")) for f in self.pull_files.get(number, [])}
        for c in body.get("comments", []):
            right, left = files.get(c["path"], (set(), set()))
            if c["line"] not in (right if c.get("side", "RIGHT") == "RIGHT" else left):
                return 422, {"message": "Unprocessable Entity",
                             "errors": ["Pull request review thread line must be part of the diff"]}
        review = {"id": self._id(), "pull_number": number, **body}
        self.reviews.append(review)
        for c in body.get("comments", []):
            self.review_comments.append({"id": self._id(), "pull_number": number, "user": BOT,
                                         "commit_id": body.get("commit_id"), **c})
        return 200, review

    # -- HTTP ----------------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self, method: str) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length", 0) or 0))
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                body = json.loads(raw) if raw else None
                with fake._lock:
                    fake.requests.append({"method": method, "path": url.path, "query": query, "body": body,
                                          "raw": raw.decode(errors="replace"), "headers": dict(self.headers),
                                          "time": time.monotonic()})
                    fault = next((f for f in fake.faults if f["times"] > 0 and f["method"] == method
                                  and f["pattern"].search(url.path)), None)
                    if fault:
                        fault["times"] -= 1
                        return self._send(fault["status"], {"message": fault["message"]}, fault["headers"])
                    status, payload = fake._route(method, url.path, body)
                headers: dict[str, str] = {}
                if method == "GET" and isinstance(payload, list):
                    per_page = min(int(query.get("per_page", 30)), fake.per_page_max)
                    page = int(query.get("page", 1))
                    chunk = payload[(page - 1) * per_page: page * per_page]
                    if page * per_page < len(payload):
                        headers["Link"] = f'<{fake.url}{url.path}?per_page={per_page}&page={page + 1}>; rel="next"'
                    payload = chunk
                self._send(status, payload, headers)

            def _send(self, status: int, payload: Any, headers: dict[str, str]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802
                self._serve("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._serve("POST")

            def do_PATCH(self) -> None:  # noqa: N802
                self._serve("PATCH")

        return Handler
