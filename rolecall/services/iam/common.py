"""Pieces every IAM operation shares: ARNs, timestamps, pagination, tags, lookups with AWS's errors,
and the resolvers that feed @operation declarations (resource ARNs and request context keys).

Every IAM family builds on this module; it imports none of them.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import urllib.parse
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from rolecall.authz.authorizer import resource_tag_context
from rolecall.errors import ValidationError
from rolecall.services.iam.errors import (
    EntityAlreadyExists,
    InvalidInput,
    LimitExceeded,
    NoSuchEntity,
    UnmodifiableEntity,
)
from rolecall.store import Conflict

if TYPE_CHECKING:
    from rolecall.core.authorization import Resolver
    from rolecall.core.context import OpContext
    from rolecall.store import Tx

# Store kind -> the word IAM uses in ARNs.
ARN_WORD = {
    "user": "user",
    "group": "group",
    "role": "role",
    "policy": "policy",
    "instance_profile": "instance-profile",
    "instance-profile": "instance-profile",
    "mfa_device": "mfa",
    "server_certificate": "server-certificate",
}

# Store kind -> the request/response member naming the entity.
NAME_MEMBER = {
    "user": "UserName",
    "group": "GroupName",
    "role": "RoleName",
    "policy": "PolicyName",
    "instance_profile": "InstanceProfileName",
    "server_certificate": "ServerCertificateName",
}

DEFAULT_MAX_ITEMS = 100
MAX_TAGS = 50


# ---------------------------------------------------------------- ARNs, time, documents


def entity_arn(account: str, kind: str, path: str | None, name: str) -> str:
    """arn:aws:iam::ACCOUNT:role/PATH/NAME -- path "/" gives role/NAME."""
    return f"arn:aws:iam::{account}:{ARN_WORD[kind]}{path or '/'}{name}"


def iso_now(ctx: OpContext) -> str:
    """The request's time as IAM writes dates in documents: 2026-11-28T18:00:00Z."""
    return ctx.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")


@functools.lru_cache(maxsize=2048)
def url_encode_document(text: str) -> str:
    """Policy documents leave IAM URL-encoded (botocore's IAM customization decodes them)."""
    return urllib.parse.quote(text, safe="")


def path_matches(path: str, prefix: str | None) -> bool:
    """PathPrefix filtering: a plain string prefix match on the entity's path ("/" matches everything)."""
    return not prefix or path.startswith(prefix)


def insert_entity(
    tx: Tx, account: str, kind: str, name: str, doc: dict[str, Any], uid: str | None, exists: str
) -> None:
    """Insert, turning a name collision (also one lost to a concurrent request) into EntityAlreadyExists."""
    if tx.get(account, kind, name) is not None:
        raise EntityAlreadyExists(exists)
    try:
        tx.insert(account, kind, name, doc, uid=uid)
    except Conflict:
        raise EntityAlreadyExists(exists) from None


# ---------------------------------------------------------------- lookups with AWS's messages

NOT_FOUND = {
    "user": "The user with name {} cannot be found.",
    "group": "The group with name {} cannot be found.",
    "role": "The role with name {} cannot be found.",
    "instance_profile": "Instance Profile {} cannot be found.",
}

ALREADY_EXISTS = {
    "user": "User with name {} already exists.",
    "group": "Group with name {} already exists.",
    "role": "Role with name {} already exists.",
    "instance_profile": "Instance Profile {} already exists.",
}


def get_entity(tx: Tx, account: str, kind: str, name: str) -> dict[str, Any]:
    doc = tx.get(account, kind, name)
    if doc is None:
        raise NoSuchEntity(NOT_FOUND[kind].format(name))
    return doc


def get_user(tx: Tx, account: str, name: str) -> dict[str, Any]:
    return get_entity(tx, account, "user", name)


def get_group(tx: Tx, account: str, name: str) -> dict[str, Any]:
    return get_entity(tx, account, "group", name)


def get_role(tx: Tx, account: str, name: str) -> dict[str, Any]:
    return get_entity(tx, account, "role", name)


