"""A terraform/ tree read offline with python-hcl2 and evaluated as far as the Terraform invariants need
(health_pipeline_tests/terraform/), and copies of it to edit carelessly.

`terraform validate` needs the AWS provider from the registry, which this environment cannot reach; the
invariants read the HCL instead. modules/dagster has two profiles (var.profile, from envs/prod's
dagster_profile). A resource of one profile only says so with `count = local.standard ? 1 : 0` (or
`local.small`), a for_each one through `local.components` or a `local.standard ? tomap({...}) :
tomap({...})`. A `Stack` is read for one profile: it sets dagster_profile as `terraform apply -var
dagster_profile=...` would, and evaluates those conditions as Terraform does (`==`, `cond ? a : b`,
`coalesce`, `toset`/`tomap` literals), so that `typed()` lists only the resources that exist in that
profile, and every check runs on each profile's own set of resources. An expression outside that subset
is kept as text, and a check that needs its value fails rather than guess.
"""

from __future__ import annotations

import json
import re
import shutil
from functools import cached_property
from pathlib import Path

import hcl2

from health_pipeline.schema.terraform import _unquote
from health_pipeline.settings import PROJECT_ROOT

TERRAFORM_DIR = PROJECT_ROOT / "terraform"

PROFILES = ("standard", "small")

# Actions AWS offers no resource-level permissions for: the only ones allowed on "*". ssmmessages
# (ECS Exec's Session Manager channels, the small profile's task role) has no resource types at all.
UNSCOPABLE_ACTIONS = {
    "ssmmessages:CreateControlChannel",
    "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel",
    "ssmmessages:OpenDataChannel",
    "lakeformation:GetDataAccess",
    "cloudwatch:GetMetricStatistics",
    "cloudwatch:GetMetricData",
    # Only in the health-pipeline namespace: test_watcher_alarms holds its cloudwatch:namespace condition.
    "cloudwatch:PutMetricData",
    "ecr:GetAuthorizationToken",
    "ecs:DescribeTaskDefinition",
    "ec2:DescribeNetworkInterfaces",
}

_INTERPOLATION = re.compile(r"\$\{([^{}]*)\}")

# envs/prod outputs for the operators of the Dagster deployment and of the app, not settings of the code.
OPERATOR_OUTPUT_PREFIX = "dagster_"

PRODUCER_OUTPUT_PREFIX = "producer_"

ROLE_OUTPUT = "dagster_role_arn"

_REFERENCE = re.compile(r"\b(local|var)\.([A-Za-z_][A-Za-z0-9_]*)")


