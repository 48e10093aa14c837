"""Escalation edges on planted accounts: each edge kind found, and conditions, boundaries, SCPs, denies and
trust policies that remove one -- with the exact edge set checked, so a false edge fails the test."""

from __future__ import annotations

from typing import Any

from rolecall.review import load_account, run_audit
from tests.review.planted import ACCOUNT, ADMIN_DOC, Planted, allow, arn, doc, trust


def short(a: str) -> str:
    return a.split(":", 5)[-1]


def edges(pl: Planted, **kw: Any) -> set[tuple[str, str, str]]:
    audit = run_audit(load_account(pl.details(), **kw.pop("load", {})), **kw)
    return {(short(e.source), short(e.target), e.kind) for e in audit.edges}


def test_assume_role_needs_both_sides():
    pl = Planted()
    pl.role("target", trust({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}))
    pl.role("named", trust({"AWS": arn("user", "alice")}))
    pl.user("alice", doc(allow("sts:AssumeRole", arn("role", "target"))))
    pl.user("bob", doc(allow("sts:AssumeRole", "*")))
    pl.user("carol")  # no identity allow: the account-wide trust is not enough
    assert edges(pl) == {
        ("user/alice", "role/target", "assume-role"),
        ("user/alice", "role/named", "assume-role"),  # named outright: no identity allow needed
        ("user/bob", "role/target", "assume-role"),
    }


def test_trust_condition_removes_edge():
    pl = Planted()
    pl.role(
        "tagged",
        trust({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, {"StringEquals": {"aws:PrincipalTag/team": "ops"}}),
    )
    pl.user("alice", doc(allow("sts:AssumeRole", "*")))
    assert edges(pl) == set()
    pl.users[0]["Tags"] = [{"Key": "team", "Value": "ops"}]
    assert edges(pl) == {("user/alice", "role/tagged", "assume-role")}


def test_mfa_condition_counts_only_with_mfa():
    pl = Planted()
    pl.role(
        "r", trust({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, {"Bool": {"aws:MultiFactorAuthPresent": "true"}})
    )
    pl.user("alice", doc(allow("sts:AssumeRole", "*")))
    assert edges(pl) == set()
    assert edges(pl, mfa=True) == {("user/alice", "role/r", "assume-role")}


def test_credential_edges_on_other_users_only():
    pl = Planted()
    pl.user("victim")
    pl.user("a", doc(allow("iam:CreateAccessKey", "arn:aws:iam::*:user/*")))
    pl.user("b", doc(allow("iam:CreateLoginProfile", arn("user", "victim"))))
    pl.user("c", doc(allow("iam:UpdateLoginProfile", arn("user", "vic*"))))
    assert edges(pl) == {
        ("user/a", "user/victim", "create-access-key"),
        ("user/a", "user/b", "create-access-key"),
        ("user/a", "user/c", "create-access-key"),
        ("user/b", "user/victim", "create-login-profile"),
        ("user/c", "user/victim", "update-login-profile"),
    }


def test_source_boundary_and_explicit_deny_remove_edges():
    pl = Planted()
    bound = pl.policy("s3only", doc(allow("s3:*")))
    pl.user("victim")
    pl.user("bounded", doc(allow("iam:CreateAccessKey", "*")), boundary=bound)
    pl.user(
        "denied",
        doc(allow("iam:CreateAccessKey", "*"), {"Effect": "Deny", "Action": "iam:*", "Resource": "*"}),
    )
    pl.user("ok", doc(allow("iam:CreateAccessKey", arn("user", "victim"))))
    assert edges(pl) == {("user/ok", "user/victim", "create-access-key")}


def test_scp_removes_edges():
    pl = Planted()
    pl.user("victim")
    pl.user("a", doc(allow("iam:CreateAccessKey", arn("user", "victim"))))
    assert edges(pl) == {("user/a", "user/victim", "create-access-key")}
    scp = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "*", "Resource": "*"},
            {"Effect": "Deny", "Action": "iam:CreateAccessKey", "Resource": "*"},
        ],
    }
    assert edges(pl, load={"scps": [[scp]]}) == set()


def test_update_assume_role_policy():
    pl = Planted()
    pl.role("locked", trust({"Service": "ec2.amazonaws.com"}))
    pl.user("a", doc(allow("iam:UpdateAssumeRolePolicy", arn("role", "locked"))))
    assert edges(pl) == {("user/a", "role/locked", "update-assume-role-policy")}
    # Rewriting the trust is not enough when the user may not call AssumeRole at all.
    pl.users[0]["UserPolicyList"].append(
        {
            "PolicyName": "deny",
            "PolicyDocument": doc({"Effect": "Deny", "Action": "sts:AssumeRole", "Resource": "*"}),
        }
    )
    assert edges(pl) == set()


