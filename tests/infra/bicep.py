"""The Bicep templates as data: parsed with pycep (checkov's Bicep parser), resolved as far as tests need.

There is no Bicep compiler here, so tests read the syntax tree. pycep writes identifiers and string literals
alike as plain strings; a string is taken as a reference when it names a parameter or variable of its file.
"""

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from pycep import BicepParser

from tests.fixtures.stack import REPO_ROOT

INFRA = REPO_ROOT / "infra"
MAIN = INFRA / "main.bicep"


class Reference(str):
    """A value known only in Azure (a module output, a resource property), e.g. `storage.outputs.blobEndpoint`."""


def bicep_files() -> list[Path]:
    return sorted(INFRA.rglob("*.bicep"))


@dataclass
class Resource:
    symbol: str
    type: str
    api_version: str
    condition: Any
    config: dict[str, Any]

    @property
    def properties(self) -> dict[str, Any]:
        return dict(self.config.get("properties") or {})


@dataclass
class Template:
    path: Path
    tree: dict[str, Any]

    @property
    def parameters(self) -> dict[str, Any]:
        return dict(self.tree.get("parameters") or {})

    @property
    def variables(self) -> dict[str, Any]:
        return dict(self.tree.get("variables") or {})

    @property
    def outputs(self) -> dict[str, Any]:
        return dict(self.tree.get("outputs") or {})

    @property
    def modules(self) -> dict[str, Any]:
        return dict(self.tree.get("modules") or {})

    def resources(self, type_: str | None = None) -> list[Resource]:
        found = []
        for symbol, raw in (self.tree.get("resources") or {}).items():
            config, condition = raw["config"], None
            if set(config) == {"condition", "config"}:
                config, condition = config["config"], config["condition"]
            if type_ is None or raw["type"] == type_:
                found.append(Resource(symbol, raw["type"], raw["api_version"], condition, config))
        return found

    def resource(self, symbol: str) -> Resource:
        (found,) = [r for r in self.resources() if r.symbol == symbol]
        return found

    def module_params(self, symbol: str) -> dict[str, Any]:
        config = self.modules[symbol]["config"]
        if set(config) == {"condition", "config"}:
            config = config["config"]
        return dict(config["params"])

    def resolve(self, value: Any) -> Any:
        """Literals stay, parameters become their defaults, variables their values, `union()` merges objects;
        anything computed in Azure becomes a Reference naming it."""
        if isinstance(value, str):
            if value in self.parameters:
                default = self.parameters[value].get("default")
                return Reference(value) if default is None else self.resolve(default)
            if value in self.variables:
                return self.resolve(self.variables[value]["value"])
            return value
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if isinstance(value, dict):
            if "function" in value and value["function"]["type"] == "union":
                merged: dict[str, Any] = {}
                for argument in value["function"]["parameters"].values():
                    resolved = self.resolve(argument)
                    # A parameter passed in (tags, say) adds keys only Azure knows; the literal ones count here.
                    merged.update(resolved if isinstance(resolved, dict) else {})
                return merged
            if "operator" in value and value["operator"]["type"] == "property_accessor":
                return Reference(accessor_path(value))
            if "function" in value or "operator" in value:
                return Reference(repr(value))
            return {unquote(key): self.resolve(item) for key, item in value.items()}
        return value


def accessor_path(value: Any) -> str:
    if isinstance(value, dict) and "operator" in value and value["operator"]["type"] == "property_accessor":
        operands = value["operator"]["operands"]
        return f"{accessor_path(operands['operand_1'])}.{accessor_path(operands['operand_2'])}"
    if isinstance(value, dict) and "operator" in value and value["operator"]["type"] == "index_accessor":
        operands = value["operator"]["operands"]
        return f"{accessor_path(operands['operand_1'])}[{operands['operand_2']}]"
    return str(value)


@cache
def parse(path: Path) -> Template:
    """Parse one file; pycep raises on anything it cannot parse, so a broken template fails the test."""
    return Template(path, BicepParser().parse(file_path=path))


def main() -> Template:
    return parse(MAIN)


def module(name: str) -> Template:
    return parse(INFRA / "modules" / f"{name}.bicep")


def module_path(symbol: str) -> Template:
    """The template behind one of main.bicep's modules."""
    return parse(INFRA / main().modules[symbol]["detail"]["path"])


def loop_source(value: Any) -> str:
    """The object a `[for x in items(obj): ...]` loop walks."""
    assert isinstance(value, dict) and "loop_type" in value, f"not a loop: {value}"
    return str(value["loop_type"]["detail"]["object_name"])


def equals_operands(value: Any) -> tuple[Any, Any]:
    assert isinstance(value, dict) and value.get("operator", {}).get("type") == "equals", value
    operands = value["operator"]["operands"]
    return operands["operand_1"], operands["operand_2"]


def unquote(key: str) -> str:
    """pycep keeps the quotes of quoted object keys ('azd-service-name'); Bicep does not."""
    return key[1:-1] if len(key) > 1 and key[0] == key[-1] == "'" else key


def equals_ternary(value: Any) -> tuple[Any, Any, Any, Any]:
    """`a == b ? x : y` as (a, b, x, y). pycep 0.5 nests it as `a == (b ? x : y)`; Bicep means the former."""
    left, right = equals_operands(value)
    assert isinstance(right, dict) and right.get("operator", {}).get("type") == "conditional", value
    operands = right["operator"]["operands"]
    return left, operands["condition"], operands["true_value"], operands["false_value"]
