"""Reading a page the way a crawler does: its meta tags, canonical link and JSON-LD blocks."""

import json
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any


@dataclass
class Head:
    meta: dict[str, str] = field(default_factory=dict)  # by name or property
    canonical: list[str] = field(default_factory=list)
    json_ld: list[str] = field(default_factory=list)  # raw text of each block, as the HTML parser ends it

    def data(self) -> dict[str, Any]:
        (block,) = self.json_ld
        parsed: dict[str, Any] = json.loads(block)
        return parsed


class _HeadParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.head = Head()
        self._in_json_ld = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "meta" and ("name" in values or "property" in values):
            self.head.meta[values.get("name") or values["property"]] = values.get("content", "")
        elif tag == "link" and values.get("rel") == "canonical":
            self.head.canonical.append(values.get("href", ""))
        elif tag == "script" and values.get("type") == "application/ld+json":
            self._in_json_ld = True
            self.head.json_ld.append("")

    def handle_data(self, data: str) -> None:
        if self._in_json_ld:
            self.head.json_ld[-1] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_json_ld = False


def read_head(html: str) -> Head:
    parser = _HeadParser()
    parser.feed(html)
    parser.close()
    return parser.head