class Stack:
    """A terraform/ tree as parsed HCL, with just enough evaluation to follow values from
    envs/prod through module inputs, locals, variable defaults, resource arguments and outputs."""

    def __init__(self, root: Path, profile: str | None = None) -> None:
        self.root = root
        self.deploy = root.parent / "deploy"
        self.profile = profile  # None: envs/prod's default
        self._docs: dict[str, dict[str, list]] = {}

    def doc(self, module: str | None) -> dict[str, list]:
        """The merged top-level blocks of a module's .tf files (None: envs/prod)."""
        key = module or ""
        if key not in self._docs:
            directory = self.root / "envs" / "prod" if module is None else self.root / "modules" / module
            merged: dict[str, list] = {}
            for tf_file in sorted(directory.glob("*.tf")):
                with tf_file.open(encoding="utf-8") as handle:
                    for kind, items in hcl2.load(handle).items():
                        merged.setdefault(kind, []).extend(items)
            self._docs[key] = merged
        return self._docs[key]

    def named(self, module: str | None, kind: str) -> dict[str, dict]:
        """`variable`, `output` or `module` blocks by name."""
        return {_unquote(name): body for item in self.doc(module).get(kind, []) for name, body in item.items()}

    def typed(self, module: str | None, kind: str, type_name: str) -> dict[str, dict]:
        """`resource` or `data` blocks of one type that exist in this profile (count 1), by name."""
        found: dict[str, dict] = {}
        for item in self.doc(module).get(kind, []):
            for rtype, named in item.items():
                if _unquote(rtype) == type_name:
                    found.update({_unquote(name): body for name, body in named.items() if self._exists(module, body)})
        return found

    def _exists(self, module: str | None, body: dict) -> bool:
        if "count" not in body:
            return True
        count = self.value(module, body["count"])
        assert count in (0, 1), f"count = {body['count']!r} is not 0 or 1 for profile {self.profile!r}"
        return count == 1

    def resource(self, module: str, type_name: str, name: str) -> dict:
        resources = self.typed(module, "resource", type_name)
        assert name in resources, f"modules/{module}: resource {type_name}.{name} is missing"
        return resources[name]

    def locals(self, module: str | None) -> dict:
        merged: dict = {}
        for block in self.doc(module).get("locals", []):
            merged.update(block)
        return merged

    @cached_property
    def calls(self) -> dict[str, str]:
        """envs/prod module call name -> module directory name."""
        return {name: Path(_unquote(body["source"])).name for name, body in self.named(None, "module").items()}

    def call_args(self, module: str) -> dict:
        for call, directory in self.calls.items():
            if directory == module:
                return self.named(None, "module")[call]
        raise AssertionError(f"envs/prod does not use modules/{module}")

    # -- evaluation --------------------------------------------------------------------------------
    def value(self, module: str | None, raw: object) -> object:
        """The value of an HCL expression in a module (None: envs/prod); references that cannot be
        known offline (ARNs, account ids) stay as `${...}` text."""
        if not isinstance(raw, str):
            return raw
        text = _unquote(raw)
        whole = _whole_expression(text)
        if whole is not None:
            return self._expression(module, whole)
        return _INTERPOLATION.sub(lambda m: str(self._expression(module, m.group(1).strip())), text)

    def _expression(self, module: str | None, expr: str) -> object:
        expr = expr.strip()
        if expr.startswith("(") and expr.endswith(")") and _top_level(expr[1:-1], "") is not None:
            expr = expr[1:-1].strip()
        ternary = _split_ternary(expr)
        if ternary:
            condition, when_true, when_false = ternary
            chosen = self._expression(module, condition)
            assert isinstance(chosen, bool), f"cannot decide {condition!r} offline (it is {chosen!r})"
            return self._literal_or_expression(module, when_true if chosen else when_false)
        equal = _top_level(expr, "==")
        if equal is not None:
            left, right = expr[:equal], expr[equal + 2 :]
            return self._literal_or_expression(module, left) == self._literal_or_expression(module, right)
        call = re.fullmatch(r"coalesce\((.*)\)", expr, re.DOTALL)
        if call:
            for argument in _split_arguments(call.group(1)):
                value = self._literal_or_expression(module, argument)
                if value not in (None, ""):
                    return value
            return None
        product = re.fullmatch(r"(\d+)\s*\*\s*(.+)", expr)
        if product:
            operand = self._expression(module, product.group(2))
            if not isinstance(operand, int | float):
                raise AssertionError(f"cannot multiply {operand!r} ({expr})")
            return int(product.group(1)) * operand
        if re.fullmatch(r"-?\d+", expr):
            return int(expr)
        parts = expr.split(".")
        if parts[0] == "var" and len(parts) == 2:
            return self._variable(module, parts[1])
        if parts[0] == "local":
            node: object = self.locals(module)
            for part in parts[1:]:
                if not isinstance(node, dict) or part not in node:
                    raise AssertionError(f"local.{'.'.join(parts[1:])} is not defined")
                node = node[part]
            return self.value(module, node)
        if parts[0] == "module" and len(parts) == 3 and module is None:
            target = self.calls[parts[1]]
            output = self.named(target, "output")[parts[2]]
            return self.value(target, output["value"])
        if parts[0].startswith(("aws_", "awscc_")) and len(parts) == 3 and module is not None:
            body = self.typed(module, "resource", parts[0]).get(parts[1], {})
            if parts[2] in body:
                return self.value(module, body[parts[2]])
        return "${" + expr + "}"

    def _literal_or_expression(self, module: str | None, text: str) -> object:
        """An HCL literal (null, a bool, a number, a quoted string, a list or object, in toset/tomap)
        as Python data; anything else evaluated as an expression."""
        text = text.strip()
        wrapped = re.fullmatch(r"(?:toset|tomap|tolist)\((.*)\)", text, re.DOTALL)
        if wrapped:
            text = wrapped.group(1).strip()
        if text in ("null", "true", "false"):
            return {"null": None, "true": True, "false": False}[text]
        if re.fullmatch(r"-?\d+", text):
            return int(text)
        if text[:1] in ('"', "[", "{"):
            parsed = hcl2.loads(f"x = {text}\n")["x"]
            return self.value(module, parsed) if isinstance(parsed, str) else parsed
        return self._expression(module, text)

    def _variable(self, module: str | None, name: str) -> object:
        if module is None and name == "dagster_profile" and self.profile is not None:
            return self.profile  # as `terraform apply -var dagster_profile=...`
        if module is not None:
            args = self.call_args(module)
            if name in args:
                return self.value(None, args[name])
        variable = self.named(module, "variable").get(name)
        assert variable is not None, f"{module or 'envs/prod'}: var.{name} is not declared"
        if module is None and "default" not in variable:
            return "${var." + name + "}"  # the operator's to give (tfvars): known only at plan time
        assert "default" in variable, f"modules/{module}: var.{name} has no value (no input, no default)"
        return self.value(module, variable["default"])


