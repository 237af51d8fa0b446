"""Keyset pagination: a page starts where the previous one ended, named by an opaque cursor.

A cursor holds the sort key of the row at a page's edge and the direction to read in. The query asks for the
rows after (or before) that key through the index of the sort order, so page 500 costs what page 1 costs,
unlike OFFSET, which reads and throws away every row before the page. Cursors are plain data, not secrets:
a hand-made one only positions a list; one that does not decode to the expected key is refused (HTTP 400).
"""

import base64
import binascii
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Generic, Literal, TypeVar

from sqlalchemy import Select, SQLColumnExpression, tuple_
from sqlalchemy.orm import Session

T = TypeVar("T")
KeyKind = Literal["int", "text", "decimal", "datetime", "uuid"]
CURSOR_VERSION = 1
MAX_CURSOR_LENGTH = 1024
_INT_RANGE = range(-(2**31), 2**31)


class CursorInvalid(Exception):
    """The cursor is malformed, belongs to another list or order, or comes from an older version."""

    def __init__(self) -> None:
        super().__init__("This page link is invalid or out of date. Start again from the first page.")


@dataclass(frozen=True)
class KeysetOrder:
    """A sort order that pagination can resume: its key columns (unique together), all in one direction."""

    name: str
    columns: tuple[SQLColumnExpression[Any], ...]
    kinds: tuple[KeyKind, ...]
    descending: bool


@dataclass(frozen=True)
class Cursor:
    key: tuple[Any, ...]
    backwards: bool = False  # read the rows before `key` (the previous page)


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None
    prev_cursor: str | None


def encode_cursor(order: KeysetOrder, key: Sequence[Any], *, backwards: bool = False) -> str:
    values = [_dump(kind, value) for kind, value in zip(order.kinds, key, strict=True)]
    payload = {"v": CURSOR_VERSION, "o": order.name, "k": values, "b": backwards}
    raw = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(order: KeysetOrder, token: str) -> Cursor:
    if len(token) > MAX_CURSOR_LENGTH:
        raise CursorInvalid
    try:
        payload = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if not isinstance(payload, dict) or payload.get("v") != CURSOR_VERSION or payload.get("o") != order.name:
            raise CursorInvalid
        values, backwards = payload.get("k"), payload.get("b")
        if not isinstance(values, list) or len(values) != len(order.kinds) or not isinstance(backwards, bool):
            raise CursorInvalid
        return Cursor(tuple(_load(kind, value) for kind, value in zip(order.kinds, values, strict=True)), backwards)
    except (ValueError, TypeError, binascii.Error, InvalidOperation, UnicodeDecodeError):
        raise CursorInvalid from None


def fetch_page(session: Session, order: KeysetOrder, query: Select[Any], token: str | None, limit: int) -> Page[Any]:
    """One page of `query`'s first column in `order`, starting from the cursor `token` (None: the first page)."""
    cursor = decode_cursor(order, token) if token else None
    backwards = cursor is not None and cursor.backwards
    query = query.add_columns(*(column.label(f"k{i}") for i, column in enumerate(order.columns)))
    if cursor is not None:
        # Forwards in a descending order means smaller keys; backwards flips the comparison and the order.
        edge, bound = tuple_(*order.columns), tuple_(*cursor.key)
        query = query.where(edge > bound if order.descending == backwards else edge < bound)
    reverse = order.descending != backwards
    query = query.order_by(*(column.desc() if reverse else column.asc() for column in order.columns))
    # unique(): a joined eager load of a collection (a review's photos) repeats each row once per item.
    rows = list(session.execute(query.limit(limit + 1)).unique().all())
    more = len(rows) > limit
    rows = rows[:limit]
    if backwards:
        rows.reverse()
    if not rows:
        return Page([], None, None)

    def key(row: Any) -> tuple[Any, ...]:
        return tuple(getattr(row, f"k{i}") for i in range(len(order.columns)))

    # Reading backwards, the page the cursor came from follows; reading forwards, one came before.
    has_next = more or backwards
    has_prev = more if backwards else cursor is not None
    return Page(
        [row[0] for row in rows],
        encode_cursor(order, key(rows[-1])) if has_next else None,
        encode_cursor(order, key(rows[0]), backwards=True) if has_prev else None,
    )


def _dump(kind: KeyKind, value: Any) -> Any:
    if kind == "datetime":
        return value.isoformat()
    if kind in ("decimal", "uuid"):
        return str(value)
    return value


def _load(kind: KeyKind, value: Any) -> Any:
    if kind == "int":
        if type(value) is not int or value not in _INT_RANGE:
            raise ValueError("not a 32-bit integer")
        return value
    if not isinstance(value, str) or "\x00" in value or len(value) > 400:
        raise ValueError("not a key string")
    if kind == "text":
        return value
    if kind == "uuid":
        return uuid.UUID(value)
    if kind == "decimal":
        number = Decimal(value)
        if not number.is_finite() or not 0 <= number <= 5:
            raise ValueError("not a rating")
        return number
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError("a timestamp without a time zone")
    return moment
