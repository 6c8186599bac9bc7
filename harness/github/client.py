"""A small GitHub REST client: retries on rate limits, pagination, one-line errors, no token in output.

Every error message goes through `redact` with the token, so a token echoed back by a proxy
or pasted into a URL cannot reach a log.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import Any

import httpx2

from harness.errors import HarnessError
from harness.secrets import redact

_NEXT_LINK = re.compile(r'<([^>]+)>;\s*rel="next"')
# GitHub asks for at least a minute between retries when a secondary limit gives no Retry-After.
_SECONDARY_DEFAULT_WAIT_S = 60.0


class GitHubError(HarnessError):
    """A GitHub API call failed after retries (auth, permission, missing resource, outage)."""

    exit_code = 4


class GitHub:
    """REST calls against one repository (`owner/name`) with a bearer token.

    Secondary rate limits (403/429 with Retry-After, or a "secondary rate limit" message) and
    primary limits (x-ratelimit-remaining: 0) are waited out when the wait is at most `max_wait_s`;
    5xx answers are retried with backoff. `sleep` is injectable so tests need not wait.
    """

    def __init__(self, api_url: str, repository: str, token: str, *, max_retries: int = 4,
                 max_wait_s: float = 120.0, timeout_s: float = 30.0,
                 sleep: Callable[[float], None] = time.sleep):
        if not re.fullmatch(r"[\w.-]+/[\w.-]+", repository):
            raise GitHubError(f"GITHUB_REPOSITORY {repository!r} is not owner/name")
        self.repository = repository
        self.token = token
        self.max_retries = max_retries
        self.max_wait_s = max_wait_s
        self._sleep = sleep
        self._http = httpx2.Client(
            base_url=api_url.rstrip("/"), timeout=timeout_s, follow_redirects=True,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json",
                     "X-GitHub-Api-Version": "2022-11-28", "User-Agent": "harness-review"})

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> GitHub:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def repo_path(self, path: str) -> str:
        """`/repos/owner/name` + path."""
        return f"/repos/{self.repository}{path}"

    # -- calls ---------------------------------------------------------------------

    def request(self, method: str, path: str, json: Any = None, params: dict[str, Any] | None = None) -> Any:
        """One call, retried on rate limits and server errors; returns the decoded JSON (or None)."""
        response = self._send(method, path, json, params)
        return response.json() if response.content else None

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """GET a repo-relative path (e.g. `/pulls/3`)."""
        return self.request("GET", self.repo_path(path), params=params)

    def post(self, path: str, json: Any) -> Any:
        """POST to a repo-relative path."""
        return self.request("POST", self.repo_path(path), json=json)

    def patch(self, path: str, json: Any) -> Any:
        """PATCH a repo-relative path."""
        return self.request("PATCH", self.repo_path(path), json=json)

    def paginate(self, path: str, params: dict[str, Any] | None = None, limit: int = 3000) -> list[Any]:
        """Every item of a list endpoint, following `Link: rel="next"` (at most `limit` items)."""
        items: list[Any] = []
        url: str | None = self.repo_path(path)
        query: dict[str, Any] | None = {"per_page": 100, **(params or {})}
        while url and len(items) < limit:
            response = self._send("GET", url, None, query)
            page = response.json()
            if not isinstance(page, list):
                raise GitHubError(f"GET {path}: expected a list, got {type(page).__name__}")
            items.extend(page)
            match = _NEXT_LINK.search(response.headers.get("link", ""))
            url, query = (match.group(1), None) if match else (None, None)
        return items[:limit]

    # -- internals -----------------------------------------------------------------

    def _send(self, method: str, url: str, json: Any, params: dict[str, Any] | None) -> httpx2.Response:
        where = f"{method} {_path_only(url)}"
        for attempt in range(self.max_retries + 1):
            try:
                response = self._http.request(method, url, json=json, params=params)
            except httpx2.HTTPError as exc:
                if attempt == self.max_retries:
                    raise GitHubError(self._clean(f"{where}: GitHub unreachable ({type(exc).__name__})")) from None
                self._sleep(min(2.0 ** attempt, self.max_wait_s))
                continue
            if response.status_code < 400:
                return response
            wait = self._retry_wait(response, attempt)
            if wait is None or attempt == self.max_retries:
                raise GitHubError(self._clean(_explain(where, response)))
            self._sleep(wait)
        raise AssertionError("unreachable")  # the loop always returns or raises

    def _retry_wait(self, response: httpx2.Response, attempt: int) -> float | None:
        """Seconds to wait before retrying, or None when the answer is final."""
        status, headers = response.status_code, response.headers
        if status >= 500:
            return min(2.0 ** attempt, self.max_wait_s)
        if status not in (403, 429):
            return None
        wait: float | None = None
        if "retry-after" in headers:
            wait = _seconds(headers["retry-after"])
        elif headers.get("x-ratelimit-remaining") == "0" and "x-ratelimit-reset" in headers:
            wait = max(0.0, float(headers["x-ratelimit-reset"]) - time.time()) + 1
        elif "secondary rate limit" in response.text.lower():
            wait = _SECONDARY_DEFAULT_WAIT_S * (2 ** attempt)
        if wait is None or wait > self.max_wait_s:
            return None  # a plain permission error, or a wait longer than the job should block
        return wait

    def _clean(self, text: str) -> str:
        return redact(text, [self.token])


def _seconds(value: str) -> float | None:
    """Retry-After is either delta-seconds or an HTTP date."""
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _path_only(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url).split("?")[0]


def _explain(where: str, response: httpx2.Response) -> str:
    """A one-line error naming the likely cause for the status codes people actually hit."""
    try:
        message = str(response.json().get("message", ""))
    except (ValueError, AttributeError):
        message = response.text[:200]
    status = response.status_code
    hint = {
        401: "the token was rejected (expired or wrong secret?)",
        403: "forbidden: does the workflow grant the needed `permissions:`?",
        404: "not found, or the token cannot see it",
        422: "GitHub refused the request",
    }.get(status, "request failed")
    if status in (403, 429) and "rate limit" in message.lower():
        hint = "rate limited for longer than the job waits"
    return f"{where}: {status} {hint}" + (f" ({message.splitlines()[0][:200]})" if message else "")