def test_passrole_edges_per_service():
    pl = Planted()
    pl.role("ec2r", trust({"Service": "ec2.amazonaws.com"}), profile=True)
    pl.role("ec2np", trust({"Service": "ec2.amazonaws.com"}))  # no instance profile
    pl.role("lam", trust({"Service": "lambda.amazonaws.com"}))
    pl.role("cfn", trust({"Service": "cloudformation.amazonaws.com"}))
    pl.user("ec2user", doc(allow("iam:PassRole", arn("role", "ec2*")), allow("ec2:RunInstances")))
    pl.user(
        "assoc", doc(allow("iam:PassRole", arn("role", "ec2r")), allow("ec2:AssociateIamInstanceProfile"))
    )
    pl.user(
        "profiler",
        doc(
            allow("iam:PassRole", arn("role", "ec2np")),
            allow("ec2:RunInstances"),
            allow(["iam:CreateInstanceProfile", "iam:AddRoleToInstanceProfile"]),
        ),
    )
    pl.user(
        "lambdauser",
        doc(
            allow("iam:PassRole", arn("role", "lam")),
            allow(["lambda:CreateFunction", "lambda:InvokeFunction"]),
        ),
    )
    pl.user(
        "esm",
        doc(
            allow("iam:PassRole", arn("role", "lam")),
            allow(["lambda:CreateFunction", "lambda:CreateEventSourceMapping"]),
        ),
    )
    pl.user("nolaunch", doc(allow("iam:PassRole", arn("role", "lam")), allow("lambda:CreateFunction")))
    pl.user(
        "asg",
        doc(
            allow("iam:PassRole", arn("role", "ec2r")),
            allow(["autoscaling:CreateLaunchConfiguration", "autoscaling:CreateAutoScalingGroup"]),
        ),
    )
    pl.user("cfnuser", doc(allow("iam:PassRole", arn("role", "cfn")), allow("cloudformation:CreateStack")))
    assert edges(pl) == {
        ("user/ec2user", "role/ec2r", "passrole-ec2"),
        ("user/assoc", "role/ec2r", "passrole-ec2"),
        ("user/profiler", "role/ec2np", "passrole-ec2"),
        ("user/lambdauser", "role/lam", "passrole-lambda"),
        ("user/esm", "role/lam", "passrole-lambda"),
        ("user/asg", "role/ec2r", "passrole-autoscaling"),
        ("user/cfnuser", "role/cfn", "passrole-cloudformation"),
    }


def test_passed_to_service_condition_removes_edge():
    pl = Planted()
    pl.role("ec2r", trust({"Service": "ec2.amazonaws.com"}), profile=True)
    pl.user(
        "a",
        doc(
            allow("iam:PassRole", "*", {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}),
            allow(["ec2:RunInstances", "lambda:CreateFunction", "lambda:InvokeFunction"]),
        ),
    )
    assert edges(pl) == set()  # the role trusts EC2 only, and the user may pass roles to Lambda only
    pl.users[0]["UserPolicyList"][0]["PolicyDocument"]["Statement"][0]["Condition"]["StringEquals"][
        "iam:PassedToService"
    ] = "ec2.amazonaws.com"
    assert edges(pl) == {("user/a", "role/ec2r", "passrole-ec2")}


def test_lambda_update_function_code():
    pl = Planted()
    pl.role("fnrole", trust({"Service": "lambda.amazonaws.com"}))
    pl.user(
        "dev", doc(allow("lambda:UpdateFunctionCode", "arn:aws:lambda:us-east-1:111122223333:function:app-*"))
    )
    functions = [
        {
            "FunctionArn": "arn:aws:lambda:us-east-1:111122223333:function:app-1",
            "FunctionName": "app-1",
            "Role": arn("role", "fnrole"),
        },
        {
            "FunctionArn": "arn:aws:lambda:us-east-1:111122223333:function:other",
            "FunctionName": "other",
            "Role": arn("role", "fnrole"),
        },
    ]
    assert edges(pl, load={"functions": functions}) == {("user/dev", "role/fnrole", "lambda-update-code")}


def test_grant_edges_and_target_boundary():
    pl = Planted()
    bound = pl.policy("bound", doc(allow("s3:*")))
    shared = pl.policy("shared", doc(allow("s3:GetObject")))
    versioned = pl.policy("versioned", doc(allow("s3:ListBucket")), versions=2)
    pl.group("devs", managed=(shared,))
    pl.user("member", groups=("devs",), managed=(versioned,))
    pl.user("capped", boundary=bound)
    pl.role("r", trust({"Service": "ec2.amazonaws.com"}))
    pl.user("pu", doc(allow("iam:PutUserPolicy", [arn("user", "member"), arn("user", "capped")])))
    pl.user("au", doc(allow("iam:AttachUserPolicy", arn("user", "member"))))
    pl.user("pg", doc(allow("iam:PutGroupPolicy", arn("group", "devs"))))
    pl.user("ag", doc(allow("iam:AttachGroupPolicy", arn("group", "devs"))))
    pl.user("pr", doc(allow("iam:PutRolePolicy", arn("role", "r"))))
    pl.user("ar", doc(allow("iam:AttachRolePolicy", arn("role", "r"))))
    pl.user("cpv", doc(allow("iam:CreatePolicyVersion", shared)))
    pl.user("sdv", doc(allow("iam:SetDefaultPolicyVersion", [shared, versioned])))  # shared has one version
    pl.user(
        "release",
        doc(allow(["iam:PutUserPolicy", "iam:DeleteUserPermissionsBoundary"], arn("user", "capped"))),
    )
    assert edges(pl) == {
        ("user/pu", "user/member", "put-user-policy"),  # not capped: its boundary keeps it within s3:*
        ("user/au", "user/member", "attach-user-policy"),
        ("user/pg", "user/member", "put-group-policy"),
        ("user/ag", "user/member", "attach-group-policy"),
        ("user/pr", "role/r", "put-role-policy"),
        ("user/ar", "role/r", "attach-role-policy"),
        ("user/cpv", "user/member", "create-policy-version"),
        ("user/sdv", "user/member", "set-default-policy-version"),
        ("user/release", "user/capped", "put-user-policy"),
    }


