"""STS against a real server: trust evaluation, session permissions, expiry, revocation, the trail."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from botocore.exceptions import ClientError

from tests.servers import InProcessServer

ACCOUNT = "123456789012"


def doc(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def trust(principal, condition=None, actions=("sts:AssumeRole",)):
    st = {"Effect": "Allow", "Principal": principal, "Action": list(actions)}
    if condition:
        st["Condition"] = condition
    return doc(st)


def code(exc) -> str:
    return exc.value.response["Error"]["Code"]


def message(exc) -> str:
    return exc.value.response["Error"]["Message"]


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = InProcessServer(tmp_path_factory.mktemp("sts")).start()
    yield s
    s.stop()


def make_user(srv, policy=None):
    iam = srv.client("iam")
    name = f"u-{uuid.uuid4().hex[:8]}"
    user = iam.create_user(UserName=name)["User"]
    if policy:
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=policy)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return user, key


def make_role(srv, trust_doc, policy=None, **kw):
    iam = srv.client("iam")
    name = f"r-{uuid.uuid4().hex[:8]}"
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust_doc, **kw)["Role"]
    if policy:
        iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=policy)
    return role


def sts_as(srv, key):
    return srv.client("sts", key["AccessKeyId"], key["SecretAccessKey"], key.get("SessionToken"))


def creds(resp):
    c = resp["Credentials"]
    return {
        "AccessKeyId": c["AccessKeyId"],
        "SecretAccessKey": c["SecretAccessKey"],
        "SessionToken": c["SessionToken"],
    }


def test_trust_naming_the_user_is_enough_in_the_same_account(srv):
    user, key = make_user(srv)
    role = make_role(
        srv, trust({"AWS": user["Arn"]}), doc({"Effect": "Allow", "Action": "iam:ListRoles", "Resource": "*"})
    )
    resp = sts_as(srv, key).assume_role(RoleArn=role["Arn"], RoleSessionName="s1")
    assert resp["Credentials"]["AccessKeyId"].startswith("ASIA")
    assert resp["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{role['RoleName']}/s1"
    assert resp["AssumedRoleUser"]["AssumedRoleId"] == f"{role['RoleId']}:s1"
    session = creds(resp)
    ident = sts_as(srv, session).get_caller_identity()
    assert ident["Arn"] == resp["AssumedRoleUser"]["Arn"] and ident["UserId"] == f"{role['RoleId']}:s1"
    iam = srv.client(
        "iam",
        **{
            k2: session[k1]
            for k1, k2 in (("AccessKeyId", "key"), ("SecretAccessKey", "secret"), ("SessionToken", "token"))
        },
    )
    iam.list_roles()
    with pytest.raises(ClientError) as exc:
        iam.list_users()
    assert code(exc) == "AccessDenied"
    assert f"assumed-role/{role['RoleName']}/s1 is not authorized to perform: iam:ListUsers" in message(exc)


def test_trust_naming_the_account_also_needs_identity_permission(srv):
    user, key = make_user(srv)
    role = make_role(srv, trust({"AWS": ACCOUNT}))
    with pytest.raises(ClientError) as exc:
        sts_as(srv, key).assume_role(RoleArn=role["Arn"], RoleSessionName="s0")
    assert code(exc) == "AccessDenied"
    assert message(exc) == (
        f"User: {user['Arn']} is not authorized to perform: sts:AssumeRole on resource: {role['Arn']}"
    )
    srv.client("iam").put_user_policy(
        UserName=user["UserName"],
        PolicyName="assume",
        PolicyDocument=doc({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role["Arn"]}),
    )
    sts_as(srv, key).assume_role(RoleArn=role["Arn"], RoleSessionName="s0")


def test_untrusted_and_missing_roles_are_denied(srv):
    user, key = make_user(srv, doc({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}))
    role = make_role(srv, trust({"Service": "ec2.amazonaws.com"}))
    for arn in (role["Arn"], f"arn:aws:iam::{ACCOUNT}:role/no-such-role"):
        with pytest.raises(ClientError) as exc:
            sts_as(srv, key).assume_role(RoleArn=arn, RoleSessionName="s0")
        assert code(exc) == "AccessDenied" and arn in message(exc)


def test_external_id(srv):
    user, key = make_user(srv)
    role = make_role(srv, trust({"AWS": user["Arn"]}, {"StringEquals": {"sts:ExternalId": "Unique-1234"}}))
    with pytest.raises(ClientError):
        sts_as(srv, key).assume_role(RoleArn=role["Arn"], RoleSessionName="s0")
    with pytest.raises(ClientError):
        sts_as(srv, key).assume_role(RoleArn=role["Arn"], RoleSessionName="s0", ExternalId="Wrong-1234")
    sts_as(srv, key).assume_role(RoleArn=role["Arn"], RoleSessionName="s0", ExternalId="Unique-1234")


def test_session_policy_narrows(srv):
    user, key = make_user(srv)
    role = make_role(
        srv, trust({"AWS": user["Arn"]}), doc({"Effect": "Allow", "Action": "iam:List*", "Resource": "*"})
    )
    resp = sts_as(srv, key).assume_role(
        RoleArn=role["Arn"],
        RoleSessionName="narrow",
        Policy=doc({"Effect": "Allow", "Action": ["iam:ListRoles", "iam:CreateUser"], "Resource": "*"}),
    )
    assert resp["PackedPolicySize"] >= 1
    c = creds(resp)
    iam = srv.client("iam", c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
    iam.list_roles()  # both allow
    with pytest.raises(ClientError) as exc:  # role allows, session policy does not
        iam.list_users()
    assert "because no session policy allows the iam:ListUsers action" in message(exc)
    with pytest.raises(ClientError) as exc:  # session policy allows, role does not
        iam.create_user(UserName="nope")
    assert "because no identity-based policy allows" in message(exc)
    with pytest.raises(ClientError) as exc:
        sts_as(srv, key).assume_role(RoleArn=role["Arn"], RoleSessionName="bad", Policy="{nope")
    assert code(exc) == "MalformedPolicyDocument"


def test_durations_and_chaining(srv):
    user, key = make_user(srv)
    role = make_role(
        srv,
        trust({"AWS": user["Arn"]}),
        doc({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}),
        MaxSessionDuration=7200,
    )
    with pytest.raises(ClientError) as exc:
        sts_as(srv, key).assume_role(RoleArn=role["Arn"], RoleSessionName="s0", DurationSeconds=7201)
    assert code(exc) == "ValidationError"
    assert message(exc) == "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
    first = creds(
        sts_as(srv, key).assume_role(RoleArn=role["Arn"], RoleSessionName="s0", DurationSeconds=7200)
    )
    second_role = make_role(srv, trust({"AWS": role["Arn"]}))
    with pytest.raises(ClientError) as exc:
        sts_as(srv, first).assume_role(RoleArn=second_role["Arn"], RoleSessionName="c0", DurationSeconds=3601)
    assert message(exc) == (
        "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining."
    )
    chained = sts_as(srv, first).assume_role(RoleArn=second_role["Arn"], RoleSessionName="c0")
    assert chained["AssumedRoleUser"]["Arn"].endswith(f"{second_role['RoleName']}/c0")


def test_a_role_does_not_trust_itself(srv):
    user, key = make_user(srv)
    role = make_role(
        srv,
        trust({"AWS": user["Arn"]}),
        doc({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}),
    )
    session = creds(sts_as(srv, key).assume_role(RoleArn=role["Arn"], RoleSessionName="s0"))
    with pytest.raises(ClientError) as exc:
        sts_as(srv, session).assume_role(RoleArn=role["Arn"], RoleSessionName="again")
    assert code(exc) == "AccessDenied"


def test_tags_need_tag_session_and_carry_transitively(srv):
    user, key = make_user(srv)
    role = make_role(
        srv,
        doc(
            {
                "Effect": "Allow",
                "Principal": {"AWS": user["Arn"]},
                "Action": ["sts:AssumeRole", "sts:TagSession"],
            }
        ),
        doc(
            {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"},
            {
                "Effect": "Allow",
                "Action": "iam:ListRoles",
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:PrincipalTag/team": "blue"}},
            },
        ),
    )
    no_tags = make_role(srv, trust({"AWS": user["Arn"]}))
    with pytest.raises(ClientError):
        sts_as(srv, key).assume_role(
            RoleArn=no_tags["Arn"], RoleSessionName="s0", Tags=[{"Key": "team", "Value": "x"}]
        )
    resp = sts_as(srv, key).assume_role(
        RoleArn=role["Arn"],
        RoleSessionName="s0",
        Tags=[{"Key": "team", "Value": "blue"}],
        TransitiveTagKeys=["team"],
    )
    c = creds(resp)
    srv.client("iam", c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"]).list_roles()
    other = make_role(srv, trust({"AWS": role["Arn"]}, {"StringEquals": {"aws:PrincipalTag/team": "blue"}}))
    sts_as(srv, c).assume_role(RoleArn=other["Arn"], RoleSessionName="chained")  # transitive tag still there


def test_expiry_uses_the_server_clock(srv):
    user, key = make_user(srv)
    role = make_role(srv, trust({"AWS": user["Arn"]}))
    c = creds(sts_as(srv, key).assume_role(RoleArn=role["Arn"], RoleSessionName="s0", DurationSeconds=900))
    sts_as(srv, c).get_caller_identity()
    srv.clock.advance(901)
    try:
        with pytest.raises(ClientError) as exc:
            sts_as(srv, c).get_caller_identity()
        assert code(exc) == "ExpiredToken"
    finally:
        srv.clock.advance(-901)


def test_tampered_token_is_invalid(srv):
    user, key = make_user(srv)
    role = make_role(srv, trust({"AWS": user["Arn"]}))
    c = creds(sts_as(srv, key).assume_role(RoleArn=role["Arn"], RoleSessionName="s0"))
    token = c["SessionToken"]
    flipped = token[:40] + ("A" if token[40] != "A" else "B") + token[41:]
    with pytest.raises(ClientError) as exc:
        sts_as(srv, {**c, "SessionToken": flipped}).get_caller_identity()
    assert code(exc) == "InvalidClientTokenId"


def test_live_policy_changes_revocation_and_deleted_roles(srv):
    user, key = make_user(srv)
    role = make_role(srv, trust({"AWS": user["Arn"]}))
    iam = srv.client("iam")
    c = creds(sts_as(srv, key).assume_role(RoleArn=role["Arn"], RoleSessionName="live"))
    as_role = srv.client("iam", c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
    with pytest.raises(ClientError):
        as_role.list_roles()
    iam.put_role_policy(
        RoleName=role["RoleName"],
        PolicyName="p",
        PolicyDocument=doc({"Effect": "Allow", "Action": "iam:ListRoles", "Resource": "*"}),
    )
    as_role.list_roles()  # the live session gains the permission at once
    out = srv.rolecall("role", "revoke-sessions", role["RoleName"], "--endpoint-url", srv.url)
    assert out.returncode == 0, out.stderr
    with pytest.raises(ClientError) as exc:
        as_role.list_roles()
    assert "explicit deny" in message(exc)
    srv.clock.set(time.time() + 1)  # the server's clock, frozen for the tests, catches up with the CLI's
    fresh = creds(sts_as(srv, key).assume_role(RoleArn=role["Arn"], RoleSessionName="after"))
    srv.client("iam", fresh["AccessKeyId"], fresh["SecretAccessKey"], fresh["SessionToken"]).list_roles()
    got = iam.get_role(RoleName=role["RoleName"])["Role"]
    assert "LastUsedDate" in got.get("RoleLastUsed", {})
    iam.delete_role_policy(RoleName=role["RoleName"], PolicyName="p")
    iam.delete_role_policy(RoleName=role["RoleName"], PolicyName="AWSRevokeOlderSessions")
    iam.delete_role(RoleName=role["RoleName"])
    iam.create_role(RoleName=role["RoleName"], AssumeRolePolicyDocument=trust({"AWS": user["Arn"]}))
    iam.put_role_policy(
        RoleName=role["RoleName"],
        PolicyName="p",
        PolicyDocument=doc({"Effect": "Allow", "Action": "*", "Resource": "*"}),
    )
    with pytest.raises(ClientError):  # a session of the deleted role gets nothing from its namesake
        srv.client("iam", fresh["AccessKeyId"], fresh["SecretAccessKey"], fresh["SessionToken"]).list_roles()


def test_cross_account(srv):
    out = srv.rolecall("account", "create", "--account-id", "999988887777", *srv.store_args())
    assert out.returncode == 0, out.stderr
    other = json.loads(out.stdout)
    other_iam = srv.client("iam", other["AccessKeyId"], other["SecretAccessKey"])
    user, key = make_user(srv)
    role = other_iam.create_role(RoleName="Shared", AssumeRolePolicyDocument=trust({"AWS": ACCOUNT}))["Role"]
    with pytest.raises(ClientError):  # the other account trusts us, but our user's policy doesn't allow it
        sts_as(srv, key).assume_role(RoleArn=role["Arn"], RoleSessionName="x0")
    srv.client("iam").put_user_policy(
        UserName=user["UserName"],
        PolicyName="a",
        PolicyDocument=doc(
            {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "arn:aws:iam::999988887777:role/*"}
        ),
    )
    resp = sts_as(srv, key).assume_role(RoleArn=role["Arn"], RoleSessionName="x0")
    assert resp["AssumedRoleUser"]["Arn"] == "arn:aws:sts::999988887777:assumed-role/Shared/x0"
    assert sts_as(srv, creds(resp)).get_caller_identity()["Account"] == "999988887777"
    assert (
        srv.client("sts").get_access_key_info(AccessKeyId=resp["Credentials"]["AccessKeyId"])["Account"]
        == "999988887777"
    )
    srv.pipeline.trail.flush()
    theirs = srv.client("cloudtrail", other["AccessKeyId"], other["SecretAccessKey"]).lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "AssumeRole"}]
    )["Events"]
    rec = json.loads(theirs[0]["CloudTrailEvent"])  # the role's account sees the call made into it
    assert rec["recipientAccountId"] == "999988887777" and rec["sharedEventID"]
    assert rec["userIdentity"]["arn"] == user["Arn"]
    strict = other_iam.create_role(
        RoleName="NotShared", AssumeRolePolicyDocument=trust({"AWS": "111122223333"})
    )
    with pytest.raises(ClientError):  # our policy allows, their trust does not name us
        sts_as(srv, key).assume_role(RoleArn=strict["Role"]["Arn"], RoleSessionName="x0")


def test_trail_records_assume_role_and_session_calls(srv):
    user, key = make_user(srv)
    role = make_role(
        srv, trust({"AWS": user["Arn"]}), doc({"Effect": "Allow", "Action": "iam:ListRoles", "Resource": "*"})
    )
    resp = sts_as(srv, key).assume_role(RoleArn=role["Arn"], RoleSessionName="audited")
    c = creds(resp)
    srv.client("iam", c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"]).list_roles()
    ct = srv.client("cloudtrail")
    events = ct.lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "AssumeRole"}]
    )
    recs = [json.loads(e["CloudTrailEvent"]) for e in events["Events"]]
    rec = next(r for r in recs if r["requestParameters"]["roleSessionName"] == "audited")
    assert rec["eventSource"] == "sts.amazonaws.com"
    assert rec["requestParameters"]["roleArn"] == role["Arn"]
    assert rec["responseElements"]["credentials"]["accessKeyId"] == c["AccessKeyId"]
    text = json.dumps(recs)
    assert c["SecretAccessKey"] not in text and c["SessionToken"] not in text
    assert {"ARN": role["Arn"], "accountId": ACCOUNT, "type": "AWS::IAM::Role"} in rec["resources"]
    events = ct.lookup_events(
        LookupAttributes=[{"AttributeKey": "AccessKeyId", "AttributeValue": c["AccessKeyId"]}]
    )
    rec = json.loads(events["Events"][0]["CloudTrailEvent"])
    ident = rec["userIdentity"]
    assert ident["type"] == "AssumedRole" and ident["principalId"] == f"{role['RoleId']}:audited"
    assert ident["sessionContext"]["sessionIssuer"] == {
        "type": "Role",
        "principalId": role["RoleId"],
        "arn": role["Arn"],
        "accountId": ACCOUNT,
        "userName": role["RoleName"],
    }
    assert ident["sessionContext"]["attributes"]["creationDate"]


def test_session_token_credentials_act_as_the_user_but_cannot_call_iam_without_mfa(srv):
    user, key = make_user(
        srv, doc({"Effect": "Allow", "Action": ["iam:ListRoles", "sts:AssumeRole"], "Resource": "*"})
    )
    c = creds(sts_as(srv, key).get_session_token(DurationSeconds=900))
    assert c["AccessKeyId"].startswith("ASIA")
    assert sts_as(srv, c).get_caller_identity()["Arn"] == user["Arn"]
    with pytest.raises(ClientError) as exc:
        srv.client("iam", c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"]).list_roles()
    assert code(exc) == "InvalidClientTokenId"
    role = make_role(srv, trust({"AWS": user["Arn"]}))
    sts_as(srv, c).assume_role(RoleArn=role["Arn"], RoleSessionName="from-session-token")
    with pytest.raises(ClientError) as exc:
        sts_as(srv, c).get_session_token()
    assert code(exc) == "AccessDenied"


def test_a_deleted_principal_is_not_trusted_again_under_the_same_name(srv):
    iam = srv.client("iam")
    user, key = make_user(srv)
    role = make_role(srv, trust({"AWS": user["Arn"]}))
    sts_as(srv, key).assume_role(RoleArn=role["Arn"], RoleSessionName="before")
    iam.delete_access_key(UserName=user["UserName"], AccessKeyId=key["AccessKeyId"])
    iam.delete_user(UserName=user["UserName"])
    shown = iam.get_role(RoleName=role["RoleName"])["Role"]["AssumeRolePolicyDocument"]
    assert shown["Statement"][0]["Principal"] == {"AWS": user["UserId"]}  # the unique id, as AWS shows it
    iam.create_user(UserName=user["UserName"])  # same name, new user
    new_key = iam.create_access_key(UserName=user["UserName"])["AccessKey"]
    with pytest.raises(ClientError) as exc:
        sts_as(srv, new_key).assume_role(RoleArn=role["Arn"], RoleSessionName="after")
    assert code(exc) == "AccessDenied"


def test_root_identity(srv):
    ident = srv.client("sts").get_caller_identity()
    assert ident == {
        **ident,
        "Account": "123456789012",
        "Arn": "arn:aws:iam::123456789012:root",
        "UserId": "123456789012",
    }


def test_decode_authorization_message_explains_an_ec2_refusal(srv):
    user, key = make_user(srv)  # no permission at all
    ec2 = srv.client("ec2", key["AccessKeyId"], key["SecretAccessKey"])
    with pytest.raises(ClientError) as exc:
        ec2.run_instances(ImageId="ami-0123456789abcdef0", MinCount=1, MaxCount=1)
    assert code(exc) == "UnauthorizedOperation"
    encoded = message(exc).split("Encoded authorization failure message: ")[1]
    # Decoding needs its own permission, which the user lacks.
    with pytest.raises(ClientError) as denied:
        sts_as(srv, key).decode_authorization_message(EncodedMessage=encoded)
    assert code(denied) == "AccessDenied" and message(denied).endswith(
        "because no identity-based policy allows the sts:DecodeAuthorizationMessage action"
    )
    decoded = json.loads(
        srv.client("sts").decode_authorization_message(EncodedMessage=encoded)["DecodedMessage"]
    )
    assert (decoded["allowed"], decoded["explicitDeny"]) == (False, False)
    assert decoded["context"]["action"] == "ec2:RunInstances"
    assert decoded["context"]["principal"]["arn"] == user["Arn"]
    with pytest.raises(ClientError) as bad:
        srv.client("sts").decode_authorization_message(EncodedMessage="tampered")
    assert code(bad) == "InvalidAuthorizationMessageException"
