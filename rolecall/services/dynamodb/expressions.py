"""DynamoDB's expression language: condition, filter and key condition expressions, projection expressions
and update expressions -- tokenized, parsed into small tuples, and evaluated against items.

    condition  := or ; or := and (OR and)* ; and := not (AND not)* ; not := NOT not | primary
    primary    := ( condition ) | function(args) | operand (cmp operand | BETWEEN operand AND operand
                  | IN ( operand, ... ))
    operand    := path | :value | size(path)
    path       := name (. name | [n])*      name := identifier | #placeholder
    update     := (SET a = v, ... | REMOVE path, ... | ADD path :v, ... | DELETE path :v, ...)+
    set value  := term ((+|-) term)? ; term := path | :value | if_not_exists(path, term) | list_append(term, term)

One `Names` per request resolves #placeholders and :values and remembers which were used, so that the
request can refuse unused ones, as DynamoDB does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from rolecall.services.dynamodb import values as v
from rolecall.services.dynamodb.errors import ValidationException
from rolecall.services.dynamodb.values import Item, Value

PathPart = str | int
Path = tuple[PathPart, ...]
Node = tuple[Any, ...]

_TOKEN = re.compile(
    r"\s*(?:(?P<name>#[A-Za-z0-9_]+)|(?P<value>:[A-Za-z0-9_]+)|(?P<ident>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<number>[0-9]+)|(?P<op><>|<=|>=|[=<>()\[\],.+-]))"
)
KEYWORDS = {"AND", "OR", "NOT", "BETWEEN", "IN", "SET", "REMOVE", "ADD", "DELETE"}
CONDITION_FUNCTIONS = {
    "attribute_exists",
    "attribute_not_exists",
    "attribute_type",
    "begins_with",
    "contains",
}
UPDATE_FUNCTIONS = {"if_not_exists", "list_append"}
COMPARATORS = {"=", "<>", "<", "<=", ">", ">="}


@dataclass
class Token:
    kind: str  # name | value | ident | number | op | eof
    text: str


@dataclass
class Names:
    """A request's ExpressionAttributeNames and ExpressionAttributeValues, and which of them were used."""

    names: dict[str, str] = field(default_factory=dict)
    values: dict[str, Value] = field(default_factory=dict)
    used_names: set[str] = field(default_factory=set)
    used_values: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, params: dict[str, Any]) -> Names:
        names = params.get("ExpressionAttributeNames")
        values = params.get("ExpressionAttributeValues")
        if names is not None and not names:
            raise ValidationException("ExpressionAttributeNames must not be empty")
        if values is not None and not values:
            raise ValidationException("ExpressionAttributeValues must not be empty")
        for key in values or {}:
            if not re.fullmatch(r":[A-Za-z0-9_]+", key):
                raise ValidationException(
                    f'ExpressionAttributeValues contains invalid key: Syntax error; key: "{key}"'
                )
        for key in names or {}:
            if not re.fullmatch(r"#[A-Za-z0-9_]+", key):
                raise ValidationException(
                    f'ExpressionAttributeNames contains invalid key: Syntax error; key: "{key}"'
                )
        checked = {k: v.checked(val) for k, val in (values or {}).items()}
        return cls(dict(names or {}), checked)

    def check_all_used(self, params: dict[str, Any], expressions: tuple[str, ...]) -> None:
        """Refuse names or values given without an expression to use them, or left unused."""
        present = [e for e in expressions if params.get(e) is not None]
        if not present:
            for member in ("ExpressionAttributeNames", "ExpressionAttributeValues"):
                if params.get(member) is not None:
                    raise ValidationException(
                        f"{member} can only be specified when using expressions: "
                        + " and ".join(f"{e} is null" for e in expressions)
                    )
        unused_names = sorted(set(self.names) - self.used_names)
        if unused_names:
            raise ValidationException(
                f"Value provided in ExpressionAttributeNames unused in expressions: keys: {{{', '.join(unused_names)}}}"
            )
        unused_values = sorted(set(self.values) - self.used_values)
        if unused_values:
            raise ValidationException(
                f"Value provided in ExpressionAttributeValues unused in expressions: keys: {{{', '.join(unused_values)}}}"
            )


