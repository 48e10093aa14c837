"""AssumeRoleWithWebIdentity in process: the token verified (signature, issuer, times, audience) with AWS's
errors, its claims as the trust policy's condition keys, session tags and source identity from the token,
the session's aws:FederatedProvider, the trail; GetFederationToken; AssumeRoleWithSAML."""

from __future__ import annotations

import base64

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from rolecall.authn import session_caller
from rolecall.credentials.sessions import open_token
from rolecall.errors import AccessDenied, InvalidClientTokenId, ValidationError
from rolecall.services.sts.errors import ExpiredTokenException, InvalidIdentityToken
from rolecall.services.sts.oidc_issuer import ensure_issuer, mint
from rolecall.services.sts.saml import ensure_idp as ensure_saml_idp
from rolecall.services.sts.saml import metadata as saml_metadata
from rolecall.services.sts.saml import mint as mint_saml
from tests.services.conftest import ACCOUNT, START, allow, policy

GITHUB = "token.actions.githubusercontent.com"
IDP = "idp.example.com"
MAIN = "repo:org/repo:ref:refs/heads/main"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/deploy"


def provider_arn(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:oidc-provider/{name}"


def trust(name: str, condition: dict | None = None, actions=("sts:AssumeRoleWithWebIdentity",)) -> str:
    statement = {"Effect": "Allow", "Principal": {"Federated": provider_arn(name)}, "Action": list(actions)}
    if condition:
        statement["Condition"] = condition
    return policy(statement)


@pytest.fixture
def github(env):
    env.call("CreateOpenIDConnectProvider", Url=f"https://{GITHUB}", ClientIDList=["sts.amazonaws.com"])
    env.call(
        "CreateRole",
        RoleName="deploy",
        AssumeRolePolicyDocument=trust(
            GITHUB, {"StringEquals": {f"{GITHUB}:aud": "sts.amazonaws.com", f"{GITHUB}:sub": MAIN}}
        ),
    )
    return env


def assume(env, token: str, **params):
    return env.invoke(
        "sts",
        "AssumeRoleWithWebIdentity",
        RoleArn=ROLE_ARN,
        RoleSessionName="run",
        WebIdentityToken=token,
        **params,
    )


def foreign_token(iss: str, kid: str | None = None, **claims) -> str:
    """A well-formed token signed by a key rolecall does not know."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    body = {
        "iss": iss,
        "sub": MAIN,
        "aud": "sts.amazonaws.com",
        "iat": int(START),
        "exp": int(START) + 600,
        **claims,
    }
    return jwt.encode(body, key, algorithm="RS256", headers={"kid": kid} if kid else None)


def test_a_github_token_for_main_assumes_the_role(github):
    env = github
    out = assume(env, mint(env.host, GITHUB, MAIN, "sts.amazonaws.com"), DurationSeconds=900)
    assert out["SubjectFromWebIdentityToken"] == MAIN
    assert out["Provider"] == provider_arn(GITHUB)
    assert out["Audience"] == "sts.amazonaws.com"
    assert out["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/deploy/run"
    session = open_token(env.config.token_box, out["Credentials"]["SessionToken"])
    assert session.expires == START + 900
    # Every request the session makes carries the provider it came through.
    assert session.context["aws:FederatedProvider"] == provider_arn(GITHUB)
    record = env.trail("AssumeRoleWithWebIdentity")[0]
    assert record["userIdentity"]["type"] == "WebIdentityUser"
    assert record["userIdentity"]["userName"] == MAIN
    assert record["requestParameters"]["webIdentityToken"] == "HIDDEN_DUE_TO_SECURITY_REASONS"


def test_trust_conditions_on_the_subject_refuse_another_branch_with_aws_words(github):
    env = github
    token = mint(env.host, GITHUB, "repo:org/repo:ref:refs/heads/dev", "sts.amazonaws.com")
    err = env.denied(
        env.caller,
        "sts",
        "AssumeRoleWithWebIdentity",
        RoleArn=ROLE_ARN,
        RoleSessionName="run",
        WebIdentityToken=token,
    )
    assert isinstance(err, AccessDenied)
    assert err.message == "Not authorized to perform sts:AssumeRoleWithWebIdentity"
    explanation = env.trail("AssumeRoleWithWebIdentity")[0]["additionalEventData"]["rolecallExplanation"]
    failed = explanation["failedConditions"][0]
    assert failed["key"] == f"{GITHUB}:sub" and failed["requestValues"] == [
        "repo:org/repo:ref:refs/heads/dev"
    ]


def test_a_role_that_does_not_exist_is_refused_like_an_untrusting_one(github):
    env = github
    token = mint(env.host, GITHUB, MAIN, "sts.amazonaws.com")
    err = env.denied(
        env.caller,
        "sts",
        "AssumeRoleWithWebIdentity",
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/nope",
        RoleSessionName="run",
        WebIdentityToken=token,
    )
    assert err.message == "Not authorized to perform sts:AssumeRoleWithWebIdentity"


def test_token_errors_are_awss(github):
    env = github
    ensure_issuer(env.host, IDP)
    cases = [
        ("not-a-jwt", InvalidIdentityToken, "The ID Token provided is not a valid JWT"),
        # The account has no provider for the issuer.
        (
            mint(env.host, IDP, MAIN, "sts.amazonaws.com"),
            InvalidIdentityToken,
            f"No OpenIDConnect provider found in your account for https://{IDP}",
        ),
        # Signed by a key the issuer never had (with the issuer's key id, and without one).
        (
            foreign_token(f"https://{GITHUB}", kid=ensure_issuer(env.host, GITHUB)["Jwk"]["kid"]),
            InvalidIdentityToken,
            "signature does not verify",
        ),
        (foreign_token(f"https://{GITHUB}"), InvalidIdentityToken, "signature does not verify"),
        (mint(env.host, GITHUB, MAIN, "someone-else"), InvalidIdentityToken, "Incorrect token audience"),
        (
            mint(env.host, GITHUB, MAIN, "sts.amazonaws.com", {"nbf": int(START) + 60}),
            InvalidIdentityToken,
            "before its nbf",
        ),
    ]
    for token, error, words in cases:
        with pytest.raises(error) as raised:
            assume(env, token)
        assert words in raised.value.message, (words, raised.value.message)
    # A token whose header names another key id: rolecall cannot find its key.
    wrong_kid = foreign_token(f"https://{GITHUB}", kid="0" * 40)
    with pytest.raises(InvalidIdentityToken) as raised:
        assume(env, wrong_kid)
    assert raised.value.message.startswith("Couldn't retrieve verification key from your identity provider")
    # An issuer whose keys rolecall does not have (no local issuer of that name).
    env.call(
        "CreateOpenIDConnectProvider", Url="https://elsewhere.example.com", ClientIDList=["sts.amazonaws.com"]
    )
    with pytest.raises(InvalidIdentityToken) as raised:
        assume(env, foreign_token("https://elsewhere.example.com"))
    assert "rolecall oidc issue-token" in raised.value.message


def test_an_expired_token_is_expired_token_exception(github):
    env = github
    token = mint(env.host, GITHUB, MAIN, "sts.amazonaws.com", ttl=300)
    env.clock.advance(300)
    with pytest.raises(ExpiredTokenException) as raised:
        assume(env, token)
    assert raised.value.message == (
        f"Token expired: current date/time {int(START) + 300} must be before the expiration date/time{int(START) + 300}"
    )


def test_duration_beyond_the_roles_maximum_and_a_bad_role_arn(github):
    env = github
    token = mint(env.host, GITHUB, MAIN, "sts.amazonaws.com")
    with pytest.raises(ValidationError) as raised:
        assume(env, token, DurationSeconds=7200)
    assert "MaxSessionDuration" in raised.value.message
    with pytest.raises(ValidationError):
        env.invoke(
            "sts",
            "AssumeRoleWithWebIdentity",
            RoleArn="arn:aws:s3:::not-a-role-at-all",
            RoleSessionName="run",
            WebIdentityToken=token,
        )


def test_azp_amr_and_email_condition_keys(env):
    env.call("CreateOpenIDConnectProvider", Url=f"https://{IDP}", ClientIDList=["web-app"])
    condition = {
        "StringEquals": {
            f"{IDP}:aud": "mobile-app",
            f"{IDP}:oaud": "web-app",
            f"{IDP}:email": "a@example.com",
        },
        "ForAnyValue:StringEquals": {f"{IDP}:amr": "mfa"},
    }
    env.call("CreateRole", RoleName="deploy", AssumeRolePolicyDocument=trust(IDP, condition))
    claims = {"azp": "mobile-app", "email": "a@example.com", "amr": ["pwd", "mfa"]}
    assert assume(env, mint(env.host, IDP, "alice", "web-app", claims))["Audience"] == "web-app"
    with pytest.raises(AccessDenied):
        assume(env, mint(env.host, IDP, "alice", "web-app", {**claims, "amr": ["pwd"]}))


def test_session_tags_and_source_identity_from_the_token_need_their_permissions(env):
    env.call("CreateOpenIDConnectProvider", Url=f"https://{IDP}", ClientIDList=["app"])
    env.call("CreateRole", RoleName="deploy", AssumeRolePolicyDocument=trust(IDP))
    claims = {
        "https://aws.amazon.com/tags": {
            "principal_tags": {"team": ["blue"]},
            "transitive_tag_keys": ["team"],
        },
        "https://aws.amazon.com/source_identity": "alice",
    }
    token = mint(env.host, IDP, "alice", "app", claims)
    with pytest.raises(
        AccessDenied
    ):  # the trust policy allows neither sts:TagSession nor sts:SetSourceIdentity
        assume(env, token)
    env.call(
        "UpdateAssumeRolePolicy",
        RoleName="deploy",
        PolicyDocument=trust(
            IDP,
            {"StringEquals": {"aws:RequestTag/team": "blue", "sts:SourceIdentity": "alice"}},
            actions=("sts:AssumeRoleWithWebIdentity", "sts:TagSession", "sts:SetSourceIdentity"),
        ),
    )
    out = assume(env, token)
    assert out["SourceIdentity"] == "alice"
    session = open_token(env.config.token_box, out["Credentials"]["SessionToken"])
    assert session.tags == {"team": "blue"} and session.transitive == ["team"]


def test_the_session_carries_aws_federated_provider_to_later_requests(github):
    env = github
    env.call(
        "PutRolePolicy",
        RoleName="deploy",
        PolicyName="p",
        PolicyDocument=policy(
            allow(
                "iam:GetRole",
                "*",
                Condition={"StringEquals": {"aws:FederatedProvider": provider_arn(GITHUB)}},
            )
        ),
    )
    out = assume(env, mint(env.host, GITHUB, MAIN, "sts.amazonaws.com"))
    caller = session_caller(open_token(env.config.token_box, out["Credentials"]["SessionToken"]))
    assert env.invoke("iam", "GetRole", caller=caller, RoleName="deploy")["Role"]["RoleName"] == "deploy"


def test_minted_tokens_are_shaped_like_the_real_issuers(env):
    gh = jwt.decode(
        mint(env.host, GITHUB, "repo:o/r:environment:prod", "sts.amazonaws.com"),
        options={"verify_signature": False},
    )
    assert (gh["repository"], gh["environment"], gh["iss"]) == ("o/r", "prod", f"https://{GITHUB}")
    eks_name = "oidc.eks.eu-west-1.amazonaws.com/id/ABCDEF0123456789"
    eks = jwt.decode(
        mint(env.host, eks_name, "system:serviceaccount:ns:app", "sts.amazonaws.com"),
        options={"verify_signature": False},
    )
    assert (
        eks["kubernetes.io"]["namespace"] == "ns" and eks["kubernetes.io"]["serviceaccount"]["name"] == "app"
    )
    assert eks["exp"] - eks["iat"] == 3600 and eks["iat"] == int(START)


# -- GetFederationToken ----------------------------------------------------------------------------------

FED_ARN = f"arn:aws:sts::{ACCOUNT}:federated-user/bob"


def federate(env, caller, **params):
    out = env.invoke("sts", "GetFederationToken", caller=caller, Name="bob", **params)
    return out, session_caller(open_token(env.config.token_box, out["Credentials"]["SessionToken"]))


@pytest.fixture
def proxy(env):
    """An IAM user that may federate and may itself list buckets and read logs."""
    env.invoke("s3", "CreateBucket", Bucket="reports")
    return env.user(
        "proxy",
        allow("sts:GetFederationToken", f"arn:aws:sts::{ACCOUNT}:federated-user/*"),
        allow(["s3:ListAllMyBuckets", "logs:DescribeLogGroups"]),
    )


def test_a_federated_user_without_a_session_policy_may_do_nothing(env, proxy):
    out, fed = federate(env, proxy)
    assert out["FederatedUser"] == {"FederatedUserId": f"{ACCOUNT}:bob", "Arn": FED_ARN}
    assert out["Credentials"]["Expiration"].timestamp() == START + 43200  # twelve hours by default
    assert env.invoke("sts", "GetCallerIdentity", caller=fed) == {
        "UserId": f"{ACCOUNT}:bob",
        "Account": ACCOUNT,
        "Arn": FED_ARN,
    }
    err = env.denied(fed, "s3", "ListBuckets")
    assert err.code == "AccessDenied" and "session polic" in err.message


def test_session_policies_cap_the_users_permissions(env, proxy):
    text = policy(allow(["s3:ListAllMyBuckets", "iam:ListUsers", "ec2:DescribeInstances"]))
    out, fed = federate(env, proxy, Policy=text, DurationSeconds=900)
    assert out["PackedPolicySize"] >= 1
    assert env.invoke("s3", "ListBuckets", caller=fed)["Buckets"][0]["Name"] == "reports"
    # Allowed by the session policy but not by the user's own: refused.
    assert env.denied(fed, "ec2", "DescribeInstances").code in ("AccessDenied", "UnauthorizedOperation")
    # Allowed by the user but not by the session policy: refused.
    assert env.denied(fed, "logs", "DescribeLogGroups").code in ("AccessDenied", "AccessDeniedException")


def test_a_resource_policy_naming_the_federated_user_grants_without_a_session_policy(env, proxy):
    env.invoke("s3", "PutObject", Bucket="reports", Key="q1", Body=b"numbers")
    env.invoke(
        "s3",
        "PutBucketPolicy",
        Bucket="reports",
        Policy=policy(
            {
                "Effect": "Allow",
                "Principal": {"AWS": FED_ARN},
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::reports/*",
            }
        ),
    )
    _, fed = federate(env, proxy)
    assert env.invoke("s3", "GetObject", caller=fed, Bucket="reports", Key="q1")["Body"] == b"numbers"


def test_who_may_call_it_and_for_how_long(env, proxy):
    stranger = env.user("stranger")
    err = env.denied(stranger, "sts", "GetFederationToken", Name="bob")
    assert err.message.startswith(
        f"User: arn:aws:iam::{ACCOUNT}:user/stranger is not authorized to perform: sts:GetFederationToken on resource: {FED_ARN}"
    )
    session = env.role_session("worker", allow("sts:GetFederationToken"))
    err = env.denied(session, "sts", "GetFederationToken", Name="bob")
    assert err.message == "Cannot call GetFederationToken with session credentials"
    out, _ = federate(env, env.caller, DurationSeconds=7200)  # root: one hour at most
    assert out["Credentials"]["Expiration"].timestamp() == START + 3600
    _, fed = federate(env, proxy, Policy=policy(allow("*")))
    with pytest.raises(InvalidClientTokenId):  # no IAM operation with a federation token
        env.call("ListUsers", caller=fed)
    with pytest.raises(AccessDenied):
        env.invoke("sts", "GetFederationToken", caller=fed, Name="again")


def test_session_tags_need_tag_session_and_become_principal_tags(env, proxy):
    tags = [{"Key": "team", "Value": "blue"}]
    err = env.denied(proxy, "sts", "GetFederationToken", Name="bob", Tags=tags)
    assert "sts:TagSession" in err.message
    env.user_caller(
        "proxy",
        allow(["sts:GetFederationToken", "sts:TagSession"], f"arn:aws:sts::{ACCOUNT}:federated-user/*"),
        allow("s3:ListAllMyBuckets", Condition={"StringEquals": {"aws:PrincipalTag/team": "blue"}}),
    )
    proxy = env.user_caller("proxy")
    _, fed = federate(env, proxy, Tags=tags, Policy=policy(allow("s3:ListAllMyBuckets")))
    assert env.invoke("s3", "ListBuckets", caller=fed)["Buckets"]
    record = env.trail("ListBuckets")[0]["userIdentity"]
    assert record["type"] == "FederatedUser" and record["arn"] == FED_ARN
    assert record["sessionContext"]["sessionIssuer"]["arn"] == f"arn:aws:iam::{ACCOUNT}:user/proxy"


# -- AssumeRoleWithSAML ----------------------------------------------------------------------------------

SAML_PROVIDER = f"arn:aws:iam::{ACCOUNT}:saml-provider/corp"
DEV_ARN = f"arn:aws:iam::{ACCOUNT}:role/dev"


@pytest.fixture
def corp(env):
    env.call(
        "CreateSAMLProvider",
        Name="corp",
        SAMLMetadataDocument=saml_metadata(ensure_saml_idp(env.host, "corp-idp")),
    )
    statement = {
        "Effect": "Allow",
        "Principal": {"Federated": SAML_PROVIDER},
        "Action": "sts:AssumeRoleWithSAML",
        "Condition": {
            "StringEquals": {"SAML:aud": "https://signin.aws.amazon.com/saml", "saml:sub": "alice"}
        },
    }
    env.call("CreateRole", RoleName="dev", AssumeRolePolicyDocument=policy(statement))
    return env


def saml_assume(env, assertion: str, **params):
    return env.invoke(
        "sts",
        "AssumeRoleWithSAML",
        RoleArn=DEV_ARN,
        PrincipalArn=SAML_PROVIDER,
        SAMLAssertion=assertion,
        **params,
    )


def test_a_signed_assertion_assumes_the_role(corp):
    env = corp
    assertion = mint_saml(
        env.host,
        "corp-idp",
        "alice",
        [f"{DEV_ARN},{SAML_PROVIDER}"],
        attributes={"https://aws.amazon.com/SAML/Attributes/SessionDuration": ["900"]},
    )
    out = saml_assume(env, assertion)
    assert out["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/dev/alice"
    assert (out["Subject"], out["SubjectType"], out["Issuer"]) == (
        "alice",
        "persistent",
        "https://corp-idp/saml",
    )
    assert out["Audience"] == "https://signin.aws.amazon.com/saml"
    assert out["Credentials"]["Expiration"].timestamp() == START + 900  # the SessionDuration attribute
    identity = env.trail("AssumeRoleWithSAML")[0]["userIdentity"]
    assert identity == {
        "type": "SAMLUser",
        "principalId": f"{out['NameQualifier']}:alice",
        "userName": "alice",
        "identityProvider": out["NameQualifier"],
    }


def test_assertion_errors_are_awss(corp):
    env = corp
    pair = [f"{DEV_ARN},{SAML_PROVIDER}"]
    good = mint_saml(env.host, "corp-idp", "alice", pair)
    tampered = base64.b64encode(base64.b64decode(good).replace(b">alice<", b">root<")).decode()
    ensure_saml_idp(env.host, "rogue-idp")
    cases = [
        ("bm90IHhtbA==", InvalidIdentityToken, "Invalid base64 SAMLResponse"),
        (tampered, InvalidIdentityToken, "Response signature invalid"),
        (mint_saml(env.host, "rogue-idp", "alice", pair), InvalidIdentityToken, "Response signature invalid"),
        (
            mint_saml(env.host, "corp-idp", "alice", pair, audience="https://elsewhere"),
            InvalidIdentityToken,
            "Audience",
        ),
        (
            mint_saml(env.host, "corp-idp", "alice", [f"arn:aws:iam::{ACCOUNT}:role/other,{SAML_PROVIDER}"]),
            AccessDenied,
            "Not authorized to perform sts:AssumeRoleWithSAML",
        ),
        (
            mint_saml(env.host, "corp-idp", "bob", pair),
            AccessDenied,
            "Not authorized to perform sts:AssumeRoleWithSAML",
        ),
    ]
    for assertion, error, words in cases:
        with pytest.raises(error) as raised:
            saml_assume(env, assertion)
        assert words in raised.value.message, (words, raised.value.message)
    with pytest.raises(InvalidIdentityToken) as raised:
        env.invoke(
            "sts",
            "AssumeRoleWithSAML",
            RoleArn=DEV_ARN,
            PrincipalArn=f"arn:aws:iam::{ACCOUNT}:saml-provider/nope",
            SAMLAssertion=good,
        )
    assert raised.value.message == "Specified provider doesn't exist"
    expiring = mint_saml(env.host, "corp-idp", "alice", pair, ttl=60)
    env.clock.advance(60)
    with pytest.raises(ExpiredTokenException):
        saml_assume(env, expiring)
    err = env.denied(
        env.caller,
        "sts",
        "AssumeRoleWithSAML",
        RoleArn=DEV_ARN,
        PrincipalArn=SAML_PROVIDER,
        SAMLAssertion=mint_saml(env.host, "corp-idp", "bob", pair),
    )
    assert err.message == "Not authorized to perform sts:AssumeRoleWithSAML"


def test_githubs_own_claims_are_condition_keys(env):
    env.call("CreateOpenIDConnectProvider", Url=f"https://{GITHUB}", ClientIDList=["sts.amazonaws.com"])
    condition = {
        "StringEquals": {f"{GITHUB}:repository": "org/repo", f"{GITHUB}:environment": "prod"},
        "StringLike": {f"{GITHUB}:job_workflow_ref": "org/repo/.github/workflows/*@refs/heads/main"},
    }
    env.call("CreateRole", RoleName="deploy", AssumeRolePolicyDocument=trust(GITHUB, condition))
    prod = mint(env.host, GITHUB, "repo:org/repo:environment:prod", "sts.amazonaws.com")
    assert assume(env, prod)["SubjectFromWebIdentityToken"] == "repo:org/repo:environment:prod"
    staging = mint(env.host, GITHUB, "repo:org/repo:environment:staging", "sts.amazonaws.com")
    with pytest.raises(AccessDenied):
        assume(env, staging)
