"""Errors are declared one way -- a plain class per AWS error code, in rolecall/errors.py (shared) or in a
service package's errors.py -- and say what botocore's models say: the code, and the HTTP status where the
model gives one."""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path

import botocore.session
import pytest

from rolecall import errors as common
from rolecall.errors import AwsError
from rolecall.services import all_services

ROOT = Path(__file__).resolve().parent.parent / "rolecall"
SERVICES = {s.name: s for s in all_services()}


def declared(module: object) -> list[type[AwsError]]:
    return [
        c
        for _, c in inspect.getmembers(module, inspect.isclass)
        if issubclass(c, AwsError) and c.__module__ == module.__name__  # type: ignore[attr-defined]
    ]


def model_errors(model: str) -> dict[str, int | None]:
    shapes = botocore.session.get_session().get_service_model(model).error_shapes
    return {s.error_code: s.metadata.get("error", {}).get("httpStatusCode") for s in shapes}


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_each_service_declares_its_errors_as_the_model_does(name: str) -> None:
    package = type(SERVICES[name]).__module__
    module = importlib.import_module(f"{package}.errors")
    classes = declared(module)
    assert classes, f"{package}.errors declares no errors"
    in_model = model_errors(SERVICES[name].model)
    matched = 0
    bases = {b for cls in classes for b in cls.__mro__[1:]}
    for cls in classes:
        if cls in bases:  # S3Error: the base of S3's errors, carrying their extra fields
            continue
        assert cls.code and cls.code != "InternalFailure", f"{cls.__name__} has no code of its own"
        if cls.code in in_model:
            matched += 1
            if in_model[cls.code] is not None:
                assert cls.status == in_model[cls.code], (cls.__name__, cls.code, in_model[cls.code])
    # EC2's model lists no error shapes at all; every other service's errors are mostly its model's.
    if in_model:
        assert matched, f"none of {package}.errors' codes is in the {name} model"


def test_iam_errors_match_the_model_exactly() -> None:
    from rolecall.services.iam import errors as iam

    in_model = model_errors("iam")
    for cls in declared(iam):
        assert cls.code in in_model, cls.code
        assert cls.status == in_model[cls.code], cls.code


def test_common_errors_agree_with_every_model_that_names_them() -> None:
    classes = declared(common)
    seen = set()
    for service in SERVICES.values():
        in_model = model_errors(service.model)
        for cls in classes:
            if in_model.get(cls.code) is not None:
                seen.add(cls.code)
                assert cls.status == in_model[cls.code], (service.model, cls.code)
    assert {"MalformedPolicyDocument", "AccessDenied"} <= seen


def test_errors_are_declared_only_in_errors_modules() -> None:
    """No AwsError subclass outside an errors.py, and no ad-hoc AwsError(code=...) in the services."""
    error_names = {"AwsError", "S3Error", "AccessDenied"}
    offenders = []
    for path in ROOT.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and path.name != "errors.py":
                bases = {getattr(b, "id", getattr(b, "attr", "")) for b in node.bases}
                if bases & error_names:
                    offenders.append(f"{path.relative_to(ROOT)}: class {node.name}")
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", None) == "AwsError"
                and any(k.arg == "code" for k in node.keywords)
                and "services" in path.parts
            ):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: AwsError(code=...)")
    assert not offenders, offenders


def test_one_python_name_per_error_class() -> None:
    modules = [common] + [importlib.import_module(f"{type(s).__module__}.errors") for s in SERVICES.values()]
    by_name: dict[str, set[str]] = {}
    for module in modules:
        for cls in declared(module):
            by_name.setdefault(cls.__name__, set()).add(cls.code)
    assert all(len(codes) == 1 for codes in by_name.values()), {
        n: c for n, c in by_name.items() if len(c) > 1
    }