class Parser:
    def __init__(self, text: str, label: str, names: Names):
        self.label = label
        self.names = names
        self.tokens = self._tokenize(text)
        self.pos = 0
        if not text.strip():
            raise ValidationException(f"Invalid {label}: The expression can not be empty;")

    # --- tokens ------------------------------------------------------------------------------------------

    def _tokenize(self, text: str) -> list[Token]:
        tokens: list[Token] = []
        pos = 0
        while pos < len(text):
            if text[pos:].strip() == "":
                break
            match = _TOKEN.match(text, pos)
            if match is None or match.end() == pos:
                bad = text[pos:].lstrip()[:1]
                near = (tokens[-1].text + " " if tokens else "") + bad
                raise self._syntax(bad, near)
            kind = match.lastgroup or "op"
            tokens.append(Token(kind, match.group(kind)))
            pos = match.end()
        tokens.append(Token("eof", "<EOF>"))
        return tokens

    def _syntax(self, token: str, near: str) -> ValidationException:
        return ValidationException(f'Invalid {self.label}: Syntax error; token: "{token}", near: "{near}"')

    def peek(self, offset: int = 0) -> Token:
        return self.tokens[min(self.pos + offset, len(self.tokens) - 1)]

    def next(self) -> Token:
        token = self.peek()
        self.pos += 1
        return token

    def error(self) -> ValidationException:
        token = self.peek()
        before = self.tokens[self.pos - 1].text if self.pos > 0 else ""
        after = self.peek(1).text if token.kind != "eof" and self.peek(1).kind != "eof" else ""
        near = " ".join(t for t in (before, token.text if token.kind != "eof" else "", after) if t)
        return self._syntax(token.text, near)

    def expect(self, text: str) -> None:
        if self.peek().text != text:
            raise self.error()
        self.next()

    def is_keyword(self, word: str) -> bool:
        token = self.peek()
        return token.kind == "ident" and token.text.upper() == word

    def done(self) -> None:
        if self.peek().kind != "eof":
            raise self.error()

    # --- paths and operands ------------------------------------------------------------------------------

    def name(self) -> str:
        token = self.next()
        if token.kind == "name":
            if token.text not in self.names.names:
                raise ValidationException(
                    f"Invalid {self.label}: An expression attribute name used in the document path is not "
                    f"defined; attribute name: {token.text}"
                )
            self.names.used_names.add(token.text)
            return self.names.names[token.text]
        if token.kind == "ident" and token.text.upper() not in KEYWORDS:
            return token.text
        self.pos -= 1
        raise self.error()

    def path(self) -> Path:
        parts: list[PathPart] = [self.name()]
        while self.peek().text in (".", "["):
            if self.next().text == ".":
                parts.append(self.name())
            else:
                token = self.next()
                if token.kind != "number":
                    self.pos -= 1
                    raise self.error()
                parts.append(int(token.text))
                self.expect("]")
        return tuple(parts)

    def value(self) -> Value:
        token = self.next()
        if token.text not in self.names.values:
            raise ValidationException(
                f"Invalid {self.label}: An expression attribute value used in expression is not defined; "
                f"attribute value: {token.text}"
            )
        self.names.used_values.add(token.text)
        return self.names.values[token.text]

    def operand(self) -> Node:
        token = self.peek()
        if token.kind == "value":
            return ("value", self.value())
        if token.kind == "ident" and self.peek(1).text == "(":
            fn = token.text
            if fn != "size":
                raise self._misused(fn)
            self.next()
            self.expect("(")
            path = self.path()
            self.expect(")")
            return ("size", path)
        if token.kind in ("ident", "name"):
            return ("path", self.path())
        raise self.error()

    def _misused(self, fn: str) -> ValidationException:
        if fn in CONDITION_FUNCTIONS or fn in UPDATE_FUNCTIONS or fn == "size":
            return ValidationException(
                f"Invalid {self.label}: The function is not allowed to be used this way in an expression; "
                f"function: {fn}"
            )
        return ValidationException(f"Invalid {self.label}: Invalid function name; function: {fn}")

    # --- conditions --------------------------------------------------------------------------------------

    def condition(self) -> Node:
        node = self._and()
        while self.is_keyword("OR"):
            self.next()
            node = ("or", node, self._and())
        return node

    def _and(self) -> Node:
        node = self._not()
        while self.is_keyword("AND"):
            self.next()
            node = ("and", node, self._not())
        return node

    def _not(self) -> Node:
        if self.is_keyword("NOT"):
            self.next()
            return ("not", self._not())
        return self._primary()

    def _primary(self) -> Node:
        token = self.peek()
        if token.text == "(":
            self.next()
            node = self.condition()
            self.expect(")")
            return node
        if token.kind == "ident" and self.peek(1).text == "(" and token.text != "size":
            return self._function()
        left = self.operand()
        if self.peek().text in COMPARATORS:
            op = self.next().text
            return ("cmp", op, left, self.operand())
        if self.is_keyword("BETWEEN"):
            self.next()
            low = self.operand()
            if not self.is_keyword("AND"):
                raise self.error()
            self.next()
            return ("between", left, low, self.operand())
        if self.is_keyword("IN"):
            self.next()
            self.expect("(")
            options = [self.operand()]
            while self.peek().text == ",":
                self.next()
                options.append(self.operand())
            self.expect(")")
            return ("in", left, options)
        raise self.error()

    def _function(self) -> Node:
        fn = self.next().text
        if fn not in CONDITION_FUNCTIONS:
            raise self._misused(fn)
        self.expect("(")
        args = [self.operand()]
        while self.peek().text == ",":
            self.next()
            args.append(self.operand())
        self.expect(")")
        wanted = 1 if fn in ("attribute_exists", "attribute_not_exists") else 2
        if len(args) != wanted:
            raise ValidationException(
                f"Invalid {self.label}: Incorrect number of operands for operator or function; "
                f"operator or function: {fn}, number of operands: {len(args)}"
            )
        if args[0][0] != "path":
            raise ValidationException(
                f"Invalid {self.label}: Operator or function requires a document path; "
                f"operator or function: {fn}"
            )
        if fn == "attribute_type":
            kind = args[1][1] if args[1][0] == "value" else None
            if kind is None or v.type_of(kind) != "S" or kind["S"] not in v.TYPES:
                shown = kind["S"] if kind and v.type_of(kind) == "S" else str(kind)
                raise ValidationException(
                    f"Invalid {self.label}: Invalid attribute type name found; type: {shown}, "
                    "valid types: { B,NULL,SS,BOOL,L,BS,N,NS,S,M }"
                )
        return ("fn", fn, args)

    # --- updates -----------------------------------------------------------------------------------------

    def update(self) -> list[Node]:
        actions: list[Node] = []
        seen: set[str] = set()
        while self.peek().kind != "eof":
            token = self.next()
            section = token.text.upper() if token.kind == "ident" else ""
            if section not in ("SET", "REMOVE", "ADD", "DELETE"):
                self.pos -= 1
                raise self.error()
            if section in seen:
                raise ValidationException(
                    f'Invalid {self.label}: The "{section}" section can only be used once in an update expression;'
                )
            seen.add(section)
            while True:
                path = self.path()
                if section == "SET":
                    self.expect("=")
                    actions.append(("SET", path, self._set_value()))
                elif section == "REMOVE":
                    actions.append(("REMOVE", path))
                else:
                    if self.peek().kind != "value":
                        raise self.error()
                    actions.append((section, path, self.value()))
                if self.peek().text != ",":
                    break
                self.next()
        return actions

    def _set_value(self) -> Node:
        left = self._term()
        if self.peek().text in ("+", "-"):
            op = self.next().text
            return (op, left, self._term())
        return left

    def _term(self) -> Node:
        token = self.peek()
        if token.kind == "ident" and self.peek(1).text == "(":
            fn = token.text
            if fn not in UPDATE_FUNCTIONS:
                raise self._misused(fn)
            self.next()
            self.expect("(")
            if fn == "if_not_exists":
                path = self.path()
                self.expect(",")
                node: Node = ("if_not_exists", path, self._term())
            else:
                first = self._term()
                self.expect(",")
                node = ("list_append", first, self._term())
            self.expect(")")
            return node
        if token.kind == "value":
            return ("value", self.value())
        return ("path", self.path())