def get_instance_profile(tx: Tx, account: str, name: str) -> dict[str, Any]:
    return get_entity(tx, account, "instance_profile", name)


def check_modifiable(role: dict[str, Any]) -> None:
    """Service-linked roles belong to their service: callers may not change them."""
    if role.get("ServiceLinked"):
        raise UnmodifiableEntity(
            f"Cannot perform the operation on the protected role '{role['RoleName']}'"
            " - this role is only modifiable by AWS"
        )


# ---------------------------------------------------------------- pagination


def _encode_marker(state: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(state, separators=(",", ":")).encode()).decode()


def _decode_marker(marker: str) -> dict[str, Any]:
    try:
        state = json.loads(base64.urlsafe_b64decode(marker.encode()))
    except (binascii.Error, ValueError, UnicodeError):
        raise ValidationError("Invalid Marker.") from None
    if not isinstance(state, dict) or not ({"after", "offset"} & state.keys()):
        raise ValidationError("Invalid Marker.")
    return state


def paginate(
    items: Iterable[Any],
    params: dict[str, Any],
    key: str,
    cursor: Callable[[Any], str] | None = None,
) -> dict[str, Any]:
    """One page of a List* answer: {key: page, "IsTruncated": bool, "Marker"?: opaque}.

    MaxItems defaults to 100 (the model bounds it to 1..1000). The marker is opaque to clients. With
    `cursor` (a sort key the items are ordered by, e.g. the lower-cased name) the next page starts
    strictly after the last item returned, so deleting items between pages never repeats or loops;
    without it the marker holds an offset. A marker we did not issue -> ValidationError.
    """
    items = list(items)
    limit = params.get("MaxItems") or DEFAULT_MAX_ITEMS
    start = 0
    marker = params.get("Marker")
    if marker:
        state = _decode_marker(marker)
        if cursor is not None and "after" in state:
            after = state["after"]
            start = next((i for i, item in enumerate(items) if cursor(item) > after), len(items))
        elif isinstance(state.get("offset"), int) and state["offset"] >= 0:
            start = state["offset"]
        else:
            raise ValidationError("Invalid Marker.")
    page = items[start : start + limit]
    out: dict[str, Any] = {key: page, "IsTruncated": start + limit < len(items)}
    if out["IsTruncated"]:
        out["Marker"] = _encode_marker(
            {"after": cursor(page[-1])} if cursor is not None and page else {"offset": start + limit}
        )
    return out


def paginate_stored(
    tx: Tx,
    account: str,
    kind: str,
    params: dict[str, Any],
    key: str,
    keep: Callable[[dict[str, Any]], bool] = lambda doc: True,
) -> dict[str, Any]:
    """paginate() over the documents of a kind, read from the store a page at a time (Tx.list_page): a page
    costs its own rows, not the whole kind's, however many there are. `keep` filters (PathPrefix); the
    marker and answers are paginate()'s with the by_name cursor, so markers of either work with both."""
    limit = params.get("MaxItems") or DEFAULT_MAX_ITEMS
    after: str | None = None
    marker = params.get("Marker")
    if marker:
        state = _decode_marker(marker)
        if not isinstance(state.get("after"), str):  # an offset marker: only paginate() can follow it
            return paginate(tx.list(account, kind), params, key, by_name(kind))
        after = state["after"]
    cursor = by_name(kind)
    found: list[dict[str, Any]] = []
    batch = limit + 1
    while len(found) <= limit:  # one more than a page tells whether it is truncated
        docs = tx.list_page(account, kind, after, batch)
        found += [d for d in docs if keep(d)]
        if len(docs) < batch:
            break
        after = cursor(docs[-1])
        batch = min(max(batch * 2, 100), 1000)  # a filter that skips most: read further in larger steps
    page = found[:limit]
    out: dict[str, Any] = {key: page, "IsTruncated": len(found) > limit}
    if out["IsTruncated"]:
        out["Marker"] = _encode_marker({"after": cursor(page[-1])})
    return out


