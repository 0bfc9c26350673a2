"""The few gateway calls the ``hounsfield checkpoint`` commands make (stdlib HTTP, streamed bodies)."""

from __future__ import annotations

import http.client
import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

TERMINAL_STATES = ("succeeded", "failed", "cancelled")
CHUNK = 1 << 20


class GatewayError(RuntimeError):
    """A non-2xx answer; the message carries the problem's detail."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        super().__init__(f"{status} {problem.get('title', 'error')}: {problem.get('detail', '')}")
        self.status = status
        self.problem = problem


class GatewayClient:
    def __init__(self, base_url: str, token: str | None = None, timeout: float = 600.0) -> None:
        self._url = urlsplit(base_url.rstrip("/"))
        if self._url.scheme not in ("http", "https"):
            raise ValueError(f"gateway URL must be http(s)://host:port, got {base_url!r}")
        self._token = token
        self._timeout = timeout

    def post_import(self, source: Path, *, format: str, step: int | None) -> dict[str, Any]:
        """Streams a legacy file to ``POST /v1/checkpoints/import``; returns the accepted import."""
        query = {
            "fileName": source.name,
            "format": format,
            **({"step": str(step)} if step is not None else {}),
        }
        size = source.stat().st_size
        connection = self._connection()
        try:
            connection.putrequest("POST", f"{self._url.path}/v1/checkpoints/import?{urlencode(query)}")
            for name, value in self._headers(
                {"Content-Type": "application/octet-stream", "Content-Length": str(size)}
            ):
                connection.putheader(name, value)
            connection.endheaders()
            with source.open("rb") as handle:
                while chunk := handle.read(CHUNK):
                    connection.send(chunk)
            return self._answer(connection.getresponse())
        finally:
            connection.close()

    def get(self, path: str) -> Any:
        connection = self._connection()
        try:
            connection.putrequest("GET", f"{self._url.path}{path}")
            for name, value in self._headers({"Accept": "application/json"}):
                connection.putheader(name, value)
            connection.endheaders()
            return self._answer(connection.getresponse())
        finally:
            connection.close()

    def wait_for_job(self, job_id: str, timeout: float, interval: float = 0.5) -> dict[str, Any]:
        """Polls ``GET /v1/jobs/<id>`` until the job ends (or raises TimeoutError)."""
        deadline = time.monotonic() + timeout
        while True:
            job: dict[str, Any] = self.get(f"/v1/jobs/{job_id}")
            if job.get("state") in TERMINAL_STATES:
                return job
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} is still {job.get('state')} after {timeout:g} s")
            time.sleep(interval)

    def _connection(self) -> http.client.HTTPConnection:
        kind = http.client.HTTPSConnection if self._url.scheme == "https" else http.client.HTTPConnection
        return kind(self._url.netloc, timeout=self._timeout)

    def _headers(self, base: dict[str, str]) -> list[tuple[str, str]]:
        headers = dict(base)
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        return list(headers.items())

    @staticmethod
    def _answer(response: http.client.HTTPResponse) -> Any:
        body = response.read()
        data = json.loads(body) if body else None
        if response.status >= 300:
            raise GatewayError(
                response.status,
                data if isinstance(data, dict) else {"detail": body[:500].decode(errors="replace")},
            )
        return data