def _whole_expression(text: str) -> str | None:
    """The inside of `${...}` when that one interpolation is the whole text."""
    if not (text.startswith("${") and text.endswith("}")):
        return None
    depth = 0
    for index, char in enumerate(_unquoted_chars(text)):
        if char in "{[(":
            depth += 1
        elif char in "}])":
            depth -= 1
            if depth == 0 and index != len(text) - 1:
                return None
    return text[2:-1].strip()


def _unquoted_chars(text: str) -> list[str]:
    """The text's characters, those inside string literals replaced by spaces (so that brackets,
    `?`, `:` and `,` in strings are not taken for operators)."""
    chars, quoted, escaped = [], False, False
    for char in text:
        if quoted:
            chars.append(" ")
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                quoted = False
        else:
            chars.append(char)
            quoted = char == '"'
    return chars


def _top_level(text: str, token: str) -> int | None:
    """Index of the first `token` outside brackets and strings (for "", whether the brackets of the
    text balance: 0 or None)."""
    depth = 0
    chars = _unquoted_chars(text)
    for index, char in enumerate(chars):
        if char in "{[(":
            depth += 1
        elif char in "}])":
            depth -= 1
            if depth < 0:
                return None
        elif token and depth == 0 and "".join(chars[index : index + len(token)]) == token:
            return index
    return (0 if depth == 0 else None) if not token else None


def _split_ternary(expr: str) -> tuple[str, str, str] | None:
    question = _top_level(expr, "?")
    if question is None:
        return None
    rest = expr[question + 1 :]
    colon = _top_level(rest, ":")
    assert colon is not None, f"a conditional without its `:`: {expr!r}"
    return expr[:question].strip(), rest[:colon].strip(), rest[colon + 1 :].strip()


def _split_arguments(text: str) -> list[str]:
    arguments = []
    while (comma := _top_level(text, ",")) is not None:
        arguments.append(text[:comma])
        text = text[comma + 1 :]
    return [*arguments, text]


def block(body: dict, name: str) -> dict:
    blocks = body.get(name) or []
    assert len(blocks) == 1, f"expected one {name} block, found {len(blocks)}"
    return blocks[0]


def statements(stack: Stack, module: str, document: str) -> list[dict]:
    policy = stack.typed(module, "data", "aws_iam_policy_document").get(document)
    assert policy is not None, f"modules/{module}: data.aws_iam_policy_document.{document} is missing"
    return policy.get("statement", [])


def lifecycle(body: dict) -> dict:
    return block(body, "lifecycle")


def modules(stack: Stack) -> list[str | None]:
    """envs/prod (None) and every directory under modules/, listed or not."""
    return [None, *sorted(path.name for path in (stack.root / "modules").iterdir() if path.is_dir())]


def everywhere(stack: Stack, kind: str, type_name: str) -> list[tuple[str | None, str, dict]]:
    return [(m, name, body) for m in modules(stack) for name, body in stack.typed(m, kind, type_name).items()]


def text(raw: object) -> str:
    return _unquote(raw) if isinstance(raw, str) else json.dumps(raw)


def named_ref(raw: object, type_name: str) -> str:
    """`aws_x.name.id` / `.arn` / `.name` (or `aws_x.name[0].id`, of a counted resource) -> name."""
    match = re.fullmatch(rf"\$\{{{type_name}\.(\w+)(?:\[0\])?\.(?:id|arn|name)\}}", text(raw))
    assert match, f"{text(raw)!r} is not a reference to a {type_name} of the module"
    return match.group(1)


def for_each_keys(stack: Stack, module: str, body: dict) -> list[str]:
    raw = body.get("for_each")
    if raw is None:
        return [""]
    value = stack.value(module, raw)
    if isinstance(value, dict):
        return list(value)
    if isinstance(value, list):
        return [_unquote(str(v)) for v in value]
    listed = re.fullmatch(r"\$\{toset\(\[(.*)\]\)\}", str(value), re.DOTALL)
    assert listed, f"cannot list the keys of for_each = {raw}"
    return re.findall(r'"([^"]+)"', listed.group(1))


def each(stack: Stack, module: str, raw: object, key: str) -> object:
    """A value in a for_each resource for one key: `local.x[each.key]` and `each.key` resolved."""
    expression = text(raw) if isinstance(raw, str) else raw
    if not isinstance(expression, str):
        return expression
    expression = expression.replace("${each.key}", key)
    indexed = re.fullmatch(r"\$\{local\.(\w+)\[each\.key\]\}", expression)
    if indexed:
        return stack.value(module, stack.locals(module)[indexed.group(1)].get(key))
    return stack.value(module, expression)


