"""No silently ignored request members: a request that sets a member its handler does not honour is refused.

botocore's models gain members every week, and every installed botocore decodes (and every SDK sends) the
members it knows. A handler written before a member existed would ignore it and answer as if it had not
been sent -- a wrong answer with no error (SimulatePrincipalPolicy's PolicyExclusionList, say: excluding
the only allowing policy still answered "allowed"). Two sources say what a handler does not honour:

- the snapshot, rolecall/data/known_members.json: the input members, recursively by shape, of every
  implemented operation as the handlers were written against them. A member the installed model has and
  the snapshot lacks is new to rolecall. Regenerate it with `scripts/refresh_known_members.py` once the
  handlers honour (or declare, below) what a newer botocore added; it prints the members it adds.
- the handler's declaration, `@operation(..., unsupported=[...])`: members rolecall knows of and does not
  implement, as dotted paths through structures ("PolicyExclusionList", "IamInstanceProfile.Arn"; lists and
  maps are passed through), optionally with the values that mean what rolecall does anyway
  (`unsupported={"Hibernate": (False,)}`).

A request setting either kind of member (to any value other than an accepted one) is refused before the
handler runs, with HTTP 501 NotImplemented -- see refusal() for why that error. The check is compiled once
per operation from the installed model; an operation with nothing new and nothing declared compiles to None
and costs a dictionary lookup per request.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import botocore
from botocore.model import Shape

from rolecall.errors import AwsError, NotImplementedOperation
from rolecall.wire.models import service_model

SNAPSHOT_PATH = Path(__file__).parent.parent / "data" / "known_members.json"

# A compiled check: the dotted path of the first unhonoured member a value sets, or None.
Check = Callable[[Any], str | None]
# A handler's declaration, normalised: member path -> values accepted (empty: none).
Declared = dict[str, tuple[Any, ...]]
# Declared paths as a tree: member -> subtree, or the accepted values where the path ends.
_Tree = dict[str, "_Tree | tuple[Any, ...]"]


def normalise(unsupported: Mapping[str, Iterable[Any]] | Iterable[str] | None) -> Declared:
    """@operation's `unsupported`: a list of member paths (no value accepted), or a mapping of member path
    to the values that are accepted because they mean what rolecall does anyway."""
    if not unsupported:
        return {}
    if isinstance(unsupported, Mapping):
        return {path: tuple(values) for path, values in unsupported.items()}
    return {path: () for path in unsupported}


# ---------------------------------------------------------------- the snapshot


def _structure_below(shape: Shape) -> Shape | None:
    """The structure a member's values are made of, through lists and map values; None for scalars."""
    while shape.type_name in ("list", "map"):
        shape = shape.member if shape.type_name == "list" else shape.value
    if shape.type_name != "structure" or getattr(shape, "is_document_type", False):
        return None
    return shape


def snapshot_operation(shape: Shape | None, shapes: dict[str, dict[str, str | None]]) -> str | None:
    """Record an input shape's structures in `shapes` (name -> {member: structure name or None});
    return its name (None for an operation without input)."""
    if shape is None:
        return None
    pending = [shape]
    while pending:
        current = pending.pop()
        if current.name in shapes:
            continue
        members: dict[str, str | None] = {}
        for name, member in current.members.items():
            below = _structure_below(member)
            members[name] = below.name if below is not None else None
            if below is not None:
                pending.append(below)
        shapes[current.name] = members
    return str(shape.name)


def build_snapshot(services: Iterable[Any]) -> dict[str, Any]:
    """The snapshot of every implemented operation of these services (rolecall.core.operations.Service)."""

    out: dict[str, Any] = {
        "about": "Input members rolecall's handlers were written against; made by scripts/refresh_known_members.py",
        "botocore": botocore.__version__,
        "services": {},
    }
    for service in sorted(services, key=lambda s: s.model):
        model = service_model(service.model)
        shapes: dict[str, dict[str, str | None]] = {}
        operations = {
            name: snapshot_operation(model.operation_model(name).input_shape, shapes)
            for name in sorted(service.operations())
        }
        out["services"][service.model] = {
            "operations": operations,
            "shapes": {name: shapes[name] for name in sorted(shapes)},
        }
    return out


@cache
def load_snapshot(path: Path = SNAPSHOT_PATH) -> dict[str, Any]:
    snapshot: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return snapshot


# ---------------------------------------------------------------- compiling the check


def _declared_tree(declared: Declared) -> _Tree:
    tree: _Tree = {}
    for path, accepted in declared.items():
        *parents, last = path.split(".")
        node = tree
        for part in parents:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):  # the whole parent is declared already
                break
            node = child
        else:
            node[last] = accepted
    return tree


def _not_accepted(value: Any, accepted: tuple[Any, ...]) -> bool:
    return not any(value == ok and type(value) is type(ok) for ok in accepted)


