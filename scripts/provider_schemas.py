#!/usr/bin/env python3
"""The Terraform checked against the aws and awscc providers' own schemas, offline.

    .venv/bin/python scripts/provider_schemas.py check        # exit 1 on any finding (make lint, make test)
    .venv/bin/python scripts/provider_schemas.py regenerate   # rewrite terraform/provider-schemas.json

`check` reads every `resource` and `data` block of every terraform/**/*.tf with python-hcl2 and holds it
to terraform/provider-schemas.json: an argument or block the provider does not have, a required argument
left out, a block written as an attribute (`x = {...}` where the provider has a block `x {}`) or an
attribute written as a block, a block the provider allows once written twice, and a type missing from the
file (run `regenerate`). It reads nothing but the .tf files and that file.

`regenerate` downloads the pinned CDK Terrain prebuilt-provider wheels (`pip download`, into a temporary
directory, never into the project's environment), reads the jsii assembly each ships
(`_jsii/*.jsii.tgz`: every resource's and data source's config struct, generated from the provider's
schema by the cdktf provider generator) and writes the schema of exactly the types the .tf files use,
sorted, with the providers' names and versions. Run it after adding a resource type or moving a pin.

How the assembly says what Terraform calls things: each struct property's documentation links to the
provider's registry page with the argument's own anchor (`...#iceberg_configuration`), which is the
Terraform name (a camelCase-to-snake_case guess is wrong for names like `address_line_1` or `self`); a
property the generator made from a nested block is documented as "`<name>` block."; a property without
`optional` is required; computed-only attributes are not in the config structs at all.
"""

from __future__ import annotations

import argparse
import difflib
import functools
import importlib.util
import io
import json
import re
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TERRAFORM_DIR = ROOT / "terraform"
SCHEMA_FILE = TERRAFORM_DIR / "provider-schemas.json"

# The wheels that carry the providers the Terraform pins (aws >= 6.25 < 7, awscc >= 1.72 < 2): the
# provider version each was generated from is in the wheel's METADATA and checked on regeneration.
WHEELS: dict[str, dict[str, str]] = {
    "aws": {"source": "hashicorp/aws", "version": "6.69.1", "wheel": "cdktn-provider-aws==25.8.1"},
    "awscc": {"source": "hashicorp/awscc", "version": "1.106.0", "wheel": "cdktn-provider-awscc==1.8.0"},
}

# Terraform's own meta-arguments (Terraform language docs: "Meta-Arguments"): not the provider's.
META_ATTRIBUTES = {"count", "for_each", "depends_on", "provider"}
META_ARGUMENTS = {
    "resource": META_ATTRIBUTES | {"lifecycle", "provisioner", "connection"},
    "data": META_ATTRIBUTES | {"lifecycle"},
}
_HCL2_MARKERS = {"__is_block__", "__start_line__", "__end_line__", "__comments__", "__inline_comments__"}
_ANCHOR = re.compile(r"#([A-Za-z0-9_]+) ")
_REPRESENTS = re.compile(r"/docs/(resources|data-sources)/[A-Za-z0-9_]+ ([a-z0-9_]+)\}")

Schema = dict[str, Any]


# ---------------------------------------------------------------------------------------------------
# regenerate: the jsii assemblies -> the trimmed schema file
# ---------------------------------------------------------------------------------------------------


def used_types(terraform_dir: Path) -> dict[str, set[str]]:
    """The resource and data-source types the .tf files under `terraform_dir` declare."""
    used: dict[str, set[str]] = {"resource": set(), "data": set()}
    for _path, kind, type_name, _name, _body in _declarations(terraform_dir):
        used[kind].add(type_name)
    return used


def provider_of(type_name: str) -> str:
    """The provider's local name: the type's prefix up to its first underscore (`awscc_x` -> awscc)."""
    return type_name.split("_", 1)[0]


