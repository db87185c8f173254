"""Go's text/template in pure Python, as Argo Rollouts' notifications use it (notifications-engine renders
every template field with text/template and Sprig's TxtFuncMap, `missingkey=default`).

Where it sits: the lowest layer of `rollouts.notifications`; `config` parses the ConfigMap's templates with
`GoTemplate.parse` and delivery renders them with `GoTemplate.render(vars)`. No maintained Python library runs
Go templates, and the templates are the users' own (the catalog's and their ConfigMaps'), so this follows Go's
lexer, parser and executor closely, including their error sentences:

    template: rollout-aborted:1:12: executing "rollout-aborted" at <.rollout.x.y>: nil pointer evaluating …

Why it is bounded: one controller renders templates written by many teams against data they control, so a
template can neither run for ever nor allocate without limit. The text is at most 64 KiB and 64 levels deep;
a render takes at most `max_steps` steps (each node evaluated and each range iteration is one) and writes at
most `max_output` characters (checked on every write, and by every function that builds a string);
`template` calls nest at most 100 deep. parse() and render() raise TemplateError and nothing else.

What is left out of Go's language: complex numbers, custom delimiters, the `missingkey` option (always
Go's default), range over channels and functions. The function set is in `gofuncs`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rollouts.notifications.gofuncs import (
    FUNCS,
    NO_VALUE,
    RFC3339,
    FuncContext,
    FuncError,
    GoDuration,
    GoTime,
    LimitError,
    format_value,
    go_format_value,
    go_quote,
    go_type_name,
    time_functions,
    truth,
)
from rollouts.notifications.gofuncs import _Buf as _OutBuf

__all__ = ["RFC3339", "GoTemplate", "TemplateError", "go_format_value", "time_functions"]

MAX_TEXT_BYTES = 65_536
MAX_PARSE_DEPTH = 64
MAX_EXEC_DEPTH = 150
MAX_TEMPLATE_DEPTH = 100
MAX_DATA_DEPTH = 100


class TemplateError(ValueError):
    """Parse or execution error; str() is a one-line sentence like Go's: 'template: <name>:<line>:<col>: ...'"""


# ---------------------------------------------------------------------------------------------------------
# Lexer (Go's text/template/parse/lex.go)

_SPACE = " \t\r\n"
_KEYWORDS = {"block", "break", "continue", "define", "else", "end", "if", "range", "nil", "template", "with"}


@dataclass(frozen=True, slots=True)
class _Tok:
    typ: str  # text, {{, }}, space, field, var, dot, ident, keyword, bool, number, char, string, raw, |, (, ), :=, =, chr, eof, error
    val: str
    pos: int
    line: int

    def describe(self) -> str:
        """Go's item.String(), as parse errors quote a token."""
        if self.typ == "eof":
            return "EOF"
        if self.typ == "keyword":
            return f"<{self.val}>"
        if len(self.val) > 10:
            return go_quote(self.val[:10]) + "..."
        return go_quote(self.val)


def _alnum(ch: str) -> bool:
    return ch == "_" or ch.isalpha() or ch.isdecimal()


def _unicode_name(ch: str) -> str:
    """Go's %#U: U+002D '-'."""
    return f"U+{ord(ch):04X} '{ch}'" if ch.isprintable() else f"U+{ord(ch):04X}"


_NUMBER = re.compile(
    r"[+-]?(?:0[xX][0-9a-fA-F_]*(?:\.[0-9a-fA-F_]*)?(?:[pP][+-]?[0-9_]*)?|0[oO][0-7_]*|0[bB][01_]*"
    r"|[0-9_]*(?:\.[0-9_]*)?(?:[eE][+-]?[0-9_]*)?)i?"
)


