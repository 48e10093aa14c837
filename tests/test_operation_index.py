"""The operation index: every operation of every service declares the IAM action it is authorized by (or is
public, for a reason given here), has a unit test and an end-to-end test that name it, and its family's
unit tests include a refusal; docs/OPERATIONS.md is generated from the same tables.

Regenerate the document with `python -m tests.test_operation_index`.

How a test names an operation (an operation of rolecall/services/<pkg>/ is looked for in the test functions
of tests/services/<pkg>/ and tests/e2e/<pkg>/, decorators included, docstrings not):
  - a unit test passes its name as a string, as the harness takes it: `call("CreateRole", ...)`;
  - an end-to-end test calls it with a real client: the boto3 method (`iam.create_role(...)`, botocore's
    xform_name of the name; a paginator's name counts too) or the AWS CLI command (`create-role`).
A family's refusal is a unit test that calls the harness's `denied(caller, service, "Operation", ...)` on
one of its operations, or in a loop over names that include it (or, when the names are not literal there,
calls denied() and names it anywhere).
"""

from __future__ import annotations

import ast
import re
import sys
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from botocore import xform_name

from rolecall.core.operations import OperationSpec
from rolecall.services import SERVICES

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "OPERATIONS.md"
REGENERATE = "python -m tests.test_operation_index"

# Operations authorized without an IAM action of their own, and why. Nothing else may be public.
PUBLIC = {
    ("sts", "GetCallerIdentity"): "needs no permission and works even under an explicit deny, as on AWS",
    ("sts", "GetSessionToken"): "policies cannot control authentication operations (AWS STS API reference)",
    ("s3", "DeleteObjects"): "authorized key by key (s3:DeleteObject); refused keys are reported as errors",
}


@dataclass
class Operation:
    service: str  # signing name, "iam"
    package: str  # rolecall/services/<package>/, "lambda_"
    spec: OperationSpec
    family: str  # the class holding the handler
    unit: set[str] = field(default_factory=set)  # test functions, "tests/services/iam/test_roles.py::test_x"
    e2e: set[str] = field(default_factory=set)
    refusals: set[str] = field(default_factory=set)  # unit tests that name it and expect a denial

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def source(self) -> tuple[str, int]:
        file, line = self.spec.source
        return Path(file).resolve().relative_to(ROOT).as_posix(), line


def operations() -> list[Operation]:
    out = []
    for service_name, factory in SERVICES.items():
        for spec in factory().operations().values():
            path = Path(spec.source[0]).resolve().relative_to(ROOT / "rolecall" / "services")
            family = type(getattr(spec.handler, "__self__", None)).__name__
            out.append(Operation(service_name, path.parts[0], spec, family))
    return out


# -- what the tests name ----------------------------------------------------------------------------------


@dataclass
class Scanned:
    id: str  # "tests/e2e/iam/test_roles.py::test_role_lifecycle"
    strings: list[str]  # string constants, decorators included, docstring excluded
    attributes: set[str]  # names called as methods: x.create_role(...)
    refuses: bool  # calls the harness's denied(...)
    refused: set[str] = field(default_factory=set)  # operations denied(caller, service, "Op") names literally


