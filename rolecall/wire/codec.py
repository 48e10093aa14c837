"""What every protocol codec shares: the service model, per-operation plans compiled once, validation.

A codec turns an HttpRequest into (operation name, input members) -- parsed and validated against the
model -- and output members or an AwsError back into an HttpResponse. Input and output members are plain
Python values keyed by the model's member names, exactly as boto3 users write and read them:
{"RoleName": "r", "Tags": [{"Key": "k", "Value": "v"}]}; timestamps are timezone-aware datetimes on input,
and may be datetimes, epoch seconds or preformatted strings on output.
"""

from __future__ import annotations

import json
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from botocore.model import OperationModel, ServiceModel, Shape

from rolecall.errors import AwsError, summarize, violation
from rolecall.http import HttpRequest, HttpResponse
from rolecall.wire.validation import Check, ValidatorCompiler

# Shapes whose values AWS leaves out of validation messages although the model does not mark them
# sensitive (observed: IAM's TagUser/TagRole errors read "Value at 'tags.1.member.key' ...").
REDACTED_SHAPES: dict[str, frozenset[str]] = {
    "iam": frozenset({"tagKeyType", "tagValueType"}),
}

# Shapes whose model pattern AWS's documentation contradicts, so it is not enforced here: IAM documents `*` and
# `?` wildcards in InlinePolicyIdentifier.AttachmentName (SimulatePrincipalPolicy's PolicyExclusionList), which
# its pattern [\w+=,.@-]+ would refuse. The handler checks such a value's syntax itself.
UNENFORCED_PATTERNS: dict[str, frozenset[str]] = {
    "iam": frozenset({"AttachmentName"}),
}


INVALID_TEXT = "The request contains text that is not valid Unicode (UTF-8)"


def parse_json(body: bytes | str) -> Any:
    """A JSON document as AWS's services accept one: UTF-8 text whose strings are all valid Unicode (a lone
    surrogate escape such as "\\ud800" is refused), nested no deeper than the parser can go. UnicodeError
    for invalid text, ValueError for anything else that is not JSON."""
    text = body.decode("utf-8") if isinstance(body, bytes | bytearray) else body
    try:
        value = json.loads(text)
    except RecursionError:
        raise ValueError("the JSON document is nested too deeply") from None
    if "\\u" in text:  # only an escape can make a surrogate that strict UTF-8 decoding let through
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    return value


class BadValue(Exception):
    """A wire value that cannot be read as its shape's type. `parts` collects the member path, innermost first."""

    def __init__(self, raw: Any, expected: str) -> None:
        super().__init__(expected)
        self.raw = raw
        self.expected = expected
        self.parts: list[str] = []

    @property
    def path(self) -> str:
        return ".".join(reversed(self.parts))


Compiled = TypeVar("Compiled", bound=Callable[..., Any])


def compile_once(
    cache: dict[str, Compiled], shape: Shape, compile_shape: Callable[[Shape], Compiled]
) -> Compiled:
    """The function compiled for `shape`, from `cache` (keyed by shape name) or compiled now and kept there.

    While a shape compiles, its entry is a placeholder that calls the finished function through the cache,
    so a shape that contains itself compiles once and recurses at run time.
    """
    name = shape.name
    found = cache.get(name)
    if found is not None:
        return found
    cache[name] = cast(Compiled, lambda *args: cache[name](*args))
    compiled = compile_shape(shape)
    cache[name] = compiled
    return compiled


def read_labelled(read: Callable[[Any], Any], raw: Any, segment: str) -> Any:
    """read(raw), with `segment` added to the member path of any BadValue it raises."""
    try:
        return read(raw)
    except BadValue as exc:
        exc.parts.append(segment)
        raise


Step = Callable[[Any, dict[str, Any]], None]


