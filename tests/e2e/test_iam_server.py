"""IAM over the wire against a real server, on SQLite and PostgreSQL, with boto3."""

from __future__ import annotations

import json
import uuid

import pytest
from botocore.exceptions import ClientError

TRUST_EC2 = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)


def allow(actions, resource="*", effect="Allow", sid=None):
    st = {"Effect": effect, "Action": actions, "Resource": resource}
    if sid:
        st["Sid"] = sid
    return json.dumps({"Version": "2012-10-17", "Statement": [st]})


def err(exc: pytest.ExceptionInfo) -> tuple[str, str, int]:
    e = exc.value.response
    return e["Error"]["Code"], e["Error"]["Message"], e["ResponseMetadata"]["HTTPStatusCode"]


def name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def new_user(srv, iam, policy_json: str | None = None):
    """A user with an access key (and an inline policy); returns (user name, its iam client)."""
    user = name("dev")
    iam.create_user(UserName=user)
    if policy_json:
        iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=policy_json)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    return user, key


def test_role_lifecycle(any_server):
    iam = any_server.client("iam")
    role = name("app")
    created = iam.create_role(
        RoleName=role,
        AssumeRolePolicyDocument=TRUST_EC2,
        Path="/team/",
        Tags=[{"Key": "env", "Value": "dev"}],
    )["Role"]
    assert created["Arn"] == f"arn:aws:iam::123456789012:role/team/{role}"
    assert created["RoleId"].startswith("AROA") and len(created["RoleId"]) == 21
    got = iam.get_role(RoleName=role)["Role"]
    assert got["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "ec2.amazonaws.com"}
    assert got["MaxSessionDuration"] == 3600
    assert role in [r["RoleName"] for r in iam.list_roles(PathPrefix="/team/")["Roles"]]
    with pytest.raises(ClientError) as exc:
        iam.create_role(RoleName=role.upper(), AssumeRolePolicyDocument=TRUST_EC2)
    assert err(exc)[0] == "EntityAlreadyExists" and err(exc)[2] == 409
    iam.delete_role(RoleName=role)
    with pytest.raises(ClientError) as exc:
        iam.get_role(RoleName=role)
    assert err(exc) == ("NoSuchEntity", f"The role with name {role} cannot be found.", 404)


def test_model_validation_errors(server):
    iam = server.client("iam")
    with pytest.raises(ClientError) as exc:
        iam.create_role(RoleName="bad name!", AssumeRolePolicyDocument=TRUST_EC2)
    code, message, status = err(exc)
    assert (code, status) == ("ValidationError", 400)
    assert "roleName" in message and "regular expression pattern" in message
    with pytest.raises(ClientError) as exc:
        iam.create_role(RoleName=name("r"), AssumeRolePolicyDocument="{not json")
    assert err(exc)[0] == "MalformedPolicyDocument"


def test_denied_then_allowed_then_denied_again(any_server):
    iam = any_server.client("iam")
    user, key = new_user(any_server, iam)
    as_user = any_server.client("iam", key["AccessKeyId"], key["SecretAccessKey"])
    with pytest.raises(ClientError) as exc:
        as_user.list_roles()
    code, message, status = err(exc)
    assert (code, status) == ("AccessDenied", 403)
    assert message == (
        f"User: arn:aws:iam::123456789012:user/{user} is not authorized to perform: iam:ListRoles on resource: "
        "arn:aws:iam::123456789012:role/ because no identity-based policy allows the iam:ListRoles action"
    )
    arn = iam.create_policy(PolicyName=name("list"), PolicyDocument=allow("iam:List*"))["Policy"]["Arn"]
    iam.attach_user_policy(UserName=user, PolicyArn=arn)
    assert "Roles" in as_user.list_roles()
    iam.detach_user_policy(UserName=user, PolicyArn=arn)
    with pytest.raises(ClientError) as exc:
        as_user.list_roles()
    assert err(exc)[0] == "AccessDenied"


def test_list_operations_are_refused_on_the_path_they_list(server):
    """AWS authorizes ListUsers/ListGroups/ListInstanceProfiles/ListRoles on the listed path's ARN and
    ListPolicies on "policy path /", and says so in the AccessDenied message."""
    iam = server.client("iam")
    user, key = new_user(server, iam)
    as_user = server.client("iam", key["AccessKeyId"], key["SecretAccessKey"])
    prefix = f"User: arn:aws:iam::123456789012:user/{user} is not authorized to perform:"
    for call, action, resource in (
        (as_user.list_users, "iam:ListUsers", "arn:aws:iam::123456789012:user/"),
        (as_user.list_groups, "iam:ListGroups", "arn:aws:iam::123456789012:group/"),
        (
            as_user.list_instance_profiles,
            "iam:ListInstanceProfiles",
            "arn:aws:iam::123456789012:instance-profile/",
        ),
        (as_user.list_policies, "iam:ListPolicies", "policy path /"),
        (
            lambda: as_user.list_roles(PathPrefix="/svc/"),
            "iam:ListRoles",
            "arn:aws:iam::123456789012:role/svc/",
        ),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        assert err(exc) == (
            "AccessDenied",
            f"{prefix} {action} on resource: {resource} because no identity-based policy allows the {action} action",
            403,
        )
    # A grant on the path's ARN allows the listing; the same grant does not reach another path.
    iam.put_user_policy(
        UserName=user,
        PolicyName="roles",
        PolicyDocument=allow("iam:ListRoles", "arn:aws:iam::123456789012:role/svc/*"),
    )
    assert as_user.list_roles(PathPrefix="/svc/")["Roles"] == []
    with pytest.raises(ClientError):
        as_user.list_roles()


def test_explicit_deny_names_it_and_get_caller_identity_still_works(server):
    iam = server.client("iam")
    user, key = new_user(
        server,
        iam,
        json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "*", "Resource": "*"},
                    {"Sid": "NoRoles", "Effect": "Deny", "Action": "iam:*Role*", "Resource": "*"},
                    {"Effect": "Deny", "Action": "sts:*", "Resource": "*"},
                ],
            }
        ),
    )
    as_user = server.client("iam", key["AccessKeyId"], key["SecretAccessKey"])
    with pytest.raises(ClientError) as exc:
        as_user.create_role(RoleName=name("x"), AssumeRolePolicyDocument=TRUST_EC2)
    assert "with an explicit deny in an identity-based policy" in err(exc)[1]
    assert as_user.list_users()["Users"]
    ident = server.client("sts", key["AccessKeyId"], key["SecretAccessKey"]).get_caller_identity()
    assert ident["Arn"] == f"arn:aws:iam::123456789012:user/{user}"
    assert ident["UserId"].startswith("AIDA")