def container_definitions(stack: Stack, module: str) -> dict[str, list[dict]]:
    """Every task definition's containers, by `resource name[key]`, read from `jsonencode([...])`."""
    found: dict[str, list[dict]] = {}
    for name, body in stack.typed(module, "resource", "aws_ecs_task_definition").items():
        encoded = re.fullmatch(r"\$\{jsonencode\((.*)\)\}", body["container_definitions"], re.DOTALL)
        assert encoded, f"{name}: write container_definitions as jsonencode([...]) so it can be read"
        containers = hcl2.loads(f"x = {encoded.group(1)}\n")["x"]
        for key in for_each_keys(stack, module, body):
            found[f"{name}[{key}]"] = [{**c, "__key__": key} for c in containers]
    return found


def collect(stack: Stack, module: str | None, raw: object, seen: set[str]) -> tuple[set[str], str]:
    """The names (object keys, `name = ...` values) and text of an expression and of everything it
    refers to through locals and module variables (their values from envs/prod): an over-estimate of
    the environment a container can get."""
    names: set[str] = set()
    texts = [json.dumps(raw)]
    if isinstance(raw, dict):
        if isinstance(raw.get("name"), str):  # {name = "X", value = ...}, as ECS takes an environment
            names.add(_unquote(raw["name"]))
        for key, value in raw.items():
            if key != "__is_block__":
                names.add(key)
            sub_names, sub_text = collect(stack, module, value, seen)
            names |= sub_names
            texts.append(sub_text)
    elif isinstance(raw, list):
        for item in raw:
            sub_names, sub_text = collect(stack, module, item, seen)
            names |= sub_names
            texts.append(sub_text)
    elif isinstance(raw, str):
        names |= set(re.findall(r'name\s*=\s*\\?"([A-Za-z0-9_]+)', raw))
        for kind, ref in _REFERENCE.findall(raw):
            if f"{module}:{kind}.{ref}" in seen:
                continue
            seen.add(f"{module}:{kind}.{ref}")
            if kind == "local":
                target = stack.locals(module).get(ref)
                sub_names, sub_text = collect(stack, module, target, seen)
            elif module is not None and ref in stack.call_args(module):
                sub_names, sub_text = collect(stack, None, stack.call_args(module)[ref], seen)
            else:
                variable = stack.named(module, "variable").get(ref, {})
                sub_names, sub_text = collect(stack, module, variable.get("default"), seen)
            names |= sub_names
            texts.append(sub_text)
    return names, "\n".join(texts)


def profile_of(stack: Stack) -> str:
    profile = stack.value("dagster", "${var.profile}")
    assert profile in PROFILES, f"modules/dagster's profile is {profile!r}"
    return str(profile)


def alerts_topic(stack: Stack) -> object:
    """The alerts topic's ARN as envs/prod sees it (module.alerts.topic_arn), which must be the topic."""
    topic = stack.value(None, "${module.alerts.topic_arn}")
    assert topic == "${aws_sns_topic.alerts.arn}", f"modules/alerts outputs {topic!r} as the topic"
    return topic


def prod_output_values(stack: Stack) -> dict[str, object]:
    """The settings outputs and the role (what scripts/terraform_outputs_env.py turns into an env)."""
    return {
        name: stack.value(None, body["value"])
        for name, body in stack.named(None, "output").items()
        if name == ROLE_OUTPUT or not name.startswith((OPERATOR_OUTPUT_PREFIX, PRODUCER_OUTPUT_PREFIX))
    }


def copy(tmp_path: Path) -> Path:
    """terraform/ and the deploy/ beside it, copied; the copy's terraform/."""
    copied = tmp_path / "terraform"
    shutil.copytree(TERRAFORM_DIR, copied, ignore=shutil.ignore_patterns(".terraform", "*.tfstate*"))
    shutil.copytree(PROJECT_ROOT / "deploy", tmp_path / "deploy")
    return copied


def edited_copy(tmp_path: Path, relative: str, original: str, replacement: str) -> Path:
    """A copy (`copy`) with one careless edit: `original`, found exactly once in `relative` (a file under
    terraform/, or under deploy/), replaced; the copy's terraform/."""
    copied = copy(tmp_path)
    target = tmp_path / relative if relative.startswith("deploy/") else copied / relative
    source = target.read_text(encoding="utf-8")
    assert source.count(original) == 1, f"{relative} no longer contains {original!r} exactly once: update this edit"
    target.write_text(source.replace(original, replacement), encoding="utf-8")
    return copied