def reader_of_steps(steps: list[Step]) -> Callable[[Any], dict[str, Any]]:
    """One input reader from steps that each add their members (from wherever they live) to the same dict."""

    def read(source: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for step in steps:
            step(source, out)
        return out

    return read


@dataclass
class OperationPlan:
    """Everything precomputed for one operation."""

    model: OperationModel
    read: Callable[[Any], dict[str, Any]]  # protocol-specific: wire form -> input members
    check: Check | None  # input validation, None when the input has nothing to check
    write: Callable[[Any], Any] | None  # protocol-specific: output members -> wire form


class Codec(ABC):
    """One protocol for one service model. Create through rolecall.wire.codec_for (instances are cached)."""

    protocol: str = ""
    validation_error_code = "ValidationError"

    def __init__(self, model: ServiceModel) -> None:
        self.model = model
        self.service_name: str = model.service_name
        self.operation_names = frozenset(model.operation_names)
        self._validators = ValidatorCompiler(
            REDACTED_SHAPES.get(self.service_name, frozenset()),
            UNENFORCED_PATTERNS.get(self.service_name, frozenset()),
        )
        self._plans: dict[str, OperationPlan] = {}
        self._compiling = threading.Lock()  # compilers' caches are not safe to fill from two threads

    # -- the interface the pipeline uses -----------------------------------------------------------------

    def decode(self, req: HttpRequest, *, validate: bool = True) -> tuple[str, dict[str, Any]]:
        """(operation name, input members), parsed and (unless validate=False) validated against the model.

        Raises AwsError with AWS's code and message. Text that is not valid Unicode (malformed UTF-8, a
        lone UTF-16 surrogate in a JSON escape) is refused here, in every protocol: no store, encoder or
        later reader could keep it.
        """
        try:
            return self._decode(req, validate=validate)
        except UnicodeError:
            raise self.bad_value_error(BadValue("", INVALID_TEXT)) from None

    @abstractmethod
    def _decode(self, req: HttpRequest, *, validate: bool) -> tuple[str, dict[str, Any]]:
        """decode() for one protocol; text it decodes strictly, letting UnicodeError out."""

    @abstractmethod
    def encode(self, operation: str, output: dict[str, Any] | None, request_id: str) -> HttpResponse:
        """The success response for `operation` carrying `output` (member name -> value)."""

    @abstractmethod
    def encode_error(self, err: AwsError, request_id: str, operation: str | None = None) -> HttpResponse:
        """The protocol's error envelope for `err`, with err.status."""

    def for_request(self, req: HttpRequest) -> Codec:
        """The codec for this request: itself, unless the service speaks several protocols and the
        request's marks choose another (CloudWatch: CBOR or JSON)."""
        return self

    # -- shared machinery ----------------------------------------------------------------------------------

    def plan(self, operation: str) -> OperationPlan:
        """The operation's compiled reader, validator and writer (built on first use, then cached)."""
        plan = self._plans.get(operation)
        if plan is None:
            with self._compiling:
                plan = self._plans.get(operation)
                if plan is None:
                    op_model = self.model.operation_model(operation)
                    plan = OperationPlan(
                        model=op_model,
                        read=self._compile_reader(op_model),
                        check=self._validators.compile(op_model.input_shape),
                        write=self._compile_writer(op_model),
                    )
                    self._plans[operation] = plan
        return plan

    def read_input(self, operation: str, wire: Any, *, validate: bool) -> dict[str, Any]:
        """The operation's input members read from `wire` (the protocol's request form), validated unless
        validate=False. A value that cannot be read as its type raises the protocol's bad_value_error."""
        try:
            members = self.plan(operation).read(wire)
        except BadValue as exc:
            raise self.bad_value_error(exc) from None
        if validate:
            self.validate(operation, members)
        return members

    def violations(self, operation: str, params: dict[str, Any]) -> list[str]:
        """One message per way `params` break the input shape's constraints (none when they do not)."""
        check = self.plan(operation).check
        messages: list[str] = []
        if check is not None:
            check(params, "", messages)
        return messages

    def validate(self, operation: str, params: dict[str, Any]) -> None:
        """Raise the service's validation error if `params` break the input shape's constraints."""
        messages = self.violations(operation, params)
        if messages:
            raise self.validation_error(messages)

    def validation_error(self, messages: list[str]) -> AwsError:
        return AwsError(summarize(messages), code=self.validation_error_code, status=400)

    @abstractmethod
    def _compile_reader(self, op_model: OperationModel) -> Callable[[Any], dict[str, Any]]: ...

    @abstractmethod
    def _compile_writer(self, op_model: OperationModel) -> Callable[[Any], Any] | None: ...

    def bad_value_error(self, exc: BadValue) -> AwsError:
        """The error for a wire value that cannot be read as its shape's type (a validation error unless the
        protocol says otherwise)."""
        return self.validation_error([violation(exc.raw, exc.path, exc.expected)])