def paginate_computed(
    total: int, compute: Callable[[int], Any], params: dict[str, Any], key: str
) -> dict[str, Any]:
    """paginate() over `total` items that only exist once computed (`compute(i)` makes item i): only the
    requested page is computed, so the work and memory of one call are bounded by MaxItems."""
    limit = params.get("MaxItems") or DEFAULT_MAX_ITEMS
    start = 0
    marker = params.get("Marker")
    if marker:
        state = _decode_marker(marker)
        if not isinstance(state.get("offset"), int) or state["offset"] < 0:
            raise ValidationError("Invalid Marker.")
        start = state["offset"]
    page = [compute(i) for i in range(start, min(start + limit, total))]
    out: dict[str, Any] = {key: page, "IsTruncated": start + limit < total}
    if out["IsTruncated"]:
        out["Marker"] = _encode_marker({"offset": start + limit})
    return out


def by_name(kind: str) -> Callable[[dict[str, Any]], str]:
    """Cursor for documents listed in the store's order (lower-cased name)."""
    member = NAME_MEMBER[kind]
    return lambda doc: doc[member].lower()


# ---------------------------------------------------------------- tags


def validate_tags(tags: list[dict[str, str]] | None) -> list[dict[str, str]]:
    """The semantic checks the model cannot express; returns the tags as {Key, Value} dicts."""
    tags = tags or []
    seen: set[str] = set()
    for tag in tags:
        folded = tag["Key"].lower()
        if folded.startswith("aws:"):
            raise InvalidInput(
                "User-defined tag keys can't start with 'aws:'. This prefix is reserved for AWS use."
            )
        if folded in seen:
            raise InvalidInput("Duplicate tag keys found. Please note that Tag keys are case insensitive.")
        seen.add(folded)
    if len(tags) > MAX_TAGS:
        raise LimitExceeded(f"Cannot exceed quota for TagsPerResource: {MAX_TAGS}")
    return [{"Key": t["Key"], "Value": t.get("Value", "")} for t in tags]


def merge_tags(existing: list[dict[str, str]], new: list[dict[str, str]], quota: str) -> list[dict[str, str]]:
    """Tag*: a new value for a key already there (case-insensitively) replaces it; the result may hold at
    most 50 tags (`quota` names it in the error, e.g. "TagsPerRole")."""
    new = validate_tags(new)
    merged = [dict(t) for t in existing]
    index = {t["Key"].lower(): i for i, t in enumerate(merged)}
    for tag in new:
        i = index.get(tag["Key"].lower())
        if i is None:
            index[tag["Key"].lower()] = len(merged)
            merged.append(tag)
        else:
            merged[i] = tag
    if len(merged) > MAX_TAGS:
        raise LimitExceeded(f"Cannot exceed quota for {quota}: {MAX_TAGS}")
    return merged


def retag(ctx: OpContext, kind: str, name: str, params: dict[str, Any], quota: str) -> dict[str, Any]:
    """Tag* (params has Tags) or Untag* (params has TagKeys) on one user, role or instance profile."""
    doc = get_entity(ctx.tx, ctx.account, kind, name)
    return retag_document(ctx, kind, name, doc, params, quota, doc["Arn"])


def retag_document(
    ctx: OpContext, kind: str, key: str, doc: dict[str, Any], params: dict[str, Any], quota: str, arn: str
) -> dict[str, Any]:
    """Tag* or Untag* on a document the handler has already found (and authorized) under `key`."""
    if "Tags" in params:
        doc["Tags"] = merge_tags(doc.get("Tags") or [], params["Tags"], quota)
    else:
        doc["Tags"] = remove_tags(doc.get("Tags") or [], params["TagKeys"])
    ctx.tx.update(ctx.account, kind, key, doc)
    touched(ctx, kind, arn)
    return {}


def remove_tags(existing: list[dict[str, str]], keys: Iterable[str]) -> list[dict[str, str]]:
    """Untag*: keys match case-insensitively; keys that are not there are ignored."""
    gone = {k.lower() for k in keys}
    return [t for t in existing if t["Key"].lower() not in gone]


