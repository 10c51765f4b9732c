"""Go text/template's executor: walks the parse tree with Go's rules for dot, variables, pipelines, calls,
and a budget (steps, output size, template depth) so a template cannot run forever or fill memory."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sealer.gotemplate import parser as p
from sealer.gotemplate.values import GoError, Int64, StrMap, sprint_v, truth, type_name

NOARG = object()  # "no final value": the first command of a pipeline

MAX_STEPS = 200_000
MAX_OUTPUT = 1 << 20  # characters: a Secret holds at most 1 MiB
MAX_DEPTH = 100  # nested {{template}} calls
MAX_BUILT = 16 << 20  # characters of strings functions may build in one execution (each is at most 1 MiB, but a
# loop could keep thousands alive: `append` in a range)


class ExecError(GoError):
    def __init__(self, message: str, pos: int) -> None:
        super().__init__(message)
        self.pos = pos


class BudgetExceeded(ExecError):
    pass


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


@dataclass(frozen=True)
class Func:
    """A template function: Go parameter kinds (string, int, int64, float64, bool, any, value, map), the kind of
    its variadic tail (or None), and the implementation."""

    params: tuple[str, ...]
    variadic: str | None
    impl: Callable[..., Any]


GO_NAMES = {"string": "string", "int": "int", "int64": "int64", "float64": "float64", "bool": "bool",
            "map": "map[string]interface {}", "any": "interface {}", "value": "reflect.Value"}
_CONST_NAMES = {"string": "string", "int": "integer", "int64": "integer", "float64": "float", "bool": "bool"}


def validate(v: Any, kind: str) -> Any:
    """Go's validateType: a computed value must have exactly the parameter's type."""
    if kind in ("any", "value"):
        return v
    if v is None:
        if kind == "map":
            return None
        raise GoError(f"invalid value; expected {GO_NAMES[kind]}")
    ok = {"string": isinstance(v, str), "int": type(v) is int, "int64": type(v) is Int64,
          "float64": type(v) is float, "bool": type(v) is bool, "map": type(v) is dict}[kind]
    if not ok:
        raise GoError(f"wrong type for value; expected {GO_NAMES[kind]}; got {type_name(v)}")
    return v


def ideal(n: p.Number) -> Any:
    if n.overflow:
        raise ExecError("integer constant overflows int", n.pos)
    if n.is_float_text or n.int_value is None:
        return n.float_value
    return n.int_value


class State:
    def __init__(self, tree: p.Tree, funcs: dict[str, Func], max_steps: int, max_output: int,
                 missing_key_error: bool = False) -> None:
        self.tree = tree
        self.missing_key_error = missing_key_error  # Go's Option("missingkey=error"), as External Secrets sets
        self.funcs = funcs
        self.out: list[str] = []
        self.size = 0
        self.steps = 0
        self.max_steps = max_steps
        self.max_output = max_output
        self.depth = 0
        self.built = 0
        self.vars: list[list[Any]] = []
        self.pos = 0

    # budget and output
    def step(self, node: p.Node) -> None:
        self.pos = node.pos
        self.steps += 1
        if self.steps > self.max_steps:
            raise BudgetExceeded(f"stopped after {self.max_steps} steps (a loop that does not end?)", node.pos)

    def write(self, s: str) -> None:
        self.size += len(s)
        if self.size > self.max_output:
            raise BudgetExceeded(f"output larger than {self.max_output} bytes", self.pos)
        self.out.append(s)

    def error(self, message: str, node: p.Node) -> ExecError:
        return ExecError(message, node.pos)

    # variables
    def lookup(self, name: str, node: p.Node) -> Any:
        for entry in reversed(self.vars):
            if entry[0] == name:
                return entry[1]
        raise self.error(f"undefined variable: {name}", node)

    def set_var(self, name: str, value: Any, node: p.Node) -> None:
        for entry in reversed(self.vars):
            if entry[0] == name:
                entry[1] = value
                return
        raise self.error(f"undefined variable: {name}", node)

    # walking
    def walk(self, dot: Any, nodes: list[p.Node]) -> None:
        for node in nodes:
            self.step(node)
            if isinstance(node, p.Text):
                self.write(node.text)
            elif isinstance(node, p.Action):
                value = self.pipeline(dot, node.pipe)
                if not node.pipe.decls:
                    self.write("<no value>" if value is None else sprint_v(value))
            elif isinstance(node, p.Control):
                if node.kind == "range":
                    self.walk_range(dot, node)
                else:
                    self.walk_if_with(dot, node)
            elif isinstance(node, p.Template):
                self.walk_template(dot, node)
            elif isinstance(node, p.Break):
                raise _Break
            elif isinstance(node, p.Continue):
                raise _Continue
            else:
                raise self.error("unknown node", node)

    def walk_if_with(self, dot: Any, node: p.Control) -> None:
        mark = len(self.vars)
        value = self.pipeline(dot, node.pipe)
        if truth(value):
            self.walk(value if node.kind == "with" else dot, node.body)
        elif node.orelse is not None:
            self.walk(dot, node.orelse)
        del self.vars[mark:]

    def walk_range(self, dot: Any, node: p.Control) -> None:
        mark = len(self.vars)
        value = self.pipeline(dot, node.pipe)
        if isinstance(value, list):
            pairs: Any = enumerate(value)
            count = len(value)
        elif isinstance(value, dict):
            pairs = ((k, value[k]) for k in sorted(value))
            count = len(value)
        elif value is None:
            pairs, count = (), 0
        else:
            raise self.error(f"range can't iterate over a value of type {type_name(value)}", node)
        decls = node.pipe.decls
        for index, elem in pairs:
            self.step(node)
            if decls:
                if node.pipe.is_assign:
                    self.set_var(decls[0], index if len(decls) > 1 else elem, node)
                    if len(decls) > 1:
                        self.set_var(decls[1], elem, node)
                else:
                    self.vars[-1][1] = elem
                    if len(decls) > 1:
                        self.vars[-2][1] = index
            inner = len(self.vars)
            try:
                self.walk(elem, node.body)
            except _Continue:
                pass
            except _Break:
                del self.vars[inner:]
                break
            del self.vars[inner:]
        if not count and node.orelse is not None:
            self.walk(dot, node.orelse)
        del self.vars[mark:]

    def walk_template(self, dot: Any, node: p.Template) -> None:
        body = self.tree.defines.get(node.name)
        if body is None:
            raise self.error(f"no such template {node.name!r}", node)
        if self.depth >= MAX_DEPTH:
            raise BudgetExceeded(f"more than {MAX_DEPTH} nested template calls", node.pos)
        new_dot = self.pipeline(dot, node.pipe) if node.pipe else None
        saved, self.vars = self.vars, [["$", new_dot]]
        self.depth += 1
        try:
            self.walk(new_dot, body)
        finally:
            self.depth -= 1
            self.vars = saved

    # evaluation
    def pipeline(self, dot: Any, pipe: p.Pipe) -> Any:
        value: Any = None
        final: Any = NOARG
        for cmd in pipe.cmds:
            value = self.command(dot, cmd, final)
            final = value
        for name in pipe.decls:
            if pipe.is_assign:
                self.set_var(name, value, pipe)
            else:
                self.vars.append([name, value])
        return value

    def command(self, dot: Any, cmd: p.Command, final: Any) -> Any:
        first = cmd.args[0]
        self.step(first)
        if isinstance(first, p.Field):
            return self.field_chain(dot, dot, first, first.names, cmd.args, final)
        if isinstance(first, p.Chain):
            return self.chain(dot, first, cmd.args, final)
        if isinstance(first, p.Ident):
            return self.call(dot, first, cmd.args, final)
        if isinstance(first, p.Variable):
            return self.variable(dot, first, cmd.args, final)
        if len(cmd.args) > 1 or final is not NOARG:
            raise self.error("can't give argument to non-function", first)
        if isinstance(first, p.Pipe):
            return self.pipeline(dot, first)
        if isinstance(first, p.Dot):
            return dot
        if isinstance(first, p.Nil):
            raise self.error("nil is not a command", first)
        if isinstance(first, p.Bool):
            return first.value
        if isinstance(first, p.String):
            return first.value
        if isinstance(first, p.Number):
            return ideal(first)
        raise self.error("can't evaluate command", first)

    def variable(self, dot: Any, node: p.Variable, args: list[p.Node] | None, final: Any) -> Any:
        value = self.lookup(node.name, node)
        if not node.names:
            if (args and len(args) > 1) or final is not NOARG:
                raise self.error(f"can't give argument to non-function {node.name}", node)
            return value
        return self.field_chain(dot, value, node, node.names, args, final)

    def chain(self, dot: Any, node: p.Chain, args: list[p.Node] | None, final: Any) -> Any:
        if isinstance(node.node, p.Nil):
            raise self.error("indirection through explicit nil", node)
        receiver = self.arg(dot, "any", node.node)
        return self.field_chain(dot, receiver, node, node.names, args, final)

    def field_chain(self, dot: Any, receiver: Any, node: p.Node, names: list[str], args: list[p.Node] | None,
                    final: Any) -> Any:
        present_nil = False
        for i, name in enumerate(names):
            last = i == len(names) - 1
            if present_nil:
                raise self.error(f"nil pointer evaluating interface {{}}.{name}", node)
            if receiver is None:
                return None
            if not isinstance(receiver, dict):
                raise self.error(f"can't evaluate field {name} in type {type_name(receiver)}", node)
            if last and ((args and len(args) > 1) or final is not NOARG):
                raise self.error(f"{name} is not a method but has arguments", node)
            if self.missing_key_error and name not in receiver:
                raise self.error(f"map has no entry for key {name!r}", node)
            present_nil = name in receiver and receiver[name] is None and not isinstance(receiver, StrMap)
            receiver = receiver.get(name)
        return receiver

    def arg(self, dot: Any, kind: str, node: p.Node) -> Any:
        """Go's evalArg: a constant is converted to the parameter's kind; anything else must match it."""
        self.pos = node.pos
        if isinstance(node, p.Dot):
            return validate(dot, kind)
        if isinstance(node, p.Nil):
            if kind in ("any", "value", "map"):
                return None
            raise self.error(f"cannot assign nil to {GO_NAMES[kind]}", node)
        if isinstance(node, p.Field):
            return validate(self.field_chain(dot, dot, node, node.names, None, NOARG), kind)
        if isinstance(node, p.Variable):
            return validate(self.variable(dot, node, None, NOARG), kind)
        if isinstance(node, p.Pipe):
            return validate(self.pipeline(dot, node), kind)
        if isinstance(node, p.Ident):
            return validate(self.call(dot, node, [node], NOARG), kind)
        if isinstance(node, p.Chain):
            return validate(self.chain(dot, node, None, NOARG), kind)
        if kind in ("any", "value"):
            return ideal(node) if isinstance(node, p.Number) else node.value  # type: ignore[attr-defined]
        if isinstance(node, p.Bool) and kind == "bool":
            return node.value
        if isinstance(node, p.String) and kind == "string":
            return node.value
        if isinstance(node, p.Number):
            if kind in ("int", "int64") and node.int_value is not None:
                return node.int_value if kind == "int" else Int64(node.int_value)
            if kind == "float64" and node.float_value is not None:
                return node.float_value
        if kind == "map":
            raise self.error("can't handle a constant for an argument of type map[string]interface {}", node)
        raise self.error(f"expected {_CONST_NAMES[kind]}; found a constant of another type", node)

    def call(self, dot: Any, node: p.Ident, args: list[p.Node], final: Any) -> Any:
        name = node.name
        fn = self.funcs[name]
        rest = args[1:]
        num_in = len(rest) + (final is not NOARG)
        fixed = len(fn.params)
        if fn.variadic is not None:
            if num_in < fixed:
                raise self.error(f"wrong number of args for {name}: want at least {fixed} got {len(rest)}", node)
        elif num_in != fixed:
            raise self.error(f"wrong number of args for {name}: want {fixed} got {num_in}", node)
        if name in ("and", "or"):
            value: Any = None
            for a in rest:
                value = self.arg(dot, "value", a)
                if truth(value) == (name == "or"):
                    return value
            return final if final is not NOARG else value
        argv = [self.arg(dot, fn.params[i] if i < fixed else fn.variadic or "any", a) for i, a in enumerate(rest)]
        if final is not NOARG:
            i = num_in - 1
            argv.append(validate(final, fn.params[i] if i < fixed else fn.variadic or "any"))
        self.pos = node.pos
        try:
            result = fn.impl(*argv)
        except GoError as e:
            raise self.error(f"error calling {name}: {e}", node) from None
        except (ValueError, TypeError, IndexError, KeyError, ZeroDivisionError, OverflowError, AttributeError,
                RecursionError, MemoryError):
            raise self.error(f"error calling {name}", node) from None
        if isinstance(result, str):
            self.built += len(result)
            if self.built > MAX_BUILT:
                raise BudgetExceeded(f"functions built more than {MAX_BUILT} characters", node.pos)
        return result


def execute(tree: p.Tree, funcs: dict[str, Func], data: Any, *, max_steps: int = MAX_STEPS,
            max_output: int = MAX_OUTPUT, missing_key_error: bool = False) -> str:
    state = State(tree, funcs, max_steps, max_output, missing_key_error)
    state.vars = [["$", data]]
    try:
        state.walk(data, tree.root)
    except (_Break, _Continue):  # the parser allows them only inside {{range}}
        raise ExecError("break or continue outside range", state.pos) from None
    except GoError as e:
        if isinstance(e, ExecError):
            raise
        raise ExecError(str(e), state.pos) from None
    return "".join(state.out)
