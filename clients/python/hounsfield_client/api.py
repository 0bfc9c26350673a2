"""The gateway's HTTP API as plain Python calls (JSON in, dicts out), with errors a person can act on.

Everything goes over HTTP with the bearer token, so the CLI works from any machine that can reach
the gateway: no NATS, no shared disk, no PyTorch.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any
from urllib.parse import quote

import httpx

from hounsfield_client.sse import ServerSentEvent, read_events


class ClientError(Exception):
    """Anything the CLI reports as one readable message (exit status 4), not a traceback."""


class GatewayUnreachableError(ClientError):
    def __init__(self, url: str, cause: Exception) -> None:
        super().__init__(
            f"cannot reach the Hounsfield gateway at {url} ({type(cause).__name__}: {cause}).\n"
            "Start a local stack with `npm start` in a Hounsfield checkout, or point at a running one "
            "with HOUNSFIELD_URL=http://<host>:8080 (or `hounsfield login --url …`)."
        )
        self.url = url


@dataclass
class ProblemError(ClientError):
    """A non-2xx answer with the gateway's RFC 9457 problem details (field paths for bad input)."""

    status: int
    problem: dict[str, Any]

    def __str__(self) -> str:
        title = self.problem.get("title") or "error"
        detail = self.problem.get("detail") or ""
        lines = [f"{self.status} {title}" + (f": {detail}" if detail else "")]
        for issue in self.problem.get("errors") or []:
            lines.append(f"  {issue.get('path') or '(root)'}: {issue.get('message')}")
        return "\n".join(lines)


def quoted(segment: str) -> str:
    return quote(segment, safe="")