def _lex(text: str) -> list[_Tok]:
    toks: list[_Tok] = []
    n, pos, line = len(text), 0, 1

    def right_delim(at: int) -> tuple[bool, bool]:
        if at + 3 < n + 1 and text[at : at + 1] in tuple(_SPACE) and text.startswith("-}}", at + 1):
            return True, True
        return text.startswith("}}", at), False

    def skip_space(at: int) -> int:
        nonlocal line
        end = at
        while end < n and text[end] in _SPACE:
            end += 1
        line += text.count("\n", at, end)
        return end

    def fail(msg: str) -> list[_Tok]:
        toks.append(_Tok("error", msg, pos, line))
        return toks

    while True:
        x = text.find("{{", pos)
        if x < 0:
            if pos < n:
                toks.append(_Tok("text", text[pos:], pos, line))
            toks.append(_Tok("eof", "", n, line + text.count("\n", pos)))
            return toks
        trim = text.startswith("-", x + 2) and text[x + 3 : x + 4] in tuple(_SPACE)
        chunk = text[pos:x].rstrip(_SPACE) if trim else text[pos:x]
        if chunk:
            toks.append(_Tok("text", chunk, pos, line))
        line += text.count("\n", pos, x)
        pos = x + (4 if trim else 2)
        if text.startswith("/*", pos):
            end = text.find("*/", pos + 2)
            if end < 0:
                return fail("unclosed comment")
            line += text.count("\n", pos, end)
            pos = end + 2
            delim, trim_right = right_delim(pos)
            if not delim:
                return fail("comment ends before closing delimiter")
            pos += 4 if trim_right else 2
            if trim_right:
                pos = skip_space(pos)
            continue
        toks.append(_Tok("{{", "{{", x, line))
        depth = 0
        while True:
            delim, trim_right = right_delim(pos)
            if delim:
                if depth:
                    return fail("unclosed left paren")
                if trim_right:
                    pos += 2
                toks.append(_Tok("}}", "}}", pos, line))
                pos += 2
                if trim_right:
                    pos = skip_space(pos)
                break
            if pos >= n:
                return fail("unclosed action")
            start, ch = pos, text[pos]
            if ch in _SPACE:
                end = pos
                while end < n and text[end] in _SPACE:
                    end += 1
                # A space followed by "-}}" belongs to the trim marker, not to the action.
                if text.startswith("-}}", end):
                    end -= 1
                if end > pos:
                    toks.append(_Tok("space", text[pos:end], pos, line))
                    line += text.count("\n", pos, end)
                pos = end
                continue
            if ch == ":":
                if not text.startswith(":=", pos):
                    return fail("expected :=")
                toks.append(_Tok(":=", ":=", pos, line))
                pos += 2
                continue
            if ch in "=|":
                toks.append(_Tok(ch, ch, pos, line))
                pos += 1
                continue
            if ch in "\"'":
                typ, end = ("string", pos + 1) if ch == '"' else ("char", pos + 1)
                while True:
                    if end >= n or text[end] == "\n":
                        what = "quoted string" if ch == '"' else "character constant"
                        return fail(f"unterminated {what}")
                    if text[end] == "\\" and end + 1 < n and text[end + 1] != "\n":
                        end += 2
                        continue
                    if text[end] == ch:
                        break
                    end += 1
                toks.append(_Tok(typ, text[pos : end + 1], pos, line))
                pos = end + 1
                continue
            if ch == "`":
                end = text.find("`", pos + 1)
                if end < 0:
                    return fail("unterminated raw quoted string")
                toks.append(_Tok("raw", text[pos : end + 1], pos, line))
                line += text.count("\n", pos, end)
                pos = end + 1
                continue
            if ch == "(":
                depth += 1
                toks.append(_Tok("(", "(", pos, line))
                pos += 1
                continue
            if ch == ")":
                depth -= 1
                if depth < 0:
                    return fail("unexpected right paren")
                toks.append(_Tok(")", ")", pos, line))
                pos += 1
                continue
            if (
                ch in "+-"
                or (ch.isascii() and ch.isdigit())
                or (ch == "." and text[pos + 1 : pos + 2].isdigit())
            ):
                m = _NUMBER.match(text, pos)
                end = m.end() if m else pos + 1
                if (end < n and _alnum(text[end])) or end == pos or text[pos:end] in ("+", "-", "."):
                    return fail(f"bad number syntax: {go_quote(text[pos : end + 1])}")
                toks.append(_Tok("number", text[pos:end], pos, line))
                pos = end
                continue
            if ch in "$." or _alnum(ch):
                end = pos + 1 if ch in "$." else pos
                while end < n and _alnum(text[end]):
                    end += 1
                word = text[start:end]
                after = text[end : end + 1]
                if not (after == "" or after in _SPACE or after in ".,|:()" or text.startswith("}}", end)):
                    return fail(f"bad character {_unicode_name(after)}")
                if ch == "$":
                    typ = "var"
                elif ch == ".":
                    typ = "dot" if word == "." else "field"
                elif word in ("true", "false"):
                    typ = "bool"
                else:
                    typ = "keyword" if word in _KEYWORDS else "ident"
                toks.append(_Tok(typ, word, pos, line))
                pos = end
                continue
            if ch.isascii() and ch.isprintable():
                toks.append(_Tok("chr", ch, pos, line))
                pos += 1
                continue
            return fail(f"unrecognized character in action: {_unicode_name(ch)}")


# ---------------------------------------------------------------------------------------------------------
# Parse tree (Go's text/template/parse/node.go)


@dataclass(eq=False, slots=True)
class _Node:
    pos: int


@dataclass(eq=False, slots=True)
class _Text(_Node):
    text: str


@dataclass(eq=False, slots=True)
class _Field(_Node):
    ident: list[str]

    def __str__(self) -> str:
        return "." + ".".join(self.ident)


@dataclass(eq=False, slots=True)
class _Var(_Node):
    ident: list[str]

    def __str__(self) -> str:
        return ".".join(self.ident)


@dataclass(eq=False, slots=True)
class _Const(_Node):
    """A constant (bool, number, string, char) or nil or dot; `text` is how the template wrote it."""

    text: str
    value: Any = None
    int_value: int | None = None  # a number usable where Go wants an int

    def __str__(self) -> str:
        return self.text


@dataclass(eq=False, slots=True)
class _Ident(_Node):
    name: str

    def __str__(self) -> str:
        return self.name


@dataclass(eq=False, slots=True)
class _Command(_Node):
    args: list[_Node] = field(default_factory=list)

    def __str__(self) -> str:
        return " ".join(f"({a})" if isinstance(a, _Pipe) else str(a) for a in self.args)


@dataclass(eq=False, slots=True)
class _Pipe(_Node):
    line: int
    is_assign: bool = False
    decl: list[_Var] = field(default_factory=list)
    cmds: list[_Command] = field(default_factory=list)

    def __str__(self) -> str:
        head = ", ".join(map(str, self.decl)) + (" = " if self.is_assign else " := ") if self.decl else ""
        return head + " | ".join(map(str, self.cmds))


@dataclass(eq=False, slots=True)
class _Chain(_Node):
    node: _Node
    fields: list[str]

    def __str__(self) -> str:
        base = f"({self.node})" if isinstance(self.node, _Pipe) else str(self.node)
        return base + "".join("." + f for f in self.fields)