def tags_dict(tags: list[dict[str, str]] | None) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in tags or []}


# ---------------------------------------------------------------- @operation resolvers


def _tx(ctx: OpContext) -> Tx | None:
    return getattr(ctx, "tx", None)


def _target(ctx: OpContext, kind: str, name: str | None) -> dict[str, Any] | None:
    tx = _tx(ctx)
    if not name or tx is None:
        return None
    return tx.get(ctx.account, kind, name)


def arn_of(kind: str, name_param: str | None = None) -> Resolver:
    """Resource resolver: the ARN (with its path) of the entity named by `name_param` when it exists,
    else the ARN built from the request (its Path, or "/")."""
    member = name_param or NAME_MEMBER[kind]

    def resolve(ctx: OpContext, params: dict[str, Any]) -> str:
        name = params.get(member) or ""
        doc = _target(ctx, kind, name)
        if doc is not None:
            return doc["Arn"]
        return entity_arn(ctx.account, kind, params.get("Path") or "/", name)

    return resolve


def path_prefix_arn(kind: str) -> Resolver:
    """Resource resolver of the List* operations over one kind of entity: the ARN of the path they list,
    arn:aws:iam::ACCOUNT:role/ (with PathPrefix, role/PREFIX/), which is what IAM authorizes and names
    in its AccessDenied message. AWS's words, e.g. "is not authorized to perform: iam:ListRoles on
    resource: arn:aws:iam::123456789012:role/", and with PathPrefix "/aws-service-role/x/",
    "...:role/aws-service-role/x/" (observed AWS responses quoted in public repositories)."""

    def resolve(ctx: OpContext, params: dict[str, Any]) -> str:
        return entity_arn(ctx.account, kind, params.get("PathPrefix") or "/", "")

    return resolve


def policy_path(ctx: OpContext, params: dict[str, Any]) -> str:
    """Resource of iam:ListPolicies: not an ARN but "policy path /" (with PathPrefix, that path), as
    AWS words it: "is not authorized to perform: iam:ListPolicies on resource: policy path /". Only a
    statement with Resource "*" matches it, as the Service Authorization Reference (no resource type for
    ListPolicies) implies."""
    return f"policy path {params.get('PathPrefix') or '/'}"


def request_tag_context(params: dict[str, Any]) -> dict[str, Any]:
    """aws:RequestTag/KEY and aws:TagKeys from a request's Tags (Create*/Tag*) or TagKeys (Untag*)."""
    context: dict[str, Any] = {}
    tags = params.get("Tags")
    if tags:
        for tag in tags:
            context[f"aws:RequestTag/{tag['Key']}"] = tag.get("Value", "")
        context["aws:TagKeys"] = [t["Key"] for t in tags]
    elif params.get("TagKeys"):
        context["aws:TagKeys"] = list(params["TagKeys"])
    return context


