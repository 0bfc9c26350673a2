"""Which messages the agent terminates, and why."""

from __future__ import annotations

import json

import pytest

from hounsfield.worker.assignment_consumer import AssignmentRejectedError, RejectionCode, parse_assignment
from worker.assignments import make_assignment


def _payload(**changes: object) -> bytes:
    data = json.loads(make_assignment("node-a").model_dump_json(exclude_none=True))
    return json.dumps(data | changes).encode()


def test_a_valid_assignment_for_this_worker() -> None:
    assert parse_assignment(_payload(), "node-a").workerId == "node-a"


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (b"{not json", RejectionCode.INVALID_ASSIGNMENT),
        (_payload(v=2), RejectionCode.UNSUPPORTED_VERSION),
        (_payload(nprocPerNode=0), RejectionCode.INVALID_ASSIGNMENT),
        (_payload(extra=True), RejectionCode.INVALID_ASSIGNMENT),
        (_payload(workerId="node-b"), RejectionCode.WRONG_WORKER),
    ],
)
def test_rejections_carry_a_code(payload: bytes, code: RejectionCode) -> None:
    with pytest.raises(AssignmentRejectedError) as caught:
        parse_assignment(payload, "node-a")
    assert caught.value.code == code
