"""An in-process stand-in for the gateway's HTTP API (httpx.MockTransport), holding its state in dicts.

It answers with the same shapes as the real gateway (job records, SSE frames, problem+json), so
the CLI is tested end to end down to the bytes on the wire without a stack.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import httpx

T0 = "2026-01-05T10:00:00.000Z"


def job_record(job_id: str, state: str = "queued", **extra: Any) -> dict[str, Any]:
    return {
        "id": job_id,
        "owner": "alice",
        "spec": {"name": "tiny", "kind": "script"},
        "state": state,
        "attempt": 1,
        "restarts": 0,
        "createdAt": T0,
        "updatedAt": T0,
        "history": [],
        **extra,
    }


def progress(job_id: str, step: int, total: int, loss: float, seq: int) -> dict[str, Any]:
    return {
        "v": 1,
        "type": "progress",
        "jobId": job_id,
        "attempt": 1,
        "workerId": "w1",
        "seq": seq,
        "step": step,
        "totalSteps": total,
        "metrics": {"loss": loss},
        "samplesPerSecond": 12.5,
        "stepSeconds": 0.5,
        "at": T0,
    }


def state_event(job_id: str, state: str, previous: str | None = None, **extra: Any) -> dict[str, Any]:
    event = {"v": 1, "type": "state", "jobId": job_id, "attempt": 1, "state": state, "at": T0, **extra}
    if previous:
        event["from"] = previous
    return event


def sse(events: list[tuple[str, dict[str, Any]]]) -> bytes:
    return "".join(
        f"id: {i + 1}\nevent: {name}\ndata: {json.dumps(data)}\n\n" for i, (name, data) in enumerate(events)
    ).encode()


@dataclass
class FakeGateway:
    """Routes of the gateway the CLI uses; `requests` records every call (method, path)."""

    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    outcome: dict[str, dict[str, Any]] = field(default_factory=dict)
    checkpoints: dict[str, dict[str, Any]] = field(default_factory=dict)
    files: dict[tuple[str, str], bytes] = field(default_factory=dict)
    code: dict[str, bytes] = field(default_factory=dict)
    evaluations: dict[str, dict[str, Any]] = field(default_factory=dict)
    reports: dict[tuple[str, str], bytes] = field(default_factory=dict)
    logs: dict[str, list[str]] = field(default_factory=dict)
    series: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    workers: list[dict[str, Any]] = field(default_factory=list)
    imports: list[bytes] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    tokens: list[dict[str, Any]] = field(default_factory=list)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    submitted: list[dict[str, Any]] = field(default_factory=list)
    token: str = "hft_test"
    next_outcome: str = "succeeded"

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = unquote(request.url.path)
        self.requests.append((request.method, path))
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return problem(401, "Unauthorized", "send Authorization: Bearer <token>")
        parts = path.strip("/").split("/")[1:]
        query = dict(request.url.params)
        route = getattr(self, f"route_{parts[0]}", None) if parts else None
        if route is None:
            return problem(404, "Not Found", f"no route {path}")
        answer = route(request, parts[1:], query)
        return answer if isinstance(answer, httpx.Response) else httpx.Response(200, json=answer)

    # -- routes ---------------------------------------------------------------------------------

    def route_whoami(self, request: httpx.Request, parts: list[str], query: dict[str, str]) -> Any:
        return {"user": "alice", "role": "user", "tokenId": "tok_0123456789abcdef"}

    def route_tokens(self, request: httpx.Request, parts: list[str], query: dict[str, str]) -> Any:
        if request.method == "POST":
            body = json.loads(request.content)
            token = {
                "id": f"tok_{len(self.tokens):016x}",
                "user": body.get("user", "alice"),
                "name": body["name"],
                "createdAt": T0,
            }
            self.tokens.append(token)
            return httpx.Response(201, json={**token, "token": "hft_secret"})
        if request.method == "DELETE":
            token = next(t for t in self.tokens if t["id"] == parts[0])
            token["revokedAt"] = T0
            return token
        return {"tokens": self.tokens}

    def route_users(self, request: httpx.Request, parts: list[str], query: dict[str, str]) -> Any:
        if request.method == "POST":
            body = json.loads(request.content)
            self.users[body["name"]] = {**body, "disabled": False, "createdAt": T0}
            return httpx.Response(201, json=self.users[body["name"]])
        if request.method == "PATCH":
            self.users[parts[0]] |= json.loads(request.content)
            return self.users[parts[0]]
        return {"users": list(self.users.values())}

    def route_workers(self, request: httpx.Request, parts: list[str], query: dict[str, str]) -> Any:
        return {"workers": self.workers}

    def route_jobs(self, request: httpx.Request, parts: list[str], query: dict[str, str]) -> Any:
        if not parts:
            if request.method == "POST":
                spec = json.loads(request.content)
                if "kind" not in spec:
                    return problem(
                        400,
                        "Bad Request",
                        "the job spec is invalid",
                        errors=[{"path": "kind", "message": "Invalid input: expected a job kind"}],
                    )
                job_id = f"job-{len(self.jobs) + 1}"
                self.submitted.append(spec)
                self.jobs[job_id] = job_record(job_id, spec=spec)
                self.events[job_id] = [
                    # A GPU job's environment phase: built before its GPUs are leased.
                    {
                        "v": 1,
                        "type": "environment",
                        "jobId": job_id,
                        "attempt": 1,
                        "workerId": "w1",
                        "buildId": f"{job_id}:1:env:x",
                        "outcome": "ready",
                        "key": "0123456789abcdef01234567",
                        "at": T0,
                    },
                    state_event(job_id, "assigned", "queued", workerId="w1"),
                    state_event(job_id, "running", "assigned"),
                    progress(job_id, 5, 10, 0.5, 0),
                    progress(job_id, 10, 10, 0.25, 1),
                    state_event(job_id, self.next_outcome, "running", reason="exit code 3")
                    if self.next_outcome == "failed"
                    else state_event(job_id, self.next_outcome, "running"),
                ]
                final = {
                    "state": self.next_outcome,
                    "startedAt": T0,
                    "finishedAt": "2026-01-05T10:01:30.000Z",
                }
                if self.next_outcome == "failed":
                    final |= {
                        "exitCode": 3,
                        "reason": "trainer exited with code 3",
                        "logTail": [
                            "[rank 0] Traceback (most recent call last):",
                            "[rank 0] ValueError: boom",
                        ],
                    }
                self.outcome[job_id] = final
                return httpx.Response(201, json=self.jobs[job_id])
            jobs = list(self.jobs.values())
            if "state" in query:
                jobs = [j for j in jobs if j["state"] == query["state"]]
            return {"jobs": jobs}
        job_id = parts[0]
        if job_id not in self.jobs:
            return problem(404, "Not Found", f"job {job_id} not found")
        rest = parts[1:]
        if not rest:
            return self.jobs[job_id]
        if rest == ["events"]:
            # The stream ends once the job has: the record shows its final state from then on.
            self.jobs[job_id] |= self.outcome.get(job_id, {})
            return httpx.Response(
                200,
                content=sse([("message", e) for e in self.events.get(job_id, [])]),
                headers={"content-type": "text/event-stream"},
            )
        if rest == ["cancel"]:
            self.jobs[job_id] |= {"cancelRequested": True}
            return httpx.Response(202, json=self.jobs[job_id])
        if rest == ["logs"]:
            lines = self.logs.get(job_id, [])
            if query.get("tail"):
                lines = lines[-int(query["tail"]) :]
            if query.get("follow") == "true":
                frames = [
                    ("line", {"attempt": 1, "seq": i, "rank": 0, "text": t}) for i, t in enumerate(lines)
                ]
                return httpx.Response(
                    200,
                    content=sse([*frames, ("end", {"reason": "job ended"})]),
                    headers={"content-type": "text/event-stream"},
                )
            return httpx.Response(200, text="".join(f"[rank 0] {t}\n" for t in lines))
        if rest == ["metrics"]:
            names = query.get("name", "").split(",") if query.get("name") else None
            return {
                "jobId": job_id,
                "series": [s for s in self.series.get(job_id, []) if not names or s["name"] in names],
            }
        return problem(404, "Not Found", "no such route")

    def route_checkpoints(self, request: httpx.Request, parts: list[str], query: dict[str, str]) -> Any:
        if not parts:
            return {"checkpoints": [c for c in self.checkpoints.values() if c["jobId"] == query["job"]]}
        if parts == ["import"]:
            body = request.read()
            assert int(request.headers["content-length"]) == len(body)
            self.imports.append(body)
            job_id = f"import-{len(self.imports)}"
            self.jobs[job_id] = job_record(job_id, "succeeded")
            self.checkpoints["ck-import"] = {
                **next(iter(self.checkpoints.values())),
                "id": "ck-import",
                "jobId": job_id,
            }
            return httpx.Response(202, json={"importId": "imp-1", "jobId": job_id})
        ref = parts[0]
        record = self.checkpoints.get(ref) or next(
            (c for c in self.checkpoints.values() if ref == f"{c['jobId']}:latest"), None
        )
        if record is None:
            return problem(404, "Not Found", f"checkpoint {ref} not found")
        if len(parts) == 3 and parts[1] == "files":
            data = self.files[(record["id"], parts[2])]
            return httpx.Response(200, content=data, headers={"content-type": "application/octet-stream"})
        return record

    def route_code(self, request: httpx.Request, parts: list[str], query: dict[str, str]) -> Any:
        digest = parts[0]
        if request.method == "GET":
            return {"digest": digest, "stored": digest in self.code}
        body = request.read()
        if f"sha256:{hashlib.sha256(body).hexdigest()}" != digest:
            return problem(400, "Bad Request", "the archive's sha256 does not match its digest")
        self.code[digest] = body
        return httpx.Response(201, json={"digest": digest, "stored": True, "size": len(body)})

    def route_evaluations(self, request: httpx.Request, parts: list[str], query: dict[str, str]) -> Any:
        if not parts and request.method == "GET":
            return {"evaluations": list(self.evaluations.values())[::-1]}
        if not parts and request.method == "POST":
            record = {
                "id": "eval-1",
                "status": "planning",
                "spec": json.loads(request.content),
                "progress": {"total": None, "done": 0, "etaSeconds": None},
                "createdAt": T0,
            }
            self.evaluations["eval-1"] = record
            return httpx.Response(201, json=record)
        if parts[0] not in self.evaluations:
            return problem(404, "Not Found", f"evaluation {parts[0]} not found")
        if len(parts) == 4 and parts[1] == "cases":
            return httpx.Response(200, content=self.reports[(parts[0], f"{parts[2]}/{parts[3]}")])
        if len(parts) == 3 and parts[1] == "reports":
            return httpx.Response(200, content=self.reports[(parts[0], parts[2])])
        return self.evaluations[parts[0]]


def problem(status: int, title: str, detail: str, **extra: Any) -> httpx.Response:
    return httpx.Response(
        status,
        json={"type": "about:blank", "title": title, "status": status, "detail": detail, **extra},
        headers={"content-type": "application/problem+json"},
    )