def functions_in(directory: Path) -> Iterator[Scanned]:
    for path in sorted(directory.rglob("test_*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) or not node.name.startswith(
                "test"
            ):
                continue
            docstring = ast.get_docstring(node, clean=False)
            strings: list[str] = []
            attributes: set[str] = set()
            refused: set[str] = set()
            refuses = False
            for part in [*node.decorator_list, *node.body]:
                for sub in ast.walk(part):
                    if (
                        isinstance(sub, ast.Constant)
                        and isinstance(sub.value, str)
                        and sub.value != docstring
                    ):
                        strings.append(sub.value)
                    elif isinstance(sub, ast.Call):
                        called = sub.func
                        name = called.attr if isinstance(called, ast.Attribute) else getattr(called, "id", "")
                        if isinstance(called, ast.Attribute):
                            attributes.add(name)
                        if name == "denied":
                            refuses = True
                            op = sub.args[2] if len(sub.args) > 2 else None
                            if isinstance(op, ast.Constant) and isinstance(op.value, str):
                                refused.add(op.value)
            # denied(caller, service, op) in a loop over literal names: those names.
            for loop in ast.walk(node):
                if isinstance(loop, ast.For) and any(
                    isinstance(c, ast.Call) and getattr(c.func, "attr", getattr(c.func, "id", "")) == "denied"
                    for c in ast.walk(loop)
                ):
                    refused.update(
                        c.value
                        for c in ast.walk(loop.iter)
                        if isinstance(c, ast.Constant) and isinstance(c.value, str)
                    )
            rel = path.relative_to(ROOT).as_posix()
            yield Scanned(f"{rel}::{node.name}", strings, attributes, refuses, refused)


def names_in_unit_test(test: Scanned, op: str) -> bool:
    return op in test.strings


def names_in_e2e_test(test: Scanned, op: str) -> bool:
    method = xform_name(op)
    if method in test.attributes or method in test.strings:  # client.create_role(...), get_paginator("...")
        return True
    command = re.compile(rf"(?<![\w-]){re.escape(method.replace('_', '-'))}(?![\w-])")
    return any(command.search(s) for s in test.strings)  # cli("iam", "create-role", ...)


def indexed() -> list[Operation]:
    """Every operation, with the unit and end-to-end tests that name it."""
    ops = operations()
    by_package: dict[str, list[Operation]] = defaultdict(list)
    for op in ops:
        by_package[op.package].append(op)
    for package, members in by_package.items():
        for test in functions_in(ROOT / "tests" / "services" / package):
            for op in members:
                if names_in_unit_test(test, op.name):
                    op.unit.add(test.id)
                    # The operation a denied() call names; or, where it is a loop's variable, any named.
                    if op.name in test.refused or (test.refuses and not test.refused):
                        op.refusals.add(test.id)
        for test in functions_in(ROOT / "tests" / "e2e" / package):
            for op in members:
                if names_in_e2e_test(test, op.name):
                    op.e2e.add(test.id)
    return ops


# -- the document -----------------------------------------------------------------------------------------


def describe_resource(resource: Any) -> str:
    """What an operation is authorized on, as its declaration says it: an ARN, or the resolver computing it."""
    if isinstance(resource, str):
        return f"`{resource}`"
    name = resource.__qualname__
    if name.endswith("<lambda>"):  # the lambda's body, from its source line
        code = resource.__code__
        line = Path(code.co_filename).read_text().splitlines()[code.co_firstlineno - 1]
        text = line[line.index("lambda") :]
        while text:
            try:
                lam = ast.parse(text.rstrip().rstrip(","), mode="eval").body
                break
            except SyntaxError:
                text = text[:-1]
        assert isinstance(lam, ast.Lambda), line
        return f"`{ast.unparse(lam.body)}`"
    if ".<locals>." in name:  # a resolver made by a factory: arn_of("role", "RoleName")
        cells = [c.cell_contents for c in resource.__closure__ or () if isinstance(c.cell_contents, str)]
        args = ", ".join(f'"{c}"' for c in cells)
        return f"`{name.split('.<locals>.')[0]}({args})`"
    return f"`{resource.__name__}`"


def describe_action(op: Operation) -> str:
    auth = op.spec.authorization
    if auth.public:
        reason = PUBLIC.get((op.service, op.name), "")
        return (f"`{auth.action}`, " if auth.action else "") + f"public: {reason}"
    return f"`{auth.action}`"


def linked_files(ids: set[str], module: str) -> str:
    """The test files naming an operation: the one mirroring the handler's module first, at most two shown."""
    mirror = f"test_{module}.py"
    files = sorted({i.split("::")[0] for i in ids}, key=lambda f: (Path(f).name != mirror, f))
    if not files:
        return "**none**"
    shown = ", ".join(f"[{Path(f).relative_to('tests').as_posix()}](../{f})" for f in files[:2])
    return shown + (f" and {len(files) - 2} more" if len(files) > 2 else "")


def render(ops: list[Operation]) -> str:
    lines = [
        "# Operations",
        "",
        "Every operation rolecall serves, generated from the services' operation tables",
        "(`rolecall.services.SERVICES`) and the tests that name each one. Do not edit: regenerate it with",
        f"`{REGENERATE}`; `tests/test_operation_index.py` fails when it is out of date, when an",
        "operation has no IAM action (and is not public for a reason given there), or when it lacks a unit",
        "test or an end-to-end test.",
        "",
        "A unit test (`tests/services/<package>/`, in process through the authorizer) names an operation by",
        'passing its name (`call("CreateRole", ...)`); an end-to-end test (`tests/e2e/<package>/`, a real',
        "server) by calling it with a real client: the boto3 method (`create_role`) or the AWS CLI command",
        "(`create-role`). The resource is the ARN the action is authorized on, or the resolver that computes",
        "it from the request (in the handler's module or the service's `arns.py`/`common.py`).",
        "",
        f"{len(ops)} operations in {len({op.service for op in ops})} services.",
        "",
        "| service | operation | handler | IAM action | resource | unit tests | e2e tests |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for op in ops:
        # The handler's file, not its line: a line number would make every edit of the module stale the index.
        file, _ = op.source
        short = file.removeprefix("rolecall/services/")
        module = Path(file).stem
        lines.append(
            f"| {op.service} | {op.name} | [{short}](../{file}) | {describe_action(op)} "
            f"| {describe_resource(op.spec.authorization.resource)} "
            f"| {linked_files(op.unit, module)} | {linked_files(op.e2e, module)} |"
        )
    return "\n".join(lines) + "\n"


# -- the checks -------------------------------------------------------------------------------------------


def test_every_operation_declares_its_action_or_why_it_is_public():
    undeclared, unexplained = [], []
    for op in operations():
        auth = op.spec.authorization
        if auth.public and (op.service, op.name) not in PUBLIC:
            unexplained.append(f"{op.service}:{op.name}")
        if not auth.public and not re.fullmatch(r"[a-z0-9-]+:[A-Za-z0-9]+", auth.action):
            undeclared.append(f"{op.service}:{op.name}")
    assert not undeclared, f"operations without an IAM action: {undeclared}"
    assert not unexplained, (
        f"public operations missing from PUBLIC (say why they need no permission): {unexplained}"
    )
    stale = [
        key
        for key in PUBLIC
        if not any((o.service, o.name) == key and o.spec.authorization.public for o in operations())
    ]
    assert not stale, f"PUBLIC lists operations that are not public: {stale}"


def test_every_operation_has_a_unit_and_an_end_to_end_test():
    ops = indexed()
    no_unit = [f"{op.service}:{op.name}" for op in ops if not op.unit]
    no_e2e = [f"{op.service}:{op.name}" for op in ops if not op.e2e]
    assert not no_unit and not no_e2e, (
        f"operations no unit test names (tests/services/<package>/): {no_unit}\n"
        f"operations no end-to-end test calls (tests/e2e/<package>/): {no_e2e}"
    )


def test_every_family_has_a_refusal_through_the_authorizer():
    families: dict[tuple[str, str], list[Operation]] = defaultdict(list)
    for op in indexed():
        families[(op.package, op.family)].append(op)
    missing = [
        f"{package}.{family}"
        for (package, family), ops in families.items()
        if not any(op.refusals for op in ops)
    ]
    assert not missing, (
        f"families whose unit tests refuse nothing (call env.denied(...) on one of their operations): {missing}"
    )


def test_the_document_is_up_to_date():
    expected = render(indexed())
    current = DOC.read_text() if DOC.exists() else ""
    if current != expected:  # the whole table would drown the message in a diff
        changed = set(expected.splitlines()) ^ set(current.splitlines())
        rows = sorted(
            {":".join(c.strip() for c in line.split("|")[1:3]) for line in changed if line.startswith("| ")}
        )
        pytest.fail(
            f"docs/OPERATIONS.md is out of date: regenerate it with `{REGENERATE}` "
            f"(rows that differ: {', '.join(rows) or 'none; the text around the table'})",
            pytrace=False,
        )


def test_a_test_names_an_operation_only_by_its_name_method_or_command():
    """The matching itself: whole names only, so that GetUser is not found in GetUserPolicy."""
    unit = Scanned("t", ["GetUserPolicy", "iam:GetUser"], set(), False)
    assert not names_in_unit_test(unit, "GetUser") and names_in_unit_test(unit, "GetUserPolicy")
    e2e = Scanned("t", ["aws iam get-user-policy --user-name u"], {"list_objects_v2"}, False)
    assert names_in_e2e_test(e2e, "GetUserPolicy") and not names_in_e2e_test(e2e, "GetUser")
    assert names_in_e2e_test(e2e, "ListObjectsV2") and not names_in_e2e_test(e2e, "ListObjects")


def main() -> None:
    DOC.parent.mkdir(exist_ok=True)
    DOC.write_text(render(indexed()))
    print(f"wrote {DOC.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
