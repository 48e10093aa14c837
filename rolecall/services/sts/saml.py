"""SAML 2.0 federation: local identity providers that sign assertions, and the verification of an
AssumeRoleWithSAML request's assertion.

XML signatures are checked with signxml (pure Python over lxml and cryptography, maintained, and built to
return only the signed subtree, which defeats signature-wrapping attacks: every value below is read from
what the signature covers, never from the document around it). Verification, as the IAM User Guide
describes what AWS checks:

1. the SAMLResponse is base64 of an XML Response (InvalidIdentityToken);
2. PrincipalArn names a SAML provider of the role's account (InvalidIdentityToken);
3. the Response or its Assertion is signed by a certificate of the provider's metadata (InvalidIdentityToken);
4. the assertion is for AWS: Audience https://signin.aws.amazon.com/saml, and a bearer SubjectConfirmation
   whose Recipient is the same URL (InvalidIdentityToken), not yet expired: NotOnOrAfter
   (ExpiredTokenException), NotBefore passed;
5. the Role attribute lists the pair "RoleArn,PrincipalArn" (in either order) and RoleSessionName is given
   (else AccessDenied / InvalidIdentityToken).

Local providers (kind "saml_idp" of the pseudo-account "rolecall") hold an RSA key and a self-signed
certificate; their metadata is served at /_rolecall/saml/NAME/metadata and their assertions are minted at
POST /_rolecall/saml-assertion (an account's root user only), or by `rolecall saml issue-assertion`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree
from signxml import InvalidInput as SignxmlInvalidInput
from signxml import InvalidSignature, SignatureConfiguration, XMLSigner, XMLVerifier
from signxml.algorithms import CanonicalizationMethod, SignatureMethod

from rolecall.core.context import Caller
from rolecall.core.host import Host
from rolecall.errors import AccessDenied, AwsError, InvalidParameterValue, ValidationError
from rolecall.http import HttpRequest, HttpResponse
from rolecall.services.sts.errors import ExpiredTokenException, InvalidIdentityToken
from rolecall.store import Conflict

ACCOUNT = "rolecall"
KIND = "saml_idp"
PROVIDER_KIND = "saml_provider"  # rolecall.services.iam.saml_providers stores them
ROUTE = "/_rolecall/saml/"
MINT_ROUTE = "/_rolecall/saml-assertion"
AWS_SAML = "https://signin.aws.amazon.com/saml"
ATTR = "https://aws.amazon.com/SAML/Attributes/"
NS = {
    "samlp": "urn:oasis:names:tc:SAML:2.0:protocol",
    "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
    "md": "urn:oasis:names:tc:SAML:2.0:metadata",
    "ds": "http://www.w3.org/2000/09/xmldsig#",
}
PERSISTENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
TRANSIENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
DEFAULT_TTL = 300


def parser() -> etree.XMLParser:
    """No DTDs, entities or network: an assertion comes from the caller."""
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


# -- local identity providers ------------------------------------------------------------------------------


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _new_idp(host: Host, name: str) -> dict[str, Any]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = datetime.fromtimestamp(host.clock.time(), UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return {
        "Name": name,
        "EntityId": f"https://{name}/saml",
        "Certificate": cert.public_bytes(serialization.Encoding.PEM).decode(),
        "PrivateKeySealed": host.config.secret_box.seal(pem),
    }


def ensure_idp(host: Host, name: str) -> dict[str, Any]:
    """The local identity provider `name`, created with a new key and certificate on first use."""
    if not name or len(name) > 128 or not all(c.isalnum() or c in "._-" for c in name):
        raise InvalidParameterValue(f"Invalid identity provider name {name!r}: letters, digits and ._- only.")
    with host.store.read_transaction() as tx:
        doc = tx.get(ACCOUNT, KIND, name)
    if doc is not None:
        return doc
    fresh = _new_idp(host, name)
    with host.store.transaction() as tx:
        doc = tx.get(ACCOUNT, KIND, name)
        if doc is not None:
            return doc
        try:
            tx.insert(ACCOUNT, KIND, name, fresh)
        except Conflict:
            pass
    return fresh


def metadata(doc: dict[str, Any]) -> str:
    """The provider's SAML metadata, what CreateSAMLProvider takes."""
    body = "".join(doc["Certificate"].strip().splitlines()[1:-1])
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<md:EntityDescriptor xmlns:md="{NS["md"]}" xmlns:ds="{NS["ds"]}" entityID="{doc["EntityId"]}">\n'
        f'  <md:IDPSSODescriptor protocolSupportEnumeration="{NS["samlp"]}">\n'
        '    <md:KeyDescriptor use="signing">\n'
        f"      <ds:KeyInfo><ds:X509Data><ds:X509Certificate>{body}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>\n"
        "    </md:KeyDescriptor>\n"
        f"    <md:NameIDFormat>{PERSISTENT}</md:NameIDFormat>\n"
        f'    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" '
        f'Location="https://{doc["Name"]}/saml/sso"/>\n'
        "  </md:IDPSSODescriptor>\n"
        "</md:EntityDescriptor>\n"
    )