# --- parsing entry points -----------------------------------------------------------------------------------


def parse_condition(text: str, label: str, names: Names) -> Node:
    parser = Parser(text, label, names)
    node = parser.condition()
    parser.done()
    return node


def parse_projection(text: str, names: Names) -> list[Path]:
    parser = Parser(text, "ProjectionExpression", names)
    paths = [parser.path()]
    while parser.peek().text == ",":
        parser.next()
        paths.append(parser.path())
    parser.done()
    return paths


def parse_update(text: str, names: Names) -> list[Node]:
    parser = Parser(text, "UpdateExpression", names)
    actions = parser.update()
    parser.done()
    paths = [a[1] for a in actions]
    for i, one in enumerate(paths):
        for two in paths[i + 1 :]:
            shorter = min(len(one), len(two))
            if one[:shorter] == two[:shorter]:
                kind = "conflict" if one == two else "overlap"
                raise ValidationException(
                    f"Invalid UpdateExpression: Two document paths {kind} with each other; must remove or "
                    f"rewrite one of these paths; path one: {show_path(one)}, path two: {show_path(two)}"
                )
    return actions


def show_path(path: Path) -> str:
    return "[" + ", ".join(f"[{p}]" if isinstance(p, int) else p for p in path) + "]"


# --- evaluation ---------------------------------------------------------------------------------------------


