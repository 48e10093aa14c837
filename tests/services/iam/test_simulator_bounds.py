"""A simulation computes only the page it answers: a caller naming thousands of actions and resources
costs at most MaxItems evaluations per call (the whole product once froze the server for seconds)."""

from __future__ import annotations

import json

from rolecall.services.iam import simulator
from rolecall.services.iam.common import _encode_marker

POLICY = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
)


def test_only_the_requested_page_is_simulated(call, monkeypatch):
    evaluated: list[tuple[str, str]] = []
    real = simulator._Simulation.result

    def counting(self, action, resource, per_resource):
        evaluated.append((action, resource))
        return real(self, action, resource, per_resource)

    monkeypatch.setattr(simulator._Simulation, "result", counting)
    actions = [f"s3:Action{i}" for i in range(300)] + ["s3:GetObject"]
    resources = [f"arn:aws:s3:::bucket/key{i}" for i in range(300)]
    first = call(
        "SimulateCustomPolicy",
        PolicyInputList=[POLICY],
        ActionNames=actions,
        ResourceArns=resources,
        MaxItems=5,
    )
    assert len(first["EvaluationResults"]) == 5 and first["IsTruncated"]
    assert len(evaluated) == 5
    assert [r["EvalResourceName"] for r in first["EvaluationResults"]] == resources[:5]

    # The last page holds the allowed action; a marker takes the walk there without computing the rest.
    evaluated.clear()
    last = call(
        "SimulateCustomPolicy",
        PolicyInputList=[POLICY],
        ActionNames=actions,
        ResourceArns=resources,
        MaxItems=1000,
        Marker=_marker_at(300 * 300),
    )
    assert len(evaluated) == 300 and not last["IsTruncated"]
    assert {r["EvalActionName"] for r in last["EvaluationResults"]} == {"s3:GetObject"}
    assert {r["EvalDecision"] for r in last["EvaluationResults"]} == {"allowed"}


def _marker_at(offset: int) -> str:
    """The marker the server issues after `offset` results (walking there page by page would compute them)."""
    return _encode_marker({"offset": offset})