def _download_wheels(into: Path) -> dict[str, Path]:
    pins = [pin["wheel"] for pin in WHEELS.values()]
    # uv's environments (the project's .venv) have no pip: the system's python3 downloads then.
    python = sys.executable if importlib.util.find_spec("pip") else "python3"
    command = [python, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", "-d", str(into), *pins]
    subprocess.run(command, check=True)
    wheels: dict[str, Path] = {}
    for provider, pin in WHEELS.items():
        distribution, version = pin["wheel"].split("==")
        stem = f"{distribution.replace('-', '_')}-{version}-"
        found = sorted(into.glob(f"{stem}*.whl"))
        if not found:
            raise SystemExit(f"regenerate: pip download left no {stem}*.whl in {into}")
        wheels[provider] = found[0]
    return wheels


def _read_assembly(wheel: Path, provider: str) -> dict[str, Any]:
    """The wheel's jsii assembly, after checking its METADATA names the pinned provider version."""
    expected = WHEELS[provider]
    with zipfile.ZipFile(wheel) as archive:
        metadata_name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = archive.read(metadata_name).decode()
        stated = re.search(rf"bindings for {re.escape(expected['source'])} provider version (\S+)", metadata)
        if not stated or stated.group(1) != expected["version"]:
            found = stated.group(1) if stated else "no version"
            raise SystemExit(
                f"regenerate: {wheel.name} is built from {expected['source']} {found}, not "
                f"{expected['version']}: change WHEELS in {Path(__file__).name} so the two agree"
            )
        tgz_name = next(n for n in archive.namelist() if re.search(r"/_jsii/.+\.jsii\.tgz$", n))
        with tarfile.open(fileobj=io.BytesIO(archive.read(tgz_name))) as tgz:
            member = tgz.extractfile("package/.jsii")
            if member is None:
                raise SystemExit(f"regenerate: {tgz_name} in {wheel.name} has no package/.jsii")
            return json.load(member)


def _terraform_name(prop: dict[str, Any]) -> str:
    # The link is in the summary or the remarks, or in a `custom` tag where a description holds backticks.
    anchors = _ANCHOR.findall(json.dumps(prop.get("docs", {})))
    if not anchors:
        raise SystemExit(f"regenerate: property {prop['name']} has no registry link to name it")
    return anchors[-1]


def _struct_fqn(type_ref: dict[str, Any], types: dict[str, Any]) -> tuple[str, str] | None:
    """(nesting, struct fqn) when the property holds a struct: single, list (arrays) or map."""
    if "union" in type_ref:
        for member in type_ref["union"]["types"]:
            found = _struct_fqn(member, types)
            if found:
                return found
        return None
    if "fqn" in type_ref:
        fqn = type_ref["fqn"]
        return ("single", fqn) if types.get(fqn, {}).get("datatype") else None
    if "collection" in type_ref:
        element = type_ref["collection"]["elementtype"]
        if "fqn" in element and types.get(element["fqn"], {}).get("datatype"):
            return ("list" if type_ref["collection"]["kind"] == "array" else "map", element["fqn"])
    return None


def _struct_schema(fqn: str, types: dict[str, Any], depth: int = 0) -> Schema:
    """A struct's arguments: {"attributes": {name: spec}, "blocks": {name: spec}}, sorted."""
    if depth > 40:
        raise SystemExit(f"regenerate: {fqn} nests deeper than 40 levels")
    attributes: dict[str, Any] = {}
    blocks: dict[str, Any] = {}
    for prop in types[fqn].get("properties", []):
        name = _terraform_name(prop)
        spec: dict[str, Any] = {"required": not prop.get("optional", False)}
        nested = _struct_fqn(prop["type"], types)
        if nested:
            spec["nesting"] = nested[0]
            spec["schema"] = _struct_schema(nested[1], types, depth + 1)
        is_block = prop.get("docs", {}).get("summary", "") == f"{name} block."
        (blocks if is_block else attributes)[name] = dict(sorted(spec.items()))
    return {"attributes": dict(sorted(attributes.items())), "blocks": dict(sorted(blocks.items()))}


def _configs(assembly: dict[str, Any]) -> dict[tuple[str, str], str]:
    """(kind, Terraform type) -> the fqn of its config struct, for every resource and data source."""
    configs: dict[tuple[str, str], str] = {}
    bases = {"cdktn.TerraformResource": "resource", "cdktn.TerraformDataSource": "data"}
    for cls in assembly["types"].values():
        kind = bases.get(cls.get("base", ""))
        if cls.get("kind") != "class" or kind is None:
            continue
        represents = _REPRESENTS.search(cls.get("docs", {}).get("summary", ""))
        if not represents:
            continue
        config = next(p for p in cls["initializer"]["parameters"] if p["name"] == "config")
        configs[(kind, represents.group(2))] = config["type"]["fqn"]
    return configs


def regenerate(terraform_dir: Path, schema_file: Path, wheel_dir: Path | None) -> Schema:
    """Write the schema of the types `terraform_dir` uses, from the pinned wheels; return it."""
    used = used_types(terraform_dir)
    unsupported = sorted(
        t for kind in used.values() for t in kind if provider_of(t) not in WHEELS and t != "terraform_data"
    )
    if unsupported:
        raise SystemExit(f"regenerate: no pinned wheel for the provider of {', '.join(unsupported)}: add it to WHEELS")
    with tempfile.TemporaryDirectory(prefix="provider-wheels-") as temporary:
        wheels = _download_wheels(wheel_dir or Path(temporary))
        out: Schema = {"providers": {}, "resource": {}, "data": {}}
        for provider, wheel in sorted(wheels.items()):
            wanted = {(kind, t) for kind, names in used.items() for t in names if provider_of(t) == provider}
            if not wanted:
                continue
            assembly = _read_assembly(wheel, provider)
            configs = _configs(assembly)
            for kind, type_name in sorted(wanted):
                if (kind, type_name) not in configs:
                    raise SystemExit(
                        f"regenerate: {WHEELS[provider]['source']} {WHEELS[provider]['version']} has no "
                        f"{kind} {type_name}: is it misspelt in the .tf, or newer than the pinned provider?"
                    )
                out[kind][type_name] = _struct_schema(configs[(kind, type_name)], assembly["types"])
            out["providers"][provider] = dict(WHEELS[provider])
            del assembly
    out["resource"] = dict(sorted(out["resource"].items()))
    out["data"] = dict(sorted(out["data"].items()))
    schema_file.write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
    return out


# ---------------------------------------------------------------------------------------------------
# check: every resource and data block against the schema file
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """One place where a .tf file disagrees with its provider's schema."""

    file: str
    line: int  # the line of the resource's or data source's declaration
    address: str
    argument: str
    problem: str

    def __str__(self) -> str:
        where = f"{self.address}.{self.argument}" if self.argument else self.address
        return f"{self.file}:{self.line}: {where}: {self.problem}"


def _unquote(label: str) -> str:
    return label[1:-1] if len(label) >= 2 and label[0] == label[-1] == '"' else label


@functools.lru_cache(maxsize=512)
def _parse(text: str) -> dict[str, Any]:
    """One .tf file's text as python-hcl2 reads it (cached: the careless-edit tests reread a tree)."""
    import hcl2  # python-hcl2: the project's dependency; imported here so `--help` needs nothing

    return hcl2.loads(text)


def _declarations(terraform_dir: Path) -> Iterator[tuple[Path, str, str, str, dict[str, Any]]]:
    """(file, "resource"|"data", type, name, body) for every declaration, checks' scoped data too."""
    for path in sorted(terraform_dir.rglob("*.tf")):
        if any(part.startswith(".") for part in path.relative_to(terraform_dir).parts):
            continue  # .terraform/ (downloaded modules) and other hidden directories
        try:
            document = _parse(path.read_text(encoding="utf-8"))
        except Exception as err:  # python-hcl2 raises lark errors of many kinds
            raise SystemExit(f"{path}: python-hcl2 cannot read it ({err}); run terraform fmt on it") from err
        scoped = [d for check in document.get("check", []) for body in check.values() for d in body.get("data", [])]
        for kind, entries in (("resource", document.get("resource", [])), ("data", document.get("data", []) + scoped)):
            for entry in entries:
                for type_label, named in entry.items():
                    for name_label, body in named.items():
                        yield path, kind, _unquote(type_label), _unquote(name_label), body


def _is_block_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) and v.get("__is_block__") for v in value)