@dataclass(eq=False, slots=True)
class _Action(_Node):
    line: int
    pipe: _Pipe

    def __str__(self) -> str:
        return "{{" + str(self.pipe) + "}}"


@dataclass(eq=False, slots=True)
class _List(_Node):
    nodes: list[_Node] = field(default_factory=list)


@dataclass(eq=False, slots=True)
class _Branch(_Node):
    kind: str  # if, with, range
    line: int
    pipe: _Pipe
    body: _List
    orelse: _List | None

    def __str__(self) -> str:
        return "{{" + self.kind + " " + str(self.pipe) + "}}"


@dataclass(eq=False, slots=True)
class _Template(_Node):
    line: int
    name: str
    pipe: _Pipe | None

    def __str__(self) -> str:
        return "{{template " + go_quote(self.name) + (" " + str(self.pipe) if self.pipe else "") + "}}"


@dataclass(eq=False, slots=True)
class _Jump(_Node):
    kind: str  # break, continue

    def __str__(self) -> str:
        return "{{" + self.kind + "}}"


@dataclass(eq=False, slots=True)
class _End(_Node):
    kind: str  # end, else
    then: str = ""  # "if" or "with" for {{else if}} / {{else with}}

    def __str__(self) -> str:
        return "{{" + self.kind + "}}"


# ---------------------------------------------------------------------------------------------------------
# Parser (Go's text/template/parse/parse.go)

_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\"}


def _unquote(text: str) -> str:
    """strconv.Unquote for "…" strings, `…` raw strings and '…' characters; ValueError("invalid syntax")."""
    if text[0] == "`":
        return text[1:-1].replace("\r", "")
    quote, body, out, i = text[0], text[1:-1], bytearray(), 0
    while i < len(body):
        ch = body[i]
        if ch == quote:
            raise ValueError("invalid syntax")
        if ch != "\\":
            out += ch.encode("utf-8", "replace")
            i += 1
            continue
        esc = body[i + 1 : i + 2]
        if esc in _ESCAPES:
            out += _ESCAPES[esc].encode()
            i += 2
        elif esc == quote:
            out += esc.encode()
            i += 2
        elif esc in ("x", "u", "U"):
            size = {"x": 2, "u": 4, "U": 8}[esc]
            digits = body[i + 2 : i + 2 + size]
            if len(digits) != size or not all(c in "0123456789abcdefABCDEF" for c in digits):
                raise ValueError("invalid syntax")
            code = int(digits, 16)
            if esc == "x":
                out.append(code)
            elif code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
                raise ValueError("invalid syntax")
            else:
                out += chr(code).encode()
            i += 2 + size
        elif esc in tuple("01234567"):
            digits = body[i + 1 : i + 4]
            if len(digits) != 3 or not all(c in "01234567" for c in digits) or int(digits, 8) > 255:
                raise ValueError("invalid syntax")
            out.append(int(digits, 8))
            i += 4
        else:
            raise ValueError("invalid syntax")
    result = out.decode("utf-8", "replace")
    if quote == "'" and len(result) != 1:
        raise ValueError("invalid syntax")
    return result


def _number(tok: _Tok) -> _Const:
    """Go's NewNumber plus idealConstant: an int unless the text has a '.', exponent or is a hex float."""
    text = tok.val
    if tok.typ == "char":
        code = ord(_unquote(text))
        return _Const(tok.pos, text, code, code)
    if text.endswith("i"):
        raise ValueError(f"complex number {go_quote(text)} is not supported")
    body = text.replace("_", "")
    sign = -1 if body.startswith("-") else 1
    unsigned = body.lstrip("+-")
    is_hex = unsigned[:2] in ("0x", "0X")
    if re.fullmatch(r"0[xX][0-9a-fA-F]+|0[bB][01]+|0[oO][0-7]+|0[0-7]*|[1-9][0-9]*", unsigned):
        value = sign * int(re.sub(r"^0(?=[0-7])", "0o", unsigned), 0)
        if not -(1 << 63) <= value < 1 << 63:
            raise ValueError(f"integer overflow: {go_quote(text)}")
        return _Const(tok.pos, text, value, value)
    try:
        f = float.fromhex(body) if is_hex else float(body)
    except (ValueError, OverflowError):
        raise ValueError(f"illegal number syntax: {go_quote(text)}") from None
    if not re.search(r"[.eEpP]", unsigned) or f != f or f in (float("inf"), float("-inf")):
        raise ValueError(f"illegal number syntax: {go_quote(text)}")
    as_int = int(f) if f.is_integer() and abs(f) < 2**63 else None
    return _Const(tok.pos, text, f, as_int)


_OPERAND_START = ("bool", "char", "dot", "field", "ident", "number", "string", "raw", "var", "(")