def mint(
    host: Host,
    name: str,
    subject: str,
    roles: list[str],
    *,
    session_name: str | None = None,
    attributes: dict[str, list[str]] | None = None,
    ttl: int = DEFAULT_TTL,
    audience: str = AWS_SAML,
) -> str:
    """A base64 SAMLResponse with an Assertion signed by the local provider `name` (created on first use)."""
    doc = ensure_idp(host, name)
    now = datetime.fromtimestamp(host.clock.time(), UTC)
    until = _iso(now + timedelta(seconds=ttl))
    saml, samlp = NS["saml"], NS["samlp"]
    E = etree.Element

    def sub(parent: Any, tag: str, text: str | None = None, **attrs: str) -> Any:
        element = etree.SubElement(parent, tag, attrs)
        if text is not None:
            element.text = text
        return element

    assertion = E(
        f"{{{saml}}}Assertion",
        {"ID": f"_{uuid.uuid4().hex}", "Version": "2.0", "IssueInstant": _iso(now)},
        nsmap={"saml": saml},
    )
    sub(assertion, f"{{{saml}}}Issuer", doc["EntityId"])
    etree.SubElement(assertion, f"{{{NS['ds']}}}Signature", {"Id": "placeholder"}, nsmap={"ds": NS["ds"]})
    subj = sub(assertion, f"{{{saml}}}Subject")
    sub(subj, f"{{{saml}}}NameID", subject, Format=PERSISTENT)
    confirmation = sub(subj, f"{{{saml}}}SubjectConfirmation", Method="urn:oasis:names:tc:SAML:2.0:cm:bearer")
    sub(confirmation, f"{{{saml}}}SubjectConfirmationData", NotOnOrAfter=until, Recipient=AWS_SAML)
    conditions = sub(assertion, f"{{{saml}}}Conditions", NotBefore=_iso(now), NotOnOrAfter=until)
    sub(sub(conditions, f"{{{saml}}}AudienceRestriction"), f"{{{saml}}}Audience", audience)
    authn = sub(
        assertion, f"{{{saml}}}AuthnStatement", AuthnInstant=_iso(now), SessionIndex=f"_{uuid.uuid4().hex}"
    )
    sub(
        sub(authn, f"{{{saml}}}AuthnContext"),
        f"{{{saml}}}AuthnContextClassRef",
        "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport",
    )
    values = {f"{ATTR}Role": roles, f"{ATTR}RoleSessionName": [session_name or subject], **(attributes or {})}
    statement = sub(assertion, f"{{{saml}}}AttributeStatement")
    for attr_name, attr_values in values.items():
        attribute = sub(statement, f"{{{saml}}}Attribute", Name=attr_name)
        for value in attr_values:
            sub(attribute, f"{{{saml}}}AttributeValue", value)
    key = host.config.secret_box.open(doc["PrivateKeySealed"])
    signed = XMLSigner(c14n_algorithm=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0).sign(
        assertion, key=key, cert=doc["Certificate"], reference_uri=assertion.get("ID")
    )
    response = E(
        f"{{{samlp}}}Response",
        {"ID": f"_{uuid.uuid4().hex}", "Version": "2.0", "IssueInstant": _iso(now), "Destination": AWS_SAML},
        nsmap={"samlp": samlp, "saml": saml},
    )
    sub(response, f"{{{saml}}}Issuer", doc["EntityId"])
    status = sub(response, f"{{{samlp}}}Status")
    sub(status, f"{{{samlp}}}StatusCode", Value="urn:oasis:names:tc:SAML:2.0:status:Success")
    response.append(signed)
    return base64.b64encode(etree.tostring(response)).decode()