class Gateway:
    """One gateway URL and token; `transport` lets tests answer in-process."""

    def __init__(
        self,
        url: str,
        token: str | None,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.url = url.rstrip("/")
        headers = {"authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(
            base_url=self.url,
            headers=headers,
            transport=transport,
            timeout=httpx.Timeout(timeout, read=None),
        )

    def close(self) -> None:
        self._http.close()

    # -- plumbing -------------------------------------------------------------------------------

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as error:
            raise GatewayUnreachableError(self.url, error) from error
        if response.status_code >= 400:
            raise _problem(response.status_code, response.text)
        return response

    def call(self, method: str, path: str, body: Any = None, params: dict[str, Any] | None = None) -> Any:
        response = self._send(
            method,
            path,
            json=body,
            params={k: v for k, v in (params or {}).items() if v is not None},
        )
        return response.json() if response.content else None

    @contextmanager
    def stream(
        self, path: str, params: dict[str, Any] | None = None, headers: dict[str, str] | None = None
    ) -> Iterator[httpx.Response]:
        """A streamed GET; a problem answer is read and raised before the body is handed over."""
        request = self._http.build_request(
            "GET", path, params={k: v for k, v in (params or {}).items() if v is not None}, headers=headers
        )
        try:
            response = self._http.send(request, stream=True)
        except httpx.TransportError as error:
            raise GatewayUnreachableError(self.url, error) from error
        try:
            if response.status_code >= 400:
                response.read()
                raise _problem(response.status_code, response.text)
            yield response
        finally:
            response.close()

    def events(
        self, path: str, params: dict[str, Any] | None = None, last_event_id: str | None = None
    ) -> Iterator[ServerSentEvent]:
        headers = {"accept": "text/event-stream"}
        if last_event_id:
            headers["last-event-id"] = last_event_id
        with self.stream(path, params, headers) as response:
            try:
                yield from read_events(response.iter_lines())
            except httpx.TransportError as error:
                raise GatewayUnreachableError(self.url, error) from error

    # -- the API --------------------------------------------------------------------------------

    def whoami(self) -> dict[str, Any]:
        return self.call("GET", "/v1/whoami")

    def submit_job(self, spec: dict[str, Any]) -> dict[str, Any]:
        return self.call("POST", "/v1/jobs", spec)

    def job(self, job_id: str) -> dict[str, Any]:
        return self.call("GET", f"/v1/jobs/{quoted(job_id)}")

    def jobs(
        self, state: str | None = None, owner: str | None = None, limit: int = 50
    ) -> list[dict[str, Any]]:
        page = self.call("GET", "/v1/jobs", params={"state": state, "owner": owner, "limit": limit})
        return list(page["jobs"])

    def cancel(self, job_id: str, grace_seconds: int | None = None) -> dict[str, Any]:
        body = {} if grace_seconds is None else {"graceSeconds": grace_seconds}
        return self.call("POST", f"/v1/jobs/{quoted(job_id)}/cancel", body)

    def job_events(self, job_id: str, last_event_id: str | None = None) -> Iterator[ServerSentEvent]:
        return self.events(f"/v1/jobs/{quoted(job_id)}/events", last_event_id=last_event_id)

    def logs(self, job_id: str, attempt: int | None, rank: str | None, tail: int | None) -> str:
        params = {"attempt": attempt, "rank": rank, "tail": tail}
        return str(
            self._send(
                "GET", f"/v1/jobs/{quoted(job_id)}/logs", params={k: v for k, v in params.items() if v}
            ).text
        )

    def follow_logs(
        self, job_id: str, attempt: int | None, rank: str | None, tail: int | None
    ) -> Iterator[ServerSentEvent]:
        params = {"attempt": attempt, "rank": rank, "tail": tail, "follow": "true"}
        return self.events(f"/v1/jobs/{quoted(job_id)}/logs", params)

    def metrics(
        self, job_id: str, names: list[str] | None, step_from: int | None, step_to: int | None
    ) -> dict[str, Any]:
        params = {"name": ",".join(names) if names else None, "from": step_from, "to": step_to}
        return self.call("GET", f"/v1/jobs/{quoted(job_id)}/metrics", params=params)

    def workers(self) -> list[dict[str, Any]]:
        return list(self.call("GET", "/v1/workers")["workers"])

    def checkpoints(self, job_id: str, limit: int = 50) -> list[dict[str, Any]]:
        return list(
            self.call("GET", "/v1/checkpoints", params={"job": job_id, "limit": limit})["checkpoints"]
        )

    def checkpoint(self, ref: str) -> dict[str, Any]:
        return self.call("GET", f"/v1/checkpoints/{quoted(ref)}")

    @contextmanager
    def checkpoint_file(self, checkpoint_id: str, name: str) -> Iterator[httpx.Response]:
        with self.stream(f"/v1/checkpoints/{quoted(checkpoint_id)}/files/{quoted(name)}") as response:
            yield response

    def import_checkpoint(
        self, file: IO[bytes], file_name: str, size: int, format: str, step: int | None
    ) -> dict[str, Any]:
        response = self._send(
            "POST",
            "/v1/checkpoints/import",
            params={
                k: v
                for k, v in {"fileName": file_name, "format": format, "step": step}.items()
                if v is not None
            },
            content=_chunks(file),
            headers={"content-type": "application/octet-stream", "content-length": str(size)},
        )
        return dict(response.json())

    def code_stored(self, digest: str) -> bool:
        """Whether the platform already holds this archive (`GET /v1/code/<digest>`)."""
        return bool(self.call("GET", f"/v1/code/{quoted(digest)}")["stored"])

    def upload_code(self, digest: str, archive: bytes) -> dict[str, Any]:
        """Stores a project archive under its sha256; the platform checks the bytes against the digest."""
        response = self._send(
            "POST",
            f"/v1/code/{quoted(digest)}",
            content=archive,
            headers={"content-type": "application/octet-stream"},
        )
        return dict(response.json())

    def submit_evaluation(self, spec: dict[str, Any]) -> dict[str, Any]:
        return self.call("POST", "/v1/evaluations", spec)

    def evaluations(self, owner: str | None, limit: int) -> list[dict[str, Any]]:
        page = self.call("GET", "/v1/evaluations", params={"owner": owner, "limit": limit})
        return list(page["evaluations"])

    def evaluation(self, evaluation_id: str) -> dict[str, Any]:
        return self.call("GET", f"/v1/evaluations/{quoted(evaluation_id)}")

    def case_file(self, evaluation_id: str, case_id: str, name: str) -> bytes:
        path = f"/v1/evaluations/{quoted(evaluation_id)}/cases/{quoted(case_id)}/{quoted(name)}"
        return self._send("GET", path).content

    def evaluation_report(self, evaluation_id: str, format: str) -> bytes:
        return self._send("GET", f"/v1/evaluations/{quoted(evaluation_id)}/reports/{quoted(format)}").content

    def create_token(self, name: str, user: str | None, expires_in: int | None) -> dict[str, Any]:
        body: dict[str, Any] = {"name": name}
        if user:
            body["user"] = user
        if expires_in is not None:
            body["expiresInSeconds"] = expires_in
        return self.call("POST", "/v1/tokens", body)

    def tokens(self, user: str | None) -> list[dict[str, Any]]:
        return list(self.call("GET", "/v1/tokens", params={"user": user})["tokens"])

    def revoke_token(self, token_id: str) -> dict[str, Any]:
        return self.call("DELETE", f"/v1/tokens/{quoted(token_id)}")

    def create_user(self, name: str, role: str) -> dict[str, Any]:
        return self.call("POST", "/v1/users", {"name": name, "role": role})

    def update_user(self, name: str, update: dict[str, Any]) -> dict[str, Any]:
        return self.call("PATCH", f"/v1/users/{quoted(name)}", update)

    def users(self) -> list[dict[str, Any]]:
        return list(self.call("GET", "/v1/users")["users"])


def _chunks(file: IO[bytes], size: int = 1 << 20) -> Iterator[bytes]:
    while chunk := file.read(size):
        yield chunk


def _problem(status: int, text: str) -> ProblemError:
    try:
        body = json.loads(text) if text else {}
    except json.JSONDecodeError:
        body = {"title": "error", "detail": text[:500]}
    if not isinstance(body, dict):
        body = {"title": "error", "detail": str(body)[:500]}
    return ProblemError(status, body)
