"""Input validation from the models, with the codes and messages AWS returns."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from rolecall.errors import AwsError
from rolecall.wire import HttpRequest, codec_for
from rolecall.wire.patterns import compile_pattern, translate
from rolecall.wire.validation import java_length
from tests.wire.botocore_io import request_for

IAM = codec_for("iam")
STS = codec_for("sts")
TRUST = '{"Version":"2012-10-17","Statement":[]}'
TAG_PATTERN = r"[\p{L}\p{Z}\p{N}_.:/=+\-@]+"


def query(codec, action: str, **params: str) -> str:
    body = urlencode({"Action": action, "Version": codec.api_version, **params})
    request = HttpRequest(
        "POST", "/", "", {"Content-Type": "application/x-www-form-urlencoded"}, body.encode()
    )
    with pytest.raises(AwsError) as caught:
        codec.decode(request)
    assert (caught.value.code, caught.value.status) == ("ValidationError", 400)
    return caught.value.message


def test_role_name_pattern() -> None:
    message = query(IAM, "CreateRole", RoleName="my role", AssumeRolePolicyDocument=TRUST)
    assert message == (
        "1 validation error detected: Value 'my role' at 'roleName' failed to satisfy constraint: "
        r"Member must satisfy regular expression pattern: [\w+=,.@-]+"
    )


def test_role_name_length() -> None:
    name = "r" * 65
    message = query(IAM, "CreateRole", RoleName=name, AssumeRolePolicyDocument=TRUST)
    assert message == (
        f"1 validation error detected: Value '{name}' at 'roleName' failed to satisfy constraint: "
        "Member must have length less than or equal to 64"
    )


def test_word_characters_are_ascii_as_in_java() -> None:
    message = query(IAM, "CreateRole", RoleName="rôle", AssumeRolePolicyDocument=TRUST)
    assert "Value 'rôle' at 'roleName'" in message


def test_missing_required_members_all_reported() -> None:
    message = query(IAM, "CreateRole")
    assert message == (
        "2 validation errors detected: "
        "Value null at 'roleName' failed to satisfy constraint: Member must not be null; "
        "Value null at 'assumeRolePolicyDocument' failed to satisfy constraint: Member must not be null"
    )


def test_enum() -> None:
    message = query(IAM, "ListPolicies", Scope="Everything")
    assert message == (
        "1 validation error detected: Value 'Everything' at 'scope' failed to satisfy constraint: "
        "Member must satisfy enum value set: [All, AWS, Local]"
    )


def test_integer_ranges() -> None:
    message = query(STS, "GetSessionToken", DurationSeconds="600")
    assert message == (
        "1 validation error detected: Value '600' at 'durationSeconds' failed to satisfy constraint: "
        "Member must have value greater than or equal to 900"
    )
    message = query(IAM, "ListRoles", MaxItems="1001")
    assert message.endswith("Member must have value less than or equal to 1000")


def test_role_session_name_and_arn_lengths_together() -> None:
    message = query(STS, "AssumeRole", RoleArn="arn:short", RoleSessionName="a")
    assert message.startswith("2 validation errors detected: ")
    assert (
        "Value 'arn:short' at 'roleArn' failed to satisfy constraint: Member must have length greater than or equal to 20"
        in message
    )
    assert (
        "Value 'a' at 'roleSessionName' failed to satisfy constraint: Member must have length greater than or equal to 2"
        in message
    )


def test_tag_values_are_not_echoed() -> None:
    message = query(
        IAM, "TagRole", RoleName="r", **{"Tags.member.1.Key": "bad#key", "Tags.member.1.Value": "v"}
    )
    assert message == (
        "1 validation error detected: Value at 'tags.1.member.key' failed to satisfy constraint: "
        f"Member must satisfy regular expression pattern: {TAG_PATTERN}"
    )


def test_tag_without_value() -> None:
    message = query(IAM, "TagRole", RoleName="r", **{"Tags.member.1.Key": "k"})
    assert message == (
        "1 validation error detected: Value at 'tags.1.member.value' failed to satisfy constraint: "
        "Member must not be null"
    )


def test_empty_tag_key_breaks_length_then_pattern() -> None:
    message = query(IAM, "TagRole", RoleName="r", **{"Tags.member.1.Key": "", "Tags.member.1.Value": "v"})
    assert message == (
        "2 validation errors detected: "
        "Value at 'tags.1.member.key' failed to satisfy constraint: Member must have length greater than or equal to 1; "
        f"Value at 'tags.1.member.key' failed to satisfy constraint: Member must satisfy regular expression pattern: {TAG_PATTERN}"
    )


def test_too_many_tags_and_a_bad_one() -> None:
    params = {}
    for i in range(1, 52):
        params[f"Tags.member.{i}.Key"] = f"k{i}" if i < 51 else "bad#key"
        params[f"Tags.member.{i}.Value"] = "v"
    message = query(IAM, "TagRole", RoleName="r", **params)
    assert message == (
        "2 validation errors detected: "
        "Value at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50; "
        f"Value at 'tags.51.member.key' failed to satisfy constraint: Member must satisfy regular expression pattern: {TAG_PATTERN}"
    )


def test_bad_keys_in_a_list_of_strings_are_one_violation() -> None:
    message = query(
        IAM,
        "UntagRole",
        RoleName="r",
        **{"TagKeys.member.1": "bad#", "TagKeys.member.2": "k", "TagKeys.member.3": "bad*"},
    )
    assert message == (
        "1 validation error detected: Value at 'tagKeys' failed to satisfy constraint: Member must satisfy constraint: "
        "[Member must have length less than or equal to 128, Member must have length greater than or equal to 1, "
        f"Member must satisfy regular expression pattern: {TAG_PATTERN}, Member must not be null]"
    )


def test_unicode_letters_are_valid_tag_keys() -> None:
    params = {"RoleName": "r", "Tags": [{"Key": "équipe 日本 ٣", "Value": "ok"}]}
    assert IAM.decode(request_for("iam", "TagRole", params))[1] == params


def test_nested_list_elements_are_validated() -> None:
    body = {
        "PolicySourceArn": "arn:aws:iam::123456789012:role/r",
        "ActionNames.member.1": "s3:GetObject",
        "ContextEntries.member.1.ContextKeyName": "aws:SourceIp",
        "ContextEntries.member.1.ContextKeyType": "address",
    }
    message = query(IAM, "SimulatePrincipalPolicy", **body)
    assert message == (
        "1 validation error detected: Value 'address' at 'contextEntries.1.member.contextKeyType' failed to "
        "satisfy constraint: Member must satisfy enum value set: [string, stringList, numeric, numericList, "
        "boolean, booleanList, ip, ipList, binary, binaryList, date, dateList]"
    )


def test_sensitive_members_are_not_echoed() -> None:
    message = query(
        STS,
        "AssumeRoleWithSAML",
        RoleArn="arn:aws:iam::123456789012:role/r",
        PrincipalArn="arn:aws:iam::123456789012:saml-provider/p",
        SAMLAssertion="abc",
    )
    assert (
        "Value at 'sAMLAssertion' failed to satisfy constraint: Member must have length greater than or equal to 4"
        in message
    )
    assert "'abc'" not in message


def test_valid_request_passes() -> None:
    params = {"RoleName": "a+b=c,d.e@f-g_h", "AssumeRolePolicyDocument": TRUST, "Path": "/a/b/"}
    assert IAM.decode(request_for("iam", "CreateRole", params))[1] == params


def test_java_length_counts_utf16_units() -> None:
    assert java_length("abc") == 3
    assert java_length("é") == 1
    assert java_length("😀") == 2


@pytest.mark.parametrize(
    ("pattern", "good", "bad"),
    [
        (r"[\w+=,.@-]+", "a_b", "a b"),
        (TAG_PATTERN, "Ünïcödé 1", "a#b"),
        (r"[\u0009\u000A\u000D\u0020-\u00FF]+", "tab\there ÿ", "a\x01"),
        (r"\p{Alpha}+", "abc", "ab1"),
        (r"[^\p{Lu}]+", "abc", "aBc"),
        (r"a\x{1F600}b", "a😀b", "ab"),
        (r"(/)|(/[\u0021-\u007F]+/)", "/a/", "/a"),
    ],
)
def test_java_patterns_translate(pattern: str, good: str, bad: str) -> None:
    compiled = compile_pattern(pattern)
    assert compiled is not None
    assert compiled.fullmatch(good)
    assert not compiled.fullmatch(bad)


@pytest.mark.parametrize("pattern", [r"[a-z&&[^b]]", r"[a[b]]", r"\Qa.b\E", r"[\P{L}]", r"[a-"])
def test_untranslatable_patterns_are_skipped(pattern: str) -> None:
    assert compile_pattern(pattern) is None


def test_translation_keeps_leading_bracket_literal() -> None:
    assert translate("[]a]") == r"[\]a]"


# -- tagged unions: exactly one member ------------------------------------------------------------------------

SOURCE = "arn:aws:iam::123456789012:user/u"
UNION_RULE = (
    "failed to satisfy constraint: Member must have exactly one of the following members set: "
    "[policyType, policyArn, inlinePolicyIdentifier]"
)


def test_union_with_two_members_is_refused() -> None:
    message = query(
        IAM,
        "SimulatePrincipalPolicy",
        PolicySourceArn=SOURCE,
        **{
            "ActionNames.member.1": "s3:GetObject",
            "PolicyExclusionList.member.1.PolicyType": "inline",
            "PolicyExclusionList.member.2.PolicyType": "inline",
            "PolicyExclusionList.member.2.PolicyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess",
        },
    )
    assert message == f"1 validation error detected: Value at 'policyExclusionList.2.member' {UNION_RULE}"


def test_union_with_no_member_is_refused() -> None:
    # A member this model does not know leaves the union empty: nothing says what to exclude.
    message = query(
        IAM,
        "SimulatePrincipalPolicy",
        PolicySourceArn=SOURCE,
        **{"ActionNames.member.1": "s3:GetObject", "PolicyExclusionList.member.1.PolicyTag": "x"},
    )
    assert message == f"1 validation error detected: Value at 'policyExclusionList.1.member' {UNION_RULE}"


def test_union_member_constraints_still_apply() -> None:
    message = query(
        IAM,
        "SimulatePrincipalPolicy",
        PolicySourceArn=SOURCE,
        **{
            "ActionNames.member.1": "s3:GetObject",
            "PolicyExclusionList.member.1.InlinePolicyIdentifier.PolicyName": "p",
            "PolicyExclusionList.member.1.InlinePolicyIdentifier.AttachmentType": "user",
        },
    )
    assert message == (
        "1 validation error detected: Value null at "
        "'policyExclusionList.1.member.inlinePolicyIdentifier.attachmentName' failed to satisfy constraint: "
        "Member must not be null"
    )


@pytest.mark.parametrize(
    "identifier",
    [
        {"PolicyType": "inline"},
        {"PolicyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"},
        {"InlinePolicyIdentifier": {"PolicyName": "p", "AttachmentType": "role", "AttachmentName": "r*"}},
    ],
)
def test_union_with_one_member_passes(identifier: dict) -> None:
    params = {"PolicySourceArn": SOURCE, "ActionNames": ["s3:GetObject"], "PolicyExclusionList": [identifier]}
    assert IAM.decode(request_for("iam", "SimulatePrincipalPolicy", params))[1] == params


def test_json_union_refused_in_the_services_style() -> None:
    body = {"integrationName": "i", "integrationType": "OPENSEARCH", "resourceConfig": {}}
    request = HttpRequest(
        "POST",
        "/",
        "",
        {"X-Amz-Target": "Logs_20140328.PutIntegration", "Content-Type": "application/x-amz-json-1.1"},
        json.dumps(body).encode(),
    )
    logs = codec_for("logs")
    with pytest.raises(AwsError) as caught:
        logs.decode(request)
    assert caught.value.message == (
        "1 validation error detected: Value at 'resourceConfig' failed to satisfy constraint: "
        "Member must have exactly one of the following members set: [openSearchResourceConfig]"
    )
    response = logs.encode_error(caught.value, "r")  # Logs calls model validation failures this
    assert json.loads(response.body)["__type"] == "InvalidParameterException"


def test_rest_xml_union_refused() -> None:
    request = request_for(
        "s3",
        "UpdateObjectEncryption",
        {
            "Bucket": "b",
            "Key": "k",
            "ObjectEncryption": {"SSEKMS": {"KMSKeyArn": "arn:aws:kms:us-east-1:123456789012:key/k"}},
        },
    )
    request.body = b'<ObjectEncryption xmlns="http://s3.amazonaws.com/doc/2006-03-01/"></ObjectEncryption>'
    with pytest.raises(AwsError) as caught:
        codec_for("s3").decode(request)
    assert caught.value.code == "InvalidArgument"
    assert "Value at 'objectEncryption' failed to satisfy constraint" in caught.value.message