# -- verification ------------------------------------------------------------------------------------------


def _time(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise InvalidIdentityToken(f"Invalid time in the assertion: {text}") from None


def _provider_parts(arn: str) -> tuple[str, str]:
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[2] != "iam" or not parts[5].startswith("saml-provider/"):
        raise InvalidIdentityToken("Specified provider doesn't exist")
    return parts[4], parts[5][len("saml-provider/") :]


def verified_assertion(host: Host, params: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """(the signed Assertion element, the provider document) of an AssumeRoleWithSAML request."""
    try:
        raw = base64.b64decode(params["SAMLAssertion"], validate=True)
        root = etree.fromstring(raw, parser())
    except (ValueError, etree.XMLSyntaxError):
        raise InvalidIdentityToken("Invalid base64 SAMLResponse") from None
    account, name = _provider_parts(params["PrincipalArn"])
    role_account = params["RoleArn"].split(":")[4] if params["RoleArn"].count(":") >= 5 else ""
    with host.store.read_transaction() as tx:
        provider = tx.get(account, PROVIDER_KIND, name) if account == role_account else None
    if provider is None or provider["Arn"] != params["PrincipalArn"]:
        raise InvalidIdentityToken("Specified provider doesn't exist")
    signed = None
    config = SignatureConfiguration(
        verification_time=datetime.fromtimestamp(host.clock.time(), UTC),
        # Public-key signatures only: an HMAC "signature" would be keyed by whatever the caller chose.
        signature_methods=frozenset(m for m in SignatureMethod if "HMAC" not in m.name),
    )
    for cert in provider["SigningCertificates"]:
        try:
            result = XMLVerifier().verify(root, x509_cert=cert, id_attribute="ID", expect_config=config)
        except (InvalidSignature, SignxmlInvalidInput, ValueError):
            continue
        if isinstance(result, list):  # several signatures: only one is expected
            continue
        signed = result.signed_xml
        break
    if signed is None:
        raise InvalidIdentityToken("Response signature invalid")
    assertion = signed if signed.tag == f"{{{NS['saml']}}}Assertion" else signed.find("saml:Assertion", NS)
    if assertion is None:
        raise InvalidIdentityToken("Response signature invalid")
    return assertion, provider


def _text(element: Any, path: str) -> str | None:
    found = element.find(path, NS)
    return None if found is None or found.text is None else found.text.strip()


def saml_caller(host: Host, params: dict[str, Any]) -> Caller:
    """The federated principal an AssumeRoleWithSAML request speaks for, its attributes as request context."""
    if params["RoleArn"].count(":") < 5 or ":role/" not in params["RoleArn"]:
        raise ValidationError("Request ARN is invalid")
    assertion, provider = verified_assertion(host, params)
    now = host.clock.time()
    audiences = [
        a.text.strip() for a in assertion.findall(".//saml:AudienceRestriction/saml:Audience", NS) if a.text
    ]
    if AWS_SAML not in audiences and "urn:amazon:webservices" not in audiences:
        raise InvalidIdentityToken(f"Audience is invalid: the assertion is not for {AWS_SAML}")
    conditions = assertion.find("saml:Conditions", NS)
    if conditions is not None:
        before, after = _time(conditions.get("NotBefore")), _time(conditions.get("NotOnOrAfter"))
        if before is not None and now < before:
            raise InvalidIdentityToken("Assertion is not yet valid (NotBefore)")
        if after is not None and now >= after:
            raise ExpiredTokenException("Assertion has expired (NotOnOrAfter)")
    recipient = None
    for data in assertion.findall(".//saml:SubjectConfirmation/saml:SubjectConfirmationData", NS):
        if data.get("Recipient") == AWS_SAML:
            recipient = data
    if recipient is None:
        raise InvalidIdentityToken(
            f"Invalid Recipient: the assertion's SubjectConfirmationData is not for {AWS_SAML}"
        )
    expiry = _time(recipient.get("NotOnOrAfter"))
    if expiry is not None and now >= expiry:
        raise ExpiredTokenException("Assertion has expired (SubjectConfirmationData NotOnOrAfter)")
    attributes: dict[str, list[str]] = {}
    for attribute in assertion.findall(".//saml:AttributeStatement/saml:Attribute", NS):
        values = [v.text.strip() for v in attribute.findall("saml:AttributeValue", NS) if v.text]
        attributes.setdefault(attribute.get("Name") or "", []).extend(values)
    pairs = [{p.strip() for p in value.split(",")} for value in attributes.get(f"{ATTR}Role", [])]
    if {params["RoleArn"], params["PrincipalArn"]} not in pairs:
        raise AccessDenied("Not authorized to perform sts:AssumeRoleWithSAML")
    session_names = attributes.get(f"{ATTR}RoleSessionName") or []
    if not session_names:
        raise InvalidIdentityToken("RoleSessionName is required in AuthnResponse")
    issuer = _text(assertion, "saml:Issuer") or ""
    name_id = assertion.find("saml:Subject/saml:NameID", NS)
    subject = (name_id.text or "").strip() if name_id is not None else ""
    fmt = name_id.get("Format", "") if name_id is not None else ""
    sub_type = {PERSISTENT: "persistent", TRANSIENT: "transient"}.get(fmt, fmt)
    account = provider["Arn"].split(":")[4]
    # AWS: BASE64(SHA1(issuer + account + "/" + provider name)) (IAM User Guide, saml:namequalifier).
    qualifier = base64.b64encode(
        hashlib.sha1(f"{issuer}{account}/{provider['Name']}".encode()).digest()
    ).decode()
    context: dict[str, Any] = {
        "aws:FederatedProvider": provider["Arn"],
        "saml:aud": AWS_SAML,
        "saml:iss": issuer,
        "saml:sub": subject,
        "saml:sub_type": sub_type,
        "saml:namequalifier": qualifier,
        "saml:doc": f"{account}/{provider['Name']}",
        "sts:RoleSessionName": session_names[0],
    }
    tags = {
        n[len(f"{ATTR}PrincipalTag:") :]: v[0]
        for n, v in attributes.items()
        if n.startswith(f"{ATTR}PrincipalTag:") and v
    }
    transitive = [k for k in attributes.get(f"{ATTR}TransitiveTagKeys", []) if k in tags]
    if tags:
        context["aws:TagKeys"] = list(tags)
        context.update({f"aws:RequestTag/{k}": v for k, v in tags.items()})
    if transitive:
        context["sts:TransitiveTagKeys"] = transitive
    source_identities = attributes.get(f"{ATTR}SourceIdentity") or []
    source_identity = source_identities[0] if source_identities else None
    if source_identity:
        context["sts:SourceIdentity"] = source_identity
    durations = attributes.get(f"{ATTR}SessionDuration") or []
    return Caller(
        account=account,
        arn=provider["Arn"],
        type="SAMLUser",
        principal_id=f"{qualifier}:{subject}",
        user_name=subject,
        session={
            "kind": "saml",
            "provider": provider["Arn"],
            "identity_provider": qualifier,
            "subject": subject,
            "subject_type": sub_type,
            "issuer": issuer,
            "audience": AWS_SAML,
            "session_name": session_names[0],
            "duration": int(durations[0]) if durations and durations[0].isdigit() else None,
            "tags": tags,
            "transitive": [k.lower() for k in transitive],
            "source_identity": source_identity,
            "context": context,
        },
    )


# -- routes ------------------------------------------------------------------------------------------------


def _json(status: int, body: dict[str, Any]) -> HttpResponse:
    return HttpResponse(status, [("Content-Type", "application/json")], json.dumps(body).encode())


def serve_metadata(host: Host, req: HttpRequest) -> HttpResponse:
    """GET /_rolecall/saml/NAME/metadata: a local provider's metadata (public, as an IdP's is)."""
    name, sep, what = req.path[len(ROUTE) :].partition("/")
    if req.method != "GET" or what != "metadata":
        return _json(404, {"Error": {"Code": "NotFound", "Message": f"No such path: {req.path}"}})
    with host.store.read_transaction() as tx:
        doc = tx.get(ACCOUNT, KIND, name)
    if doc is None:
        return _json(
            404, {"Error": {"Code": "NotFound", "Message": f"rolecall has no local SAML provider {name}."}}
        )
    return HttpResponse(200, [("Content-Type", "application/samlmetadata+xml")], metadata(doc).encode())


def serve_mint(host: Host, req: HttpRequest) -> HttpResponse:
    """POST /_rolecall/saml-assertion, signed by an account's root user, JSON {"idp", "subject", "roles",
    "session_name"?, "attributes"?, "ttl"?, "metadata_only"?}: {"assertion", "metadata"}."""
    try:
        if req.method != "POST":
            raise InvalidParameterValue(f"Use POST {MINT_ROUTE}.")
        caller = host.authenticate(req)
        if not caller.is_root:
            raise AccessDenied(
                f"User: {caller.arn} is not authorized to mint assertions of rolecall's local SAML providers: "
                "only an account's root user may."
            )
        try:
            body = json.loads(req.body or b"{}")
        except ValueError:
            raise InvalidParameterValue("The request body is not JSON.") from None
        if not isinstance(body, dict):
            raise InvalidParameterValue("The request body must be a JSON object.")
        doc = ensure_idp(host, str(body.get("idp") or ""))
        out: dict[str, Any] = {"metadata": metadata(doc)}
        if not body.get("metadata_only"):
            subject, roles = body.get("subject"), body.get("roles")
            if not isinstance(subject, str) or not subject:
                raise InvalidParameterValue("subject is required (a string).")
            if not isinstance(roles, list) or not roles or not all(isinstance(r, str) for r in roles):
                raise InvalidParameterValue('roles is required: a list of "ROLE_ARN,PROVIDER_ARN" strings.')
            attributes = body.get("attributes") or {}
            if not isinstance(attributes, dict) or not all(
                isinstance(v, list) and all(isinstance(x, str) for x in v) for v in attributes.values()
            ):
                raise InvalidParameterValue("attributes must map names to lists of strings.")
            ttl = body.get("ttl", DEFAULT_TTL)
            if not isinstance(ttl, int) or not 1 <= ttl <= 86400:
                raise InvalidParameterValue("ttl must be a number of seconds from 1 to 86400.")
            out["assertion"] = mint(
                host,
                doc["Name"],
                subject,
                roles,
                session_name=body.get("session_name"),
                attributes=attributes,
                ttl=ttl,
            )
        return _json(200, out)
    except AwsError as err:
        return _json(err.status, {"Error": {"Code": err.code, "Message": err.message}})
