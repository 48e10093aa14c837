"""Members a handler does not honour are refused, never ignored: the snapshot of known members, the
handlers' declarations, and the check compiled from both against the installed model."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from rolecall.core.operations import operation
from rolecall.errors import AwsError
from rolecall.services import all_services
from rolecall.wire.member_guard import (
    MemberGuard,
    build_snapshot,
    compile_check,
    load_snapshot,
    member_paths,
    normalise,
)

SERVICES = {s.name: s for s in all_services()}
SOURCE = "arn:aws:iam::123456789012:user/u"


def without(snapshot: dict[str, Any], service: str, shape: str, member: str) -> dict[str, Any]:
    """The snapshot as if `shape` had not had `member` when the handlers were written."""
    older = copy.deepcopy(snapshot)
    del older["services"][service]["shapes"][shape][member]
    return older


def handler_of(service: str, op: str) -> Any:
    return next(s for s in SERVICES.values() if s.model == service).handler(op)


def refused(guard: MemberGuard, service: str, op: str, params: dict[str, Any]) -> AwsError:
    with pytest.raises(AwsError) as caught:
        guard.check(service, op, handler_of(service, op).unsupported, params)
    return caught.value


@pytest.fixture(scope="module")
def current() -> dict[str, Any]:
    """A snapshot of the installed models: what the handlers would be written against today."""
    return build_snapshot(SERVICES.values())


def test_a_member_newer_than_the_handler_is_refused(current):
    older = without(current, "iam", "SimulatePrincipalPolicyRequest", "PolicyExclusionList")
    guard = MemberGuard(older)
    params = {"PolicySourceArn": SOURCE, "ActionNames": ["s3:GetObject"]}
    guard.check(
        "iam", "SimulatePrincipalPolicy", handler_of("iam", "SimulatePrincipalPolicy").unsupported, params
    )
    err = refused(
        guard, "iam", "SimulatePrincipalPolicy", {**params, "PolicyExclusionList": [{"PolicyType": "inline"}]}
    )
    assert (err.code, err.status) == ("NotImplemented", 501)
    assert err.message == (
        "rolecall does not implement the member PolicyExclusionList of SimulatePrincipalPolicy; "
        "the request changed nothing."
    )
    # An empty list is still the member set: its meaning is the handler's to decide.
    assert (
        refused(guard, "iam", "SimulatePrincipalPolicy", {**params, "PolicyExclusionList": []}).status == 501
    )


def test_a_nested_new_member_is_named_by_its_path(current):
    guard = MemberGuard(without(current, "iam", "ContextEntry", "ContextKeyType"))
    entry = {"ContextKeyName": "aws:SourceIp", "ContextKeyValues": ["10.0.0.1"]}
    params = {"PolicyInputList": ["{}"], "ActionNames": ["s3:GetObject"], "ContextEntries": [entry]}
    guard.check("iam", "SimulateCustomPolicy", handler_of("iam", "SimulateCustomPolicy").unsupported, params)
    params["ContextEntries"] = [entry, {**entry, "ContextKeyType": "ip"}]
    err = refused(guard, "iam", "SimulateCustomPolicy", params)
    assert "the member ContextEntries.ContextKeyType of SimulateCustomPolicy" in err.message


def test_a_member_that_became_a_structure_is_new_throughout(current):
    older = copy.deepcopy(current)
    older["services"]["iam"]["shapes"]["SimulatePrincipalPolicyRequest"]["PolicyExclusionList"] = None
    guard = MemberGuard(older)
    params = {
        "PolicySourceArn": SOURCE,
        "ActionNames": ["s3:A"],
        "PolicyExclusionList": [{"PolicyType": "scp"}],
    }
    err = refused(guard, "iam", "SimulatePrincipalPolicy", params)
    assert "PolicyExclusionList.PolicyType" in err.message


def test_nothing_new_and_nothing_declared_costs_nothing(current):
    for service in SERVICES.values():
        for op, handler in service.operations().items():
            check = compile_check(service.model, op, normalise(handler.unsupported), current)
            assert (check is None) == (not normalise(handler.unsupported)), (service.model, op)


def test_declared_members_are_refused_unless_accepted(current):
    @operation("iam:SimulateCustomPolicy", unsupported={"ResourceOwner": (), "MaxItems": (100,)})
    def handler(self: Any, ctx: Any, params: dict[str, Any]) -> dict[str, Any]:
        return {}

    guard = MemberGuard(current)
    base = {"PolicyInputList": ["{}"], "ActionNames": ["s3:GetObject"]}
    guard.check(
        "iam", "SimulateCustomPolicy", handler.unsupported, {**base, "MaxItems": 100}
    )  # what it does anyway
    with pytest.raises(AwsError) as caught:
        guard.check("iam", "SimulateCustomPolicy", handler.unsupported, {**base, "MaxItems": 5})
    assert caught.value.message == (
        "rolecall does not implement the member MaxItems of SimulateCustomPolicy (it accepts only 100); "
        "the request changed nothing."
    )
    with pytest.raises(AwsError, match="member ResourceOwner of"):
        guard.check(
            "iam", "SimulateCustomPolicy", handler.unsupported, {**base, "ResourceOwner": "123456789012"}
        )


def test_accepted_values_are_compared_with_their_type(current):
    @operation("ec2:StopInstances", unsupported={"Hibernate": (False,)})
    def handler(self: Any, ctx: Any, params: dict[str, Any]) -> dict[str, Any]:
        return {}

    guard = MemberGuard(current)
    guard.check("ec2", "StopInstances", handler.unsupported, {"InstanceIds": ["i-1"], "Hibernate": False})
    with pytest.raises(AwsError, match=r"member Hibernate of StopInstances \(it accepts only false\)"):
        guard.check("ec2", "StopInstances", handler.unsupported, {"InstanceIds": ["i-1"], "Hibernate": True})


def test_every_implemented_operation_is_in_the_shipped_snapshot():
    shipped = load_snapshot()["services"]
    for service in SERVICES.values():
        missing = set(service.operations()) - set(shipped[service.model]["operations"])
        assert not missing, f"{service.model}: run scripts/refresh_known_members.py after reviewing {missing}"


def test_declared_members_exist():
    """Every declared path names a member the shipped snapshot knows: a typo would declare nothing."""
    known = member_paths(load_snapshot())
    for service in SERVICES.values():
        for op, handler in service.operations().items():
            for path in normalise(handler.unsupported):
                assert f"{service.model} {op} {path}" in known, (service.model, op, path)