def test_root_identity(server):
    ident = server.client("sts").get_caller_identity()
    assert ident == {
        **ident,
        "Account": "123456789012",
        "Arn": "arn:aws:iam::123456789012:root",
        "UserId": "123456789012",
    }


def test_authentication_failures(server):
    sts = server.client("sts", "AKIAUNKNOWNKEY000000", "x" * 40)
    with pytest.raises(ClientError) as exc:
        sts.get_caller_identity()
    assert err(exc) == ("InvalidClientTokenId", "The security token included in the request is invalid.", 403)
    sts = server.client("sts", server.access_key, "wrong-secret")
    with pytest.raises(ClientError) as exc:
        sts.get_caller_identity()
    assert err(exc)[0] == "SignatureDoesNotMatch" and err(exc)[2] == 403
    assert "wrong-secret" not in err(exc)[1] and server.secret_key not in err(exc)[1]
    import urllib3

    r = urllib3.PoolManager().request(
        "POST",
        server.url + "/",
        body="Action=GetCallerIdentity&Version=2011-06-15",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status == 403 and b"MissingAuthenticationToken" in r.data


def test_inactive_and_deleted_keys_stop_working(server):
    iam = server.client("iam")
    user, key = new_user(server, iam, allow("iam:*"))
    as_user = server.client("iam", key["AccessKeyId"], key["SecretAccessKey"])
    as_user.get_user()
    iam.update_access_key(UserName=user, AccessKeyId=key["AccessKeyId"], Status="Inactive")
    with pytest.raises(ClientError) as exc:
        as_user.get_user()
    assert err(exc)[0] == "InvalidClientTokenId"


def test_unimplemented_operation_is_a_clear_error(server):
    iam = server.client("iam")
    with pytest.raises(ClientError) as exc:
        iam.get_credential_report()
    code, message, status = err(exc)
    assert code == "NotImplemented" and "GetCredentialReport" in message and status == 501


def test_trail_records_without_secrets(server):
    iam = server.client("iam")
    user = name("audited")
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    iam.create_login_profile(UserName=user, Password="Sup3r-Secret-Passw0rd!")
    ct = server.client("cloudtrail")
    events = ct.lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "CreateAccessKey"}]
    )
    mine = [e for e in events["Events"] if user in e["CloudTrailEvent"]]
    assert mine, events
    rec = json.loads(mine[0]["CloudTrailEvent"])
    assert rec["eventSource"] == "iam.amazonaws.com" and rec["userIdentity"]["type"] == "Root"
    assert rec["requestParameters"]["userName"] == user
    text = json.dumps([json.loads(e["CloudTrailEvent"]) for e in ct.lookup_events(MaxResults=50)["Events"]])
    assert key["SecretAccessKey"] not in text
    assert "Sup3r-Secret-Passw0rd!" not in text


def test_insights_lookup_finds_no_management_events(server):
    server.client("iam").list_users()
    ct = server.client("cloudtrail")
    assert ct.lookup_events(MaxResults=5)["Events"]
    # EventCategory=insight asks for CloudTrail Insights events only; rolecall records none.
    assert ct.lookup_events(EventCategory="insight", MaxResults=5)["Events"] == []


def test_denials_are_in_the_trail(server):
    iam = server.client("iam")
    user, key = new_user(server, iam)
    with pytest.raises(ClientError):
        server.client("iam", key["AccessKeyId"], key["SecretAccessKey"]).create_role(
            RoleName=name("nope"), AssumeRolePolicyDocument=TRUST_EC2
        )
    ct = server.client("cloudtrail")
    events = ct.lookup_events(LookupAttributes=[{"AttributeKey": "Username", "AttributeValue": user}])[
        "Events"
    ]
    recs = [json.loads(e["CloudTrailEvent"]) for e in events]
    denied = [r for r in recs if r["eventName"] == "CreateRole"]
    assert denied and denied[0]["errorCode"] == "AccessDenied"
    assert denied[0]["userIdentity"]["accessKeyId"] == key["AccessKeyId"]


def test_aws_cli(server):
    role = name("cli")
    out = server.cli("iam", "create-role", "--role-name", role, "--assume-role-policy-document", TRUST_EC2)
    assert json.loads(out.stdout)["Role"]["RoleName"] == role
    out = server.cli("iam", "list-roles")
    assert role in out.stdout
    out = server.cli("iam", "get-role", "--role-name", "does-not-exist", check=False)
    assert out.returncode != 0 and "NoSuchEntity" in out.stderr
    out = server.cli(
        "cloudtrail",
        "lookup-events",
        "--lookup-attributes",
        "AttributeKey=EventName,AttributeValue=CreateRole",
        "--max-results",
        "5",
    )
    assert "CreateRole" in out.stdout