def resolve(item: Item | None, path: Path) -> Value | None:
    if item is None:
        return None
    current: Value | None = item.get(path[0])  # type: ignore[arg-type]
    for part in path[1:]:
        if current is None:
            return None
        if isinstance(part, int):
            items = current.get("L")
            current = items[part] if items is not None and part < len(items) else None
        else:
            members = current.get("M")
            current = members.get(part) if members is not None else None
    return current


def _operand(node: Node, item: Item | None) -> Value | None:
    kind = node[0]
    if kind == "value":
        return node[1]
    if kind == "path":
        return resolve(item, node[1])
    target = resolve(item, node[1])  # size(path)
    if target is None:
        return None
    try:
        return {"N": str(v.size(target))}
    except ValidationException:
        return None  # size() of a number, boolean or null: the condition is false


def _ordered(a: Value | None, b: Value | None) -> bool:
    return (
        a is not None and b is not None and v.type_of(a) == v.type_of(b) and v.type_of(a) in ("S", "N", "B")
    )


def _compare(op: str, a: Value | None, b: Value | None) -> bool:
    if op == "=":
        return v.equal(a, b)
    if op == "<>":  # an attribute the item lacks differs from any value: `status <> :gone` keeps it
        return not v.equal(a, b)
    if not _ordered(a, b):
        return False
    x, y = v.sort_key(a), v.sort_key(b)  # type: ignore[arg-type]
    return bool({"<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y}[op])


def evaluate(node: Node, item: Item | None) -> bool:
    """Whether a condition holds for `item` (None: no item)."""
    kind = node[0]
    if kind == "and":
        return evaluate(node[1], item) and evaluate(node[2], item)
    if kind == "or":
        return evaluate(node[1], item) or evaluate(node[2], item)
    if kind == "not":
        return not evaluate(node[1], item)
    if kind == "cmp":
        return _compare(node[1], _operand(node[2], item), _operand(node[3], item))
    if kind == "between":
        value, low, high = (_operand(n, item) for n in node[1:])
        return _compare(">=", value, low) and _compare("<=", value, high)
    if kind == "in":
        value = _operand(node[1], item)
        return any(v.equal(value, _operand(option, item)) for option in node[2])
    return _function(node[1], [_operand(arg, item) for arg in node[2]])


def _function(fn: str, args: list[Value | None]) -> bool:
    target = args[0]
    if fn == "attribute_exists":
        return target is not None
    if fn == "attribute_not_exists":
        return target is None
    if target is None or args[1] is None:
        return False
    other = args[1]
    if fn == "attribute_type":
        return v.type_of(target) == other["S"]
    if fn == "begins_with":
        kind = v.type_of(target)
        if kind != v.type_of(other) or kind not in ("S", "B"):
            return False
        return bool(v.sort_key(target).startswith(v.sort_key(other)))
    # contains
    kind = v.type_of(target)
    if kind == "S":
        return v.type_of(other) == "S" and other["S"] in target["S"]
    if kind in v.SET_TYPES:
        element = v.SET_TYPES[kind]
        return v.type_of(other) == element and any(v.equal({element: e}, other) for e in target[kind])
    if kind == "L":
        return any(v.equal(e, other) for e in target["L"])
    return False


def project(item: Item, paths: list[Path]) -> Item:
    """The parts of `item` the projection names (missing paths are left out; list elements keep their
    order, compacted, as DynamoDB returns them)."""
    tree: dict[PathPart, Any] = {}
    for path in paths:
        found = resolve(item, path)
        if found is not None:
            _graft(tree, path, found)
    return {str(name): _build(node) for name, node in tree.items()}


def _graft(tree: dict[PathPart, Any], path: Path, value: Value) -> None:
    head, rest = path[0], path[1:]
    if not rest:
        tree[head] = ("leaf", value)
        return
    kind = "L" if isinstance(rest[0], int) else "M"
    node = tree.get(head)
    if node is not None and node[0] == "leaf":
        return  # the whole attribute is projected already
    if node is None:
        node = tree[head] = (kind, {})
    _graft(node[1], rest, value)


def _build(node: tuple[str, Any]) -> Value:
    kind, inner = node
    if kind == "leaf":
        return inner
    if kind == "M":
        return {"M": {str(k): _build(n) for k, n in inner.items()}}
    return {"L": [_build(inner[k]) for k in sorted(inner)]}


def top_level(paths: list[Path]) -> list[str]:
    """The distinct top-level attribute names of some paths, in order."""
    return list(dict.fromkeys(str(p[0]) for p in paths))


# --- updates ----------------------------------------------------------------------------------------------


def _bad_operand(operator: str, value: Value) -> ValidationException:
    names = {"S": "STRING", "N": "NUMBER", "B": "BINARY", "SS": "SS", "NS": "NS", "BS": "BS", "M": "MAP",
             "L": "LIST", "NULL": "NULL", "BOOL": "BOOLEAN"}  # fmt: skip
    return ValidationException(
        "Invalid UpdateExpression: Incorrect operand type for operator or function; "
        f"operator: {operator}, operand type: {names[v.type_of(value)]}"
    )


def _set_value(node: Node, item: Item) -> Value:
    kind = node[0]
    if kind == "value":
        return node[1]
    if kind == "path":
        found = resolve(item, node[1])
        if found is None:
            raise ValidationException(
                "The provided expression refers to an attribute that does not exist in the item"
            )
        return found
    if kind == "if_not_exists":
        found = resolve(item, node[1])
        return found if found is not None else _set_value(node[2], item)
    if kind == "list_append":
        a, b = _set_value(node[1], item), _set_value(node[2], item)
        for side in (a, b):
            if v.type_of(side) != "L":
                raise _bad_operand("list_append", side)
        return {"L": a["L"] + b["L"]}
    a, b = _set_value(node[1], item), _set_value(node[2], item)
    for side in (a, b):
        if v.type_of(side) != "N":
            raise _bad_operand(kind, side)
    x, y = Decimal(a["N"]), Decimal(b["N"])
    return {"N": v.number_text(v.number(str(x + y if kind == "+" else x - y)))}


def _parent(item: Item, path: Path) -> tuple[Any, PathPart] | None:
    """The container holding the last part of `path` (a dict of attributes, or a list) and the part."""
    if len(path) == 1:
        return item, path[0]
    holder = resolve(item, path[:-1])
    last = path[-1]
    if holder is None:
        return None
    if isinstance(last, int) and "L" in holder:
        return holder["L"], last
    if isinstance(last, str) and "M" in holder:
        return holder["M"], last
    return None


_INVALID_PATH = "The document path provided in the update expression is invalid for update"


def _put(item: Item, path: Path, value: Value) -> None:
    found = _parent(item, path)
    if found is None:
        raise ValidationException(_INVALID_PATH)
    container, last = found
    if isinstance(container, list):
        if last >= len(container):  # type: ignore[operator]
            container.append(value)
        else:
            container[last] = value  # type: ignore[index]
    else:
        container[last] = value


def apply_update(item: Item, actions: list[Node]) -> Item:
    """The item after an update expression: every value is computed from the item as it was."""
    new: Item = v.loaded(v.stored(item))  # a deep copy
    sets = [(a[1], _set_value(a[2], item)) for a in actions if a[0] == "SET"]
    for path, value in sets:
        _put(new, path, value)
    removals = sorted(
        (a[1] for a in actions if a[0] == "REMOVE"),
        key=lambda p: [-x if isinstance(x, int) else 0 for x in p],
    )
    for path in removals:
        found = _parent(new, path)
        if found is None:
            continue
        container, last = found
        if isinstance(container, list):
            if last < len(container):  # type: ignore[operator]
                del container[last]  # type: ignore[arg-type]
        else:
            container.pop(last, None)
    for action in actions:
        if action[0] not in ("ADD", "DELETE"):
            continue
        op, path, operand = action
        current = resolve(new, path)
        kind = v.type_of(operand)
        if op == "ADD":
            if kind == "N":
                if current is not None and v.type_of(current) != "N":
                    raise _bad_operand("ADD", current)
                base = Decimal(current["N"]) if current else Decimal(0)
                _put(new, path, {"N": v.number_text(v.number(str(base + Decimal(operand["N"]))))})
            elif kind in v.SET_TYPES:
                if current is not None and v.type_of(current) != kind:
                    raise _bad_operand("ADD", current)
                merged = list(current[kind]) if current else []
                element = v.SET_TYPES[kind]
                for e in operand[kind]:
                    if not any(v.equal({element: e}, {element: m}) for m in merged):
                        merged.append(e)
                _put(new, path, {kind: merged})
            else:
                raise _bad_operand("ADD", operand)
        else:
            if kind not in v.SET_TYPES:
                raise _bad_operand("DELETE", operand)
            if current is None:
                continue
            if v.type_of(current) != kind:
                raise _bad_operand("DELETE", current)
            element = v.SET_TYPES[kind]
            kept = [
                m
                for m in current[kind]
                if not any(v.equal({element: e}, {element: m}) for e in operand[kind])
            ]
            if kept:
                _put(new, path, {kind: kept})
            else:
                found = _parent(new, path)
                if found is not None:
                    container, last = found
                    if isinstance(container, list):
                        del container[last]  # type: ignore[arg-type]
                    else:
                        container.pop(last, None)
    return new