class _Parser:
    def __init__(self, name: str, text: str) -> None:
        self.name = name
        self.text = text
        self.toks = _lex(text)
        self.i = 0
        self.vars: list[str] = ["$"]
        self.range_depth = 0
        self.depth = 0
        self.defs: dict[str, _List] = {}

    # -- tokens

    def error(self, msg: str, tok: _Tok | None = None) -> TemplateError:
        tok = tok or self.toks[max(self.i - 1, 0)]
        return TemplateError(f"template: {self.name}:{tok.line}: {msg}")

    def next(self) -> _Tok:
        tok = self.toks[self.i]
        if tok.typ == "error":
            raise TemplateError(f"template: {self.name}:{tok.line}: {tok.val}")
        self.i += 1
        return tok

    def backup(self, n: int = 1) -> None:
        self.i -= n

    def peek(self) -> _Tok:
        tok = self.next()
        self.backup()
        return tok

    def next_non_space(self) -> _Tok:
        tok = self.next()
        while tok.typ == "space":
            tok = self.next()
        return tok

    def peek_non_space(self) -> _Tok:
        tok = self.next_non_space()
        self.backup()
        return tok

    def unexpected(self, tok: _Tok, context: str) -> TemplateError:
        return self.error(f"unexpected {tok.describe()} in {context}", tok)

    def expect(self, typ: str, context: str) -> _Tok:
        tok = self.next_non_space()
        if tok.typ != typ:
            raise self.unexpected(tok, context)
        return tok

    def nest(self) -> None:
        self.depth += 1
        if self.depth > MAX_PARSE_DEPTH:
            raise self.error(f"the template is nested deeper than the limit of {MAX_PARSE_DEPTH} levels")

    # -- structure

    def parse(self) -> dict[str, _List]:
        root = _List(0)
        while self.peek().typ != "eof":
            if self.peek().typ == "{{":
                save = self.i
                self.next()
                tok = self.next_non_space()
                if tok.typ == "keyword" and tok.val == "define":
                    self.parse_definition()
                    continue
                self.i = save
            node = self.text_or_action()
            if isinstance(node, _End):
                raise self.error(f"unexpected {node}")
            root.nodes.append(node)
        self.add(self.name, root)
        return self.defs

    def add(self, name: str, body: _List) -> None:
        old = self.defs.get(name)
        if old is None or _is_empty(old):
            self.defs[name] = body
        elif not _is_empty(body):
            raise self.error(f"template: multiple definition of template {go_quote(name)}")

    def parse_definition(self) -> None:
        context = "define clause"
        tok = self.next_non_space()
        if tok.typ not in ("string", "raw"):
            raise self.unexpected(tok, context)
        name = self.unquote(tok)
        self.expect("}}", context)
        body, end = self.sub_tree_list()
        if end.kind != "end":
            raise self.error(f"unexpected {end} in {context}")
        self.add(name, body)

    def sub_tree_list(self) -> tuple[_List, _End]:
        """A body with its own variables ({{define}} and {{block}} start a new template)."""
        saved = self.vars, self.range_depth
        self.vars, self.range_depth = ["$"], 0
        try:
            return self.item_list()
        finally:
            self.vars, self.range_depth = saved

    def unquote(self, tok: _Tok) -> str:
        try:
            return _unquote(tok.val)
        except ValueError as exc:
            raise self.error(str(exc), tok) from None

    def item_list(self) -> tuple[_List, _End]:
        nodes = _List(self.peek_non_space().pos)
        while self.peek_non_space().typ != "eof":
            node = self.text_or_action()
            if isinstance(node, _End):
                return nodes, node
            nodes.nodes.append(node)
        raise self.error("unexpected EOF")

    def text_or_action(self) -> _Node:
        tok = self.next_non_space()
        if tok.typ == "text":
            return _Text(tok.pos, tok.val)
        if tok.typ == "{{":
            return self.action()
        raise self.unexpected(tok, "input")

    def action(self) -> _Node:
        tok = self.next_non_space()
        if tok.typ == "keyword":
            word = tok.val
            if word in ("if", "with", "range"):
                return self.control(word, tok)
            if word in ("break", "continue"):
                after = self.next_non_space()
                if after.typ != "}}":
                    raise self.unexpected(after, "{{" + word + "}}")
                if not self.range_depth:
                    raise self.error(f"{{{{{word}}}}} outside {{{{range}}}}", tok)
                return _Jump(tok.pos, word)
            if word == "end":
                self.expect("}}", "end")
                return _End(tok.pos, "end")
            if word == "else":
                peek = self.peek_non_space()
                if peek.typ == "keyword" and peek.val in ("if", "with"):
                    return _End(peek.pos, "else", peek.val)
                self.expect("}}", "else")
                return _End(tok.pos, "else")
            if word in ("template", "block"):
                return self.template_control(word, tok)
        self.backup()
        start = self.peek_non_space()
        return _Action(start.pos, start.line, self.pipeline("command", "}}"))

    def control(self, context: str, tok: _Tok) -> _Branch:
        self.nest()
        n_vars = len(self.vars)
        try:
            pipe = self.pipeline(context, "}}")
            if context == "range":
                self.range_depth += 1
            body, end = self.item_list()
            if context == "range":
                self.range_depth -= 1
            orelse: _List | None = None
            if end.kind == "else":
                if end.then and end.then == context and context in ("if", "with"):
                    then_tok = self.next_non_space()
                    orelse = _List(end.pos, [self.control(context, then_tok)])
                elif end.then:
                    raise self.unexpected(self.next_non_space(), "input")
                else:
                    orelse, end2 = self.item_list()
                    if end2.kind != "end":
                        raise self.error(f"expected end; found {end2}")
            return _Branch(pipe.pos, context, pipe.line, pipe, body, orelse)
        finally:
            del self.vars[n_vars:]
            self.depth -= 1

    def template_control(self, word: str, tok: _Tok) -> _Template:
        context = f"{word} clause"
        name_tok = self.next_non_space()
        if name_tok.typ not in ("string", "raw"):
            raise self.unexpected(name_tok, context)
        name = self.unquote(name_tok)
        pipe: _Pipe | None = None
        if word == "block":
            pipe = self.pipeline(context, "}}")
            body, end = self.sub_tree_list()
            if end.kind != "end":
                raise self.error(f"unexpected {end} in {context}")
            self.add(name, body)
        elif self.next_non_space().typ != "}}":
            self.backup()
            pipe = self.pipeline(context, "}}")
        return _Template(tok.pos, tok.line, name, pipe)

    def pipeline(self, context: str, end: str) -> _Pipe:
        start = self.peek_non_space()
        pipe = _Pipe(start.pos, start.line)
        self.declarations(pipe, context)
        while True:
            tok = self.next_non_space()
            if tok.typ == end:
                if not pipe.cmds:
                    raise self.error(f"missing value for {context}", tok)
                for i, cmd in enumerate(pipe.cmds[1:]):
                    first = cmd.args[0]
                    if isinstance(first, _Const):
                        raise self.error(f"non executable command in pipeline stage {i + 2}", tok)
                return pipe
            if tok.typ in (
                "bool",
                "char",
                "dot",
                "field",
                "ident",
                "number",
                "string",
                "raw",
                "var",
                "(",
            ) or (tok.typ == "keyword" and tok.val == "nil"):
                self.backup()
                pipe.cmds.append(self.command())
            else:
                raise self.unexpected(tok, context)

    def declarations(self, pipe: _Pipe, context: str) -> None:
        while True:
            var = self.peek_non_space()
            if var.typ != "var":
                return
            save = self.i  # on the variable: a variable not followed by := = or , is an operand
            self.next()
            nxt = self.peek_non_space()
            if nxt.typ in (":=", "="):
                pipe.is_assign = nxt.typ == "="
                self.next_non_space()
                pipe.decl.append(_Var(var.pos, [var.val]))
                self.vars.append(var.val)
                return
            if nxt.typ == "chr" and nxt.val == ",":
                self.next_non_space()
                pipe.decl.append(_Var(var.pos, [var.val]))
                self.vars.append(var.val)
                if context == "range" and len(pipe.decl) < 2:
                    if self.peek_non_space().typ in ("var", "}}", ")"):
                        continue
                    raise self.error("range can only initialize variables")
                raise self.error(f"too many declarations in {context}")
            self.i = save
            return

    def command(self) -> _Command:
        cmd = _Command(self.peek_non_space().pos)
        while True:
            self.peek_non_space()  # skip spaces before the operand
            operand = self.operand()
            if operand is not None:
                cmd.args.append(operand)
            tok = self.next()
            if tok.typ == "space":
                continue
            if tok.typ in ("}}", ")"):
                self.backup()
            elif tok.typ != "|":
                raise self.unexpected(tok, "operand")
            break
        if not cmd.args:
            raise self.error("empty command")
        return cmd

    def operand(self) -> _Node | None:
        node = self.term()
        if node is None:
            return None
        if self.peek().typ == "field":
            fields_pos = self.peek().pos
            fields: list[str] = []
            while self.peek().typ == "field":
                fields.append(self.next().val[1:])
            if isinstance(node, _Field):
                return _Field(fields_pos, node.ident + fields)
            if isinstance(node, _Var):
                return _Var(fields_pos, node.ident + fields)
            if isinstance(node, _Const):
                raise self.error(f"unexpected . after term {go_quote(str(node))}")
            return _Chain(fields_pos, node, fields)
        return node

    def term(self) -> _Node | None:
        tok = self.next_non_space()
        typ = tok.typ
        if typ == "ident":
            if tok.val not in FUNCS:
                raise self.error(f"function {go_quote(tok.val)} not defined", tok)
            return _Ident(tok.pos, tok.val)
        if typ == "dot":
            return _Const(tok.pos, ".")
        if typ == "keyword" and tok.val == "nil":
            return _Const(tok.pos, "nil")
        if typ == "var":
            if tok.val not in self.vars:
                raise self.error(f"undefined variable {go_quote(tok.val)}", tok)
            return _Var(tok.pos, [tok.val])
        if typ == "field":
            return _Field(tok.pos, [tok.val[1:]])
        if typ == "bool":
            return _Const(tok.pos, tok.val, tok.val == "true")
        if typ in ("number", "char"):
            try:
                return _number(tok)
            except ValueError as exc:
                raise self.error(str(exc), tok) from None
        if typ == "(":
            self.nest()
            try:
                return self.pipeline("parenthesized pipeline", ")")
            finally:
                self.depth -= 1
        if typ in ("string", "raw"):
            return _Const(tok.pos, tok.val, self.unquote(tok))
        self.backup()
        return None


