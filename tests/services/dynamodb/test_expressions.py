"""DynamoDB's expression language on its own: precedence, functions, document paths, projections and
updates, and the errors DynamoDB words for bad expressions."""

from __future__ import annotations

import pytest

from rolecall.services.dynamodb import expressions as ex
from rolecall.services.dynamodb.errors import ValidationException

ITEM = {
    "id": {"S": "a1"},
    "n": {"N": "5"},
    "tags": {"SS": ["red", "blue"]},
    "doc": {"M": {"list": {"L": [{"S": "x"}, {"N": "2"}, {"S": "z"}]}, "flag": {"BOOL": True}}},
    "title": {"S": "hello world"},
}
VALUES = {
    ":one": {"N": "1"},
    ":five": {"N": "5"},
    ":ten": {"N": "10"},
    ":red": {"S": "red"},
    ":he": {"S": "hello"},
    ":S": {"S": "S"},
    ":x": {"S": "x"},
    ":l": {"L": [{"S": "new"}]},
    ":green": {"SS": ["green"]},
}


def holds(text: str) -> bool:
    names = ex.Names({"#d": "doc"}, dict(VALUES))
    return ex.evaluate(ex.parse_condition(text, "ConditionExpression", names), ITEM)


def test_conditions_evaluate_as_dynamodb_does():
    assert holds("n = :five AND n BETWEEN :one AND :ten")
    assert holds("n < :one OR n > :one AND n <= :five")  # AND binds tighter than OR
    assert not holds("NOT (n = :five)")
    assert holds("n IN (:one, :five)")
    assert holds("contains(tags, :red) AND begins_with(title, :he) AND attribute_type(id, :S)")
    assert holds("size(tags) = :one OR size(title) > :ten")
    assert holds("#d.list[0] = :x AND attribute_exists(#d.flag) AND attribute_not_exists(#d.nope)")
    assert holds("missing <> :one")  # an attribute the item lacks differs from every value
    assert not holds("missing = :one OR missing < :one")
    assert not holds("title < n")  # different types do not order


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("n = ", 'Invalid ConditionExpression: Syntax error; token: "<EOF>", near: "="'),
        ("n == :one", 'Invalid ConditionExpression: Syntax error; token: "=", near: "= = :one"'),
        ("nosuch(n)", "Invalid ConditionExpression: Invalid function name; function: nosuch"),
        ("size(n)", 'Invalid ConditionExpression: Syntax error; token: "<EOF>", near: ")"'),
        (
            "attribute_type(n, :one)",
            "Invalid ConditionExpression: Invalid attribute type name found; type: {'N': '1'}, "
            "valid types: { B,NULL,SS,BOOL,L,BS,N,NS,S,M }",
        ),
    ],
)
def test_bad_conditions_are_worded_as_dynamodb_words_them(text, message):
    with pytest.raises(ValidationException) as bad:
        holds(text)
    assert bad.value.message == message


def test_projections_keep_the_paths_they_name():
    names = ex.Names({"#d": "doc"}, {})
    paths = ex.parse_projection("id, #d.list[2], #d.list[0], nope", names)
    assert ex.project(ITEM, paths) == {
        "id": {"S": "a1"},
        "doc": {"M": {"list": {"L": [{"S": "x"}, {"S": "z"}]}}},
    }


def test_updates_set_remove_add_and_delete():
    names = ex.Names({"#d": "doc"}, dict(VALUES))
    text = (
        "SET n = n + :five, #d.list[1] = :x, added = list_append(:l, :l), maybe = if_not_exists(n, :one) "
        "REMOVE #d.flag, title ADD tags :green DELETE missing :green"
    )
    new = ex.apply_update(ITEM, ex.parse_update(text, names))
    assert new["n"] == {"N": "10"} and new["maybe"] == {"N": "5"}
    assert new["doc"] == {"M": {"list": {"L": [{"S": "x"}, {"S": "x"}, {"S": "z"}]}}}
    assert new["added"] == {"L": [{"S": "new"}, {"S": "new"}]}
    assert sorted(new["tags"]["SS"]) == ["blue", "green", "red"] and "title" not in new
    assert ITEM["n"] == {"N": "5"}  # the original is untouched
    with pytest.raises(ValidationException) as overlap:
        ex.parse_update("SET #d.list = :l REMOVE #d.list[0]", ex.Names({"#d": "doc"}, dict(VALUES)))
    assert overlap.value.message == (
        "Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite one of "
        "these paths; path one: [doc, list], path two: [doc, list, [0]]"
    )
    with pytest.raises(ValidationException) as wrong:
        ex.apply_update(ITEM, ex.parse_update("ADD title :one", ex.Names({}, dict(VALUES))))
    assert wrong.value.message.endswith("operator: ADD, operand type: STRING")
    with pytest.raises(ValidationException) as nowhere:
        ex.apply_update(ITEM, ex.parse_update("SET nope.deeper = :one", ex.Names({}, dict(VALUES))))
    assert (
        nowhere.value.message == "The document path provided in the update expression is invalid for update"
    )
