#!/usr/bin/env python3
"""Validates manifests against Schemas/manifest.schema.json (campaigns against Schemas/campaign.schema.json) with a
real JSON Schema (2020-12) validator.

Usage: check.py SCHEMA FILE...; prints one line per file, "valid FILE" or "invalid FILE: reason". The schemas beside
SCHEMA are registered under their $id, so one may refer to another (a campaign's inline Host manifest).
YAML is read with YAML 1.2 core booleans (true/false only), as forbc reads it, so keys like 'on' stay strings, and
integers are decimal digits (an optional '-'), as forbc reads them: other notations are neither integer nor string.
"""
import json
import pathlib
import re
import sys

import jsonschema
import yaml

try:
    import referencing
except ImportError:  # jsonschema before 4.18 (Debian 12's python3-jsonschema): its RefResolver instead
    referencing = None


class Loader(yaml.SafeLoader):
    pass


# Drop YAML 1.1's yes/no/on/off booleans; keep true/false.
Loader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


class NotDecimal:
    """What YAML 1.1 reads as a number but forbc does not ('+2', '0x10', '020', '1_000', '1:30', '16.0'): neither an
    integer nor a string, so that every 'type' in the schema refuses it, as forbc does."""

    def __init__(self, text):
        self.text = text

    def __repr__(self):
        return f"the number {self.text}"


DECIMAL = re.compile(r"^-?(?:0|[1-9][0-9]*)$")


def construct_int(loader, node):
    text = loader.construct_scalar(node)
    return int(text) if DECIMAL.match(text) else NotDecimal(text)


Loader.add_constructor("tag:yaml.org,2002:int", construct_int)
Loader.add_constructor("tag:yaml.org,2002:float", lambda loader, node: NotDecimal(loader.construct_scalar(node)))


def construct_mapping(loader, node, deep=False):
    """YAML forbids duplicate keys; PyYAML would keep the last one silently."""
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep)


Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
                       lambda loader, node: dict(construct_mapping(loader, node)))


def main() -> int:
    schema = json.load(open(sys.argv[1]))
    jsonschema.Draft202012Validator.check_schema(schema)
    folder = pathlib.Path(sys.argv[1]).resolve().parent
    others = [json.load(open(path)) for path in sorted(folder.glob("*.schema.json"))]
    if referencing:
        resources = [(other["$id"], referencing.Resource.from_contents(other)) for other in others]
        validator = jsonschema.Draft202012Validator(schema, registry=referencing.Registry().with_resources(resources))
    else:
        store = {other["$id"]: other for other in others}
        resolver = jsonschema.RefResolver.from_schema(schema, store=store)
        validator = jsonschema.Draft202012Validator(schema, resolver=resolver)
    for path in sys.argv[2:]:
        try:
            document = yaml.load(open(path), Loader=Loader)
        except (yaml.YAMLError, RecursionError) as error:
            print(f"invalid {path}: YAML: {str(error).splitlines()[0]}")
            continue
        errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
        if errors:
            print(f"invalid {path}: {'/'.join(map(str, errors[0].absolute_path))}: {errors[0].message[:160]}")
        else:
            print(f"valid {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