def _is_empty(body: _List) -> bool:
    return all(isinstance(n, _Text) and not n.text.strip(_SPACE) for n in body.nodes)


# ---------------------------------------------------------------------------------------------------------
# Executor (Go's text/template/exec.go)

_MISSING = object()  # no value piped in from a previous command (Go's missingVal)


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


def _import(value: Any, depth: int = 0) -> Any:
    """JSON-decoded data as Go sees it after json.Unmarshal: every number a float64."""
    if depth > MAX_DATA_DEPTH:
        raise TemplateError(f"the template data is nested deeper than the limit of {MAX_DATA_DEPTH} levels")
    if value is None or isinstance(value, bool | str | float | GoTime | GoDuration):
        return value
    if isinstance(value, int):
        return float(value)
    if isinstance(value, Mapping):
        return {str(k): _import(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_import(v, depth + 1) for v in value]
    if isinstance(value, datetime):
        return GoTime.from_datetime(value)
    if callable(value):
        return value
    raise TemplateError(f"the template data holds a value of unsupported type {type(value).__name__}")


class _Exec:
    def __init__(self, tmpl: GoTemplate, max_output: int, max_steps: int) -> None:
        self.tmpl = tmpl
        self.out = _OutBuf(max_output, "the template")
        self.ctx = FuncContext(max_output)
        self.max_steps = max_steps
        self.steps = 0
        self.depth = 0
        self.calls = 0
        self.name = tmpl.name
        self.vars: list[tuple[str, Any]] = []

    # -- errors and bounds

    def error(self, node: _Node, msg: str) -> TemplateError:
        before = self.tmpl.text[: node.pos]
        line = before.count("\n") + 1
        col = node.pos - (before.rfind("\n") + 1)
        where = f"{self.tmpl.name}:{line}:{col}"
        return TemplateError(f"template: {where}: executing {go_quote(self.name)} at <{node}>: {msg}")

    def limit(self, msg: str) -> TemplateError:
        return TemplateError(f"template: {self.tmpl.name}: rendering stopped: {msg}")

    def step(self) -> None:
        self.steps += 1
        if self.steps > self.max_steps:
            raise self.limit(f"the template took more than {self.max_steps} steps (max_steps)")

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_EXEC_DEPTH:
            raise self.limit(f"the template nests deeper than the limit of {MAX_EXEC_DEPTH} levels")

    def write(self, text: str) -> None:
        try:
            self.out.add(text)
        except LimitError:
            raise self.limit(
                f"the output exceeds the limit of {self.out.limit} characters (max_output)"
            ) from None

    # -- variables

    def var_value(self, node: _Node, name: str) -> Any:
        for var, value in reversed(self.vars):
            if var == name:
                return value
        raise self.error(node, f"undefined variable: {name}")

    def set_var(self, node: _Node, name: str, value: Any) -> None:
        for i in range(len(self.vars) - 1, -1, -1):
            if self.vars[i][0] == name:
                self.vars[i] = (name, value)
                return
        raise self.error(node, f"undefined variable: {name}")

    def set_top(self, n: int, value: Any) -> None:
        self.vars[-n] = (self.vars[-n][0], value)

    # -- statements

    def walk(self, dot: Any, node: _Node) -> None:
        self.step()
        if isinstance(node, _Text):
            self.write(node.text)
        elif isinstance(node, _List):
            for child in node.nodes:
                self.walk(dot, child)
        elif isinstance(node, _Action):
            value = self.eval_pipeline(dot, node.pipe)
            if not node.pipe.decl:
                self.print_value(node, value)
        elif isinstance(node, _Branch):
            self.enter()
            try:
                self.walk_range(dot, node) if node.kind == "range" else self.walk_if_with(dot, node)
            finally:
                self.depth -= 1
        elif isinstance(node, _Template):
            self.walk_template(dot, node)
        elif isinstance(node, _Jump):
            raise _Break() if node.kind == "break" else _Continue()

    def print_value(self, node: _Node, value: Any) -> None:
        if callable(value) and not isinstance(value, GoTime | GoDuration):
            raise self.error(
                node, f"can't print {node.pipe if isinstance(node, _Action) else node} of type func"
            )
        try:
            format_value(value, self.out)
        except LimitError:
            raise self.limit(
                f"the output exceeds the limit of {self.out.limit} characters (max_output)"
            ) from None

    def walk_if_with(self, dot: Any, node: _Branch) -> None:
        mark = len(self.vars)
        try:
            value = self.eval_pipeline(dot, node.pipe)
            if truth(value):
                self.walk(value if node.kind == "with" else dot, node.body)
            elif node.orelse is not None:
                self.walk(dot, node.orelse)
        finally:
            del self.vars[mark:]

    def walk_range(self, dot: Any, node: _Branch) -> None:
        mark = len(self.vars)
        try:
            value = self.eval_pipeline(dot, node.pipe)
            if isinstance(value, list):
                items: Any = ((i, value[i]) for i in range(len(value)) if i < len(value))
                empty = not value
            elif isinstance(value, dict):
                items = ((k, value[k]) for k in sorted(value) if k in value)
                empty = not value
            elif isinstance(value, int) and not isinstance(value, bool):
                if len(node.pipe.decl) > 1:
                    raise self.error(node, f"can't use {value} to iterate over more than one variable")
                items = ((i, i) for i in range(value))
                empty = value <= 0
            elif value is None or value is NO_VALUE:
                items, empty = (), True
            else:
                raise self.error(node, f"range can't iterate over {go_format_value(value)}")
            if empty:
                if node.orelse is not None:
                    self.walk(dot, node.orelse)
                return
            decl = node.pipe.decl
            for index, elem in items:
                self.step()
                inner = len(self.vars)
                if decl:
                    if node.pipe.is_assign:
                        self.set_var(node, decl[0].ident[0], index if len(decl) > 1 else elem)
                        if len(decl) > 1:
                            self.set_var(node, decl[1].ident[0], elem)
                    else:
                        self.set_top(1, elem)
                        if len(decl) > 1:
                            self.set_top(2, index)
                try:
                    self.walk(elem, node.body)
                except _Continue:
                    pass
                except _Break:
                    break
                finally:
                    del self.vars[inner:]
        finally:
            del self.vars[mark:]

    def walk_template(self, dot: Any, node: _Template) -> None:
        body = self.tmpl._defs.get(node.name)
        if body is None:
            raise self.error(node, f"template {go_quote(node.name)} not defined")
        self.calls += 1
        if self.calls > MAX_TEMPLATE_DEPTH:
            raise self.limit(f"templates call templates deeper than the limit of {MAX_TEMPLATE_DEPTH}")
        new_dot = self.eval_pipeline(dot, node.pipe) if node.pipe is not None else NO_VALUE
        saved = self.vars, self.name
        self.vars, self.name = [("$", new_dot)], node.name
        self.enter()
        try:
            self.walk(new_dot, body)
        finally:
            self.vars, self.name = saved
            self.calls -= 1
            self.depth -= 1

    # -- expressions

    def eval_pipeline(self, dot: Any, pipe: _Pipe) -> Any:
        self.step()
        value: Any = _MISSING
        for cmd in pipe.cmds:
            value = self.eval_command(dot, cmd, value)
            if value is None:
                value = NO_VALUE  # Go digs the nil out of its interface{}: an invalid value
        for var in pipe.decl:
            if pipe.is_assign:
                self.set_var(var, var.ident[0], value)
            else:
                self.vars.append((var.ident[0], value))
        return value

    def not_a_function(self, args: list[_Node], final: Any) -> None:
        if len(args) > 1 or final is not _MISSING:
            raise self.error(args[0], f"can't give argument to non-function {args[0]}")

    def eval_command(self, dot: Any, cmd: _Command, final: Any) -> Any:
        first = cmd.args[0]
        if isinstance(first, _Field):
            return self.eval_chain_of(dot, dot, first, first.ident, cmd.args, final)
        if isinstance(first, _Chain):
            return self.eval_chain(dot, first, cmd.args, final)
        if isinstance(first, _Ident):
            return self.eval_function(dot, first, cmd, cmd.args, final)
        if isinstance(first, _Var):
            return self.eval_variable(dot, first, cmd.args, final)
        self.not_a_function(cmd.args, final)
        if isinstance(first, _Pipe):
            return self.eval_nested(dot, first)
        assert isinstance(first, _Const)
        if first.text == ".":
            return dot
        if first.text == "nil":
            raise self.error(first, "nil is not a command")
        return first.value

    def eval_nested(self, dot: Any, pipe: _Pipe) -> Any:
        self.enter()
        try:
            return self.eval_pipeline(dot, pipe)
        finally:
            self.depth -= 1

    def eval_variable(self, dot: Any, node: _Var, args: list[_Node] | None, final: Any) -> Any:
        value = self.var_value(node, node.ident[0])
        if len(node.ident) == 1:
            if args is not None:
                self.not_a_function(args, final)
            return value
        return self.eval_chain_of(dot, value, node, node.ident[1:], args, final)

    def eval_chain(self, dot: Any, chain: _Chain, args: list[_Node] | None, final: Any) -> Any:
        if isinstance(chain.node, _Const) and chain.node.text == "nil":
            raise self.error(chain, f"indirection through explicit nil in {chain}")
        receiver = self.eval_arg(dot, chain.node, "any", keep_nil=True)
        if receiver is None:
            receiver = NO_VALUE
        return self.eval_chain_of(dot, receiver, chain, chain.fields, args, final)

    def eval_chain_of(
        self, dot: Any, receiver: Any, node: _Node, names: list[str], args: list[_Node] | None, final: Any
    ) -> Any:
        for name in names[:-1]:
            receiver = self.eval_field(dot, name, node, None, _MISSING, receiver)
        return self.eval_field(dot, names[-1], node, args, final, receiver)

    def eval_field(
        self, dot: Any, name: str, node: _Node, args: list[_Node] | None, final: Any, receiver: Any
    ) -> Any:
        self.step()
        if receiver is NO_VALUE:
            return NO_VALUE  # Go: a field of an invalid value is invalid (missingkey=default)
        if receiver is None:
            raise self.error(node, f"nil pointer evaluating interface {{}}.{name}")
        if isinstance(receiver, GoTime | GoDuration) and name in receiver.METHODS:
            want = receiver.METHODS[name]
            values = [self.eval_arg(dot, a, "any") for a in (args or [])[1:]]
            if final is not _MISSING:
                values.append(NO_VALUE if final is None else final)
            if len(values) != want:
                raise self.error(node, f"wrong number of args for {name}: want {want} got {len(values)}")
            try:
                return receiver.call(name, values)
            except FuncError as exc:
                raise self.error(node, f"error calling {name}: {exc}") from None
        has_args = (args is not None and len(args) > 1) or final is not _MISSING
        if isinstance(receiver, dict):
            if has_args:
                raise self.error(node, f"{name} is not a method but has arguments")
            return receiver.get(name, NO_VALUE)
        type_name = "time.Time" if isinstance(receiver, GoTime) else "interface {}"
        if isinstance(receiver, GoDuration):
            type_name = "time.Duration"
        raise self.error(node, f"can't evaluate field {name} in type {type_name}")

    def eval_function(self, dot: Any, ident: _Ident, cmd: _Node, args: list[_Node] | None, final: Any) -> Any:
        name = ident.name
        fn = FUNCS[name]
        arg_nodes = (args or [])[1:]
        count = len(arg_nodes) + (final is not _MISSING)
        fixed = len(fn.params)
        if fn.variadic is not None and count < fixed:
            raise self.error(
                ident, f"wrong number of args for {name}: want at least {fixed} got {len(arg_nodes)}"
            )
        if fn.variadic is None and count != fixed:
            raise self.error(ident, f"wrong number of args for {name}: want {fixed} got {count}")
        if name in ("and", "or"):
            value: Any = NO_VALUE
            for node in arg_nodes:
                value = self.eval_arg(dot, node, "any", keep_nil=True)
                if truth(value) == (name == "or"):
                    return value
            return final if final is not _MISSING else value
        kinds = [*fn.params, *[fn.variadic or "any"] * max(count - fixed, 0)]
        values = [self.eval_arg(dot, node, kinds[i]) for i, node in enumerate(arg_nodes)]
        if final is not _MISSING:
            values.append(self.coerce(cmd, final, kinds[-1], None))
        try:
            if name == "call":
                return self.call(arg_nodes[0] if arg_nodes else cmd, values)
            return fn.fn(self.ctx, *values) if fn.ctx else fn.fn(*values)
        except LimitError as exc:
            raise self.limit(str(exc)) from None
        except TemplateError:
            raise
        except (FuncError, ArithmeticError, ValueError, TypeError, RecursionError, IndexError) as exc:
            raise self.error(cmd, f"error calling {name}: {exc}") from None

    def call(self, node: _Node, values: list[Any]) -> Any:
        target, *rest = values
        if target is None:
            raise FuncError("call of nil")
        if not callable(target) or isinstance(target, GoTime | GoDuration):
            raise FuncError(f"non-function {node} of type {go_type_name(target)}")
        try:
            result = target(*rest)
        except TemplateError:
            raise
        except Exception as exc:  # the caller's function failed: Go's call reports its error (or panic)
            raise FuncError(str(exc) or type(exc).__name__) from None
        if isinstance(result, int) and not isinstance(result, bool):
            return result
        try:
            return _import(result)
        except TemplateError as exc:
            raise FuncError(str(exc)) from None

    def eval_arg(self, dot: Any, node: _Node, kind: str, keep_nil: bool = False) -> Any:
        self.step()
        if isinstance(node, _Field):
            value = self.eval_chain_of(dot, dot, node, node.ident, [node], _MISSING)
        elif isinstance(node, _Var):
            value = self.eval_variable(dot, node, [node], _MISSING)
        elif isinstance(node, _Pipe):
            value = self.eval_nested(dot, node)
        elif isinstance(node, _Ident):
            value = self.eval_function(dot, node, node, [node], _MISSING)
        elif isinstance(node, _Chain):
            value = self.eval_chain(dot, node, None, _MISSING)
        else:
            assert isinstance(node, _Const)
            value = dot if node.text == "." else None if node.text == "nil" else node.value
            if kind == "int" and node.int_value is not None and not isinstance(node.value, bool):
                return node.int_value
        if keep_nil:
            return value
        return self.coerce(node, value, kind, node)

    def coerce(self, node: _Node, value: Any, kind: str, arg: _Node | None) -> Any:
        """Go's validateType for the parameter kinds of gofuncs (any, string, int, bool, map)."""
        if kind == "any":
            return None if value is NO_VALUE else value
        go_kind = {"string": "string", "int": "int", "bool": "bool", "map": "map[string]interface {}"}[kind]
        if kind == "map":
            if value is None or value is NO_VALUE:
                return {}  # Go passes a nil map, which reads as empty
            if isinstance(value, dict):
                return value
        elif value is None or value is NO_VALUE:
            raise self.error(node, f"invalid value; expected {go_kind}")
        elif (
            (kind == "string" and isinstance(value, str))
            or (kind == "bool" and isinstance(value, bool))
            or (kind == "int" and isinstance(value, int) and not isinstance(value, bool))
        ):
            return value
        raise self.error(node, f"wrong type for value; expected {go_kind}; got {go_type_name(value)}")


# ---------------------------------------------------------------------------------------------------------
# API


class GoTemplate:
    """A parsed template and the templates it defines (`{{define}}`, `{{block}}`)."""

    name: str

    def __init__(self, name: str, text: str, defs: dict[str, _List]) -> None:
        self.name = name
        self.text = text
        self._defs = defs

    def __repr__(self) -> str:
        return f"GoTemplate({self.name!r})"

    @classmethod
    def parse(cls, name: str, text: str) -> GoTemplate:
        """Parse `text` as Go's template.New(name).Funcs(sprig).Parse(text) would; TemplateError on a syntax
        error (`template: name:line: message`) or a text over 64 KiB."""
        if len(text) > MAX_TEXT_BYTES or len(text.encode("utf-8", "replace")) > MAX_TEXT_BYTES:
            raise TemplateError(
                f"template: {name}: the template text exceeds the limit of {MAX_TEXT_BYTES} bytes"
            )
        try:
            defs = _Parser(name, text).parse()
        except RecursionError:
            raise TemplateError(f"template: {name}: the template is nested too deeply to parse") from None
        return cls(name, text, defs)

    def render(self, data: Mapping[str, Any], *, max_output: int = 262_144, max_steps: int = 200_000) -> str:
        """Execute the template on `data` (JSON-decoded values, plus callables such as `time_functions`).

        Raises TemplateError on an execution error (Go's sentence, with line and column) or when a limit is
        reached (the message names it: max_output, max_steps, nesting, template calls, printf width)."""
        root = _import(data)
        run = _Exec(self, max_output, max_steps)
        run.vars = [("$", root)]
        try:
            run.walk(root, self._defs[self.name])
        except (_Break, _Continue):
            pass  # the parser only allows them inside range
        except RecursionError:
            raise run.limit("the template or its data is nested too deeply to render") from None
        return run.out.value()
