"""EC2's encoded authorization messages: a denial's full story, sealed so that only
sts:DecodeAuthorizationMessage (which needs its own permission) can read it."""

from __future__ import annotations

import json
from typing import Any

from rolecall.core.context import Caller, Check


def encode_authorization_message(box: Any, caller: Caller, check: Check, context: dict[str, Any]) -> str:
    """EC2's encoded denial: the decision, the statements that decided it and the context, sealed so that
    only sts:DecodeAuthorizationMessage (which needs its own permission) can read it."""
    d = check.decision
    message = {
        "allowed": d.allowed,
        "explicitDeny": d.decision == "explicitDeny",
        "matchedStatements": {
            "items": [
                {"statementId": m.sid or "", "effect": m.effect, "policy": m.policy, "index": m.index}
                for m in d.matched
            ]
        },
        "failures": {"items": []},
        "context": {
            "principal": {"id": caller.principal_id, "arn": caller.arn},
            "action": check.action,
            "resource": check.resource,
            "conditions": {
                "items": [
                    {
                        "key": k,
                        "values": {"items": [{"value": v} for v in (vs if isinstance(vs, list) else [vs])]},
                    }
                    for k, vs in sorted(context.items())
                ]
            },
        },
    }
    return box.seal(json.dumps(message, separators=(",", ":")).encode())


def decode_authorization_message(box: Any, encoded: str) -> str:
    return box.open(encoded).decode()
