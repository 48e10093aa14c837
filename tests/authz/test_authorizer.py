"""The authorizer (rolecall/authz/authorizer.py): the engine's verdicts under the --auth modes, the policies it
gathers per principal and store generation, and what the principal of a deleted user or role may do."""

from __future__ import annotations

import pytest

from rolecall.authz.authorizer import Authorizer
from rolecall.core.authorization import Authorization
from rolecall.errors import AccessDenied
from tests.services.conftest import ACCOUNT, ACCOUNT_TRUST, allow, policy


def test_a_policy_change_applies_at_the_next_request(env):
    dev = env.user("dev")
    with pytest.raises(AccessDenied):
        env.call("ListRoles", caller=dev)  # the refusal's policies are now cached for this generation
    env.call("PutUserPolicy", UserName="dev", PolicyName="p", PolicyDocument=policy(allow("iam:ListRoles")))
    assert env.call("ListRoles", caller=dev)["Roles"] == []
    env.call("DeleteUserPolicy", UserName="dev", PolicyName="p")
    with pytest.raises(AccessDenied):
        env.call("ListRoles", caller=dev)


def test_sessions_of_a_role_deleted_and_created_again_may_do_nothing(env):
    session = env.role_session("app", allow("iam:ListRoles"))
    assert [r["RoleName"] for r in env.call("ListRoles", caller=session)["Roles"]] == ["app"]
    env.call("DeleteRolePolicy", RoleName="app", PolicyName="harness")
    env.call("DeleteRole", RoleName="app")
    env.call("CreateRole", RoleName="app", AssumeRolePolicyDocument=ACCOUNT_TRUST)
    env.call("PutRolePolicy", RoleName="app", PolicyName="p", PolicyDocument=policy(allow("*")))
    # Same name, another role (another RoleId): the old session's keys are worth nothing.
    err = env.denied(session, "iam", "ListRoles")
    assert err.message.startswith(f"User: arn:aws:sts::{ACCOUNT}:assumed-role/app/session is not authorized")


@pytest.mark.parametrize(("mode", "refused", "noted"), [("enforce", 1, 0), ("soft", 0, 1), ("off", 0, 0)])
def test_modes_refuse_note_or_ask_nothing(env, mode, refused, noted):
    dev = env.user("dev")
    authorizer = Authorizer(mode)
    with env.store.transaction() as tx:
        ctx = env.context("ListRoles", tx, caller=dev)
        checks = authorizer.refused(ctx, Authorization("iam:ListRoles"), {}, ["*"])
    assert len(checks) == refused and len(ctx.would_deny) == noted
    if checks:
        assert checks[0].action == "iam:ListRoles" and not checks[0].decision.allowed
    if ctx.would_deny:  # what --auth soft records in the trail
        assert ctx.would_deny[0].action == "iam:ListRoles" and not ctx.would_deny[0].decision.allowed


def test_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="unknown auth mode"):
        Authorizer("lenient")


def test_memoized_decisions_follow_the_context_keys_the_policies_read(env):
    """Decisions are kept per generation and principal, keyed by the values of the context keys the policies
    name: a request that differs in such a key (the source address here) is decided afresh, one that differs
    only in a key no policy reads reuses the decision, and a policy change (a new generation) is seen."""
    dev = env.user(
        "dev",
        allow("iam:ListRoles", Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}),
        allow("iam:GetUser", "*", Condition={"StringEquals": {"aws:PrincipalTag/team": "${aws:username}"}}),
    )

    def list_roles(ip: str) -> bool:
        try:
            env.pipeline.invoke(dev, "iam", "ListRoles", {}, source_ip=ip)
            return True
        except AccessDenied:
            return False

    assert [list_roles(ip) for ip in ("10.1.1.1", "192.0.2.1", "10.2.2.2", "192.0.2.1")] == [
        True,
        False,
        True,
        False,
    ]
    policies = env.pipeline.authorizer.policies.get(env.store.generation(), dev.principal_id)
    assert policies is not None and len(policies.decisions) == 3  # three addresses, three decisions
    keys = next(iter(policies.context_keys.values()))
    assert {"aws:sourceip", "aws:principaltag/team", "aws:username"} <= keys
    assert "aws:currenttime" not in keys  # the clock moves; no policy reads it, so it is not in the memo key
    env.clock.advance(3600)
    assert list_roles("10.1.1.1") and len(policies.decisions) == 3  # an hour later: the same decision

    env.call("DeleteUserPolicy", UserName="dev", PolicyName="harness")
    assert not list_roles("10.1.1.1")  # the policy is gone: a new generation, new decisions