class _Compiler:
    def __init__(self, snapshot_shapes: dict[str, dict[str, str | None]]) -> None:
        self.known = snapshot_shapes
        self._in_progress: set[tuple[str, str | None]] = set()

    def value(self, shape: Shape, known: str | None, declared: _Tree | None) -> Check | None:
        """A check for a member's value: a structure, or lists and maps of them (scalars have no members)."""
        if shape.type_name == "list":
            element = self.value(shape.member, known, declared)
            if element is None:
                return None
            return lambda items: next((found for item in items if (found := element(item)) is not None), None)
        if shape.type_name == "map":
            entry = self.value(shape.value, known, declared)
            if entry is None:
                return None
            return lambda items: next(
                (found for item in items.values() if (found := entry(item)) is not None), None
            )
        if shape.type_name != "structure" or getattr(shape, "is_document_type", False):
            return None
        key = (shape.name, known)
        if key in self._in_progress:
            # A shape inside itself: its members are checked where it first appears, not again deeper down.
            return None
        self._in_progress.add(key)
        try:
            return self.structure(shape, known, declared or {})
        finally:
            self._in_progress.discard(key)

    def structure(self, shape: Shape, known: str | None, declared: _Tree) -> Check | None:
        # A structure the snapshot does not have (the member was a scalar then): every member is new.
        known_members = self.known.get(known, {}) if known is not None else {}
        refused: list[tuple[str, tuple[Any, ...]]] = []  # (member, accepted values)
        nested: list[tuple[str, Check]] = []
        for name, member in shape.members.items():
            here = declared.get(name)
            if isinstance(here, tuple) or name not in known_members:
                refused.append((name, here if isinstance(here, tuple) else ()))
                continue
            check = self.value(member, known_members[name], here)
            if check is not None:
                nested.append((name, check))
        if not refused and not nested:
            return None

        def check_structure(value: Any) -> str | None:
            if not isinstance(value, dict):
                return None
            for name, accepted in refused:
                item = value.get(name)
                if item is not None and _not_accepted(item, accepted):
                    return name
            for name, check in nested:
                item = value.get(name)
                if item is not None:
                    found = check(item)
                    if found is not None:
                        return f"{name}.{found}"
            return None

        return check_structure


def compile_check(
    service_model_name: str, operation: str, declared: Declared, snapshot: dict[str, Any]
) -> Check | None:
    """The check for one operation's input, or None when the installed model has nothing the snapshot lacks
    and the handler declares nothing. An operation the snapshot does not list is checked only against its
    declaration (tests keep every implemented operation in the snapshot)."""
    op_model = service_model(service_model_name).operation_model(operation)
    shape = op_model.input_shape
    if shape is None:
        return None
    recorded = snapshot.get("services", {}).get(service_model_name, {})
    shapes: dict[str, dict[str, str | None]] = recorded.get("shapes", {})
    operations: dict[str, str | None] = recorded.get("operations", {})
    if operation in operations:
        known = operations[operation]
    else:  # nothing to compare with: the installed model's members count as known
        shapes = {}
        known = snapshot_operation(shape, shapes)
    return _Compiler(shapes).structure(shape, known, _declared_tree(declared))


def refusal(operation: str, path: str, accepted: tuple[Any, ...] = ()) -> AwsError:
    """The error for a request that sets a member rolecall does not honour.

    501 NotImplemented, as rolecall answers an operation or service it does not implement: the request is
    valid as AWS defines it, so a 400 validation error would blame the caller for rolecall's gap; S3 answers
    functionality it does not implement the same way (NotImplemented, 501); botocore does not retry 501
    (it retries 500, 502, 503 and 504), so the caller sees the reason at once; and the check runs before
    the handler, so the request changed nothing.
    """
    only = ""
    if accepted:
        only = " (it accepts only " + " or ".join(json.dumps(value) for value in accepted) + ")"
    return NotImplementedOperation(
        f"rolecall does not implement the member {path} of {operation}{only}; the request changed nothing."
    )


class MemberGuard:
    """Refuses requests that set members their handler does not honour (compiled per operation, cached)."""

    def __init__(self, snapshot: dict[str, Any] | None = None) -> None:
        self.snapshot = snapshot if snapshot is not None else load_snapshot()
        self._checks: dict[tuple[str, str], tuple[Check | None, Declared]] = {}
        self._lock = threading.Lock()

    def check(
        self,
        service_model_name: str,
        operation: str,
        unsupported: Mapping[str, Iterable[Any]] | Iterable[str] | None,
        params: dict[str, Any],
    ) -> None:
        """Raise the refusal when `params` set a member the handler does not honour (`unsupported` is its
        declaration, OperationSpec.unsupported)."""
        key = (service_model_name, operation)
        found = self._checks.get(key)
        if found is None:
            with self._lock:
                declared = normalise(unsupported)
                found = (compile_check(service_model_name, operation, declared, self.snapshot), declared)
                self._checks[key] = found
        check, declared = found
        if check is None:
            return
        path = check(params)
        if path is not None:
            raise refusal(operation, path, declared.get(path, ()))


# ---------------------------------------------------------------- regenerating the snapshot


def member_paths(snapshot: dict[str, Any]) -> set[str]:
    """Every "service operation member.path" the snapshot records, for a readable diff."""
    out: set[str] = set()

    def walk(shapes: dict[str, Any], shape_name: str, prefix: str, seen: frozenset[str]) -> None:
        for member, below in shapes.get(shape_name, {}).items():
            out.add(prefix + member)
            if below is not None and below not in seen:
                walk(shapes, below, f"{prefix}{member}.", seen | {below})

    for service, recorded in snapshot.get("services", {}).items():
        for operation, shape_name in recorded["operations"].items():
            if shape_name is not None:
                walk(recorded["shapes"], shape_name, f"{service} {operation} ", frozenset({shape_name}))
    return out
