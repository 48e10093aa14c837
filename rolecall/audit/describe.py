"""A request in plain words, from its trail records: who made it, what, when, how it ended, and for a
refusal why (rolecall's explanation: the layer, statement, missing grant, failed conditions, missing keys).

`rolecall explain` prints it; the web console shows it beside each trail event.
"""

from __future__ import annotations

import json
from typing import Any

from rolecall.policy.evaluate import LAYER_NAMES

# Error codes that mean "a policy refused it" across services.
DENIAL_CODES = frozenset(
    {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AssumeRoleUnauthorizedAccess"}
)


def describe(found: list[tuple[str, dict[str, Any]]]) -> str:
    """The request and its explanation in plain words, from its trail records."""
    rec = _callers_record(found)
    identity = rec.get("userIdentity") or {}
    extra = rec.get("additionalEventData") or {}
    explanation = extra.get("rolecallExplanation")
    service = str(rec.get("eventSource", "")).split(".", 1)[0]
    lines = [f"Request {rec.get('requestID')}"]
    lines.append(f"  when:     {rec.get('eventTime')}")
    lines.append(f"  who:      {_who(identity)}")
    what = f"{service}:{rec.get('eventName')}"
    resources = [r.get("ARN") for r in rec.get("resources") or [] if r.get("ARN")]
    if explanation and explanation.get("resource"):
        checked = f"{explanation['action']} on {explanation['resource']}"
        # A call can need more than its own action (S3's ListBucket to learn a key is missing).
        same = explanation["action"].lower() == what.lower()
        lines.append(f"  what:     {checked}" if same else f"  what:     {what}, which needed {checked}")
    else:
        lines.append(f"  what:     {what}" + (f" on {', '.join(resources)}" if resources else ""))
    lines.append(f"  from:     {rec.get('sourceIPAddress')} ({rec.get('userAgent') or 'no user agent'})")
    others = sorted({account for account, _ in found} - {rec.get("recipientAccountId")})
    if others:
        lines.append(f"  also in:  the trail of account {', '.join(others)} (its resource was involved)")
    code = rec.get("errorCode")
    if code:
        lines.append(
            f"  outcome:  refused: {code}" if code in DENIAL_CODES else f"  outcome:  failed: {code}"
        )
        if rec.get("errorMessage"):
            lines.append(f"            {rec['errorMessage']}")
    else:
        lines.append("  outcome:  allowed" + (" (--auth soft let a denial through)" if explanation else ""))
    lines.append("")
    lines += _why(rec, identity, explanation)
    return "\n".join(lines)


def _callers_record(found: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """Of a request's records, the one in the caller's own account (a cross-account call has copies)."""
    for _, rec in found:
        if (rec.get("userIdentity") or {}).get("accountId") == rec.get("recipientAccountId"):
            return rec
    return found[0][1]


def _who(identity: dict[str, Any]) -> str:
    if not identity:
        return "unknown: the request was not authenticated"
    if identity.get("type") == "AWSService":
        return f"{identity.get('invokedBy')} (an AWS service, acting for one of its resources)"
    if identity.get("type") in ("WebIdentityUser", "SAMLUser"):
        return f"{identity.get('userName')} at {identity.get('identityProvider')} ({identity['type']})"
    text = f"{identity.get('arn')} ({identity.get('type')}"
    if identity.get("accessKeyId"):
        text += f", access key {identity['accessKeyId']}"
    return text + ")"


def _why(rec: dict[str, Any], identity: dict[str, Any], explanation: dict[str, Any] | None) -> list[str]:
    code = rec.get("errorCode")
    if explanation:
        return ["Why:", *_explanation_lines(explanation)]
    if not identity and code:
        return [f"Why: the request's credentials were not accepted ({code}); no policy was evaluated."]
    if code in DENIAL_CODES:
        return ["Why: refused, but the record carries no explanation (it predates rolecall's explanations)."]
    if code:
        return [f"Why: no policy refused it; it failed with {code}."]
    if identity.get("type") == "Root":
        return ["Why: allowed: the account's root user needs no policy to allow it."]
    action = f"{str(rec.get('eventSource', '')).split('.', 1)[0]}:{rec.get('eventName')}"
    return [
        "Why: allowed. rolecall records which statements decided a request only when it is refused; to see",
        "what allows it now, ask the policy simulator:",
        f"  aws iam simulate-principal-policy --policy-source-arn {_principal_arn(identity)} "
        f"--action-names {action}",
    ]


def _principal_arn(identity: dict[str, Any]) -> str:
    issuer = ((identity.get("sessionContext") or {}).get("sessionIssuer") or {}).get("arn")
    return issuer or identity.get("arn") or "ARN"


def _a(where: str) -> str:
    return f"{'an' if where[:1] in 'aeiou' else 'a'} {where}"


def _statement(st: dict[str, Any]) -> str:
    sid = f" (Sid {st['sid']})" if st.get("sid") else ""
    return f"{st['policy']}, statement #{st['index']}{sid}"


def _explanation_lines(e: dict[str, Any]) -> list[str]:
    lines = [f"  {e.get('summary', '')}"]
    if not e.get("enforced", True):
        lines.append("  (--auth soft: this denial was recorded, and the request let through)")
    layer = e.get("layer") or "-"
    if e.get("decision") == "explicitDeny":
        lines.append(f"  decision:           explicit deny, in {_a(layer)}")
    elif e.get("deniedBy"):
        lines.append(f"  decision:           implicit deny: no {layer} allows it")
    for st in e.get("denyingStatements") or []:
        lines.append(
            f"  denying statement:  {_statement(st)}, {_a(LAYER_NAMES.get(st['layer'], st['layer']))}"
        )
    grant = e.get("missingGrant")
    if grant and grant.get("layer"):
        where = LAYER_NAMES.get(grant["layer"], grant["layer"])
        lines.append(f"  missing grant:      {grant['action']} on {grant['resource']}, in {_a(where)}")
    for f in e.get("failedConditions") or []:
        had = "no such key" if f.get("keyMissing") else json.dumps(f.get("requestValues"))
        lines.append(
            f"  failed condition:   {_statement(f)}: {f['operator']} {f['key']} {json.dumps(f['values'])}; "
            f"the request had {had}"
        )
    for o in e.get("otherResources") or []:
        scope = "all but" if o.get("notResource") else "only"
        lines.append(
            f"  grant elsewhere:    {_statement(o)} allows it {scope} on {', '.join(o['resources'])}"
        )
    if e.get("missingContextKeys"):
        lines.append(f"  missing keys:       {', '.join(e['missingContextKeys'])}")
    evaluated = e.get("policiesEvaluated") or {}
    if evaluated:
        lines.append("  policies evaluated:")
        for layer_key, labels in evaluated.items():
            lines.append(f"    {LAYER_NAMES.get(layer_key, layer_key)}: {', '.join(labels)}")
    elif e.get("deniedBy") in ("identity", "session"):
        lines.append("  policies evaluated: none (the principal has no identity-based policy)")
    return lines