def _keys(body: dict[str, Any]) -> list[str]:
    return [k for k in body if k not in _HCL2_MARKERS]


class _Checker:
    def __init__(self, file: str, line: int, address: str, findings: list[Finding]) -> None:
        self.file = file
        self.line = line
        self.address = address
        self.findings = findings

    def add(self, argument: str, problem: str) -> None:
        self.findings.append(Finding(self.file, self.line, self.address, argument, problem))

    def unknown(self, path: str, key: str, schema: Schema, what: str) -> None:
        names = [*schema["attributes"], *schema["blocks"]]
        close = difflib.get_close_matches(key, names, n=1)
        hint = f"; did you mean `{close[0]}`?" if close else ""
        self.add(path, f"the provider has no {what} `{key}` here{hint}")

    def block(self, path: str, body: dict[str, Any], schema: Schema, meta: set[str]) -> None:
        """A block body (the resource's own, with its `meta` arguments, or a nested block's)."""
        present: set[str] = set()
        for key in _keys(body):
            value = body[key]
            here = f"{path}.{key}" if path else key
            if key == "dynamic" and isinstance(value, list):
                for dynamic in value:
                    for label, spec in dynamic.items() if isinstance(dynamic, dict) else ():
                        if label in _HCL2_MARKERS:
                            continue
                        generated = _unquote(label)
                        present.add(generated)
                        self.dynamic(f"{here}.{generated}" if path else f"dynamic.{generated}", generated, spec, schema)
                continue
            if key in meta:
                continue
            present.add(key)
            if key in schema["blocks"]:
                spec = schema["blocks"][key]
                if not _is_block_list(value):
                    self.add(here, f"`{key}` is a block: write `{key} {{ ... }}`, not `{key} = ...`")
                    continue
                if spec.get("nesting") == "single" and len(value) > 1:
                    self.add(here, f"`{key}` may appear once; it appears {len(value)} times")
                for item in value:
                    self.nested(here, item, spec)
            elif key in schema["attributes"]:
                spec = schema["attributes"][key]
                if _is_block_list(value):
                    self.add(here, f"`{key}` is an attribute: write `{key} = ...`, not a `{key} {{ ... }}` block")
                    continue
                self.literal(here, value, spec)
            else:
                self.unknown(here, key, schema, "argument or block")
        for name, spec in schema["attributes"].items():
            if spec["required"] and name not in present:
                self.add(f"{path}.{name}" if path else name, "required argument is missing")
        for name, spec in schema["blocks"].items():
            if spec["required"] and name not in present:
                self.add(f"{path}.{name}" if path else name, f"required block is missing: add `{name} {{ ... }}`")

    def nested(self, path: str, body: dict[str, Any], spec: dict[str, Any]) -> None:
        if "schema" in spec:
            self.block(path, body, spec["schema"], set())

    def dynamic(self, path: str, generated: str, spec: Any, schema: Schema) -> None:
        """`dynamic "x" { for_each ... content { ... } }`: x must be a block; content is its body."""
        if generated not in schema["blocks"]:
            if generated in schema["attributes"]:
                self.add(path, f"`{generated}` is an attribute: a dynamic block cannot generate it")
            else:
                self.unknown(path, generated, schema, "block")
            return
        if not isinstance(spec, dict):
            return
        for key in _keys(spec):
            if key not in {"for_each", "iterator", "labels", "content"}:
                self.add(f"{path}.{key}", "a dynamic block takes for_each, iterator, labels and content only")
        if "for_each" not in spec:
            self.add(path, "a dynamic block needs for_each")
        contents = spec.get("content")
        if not _is_block_list(contents):
            self.add(path, "a dynamic block needs one `content { ... }` block")
            return
        for content in contents:
            self.nested(path, content, schema["blocks"][generated])

    def literal(self, path: str, value: Any, spec: dict[str, Any]) -> None:
        """An attribute of object type written as a literal: its keys against the nested attributes."""
        if "schema" not in spec:
            return
        nesting = spec.get("nesting")
        if nesting == "single" and isinstance(value, dict):
            self.object(path, value, spec["schema"])
        elif nesting == "list" and isinstance(value, list):
            for item in value:
                if isinstance(item, dict):
                    self.object(path, item, spec["schema"])
        elif nesting == "map" and isinstance(value, dict):
            for key, item in value.items():
                if isinstance(item, dict) and key not in _HCL2_MARKERS:
                    self.object(f"{path}[{_unquote(key)}]", item, spec["schema"])

    def object(self, path: str, value: dict[str, Any], schema: Schema) -> None:
        keys = [_unquote(k) for k in _keys(value)]
        if any("${" in k for k in keys):
            return  # a computed key: its name is known only when Terraform evaluates it
        for key in keys:
            raw = value.get(key, value.get(f'"{key}"'))
            if key in schema["attributes"]:
                self.literal(f"{path}.{key}", raw, schema["attributes"][key])
            elif key in schema["blocks"]:
                self.add(f"{path}.{key}", f"`{key}` is a block inside `{path}`, which is an object here")
            else:
                self.unknown(f"{path}.{key}", key, schema, "attribute")
        for name, spec in schema["attributes"].items():
            if spec["required"] and name not in keys:
                self.add(f"{path}.{name}", "required attribute is missing from the object")


