"""Parser of the condition language: expr-lang (what Argo users write) and Python syntax, to a Python AST.

Part of the pure analysis core, used by `conditions` (which evaluates the tree with simpleeval). A small
tokenizer and a precedence-climbing parser accept the union of the two syntaxes and build a *restricted*
Python `ast` tree: only constants, names, subscripts, slices, list/dict literals, unary/binary/boolean ops,
comparisons, conditional expressions, calls of named functions and one-parameter lambdas (predicates). No
`ast.Attribute` is ever produced (``a.b`` becomes ``a["b"]``), so nothing outside the data can be reached.

Syntax accepted (docs/semantics/analysis.md#condition-language):

* expr-lang: ``&&`` ``||`` ``!`` ``true`` ``false`` ``nil`` ``a ? b : c`` ``a ?? b`` ``a.b`` ``a?.b`` ``^``
  and ``**`` (power) ``1..5`` ``contains`` ``startsWith`` ``endsWith`` ``matches`` ``not in`` and predicates
  ``all(result, {# > 0.9})`` / ``all(result, # > 0.9)`` (``#`` is the element, ``.x`` means ``#.x``);
* Python: ``and`` ``or`` ``not`` ``True`` ``False`` ``None`` ``b if a else c`` ``is`` / ``is not``,
  chained comparisons.

Precedence follows expr-lang (``!`` binds tighter than comparisons), except the word ``not``, which binds as
in Python (``not a == b`` is ``not (a == b)``). ``^`` is power as in expr-lang, never XOR.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import Final

__all__ = ["MAX_EXPRESSION_LENGTH", "PREDICATE_FUNCTIONS", "ExprSyntaxError", "Token", "parse", "tokenize"]

MAX_EXPRESSION_LENGTH: Final = 4096
MAX_NESTING: Final = 64
MAX_TREE_DEPTH: Final = 150
PREDICATE_FUNCTIONS: Final = frozenset(
    {"all", "any", "none", "one", "filter", "map", "count", "find", "findIndex", "findLast", "findLastIndex"}
)
# Internal function names cannot be written by users (they are not identifiers).
CONTAINS, STARTS_WITH, ENDS_WITH, MATCHES, RANGE, GET_OPTIONAL = (
    "@contains",
    "@startsWith",
    "@endsWith",
    "@matches",
    "@range",
    "@getOptional",
)
POINTER = "#"


class ExprSyntaxError(ValueError):
    """The expression does not parse; the message says what and where."""


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # "num" | "str" | "ident" | "op" | "ptr" | "eof"
    value: str | int | float | None
    pos: int


_OPERATORS = sorted(
    [
        "&&", "||", "==", "!=", "<=", ">=", "**", "//", "??", "?.", "..",
        "!", "<", ">", "+", "-", "*", "/", "%", "^", "?", ":", ".", ",", "(", ")", "[", "]", "{", "}",
    ],
    key=len,
    reverse=True,
)  # fmt: skip
_NUMBER = re.compile(
    r"0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+"
    r"|(?:[0-9][0-9_]*)?\.[0-9][0-9_]*(?:[eE][+-]?[0-9]+)?|[0-9][0-9_]*(?:\.(?!\.)[0-9]*)?(?:[eE][+-]?[0-9]+)?"
)
_DIGITS = frozenset("0123456789")
_IDENT = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "0": "\0", "a": "\a", "b": "\b",
            "f": "\f", "v": "\v"}  # fmt: skip


def _read_string(text: str, start: int) -> tuple[str, int]:
    quote = text[start]
    i = start + 1
    out: list[str] = []
    while i < len(text):
        c = text[i]
        if c == quote:
            return "".join(out), i + 1
        if c == "\\" and quote != "`":
            i += 1
            if i >= len(text):
                break
            e = text[i]
            if e in _ESCAPES:
                out.append(_ESCAPES[e])
            elif e in "ux":
                width = 4 if e == "u" else 2
                digits = text[i + 1 : i + 1 + width]
                if len(digits) != width or not all(d in "0123456789abcdefABCDEF" for d in digits):
                    raise ExprSyntaxError(f"invalid escape sequence \\{e} at column {i}")
                out.append(chr(int(digits, 16)))
                i += width
            else:
                raise ExprSyntaxError(f"invalid escape sequence \\{e} at column {i}")
            i += 1
            continue
        out.append(c)
        i += 1
    raise ExprSyntaxError(f"literal not terminated at column {start + 1}")


def tokenize(text: str) -> list[Token]:
    """Split an expression into tokens (numbers, strings, identifiers, operators, ``#``)."""
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
            continue
        if c in "\"'`":
            value, i2 = _read_string(text, i)
            tokens.append(Token("str", value, i + 1))
            i = i2
            continue
        if c in _DIGITS or (c == "." and i + 1 < n and text[i + 1] in _DIGITS and not _after_value(tokens)):
            m = _NUMBER.match(text, i)
            if m is None:
                raise ExprSyntaxError(f"invalid number at column {i + 1}")
            lit = m.group(0).replace("_", "")
            try:
                if lit[:2].lower() in ("0x", "0o", "0b"):
                    num: int | float = int(lit, 0)
                elif any(ch in lit for ch in ".eE"):
                    num = float(lit)
                else:
                    num = int(lit)
            except ValueError:
                raise ExprSyntaxError(f"invalid number {m.group(0)!r} at column {i + 1}") from None
            tokens.append(Token("num", num, i + 1))
            i = m.end()
            continue
        if c == "#":
            m = _IDENT.match(text, i + 1)
            name = "#" + (m.group(0) if m else "")
            tokens.append(Token("ptr", name, i + 1))
            i = m.end() if m else i + 1
            continue
        m = _IDENT.match(text, i)
        if m:
            tokens.append(Token("ident", m.group(0), i + 1))
            i = m.end()
            continue
        for op in _OPERATORS:
            if text.startswith(op, i):
                if op == "?." and text[i + 2 : i + 3] in _DIGITS:
                    op = "?"  # `c ? .5 : 1` is a conditional, not optional chaining
                tokens.append(Token("op", op, i + 1))
                i += len(op)
                break
        else:
            raise ExprSyntaxError(f"unexpected character {c!r} at column {i + 1}")
    tokens.append(Token("eof", None, n + 1))
    return tokens


def _after_value(tokens: list[Token]) -> bool:
    """True when the previous token ends an operand (so ``.5`` after it is member access, not a number)."""
    if not tokens:
        return False
    last = tokens[-1]
    return last.kind in ("num", "str", "ident", "ptr") or last.value in (")", "]", "}")


# Binary operator binding powers (expr-lang's table).
_BINARY: dict[str, int] = {
    "||": 10, "or": 10,
    "&&": 15, "and": 15,
    "==": 20, "!=": 20, "<": 20, ">": 20, "<=": 20, ">=": 20, "in": 20, "not in": 20, "is": 20, "is not": 20,
    "contains": 20, "startsWith": 20, "endsWith": 20, "matches": 20,
    "..": 25,
    "+": 30, "-": 30,
    "*": 60, "/": 60, "%": 60, "//": 60,
    "**": 100, "^": 100,
    "??": 500,
}  # fmt: skip
_COMPARE: dict[str, type[ast.cmpop]] = {
    "==": ast.Eq, "!=": ast.NotEq, "<": ast.Lt, ">": ast.Gt, "<=": ast.LtE, ">=": ast.GtE,
    "in": ast.In, "not in": ast.NotIn, "is": ast.Is, "is not": ast.IsNot,
}  # fmt: skip
_ARITH: dict[str, type[ast.operator]] = {
    "+": ast.Add, "-": ast.Sub, "*": ast.Mult, "/": ast.Div, "%": ast.Mod, "//": ast.FloorDiv,
    "**": ast.Pow, "^": ast.Pow,
}  # fmt: skip
_STRING_OPS = {"contains": CONTAINS, "startsWith": STARTS_WITH, "endsWith": ENDS_WITH, "matches": MATCHES}
_CONSTANTS: dict[str, bool | None] = {
    "true": True, "True": True, "false": False, "False": False, "nil": None, "None": None,
}  # fmt: skip
_KEYWORDS = frozenset({"and", "or", "not", "in", "if", "else", "is", *_STRING_OPS})
_RIGHT_ASSOC = frozenset({"**", "^"})


def _call(name: str, *args: ast.expr) -> ast.Call:
    return ast.Call(func=ast.Name(id=name, ctx=ast.Load()), args=list(args), keywords=[])


def _describe(tok: Token) -> str:
    if tok.kind == "eof":
        return "end of expression"
    return repr(tok.value) if tok.kind != "str" else "string literal"


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.i = 0
        self.closure_depth = 0
        self.depth = 0
        self.names: set[str] = set()
        self.calls: set[str] = set()

    # token helpers
    def peek(self, offset: int = 0) -> Token:
        return self.tokens[min(self.i + offset, len(self.tokens) - 1)]

    def next(self) -> Token:
        tok = self.peek()
        self.i += 1
        return tok

    def at(self, value: str) -> bool:
        tok = self.peek()
        return tok.kind in ("op", "ident") and tok.value == value

    def expect(self, value: str) -> Token:
        tok = self.next()
        if tok.kind not in ("op", "ident") or tok.value != value:
            raise ExprSyntaxError(f"expected {value!r} but found {_describe(tok)} at column {tok.pos}")
        return tok

    def unexpected(self, tok: Token) -> ExprSyntaxError:
        return ExprSyntaxError(f"unexpected token {_describe(tok)} at column {tok.pos}")

    # grammar
    def parse_expr(self) -> ast.expr:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise ExprSyntaxError(f"expression nested deeper than {MAX_NESTING} levels")
        try:
            cond = self.parse_binary(0)
            if self.at("?"):
                self.next()
                body = self.parse_expr()
                self.expect(":")
                return ast.IfExp(test=cond, body=body, orelse=self.parse_expr())
            if self.at("if"):
                self.next()
                test = self.parse_binary(0)
                self.expect("else")
                return ast.IfExp(test=test, body=cond, orelse=self.parse_expr())
            return cond
        finally:
            self.depth -= 1

    def binary_op(self) -> str | None:
        tok = self.peek()
        if tok.kind not in ("op", "ident"):
            return None
        value = str(tok.value)
        if value == "not" and self.peek(1).kind == "ident" and self.peek(1).value == "in":
            return "not in"
        if value == "is" and self.peek(1).kind == "ident" and self.peek(1).value == "not":
            return "is not"
        return value if value in _BINARY else None

    def parse_binary(self, min_bp: int) -> ast.expr:
        left = self.parse_unary()
        while True:
            op = self.binary_op()
            if op is None or _BINARY[op] <= min_bp:
                return left
            bp = _BINARY[op]
            self.i += 2 if " " in op else 1
            right = self.parse_binary(bp - 1 if op in _RIGHT_ASSOC else bp)
            left = self.combine(op, left, right)

    def combine(self, op: str, left: ast.expr, right: ast.expr) -> ast.expr:
        if op in ("||", "or", "&&", "and"):
            kind: ast.boolop = ast.Or() if op in ("||", "or") else ast.And()
            if isinstance(left, ast.BoolOp) and type(left.op) is type(kind):
                return ast.BoolOp(op=kind, values=[*left.values, right])
            return ast.BoolOp(op=kind, values=[left, right])
        if op in _COMPARE:
            cmp = _COMPARE[op]()
            if isinstance(left, ast.Compare) and not getattr(left, "_closed", False):
                return ast.Compare(
                    left=left.left, ops=[*left.ops, cmp], comparators=[*left.comparators, right]
                )
            return ast.Compare(left=left, ops=[cmp], comparators=[right])
        if op in _STRING_OPS:
            return _call(_STRING_OPS[op], left, right)
        if op == "..":
            return _call(RANGE, left, right)
        if op == "??":
            test = ast.Compare(left=left, ops=[ast.IsNot()], comparators=[ast.Constant(None)])
            return ast.IfExp(test=test, body=left, orelse=right)
        return ast.BinOp(left=left, op=_ARITH[op](), right=right)

    def parse_unary(self) -> ast.expr:
        self.depth += 1  # prefix operators nest without going through parse_expr
        if self.depth > MAX_NESTING:
            raise ExprSyntaxError(f"expression nested deeper than {MAX_NESTING} levels")
        try:
            return self._parse_unary()
        finally:
            self.depth -= 1

    def _parse_unary(self) -> ast.expr:
        tok = self.peek()
        if tok.kind == "op" and tok.value == "!":
            self.next()
            return ast.UnaryOp(op=ast.Not(), operand=self.parse_binary(50))
        if tok.kind == "ident" and tok.value == "not":
            self.next()
            return ast.UnaryOp(op=ast.Not(), operand=self.parse_binary(19))
        if tok.kind == "op" and tok.value in ("-", "+"):
            self.next()
            operand = self.parse_binary(90)
            value = operand.value if isinstance(operand, ast.Constant) else None
            if tok.value == "-" and isinstance(value, int | float) and not isinstance(value, bool):
                return ast.Constant(-value)
            op: ast.unaryop = ast.USub() if tok.value == "-" else ast.UAdd()
            return ast.UnaryOp(op=op, operand=operand)
        return self.parse_postfix(self.parse_primary())

    def parse_primary(self) -> ast.expr:
        tok = self.next()
        if tok.kind == "num" or tok.kind == "str":
            return ast.Constant(tok.value)
        if tok.kind == "ptr":
            if self.closure_depth == 0:
                raise ExprSyntaxError(f"cannot use pointer accessor outside predicate at column {tok.pos}")
            return ast.Name(id=str(tok.value), ctx=ast.Load())
        if tok.kind == "ident":
            name = str(tok.value)
            if name in _CONSTANTS:
                return ast.Constant(_CONSTANTS[name])
            if name in _KEYWORDS:
                raise self.unexpected(tok)
            if self.at("("):
                return self.parse_call(name)
            self.names.add(name)
            return ast.Name(id=name, ctx=ast.Load())
        if tok.kind == "op":
            if tok.value == "(":
                inner = self.parse_expr()
                self.expect(")")
                if isinstance(inner, ast.Compare):
                    inner._closed = True  # type: ignore[attr-defined]  # (a < b) < c must not chain
                return inner
            if tok.value == "[":
                return ast.List(elts=self.parse_items("]"), ctx=ast.Load())
            if tok.value == "{":
                return self.parse_map()
            if tok.value == "." and self.closure_depth > 0 and self.peek().kind == "ident":
                field = str(self.next().value)
                return ast.Subscript(value=ast.Name(id=POINTER, ctx=ast.Load()), slice=ast.Constant(field))
        raise self.unexpected(tok)

    def parse_items(self, close: str) -> list[ast.expr]:
        items: list[ast.expr] = []
        while not self.at(close):
            items.append(self.parse_expr())
            if not self.at(close):
                self.expect(",")
        self.expect(close)
        return items

    def parse_map(self) -> ast.expr:
        keys: list[ast.expr | None] = []
        values: list[ast.expr] = []
        while not self.at("}"):
            tok = self.next()
            if tok.kind in ("ident", "str", "num"):
                key: ast.expr = ast.Constant(tok.value)
            elif tok.kind == "op" and tok.value == "(":
                key = self.parse_expr()
                self.expect(")")
            else:
                raise self.unexpected(tok)
            self.expect(":")
            keys.append(key)
            values.append(self.parse_expr())
            if not self.at("}"):
                self.expect(",")
        self.expect("}")
        return ast.Dict(keys=keys, values=values)

    def parse_call(self, name: str) -> ast.expr:
        self.calls.add(name)
        self.expect("(")
        args: list[ast.expr] = []
        while not self.at(")"):
            if name in PREDICATE_FUNCTIONS and len(args) == 1:
                args.append(self.parse_closure())
            else:
                args.append(self.parse_expr())
            if not self.at(")"):
                self.expect(",")
        self.expect(")")
        return ast.Call(func=ast.Name(id=name, ctx=ast.Load()), args=args, keywords=[])

    def parse_closure(self) -> ast.expr:
        self.closure_depth += 1
        try:
            if self.at("{"):
                self.next()
                body = self.parse_expr()
                self.expect("}")
            else:
                body = self.parse_expr()
        finally:
            self.closure_depth -= 1
        arguments = ast.arguments(
            posonlyargs=[], args=[ast.arg(arg=POINTER)], kwonlyargs=[], kw_defaults=[], defaults=[]
        )
        return ast.Lambda(args=arguments, body=body)

    def parse_postfix(self, node: ast.expr) -> ast.expr:
        while True:
            tok = self.peek()
            if tok.kind != "op":
                return node
            if tok.value in (".", "?."):
                self.next()
                field = self.next()
                if field.kind != "ident":
                    raise self.unexpected(field)
                if tok.value == "?.":
                    node = _call(GET_OPTIONAL, node, ast.Constant(field.value))
                else:
                    node = ast.Subscript(value=node, slice=ast.Constant(field.value))
            elif tok.value == "[":
                self.next()
                lower = None if self.at(":") else self.parse_expr()
                if self.at(":"):
                    self.next()
                    upper = None if self.at("]") else self.parse_expr()
                    node = ast.Subscript(value=node, slice=ast.Slice(lower=lower, upper=upper))
                else:
                    assert lower is not None
                    node = ast.Subscript(value=node, slice=lower)
                self.expect("]")
            elif tok.value == "(":
                raise ExprSyntaxError(f"only named functions can be called (column {tok.pos})")
            else:
                return node


@dataclass(frozen=True, slots=True)
class Parsed:
    tree: ast.expr
    names: frozenset[str]
    """Identifiers used as values, for the unknown-name check."""
    calls: frozenset[str]
    """Identifiers called as functions."""


def _depth(tree: ast.AST) -> int:
    """Depth of the tree, computed without recursion (evaluation recurses once per level)."""
    deepest = 0
    stack: list[tuple[ast.AST, int]] = [(tree, 1)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in ast.iter_child_nodes(node))
    return deepest


def parse(text: str) -> Parsed:
    """Parse a condition into a restricted Python AST; raises ExprSyntaxError."""
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise ExprSyntaxError(f"expression longer than {MAX_EXPRESSION_LENGTH} characters")
    if not text.strip():
        raise ExprSyntaxError("empty expression")
    parser = _Parser(text)
    try:
        tree = parser.parse_expr()
    except RecursionError:
        raise ExprSyntaxError(f"expression nested deeper than {MAX_NESTING} levels") from None
    tok = parser.peek()
    if tok.kind != "eof":
        raise parser.unexpected(tok)
    if _depth(tree) > MAX_TREE_DEPTH:
        raise ExprSyntaxError(f"expression too deep (more than {MAX_TREE_DEPTH} nested operations)")
    return Parsed(
        tree=ast.fix_missing_locations(ast.Expression(body=tree)).body,
        names=frozenset(parser.names),
        calls=frozenset(parser.calls),
    )
