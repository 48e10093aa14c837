"""rolecall's own explanation of a denial, for the trail's additionalEventData.rolecallExplanation.

AWS's error message says which kind of policy refused ("because no identity-based policy allows the
iam:CreateRole action"); the explanation says which policy, which statement and which condition, from the
engine's Decision (matched statements, failed conditions, grants for other resources, missing context
keys). It is plain JSON, and holds only what the policies and the request context say: policy names and
ARNs, statement ids, condition keys and values -- never a credential.

    {"decision": "explicitDeny" | "implicitDeny",
     "enforced": true,                      # false: --auth soft let the request through
     "action", "resource", "principal",
     "deniedBy": "identity",                # the layer: scp, rcp, resource, identity, boundary, session
     "layer": "identity-based policy",
     "denyingStatements": [{"policy", "layer", "index", "sid", "effect"}],      # an explicit deny
     "missingGrant": {"layer", "action", "resource"},                           # an implicit deny
     "failedConditions": [{"policy", "layer", "index", "sid", "effect", "operator", "key", "values",
                           "requestValues", "keyMissing"}],
     "otherResources": [{"policy", "layer", "index", "sid", "effect", "resources", "notResource"}],
     "missingContextKeys": ["aws:ResourceTag/team"],
     "policiesEvaluated": {"identity": ["arn:aws:iam::...:policy/p", "user/dev inline policy p"], ...},
     "summary": "a sentence or two in plain words"}
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from rolecall.audit.records import HIDDEN, RequestEvent
from rolecall.core.operations import access_denied
from rolecall.policy import Decision
from rolecall.policy.evaluate import EXPLICIT_DENY, LAYER_NAMES

if TYPE_CHECKING:
    from rolecall.core.context import OpContext

# Context keys whose request values an explanation does not repeat (the trail keeps them out of sight too).
_UNSHOWN_KEYS = frozenset({"sts:externalid"})
# How much of a long list an explanation keeps: it explains, it does not dump.
_MAX_ITEMS = 20


def _statement(policy: str, layer: str, index: int, sid: str | None, effect: str) -> dict[str, Any]:
    return {"policy": policy, "layer": layer, "index": index, "sid": sid, "effect": effect}


def _named(st: dict[str, Any]) -> str:
    """'statement DenyDelete (#1) of arn:aws:iam::123456789012:policy/P (an identity-based policy)'"""
    sid = f"{st['sid']} (#{st['index']})" if st.get("sid") else f"#{st['index']}"
    where = LAYER_NAMES.get(st["layer"], st["layer"])
    article = "an" if where[0] in "aeiou" else "a"
    return f"statement {sid} of {st['policy']} ({article} {where})"


def _upper(text: str) -> str:
    return text[:1].upper() + text[1:]


def explain_decision(decision: Decision, *, enforced: bool = True) -> dict[str, Any]:
    """The explanation of a refused decision (see the module docstring)."""
    request = decision.request
    layer = decision.denied_by or ""
    out: dict[str, Any] = {
        "decision": decision.decision,
        "enforced": enforced,
        "action": request.action,
        "resource": request.resource,
        "principal": request.principal,
        "deniedBy": layer or None,
        "layer": LAYER_NAMES.get(layer),
    }
    verb = "refused" if enforced else "would have been refused (--auth soft let it through)"
    subject = f"{request.action} on {request.resource} by {request.principal or 'an unspecified principal'}"
    sentences: list[str] = []
    if decision.decision == EXPLICIT_DENY:
        denying = [_statement(*m) for m in decision.matched if m.effect == "Deny"]
        # The deciding layer's statements first: AWS reports the first layer found.
        denying.sort(key=lambda st: st["layer"] != layer)
        out["denyingStatements"] = denying[:_MAX_ITEMS]
        if denying:
            sentences.append(f"{subject} {verb}: {_named(denying[0])} explicitly denies it.")
        else:
            sentences.append(f"{subject} {verb} by an explicit deny in {out['layer']}.")
    else:
        out["missingGrant"] = {"layer": layer, "action": request.action, "resource": request.resource}
        sentences.append(f"{subject} {verb}: {_missing_grant(decision, layer)}.")
    # Why the layer found no grant: its Allow statements whose conditions failed, or that name other resources.
    failed = [f for f in decision.failed_conditions if f.kind == layer and f.effect == "Allow"]
    if decision.decision != EXPLICIT_DENY and failed:
        out["failedConditions"] = [_failed(f) for f in failed[:_MAX_ITEMS]]
        first = out["failedConditions"][0]
        sentences.append(
            f"{_upper(_named(first))} matches the action and resource, but its condition "
            f"{_condition_text(first)}."
        )
    others = [o for o in decision.other_resources if o.kind == layer and o.effect == "Allow"]
    if decision.decision != EXPLICIT_DENY and others:
        out["otherResources"] = [
            {**_statement(*o[:5]), "resources": list(o.resources), "notResource": o.not_resource}
            for o in others[:_MAX_ITEMS]
        ]
        first = out["otherResources"][0]
        scope = "everything but" if first["notResource"] else "only"
        sentences.append(
            f"{_upper(_named(first))} allows {request.action}, but {scope} on "
            f"{', '.join(first['resources'])}."
        )
    missing = decision.missing_context_keys
    if missing:
        out["missingContextKeys"] = missing[:_MAX_ITEMS]
        sentences.append("The request carried no value for " + ", ".join(missing[:_MAX_ITEMS]) + ".")
    out["policiesEvaluated"] = {k: v[:_MAX_ITEMS] for k, v in decision.policy_labels().items()}
    out["summary"] = " ".join(sentences)
    return out


def _missing_grant(decision: Decision, layer: str) -> str:
    request = decision.request
    where = LAYER_NAMES.get(layer, "policy")
    labels = decision.policy_labels().get(layer, [])
    if layer == "resource":
        if labels:
            return f"{labels[0]} does not allow {request.principal or 'the principal'} to perform {request.action}"
        return f"no resource-based policy allows {request.action}, and only one could for this principal"
    if not labels:
        holder = {"identity": "the principal has none", "session": "the session has none"}.get(
            layer, "none applies"
        )
        return f"no {where} allows {request.action} ({holder})"
    return f"no {where} allows {request.action} (evaluated: {', '.join(labels[:5])}{' ...' if len(labels) > 5 else ''})"


def _failed(f: Any) -> dict[str, Any]:
    shown = None if f.request_values is None else list(f.request_values)
    if shown is not None and f.key.lower() in _UNSHOWN_KEYS:
        shown = [HIDDEN]
    return {
        **_statement(f.policy, f.kind, f.index, f.sid, f.effect),
        "operator": f.operator,
        "key": f.key,
        "values": list(f.values),
        "requestValues": shown,
        "keyMissing": f.request_values is None,
    }


def _condition_text(f: dict[str, Any]) -> str:
    wanted = f"{f['operator']} {f['key']} {json.dumps(f['values'])}"
    if f["keyMissing"]:
        return f"{wanted} is not met: the request has no {f['key']}"
    return f"{wanted} is not met: the request has {f['key']} = {json.dumps(f['requestValues'])}"


def explain_missing_role(service: str, role_arn: str) -> dict[str, Any]:
    """The explanation when a service is to assume a role that does not exist (no decision was made)."""
    return {
        "decision": "implicitDeny",
        "enforced": True,
        "action": "sts:AssumeRole",
        "resource": role_arn,
        "principal": service,
        "deniedBy": None,
        "layer": None,
        "summary": f"sts:AssumeRole on {role_arn} by {service} refused: the role does not exist.",
    }


def explain_refusals(event: RequestEvent, ctx: OpContext) -> None:
    """Put the trail's account of a refusal on `event`: rolecall's explanation of the check the request's
    error reports (ctx.denied, set by Service.refuse), or, under --auth soft, AWS's message and the
    explanation of the first check it let through (the one enforce would have refused the request with)."""
    if ctx.denied is not None:
        event.extra["rolecallExplanation"] = explain_decision(ctx.denied.decision)
    elif ctx.would_deny:
        first = ctx.would_deny[0]
        event.extra["rolecallWouldDeny"] = access_denied(ctx.caller, first).message
        event.extra["rolecallExplanation"] = explain_decision(first.decision, enforced=False)