def load_schema(schema_file: Path = SCHEMA_FILE) -> Schema:
    if not schema_file.exists():
        raise SystemExit(f"{schema_file} is missing: run `.venv/bin/python scripts/provider_schemas.py regenerate`")
    return json.loads(schema_file.read_text())


def _line_of(path: Path, kind: str, type_name: str, name: str) -> int:
    """The line that declares `kind "type_name" "name"` in `path` (python-hcl2 keeps no line numbers)."""
    declaration = re.compile(rf'^[ \t]*{kind}\s+"{re.escape(type_name)}"\s+"{re.escape(name)}"', re.MULTILINE)
    text = path.read_text(encoding="utf-8")
    found = declaration.search(text)
    return text.count("\n", 0, found.start()) + 1 if found else 0


def check(terraform_dir: Path = TERRAFORM_DIR, schema: Schema | None = None) -> list[Finding]:
    """Every finding in the .tf files under `terraform_dir`, in file order."""
    schema = schema if schema is not None else load_schema()
    findings: list[Finding] = []
    for path, kind, type_name, name, body in _declarations(terraform_dir):
        file = str(path.relative_to(terraform_dir.parent)) if path.is_relative_to(terraform_dir.parent) else str(path)
        address = f"{'data.' if kind == 'data' else ''}{type_name}.{name}"
        checker = _Checker(file, _line_of(path, kind, type_name, name), address, findings)
        type_schema = schema[kind].get(type_name)
        if type_schema is None:
            if type_name == "terraform_data" and kind == "resource":
                continue
            provider = schema["providers"].get(provider_of(type_name))
            pinned = f"{provider['source']} {provider['version']}" if provider else "no provider pinned for it"
            checker.add(
                "",
                f"{kind} type {type_name} is not in {SCHEMA_FILE.name} ({pinned}): if it is spelt right, run "
                "`.venv/bin/python scripts/provider_schemas.py regenerate` and commit the file",
            )
            continue
        checker.block("", body, type_schema, META_ARGUMENTS[kind])
    return findings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command")
    check_cmd = sub.add_parser("check", help="hold every .tf file to the committed schema (the default)")
    check_cmd.add_argument("--terraform-dir", type=Path, default=TERRAFORM_DIR)
    check_cmd.add_argument("--schema", type=Path, default=SCHEMA_FILE)
    regen = sub.add_parser("regenerate", help="rewrite the schema file from the pinned wheels")
    regen.add_argument("--terraform-dir", type=Path, default=TERRAFORM_DIR)
    regen.add_argument("--schema", type=Path, default=SCHEMA_FILE)
    regen.add_argument("--wheel-dir", type=Path, help="keep (or reuse) the downloaded wheels here")
    args = parser.parse_args(argv)
    if args.command == "regenerate":
        out = regenerate(args.terraform_dir, args.schema, args.wheel_dir)
        pins = ", ".join(f"{p['source']} {p['version']}" for p in out["providers"].values())
        print(
            f"provider schemas: wrote {args.schema} ({len(out['resource'])} resource and {len(out['data'])} data types; {pins})"
        )
        return 0
    terraform_dir = getattr(args, "terraform_dir", TERRAFORM_DIR)
    started = time.perf_counter()
    schema = load_schema(getattr(args, "schema", SCHEMA_FILE))
    findings = check(terraform_dir, schema)
    for finding in findings:
        print(finding)
    pins = ", ".join(f"{p['source']} {p['version']}" for p in schema["providers"].values())
    elapsed = time.perf_counter() - started
    print(f"provider schemas ({pins}): {len(findings)} finding(s) in {terraform_dir} ({elapsed:.2f} s)")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