def test_admins_and_paths():
    pl = Planted()
    pl.role("Admin", trust({"AWS": arn("user", "alice")}), ADMIN_DOC)
    pl.user("alice")
    pl.user("bob", doc(allow("iam:CreateAccessKey", arn("user", "alice"))))
    pl.user("selfish", doc(allow("iam:AttachUserPolicy", arn("user", "selfish"))))
    pl.role("mid", trust({"AWS": arn("user", "carol")}))
    pl.user("carol", doc(allow("iam:PutRolePolicy", arn("role", "mid"))))  # grants to a role it can assume
    pl.user("nobody", doc(allow("s3:*")))
    audit = run_audit(load_account(pl.details()))
    assert {short(a) for a in audit.admins} == {"role/Admin", "user/selfish", "user/carol"}
    assert audit.admins[arn("role", "Admin")].direct
    carol = audit.admins[arn("user", "carol")]
    assert not carol.direct and carol.grant is not None and short(carol.grant.target) == "role/mid"
    assert [short(e.target) for e in carol.reach] == ["role/mid"]
    paths = {short(s): [short(e.target) for e in p] for s, p in audit.paths.items()}
    assert paths == {"user/alice": ["role/Admin"], "user/bob": ["user/alice", "role/Admin"]}
    step = audit.paths[arn("user", "bob")][0].checks[0]
    assert step.because() == ["allowed by identity-based policy user/bob inline p0 statement #0"]


def test_url_encoded_documents_and_managed_lookup():
    """IAM's wire form (URL-encoded JSON) reads like the AWS CLI's decoded objects; an attached policy the
    export lacks comes from the lookup."""
    import json
    from urllib.parse import quote

    pl = Planted()
    pl.user("victim")
    pl.user("a", managed=("arn:aws:iam::aws:policy/Fake",))
    pl.users[0]["UserPolicyList"] = [
        {"PolicyName": "x", "PolicyDocument": quote(json.dumps(doc(allow("s3:*"))))}
    ]
    text = json.dumps(doc(allow("iam:CreateAccessKey", "*")))
    account = load_account(pl.details(), managed_lookup=lambda a: text if a.endswith("/Fake") else None)
    audit = run_audit(account)
    assert {(short(e.source), short(e.target)) for e in audit.edges} == {("user/a", "user/victim")}
    assert audit.account.problems == []


def test_unreadable_policy_is_reported_not_fatal():
    pl = Planted()
    pl.user("victim")
    pl.user("a", doc(allow("iam:CreateAccessKey", "*")))
    pl.users[0]["UserPolicyList"] = [
        {"PolicyName": "broken", "PolicyDocument": {"Version": "2012-10-17", "Statement": "nope"}},
        {"PolicyName": "garbled", "PolicyDocument": "%7B%22Version"},
    ]
    audit = run_audit(load_account(pl.details()))
    assert {(short(e.source), short(e.target)) for e in audit.edges} == {("user/a", "user/victim")}
    assert [p.split(":")[0] for p in audit.account.problems] == [
        "user/victim inline broken",
        "user/victim inline garbled",
    ]


def test_abac_on_the_target_roles_tags():
    """sts:AssumeRole allowed where the role's team tag is the caller's: the engine sees both tags."""
    pl = Planted()
    abac = {"StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"}}
    pl.role("red-app", trust({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}))
    pl.role("blue-app", trust({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}))
    pl.roles[0]["Tags"] = [{"Key": "team", "Value": "red"}]
    pl.roles[1]["Tags"] = [{"Key": "team", "Value": "blue"}]
    pl.user("rita", doc(allow("sts:AssumeRole", "*", abac)))
    pl.users[0]["Tags"] = [{"Key": "team", "Value": "red"}]
    pl.user("nobody", doc(allow("sts:AssumeRole", "*", abac)))  # no team tag: no role
    assert edges(pl) == {("user/rita", "role/red-app", "assume-role")}