def entity_context(kind: str, name_param: str | None = None) -> Resolver:
    """Context resolver for an operation on one entity: the request's tags, the target's tags when it
    exists, and iam:PermissionsBoundary when the request sets a boundary."""
    member = name_param or NAME_MEMBER[kind]

    def resolve(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        context = request_tag_context(params)
        context.update(resource_tag_context(_target(ctx, kind, params.get(member))))
        if params.get("PermissionsBoundary"):
            context["iam:PermissionsBoundary"] = params["PermissionsBoundary"]
        return context

    return resolve


def caller_user_arn(ctx: OpContext, params: dict[str, Any]) -> str:
    """Resource resolver for operations whose UserName defaults to the caller (GetUser, *AccessKey*,
    *LoginProfile): the named user's ARN, else the caller's own ARN (user, root or session)."""
    if params.get("UserName"):
        return arn_of("user")(ctx, params)
    return ctx.caller.arn


# ---------------------------------------------------------------- trail


TRAIL_TYPE = {
    "user": "AWS::IAM::User",
    "group": "AWS::IAM::Group",
    "role": "AWS::IAM::Role",
    "policy": "AWS::IAM::Policy",
    "instance_profile": "AWS::IAM::InstanceProfile",
    "mfa_device": "AWS::IAM::MFADevice",
    "server_certificate": "AWS::IAM::ServerCertificate",
    "oidc_provider": "AWS::IAM::OIDCProvider",
    "saml_provider": "AWS::IAM::SAMLProvider",
}


def touched(ctx: OpContext, kind: str, arn: str) -> None:
    """Record a resource the request touched, for its CloudTrail record."""
    entry = {"ARN": arn, "accountId": ctx.account, "type": TRAIL_TYPE[kind]}
    if entry not in ctx.trail_resources:
        ctx.trail_resources.append(entry)


# ---------------------------------------------------------------- output shapes (botocore's iam model)


def _with_tags_and_boundary(out: dict[str, Any], doc: dict[str, Any]) -> dict[str, Any]:
    if doc.get("PermissionsBoundary"):
        out["PermissionsBoundary"] = dict(doc["PermissionsBoundary"])
    if doc.get("Tags"):
        out["Tags"] = [dict(t) for t in doc["Tags"]]
    return out


def user_shape(doc: dict[str, Any], *, full: bool = True) -> dict[str, Any]:
    """`User`. List* answers carry no tags or boundary (full=False), as IAM's do."""
    out = {k: doc[k] for k in ("Path", "UserName", "UserId", "Arn", "CreateDate")}
    if doc.get("PasswordLastUsed"):
        out["PasswordLastUsed"] = doc["PasswordLastUsed"]
    return _with_tags_and_boundary(out, doc) if full else out


def group_shape(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: doc[k] for k in ("Path", "GroupName", "GroupId", "Arn", "CreateDate")}


def signin_session_duration(target: dict[str, Any], params: dict[str, Any]) -> None:
    """Apply UpdateRole's / UpdateLoginProfile's MaxSigninSessionDuration or ResetMaxSigninSessionDuration
    to `target` (a role, or a user's login profile): set, cleared, or left as it is."""
    if params.get("ResetMaxSigninSessionDuration"):
        if params.get("MaxSigninSessionDuration") is not None:
            raise InvalidInput(
                "You cannot specify MaxSigninSessionDuration and set ResetMaxSigninSessionDuration to true "
                "in the same request."
            )
        target.pop("MaxSigninSessionDuration", None)
    elif params.get("MaxSigninSessionDuration") is not None:
        target["MaxSigninSessionDuration"] = params["MaxSigninSessionDuration"]


def role_shape(doc: dict[str, Any], *, full: bool = False) -> dict[str, Any]:
    """`Role`: full=True for GetRole (tags, boundary, RoleLastUsed); otherwise the listing subset."""
    out = {k: doc[k] for k in ("Path", "RoleName", "RoleId", "Arn", "CreateDate")}
    out["AssumeRolePolicyDocument"] = url_encode_document(doc["AssumeRolePolicyDocument"])
    if doc.get("Description") is not None:
        out["Description"] = doc["Description"]
    out["MaxSessionDuration"] = doc.get("MaxSessionDuration", 3600)
    if doc.get("MaxSigninSessionDuration") is not None:  # left out while unset
        out["MaxSigninSessionDuration"] = doc["MaxSigninSessionDuration"]
    if full:
        _with_tags_and_boundary(out, doc)
        out["RoleLastUsed"] = dict(doc.get("RoleLastUsed") or {})
    return out


def instance_profile_shape(tx: Tx, account: str, doc: dict[str, Any], *, tags: bool = True) -> dict[str, Any]:
    """`InstanceProfile`, its roles in the listing shape."""
    out = {k: doc[k] for k in ("Path", "InstanceProfileName", "InstanceProfileId", "Arn", "CreateDate")}
    roles = [tx.get(account, "role", name) for name in doc.get("Roles") or []]
    out["Roles"] = [role_shape(r) for r in roles if r is not None]
    if tags and doc.get("Tags"):
        out["Tags"] = [dict(t) for t in doc["Tags"]]
    return out
