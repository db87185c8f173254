"""Go text/template + Sprig in Python (`rollouts.notifications.gotemplates`), against Go's behaviour.

Expected outputs are what Go's text/template with Sprig prints (notifications-engine's setup: TxtFuncMap,
`missingkey=default`, data decoded from JSON so every number is a float64). Argo Rollouts' catalog of
templates (copied in fixtures/argo-catalog/, see its README) is rendered for a canary and a blue-green
Rollout, and hypothesis checks that no text and no data makes parse() or render() raise anything but
TemplateError.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rollouts.notifications.gotemplates import (
    RFC3339,
    GoTemplate,
    TemplateError,
    go_format_value,
    time_functions,
)

FIXTURES = Path(__file__).parent / "fixtures" / "argo-catalog"
MIRROR = Path("/work/.mirror/argoproj+argo-rollouts/repo")
CATALOG_COMMIT = "9f8d111d8f8e3e88b6d7f8bbdf62fd3cd863ef9d"
NOW = datetime(2024, 3, 1, 12, 30, 5, 123_000, tzinfo=UTC)


def render(text: str, data: dict[str, Any] | None = None, **limits: int) -> str:
    return GoTemplate.parse("t", text).render(data if data is not None else DATA, **limits)


DATA: dict[str, Any] = {
    "name": "demo",
    "n": 3,
    "f": 2.5,
    "big": 1_000_000,
    "zero": 0,
    "t": True,
    "null": None,
    "empty": "",
    "s": "Hello, World",
    "html": "<b>&'\"",
    "list": ["a", "b", "c"],
    "nums": [1, 2.5, 3],
    "map": {"b": 2, "a": 1},
    "nested": {"x": {"y": "deep"}},
    "time": time_functions(lambda: NOW),
    "ts": "2024-03-01T10:00:00Z",
}


LANGUAGE = [
    # text, actions, trimming, comments
    pytest.param("plain text", "plain text", id="text"),
    pytest.param("{{.name}}!", "demo!", id="field"),
    pytest.param("{{ .nested.x.y }}", "deep", id="field-chain"),
    pytest.param("{{23 -}} < {{- 45}}", "23<45", id="trim-markers"),
    pytest.param("a  {{- /* note */ -}}  b", "ab", id="comment-trimmed"),
    pytest.param("a{{/* multi\nline */}}b", "ab", id="comment-multiline"),
    pytest.param("{{-3}}", "-3", id="negative-number-not-trim"),
    pytest.param("{{ .name\n}}", "demo", id="newline-inside-action"),
    # constants
    pytest.param('{{"a\\tb\\u00e9\\x41"}}', "a\tbéA", id="string-escapes"),
    pytest.param("{{`raw\\n`}}", "raw\\n", id="raw-string"),
    pytest.param("{{'a'}} {{'\\n'}}", "97 10", id="char-constant"),
    pytest.param("{{1.5}} {{1e3}} {{0x1F}} {{017}} {{1_000}}", "1.5 1000 31 15 1000", id="numbers"),
    pytest.param("{{true}} {{false}}", "true false", id="bools"),
    # printing (fmt %v)
    pytest.param("{{.n}} {{.f}} {{.big}}", "3 2.5 1e+06", id="float64-printing"),
    pytest.param("{{.list}} {{.nums}}", "[a b c] [1 2.5 3]", id="list-printing"),
    pytest.param("{{.map}}", "map[a:1 b:2]", id="map-printing-sorted"),
    pytest.param("{{.missing}}|{{.null}}", "<no value>|<no value>", id="no-value"),
    pytest.param("{{print .missing}}|{{print .null}}", "<nil>|<nil>", id="nil-in-print"),
    pytest.param("{{.missing.deeper}}", "<no value>", id="field-of-missing-is-no-value"),
    # variables
    pytest.param("{{$x := .name}}{{$x}}", "demo", id="declare"),
    pytest.param("{{$x := 1}}{{$x = 2}}{{$x}}", "2", id="assign"),
    pytest.param("{{with .nested}}{{$.name}}{{end}}", "demo", id="dollar"),
    pytest.param("{{$n := .nested}}{{$n.x.y}}", "deep", id="variable-fields"),
    pytest.param("{{if true}}{{$x := 1}}{{end}}{{$x := 2}}{{$x}}", "2", id="variable-scope"),
    # if / with
    pytest.param("{{if .t}}y{{else}}n{{end}}", "y", id="if"),
    pytest.param("{{if .zero}}a{{else if .empty}}b{{else if .list}}c{{end}}", "c", id="else-if"),
    pytest.param("{{if .null}}a{{else}}b{{end}}{{if .map}}c{{end}}", "bc", id="truth"),
    pytest.param("{{with .nested.x}}{{.y}}{{end}}", "deep", id="with"),
    pytest.param("{{with .missing}}a{{else}}b{{end}}", "b", id="with-else"),
    pytest.param("{{with .missing}}a{{else with .name}}{{.}}{{end}}", "demo", id="else-with"),
    pytest.param("{{with $x := .name}}{{$x}}{{end}}", "demo", id="with-declare"),
    # range
    pytest.param("{{range .list}}{{.}},{{end}}", "a,b,c,", id="range-list"),
    pytest.param("{{range $i, $e := .list}}{{$i}}={{$e}} {{end}}", "0=a 1=b 2=c ", id="range-index"),
    pytest.param("{{range $e := .list}}{{$e}}{{end}}", "abc", id="range-one-var"),
    pytest.param("{{range $k, $v := .map}}{{$k}}{{$v}}{{end}}", "a1b2", id="range-map-sorted"),
    pytest.param("{{range .missing}}x{{else}}empty{{end}}", "empty", id="range-else"),
    pytest.param('{{range .list}}{{if eq . "b"}}{{break}}{{end}}{{.}}{{end}}', "a", id="break"),
    pytest.param('{{range .list}}{{if eq . "b"}}{{continue}}{{end}}{{.}}{{end}}', "ac", id="continue"),
    pytest.param("{{range 3}}{{.}}{{end}}", "012", id="range-int"),
    pytest.param("{{range .list}}{{$.name}}{{end}}", "demodemodemo", id="range-dollar"),
    # templates
    pytest.param('{{define "x"}}[{{.}}]{{end}}{{template "x" .name}}', "[demo]", id="define-template"),
    pytest.param('{{define "x"}}{{$}}{{end}}{{template "x"}}', "<no value>", id="template-nil-data"),
    pytest.param('{{block "b" .}}B:{{.name}}{{end}}', "B:demo", id="block"),
    # pipelines and functions
    pytest.param('{{.name | printf "%s!" | upper}}', "DEMO!", id="pipeline"),
    pytest.param("{{(len .list)}} {{(index .list 1)}}", "3 b", id="parenthesised"),
    pytest.param(
        '{{and 1 0 2}} {{and 1 2}} {{or 0 "" 3}} {{or 0 ""}} {{not 0}}', "0 2 3  true", id="and-or-not"
    ),
    pytest.param("{{or .name .missing.x.y}}", "demo", id="or-short-circuits"),
    pytest.param('{{len .s}} {{len .map}} {{len "é"}}', "12 2 2", id="len-bytes"),
    pytest.param(
        '{{index .map "a"}} {{index .nested "x" "y"}} {{index .map "zz"}}', "1 deep <no value>", id="index"
    ),
    pytest.param("{{slice .list 1 3}} {{slice .s 7}}", "[b c] World", id="slice"),
    pytest.param('{{print 1 2 "a" "b" 3}}', "1 2ab3", id="print-spacing"),
    pytest.param('{{println 1 "a"}}', "1 a\n", id="println"),
    pytest.param(
        '{{html .html}}|{{js .html}}|{{urlquery "a b&c/d"}}',
        "&lt;b&gt;&amp;&#39;&#34;|\\u003Cb\\u003E\\u0026\\'\\\"|a+b%26c%2Fd",
        id="escapers",
    ),
    pytest.param(
        '{{eq .n 3.0}} {{eq .name "x" "demo"}} {{ne 1 2}} {{lt 1 2}} {{ge .f 2.5}} {{gt "b" "a"}}',
        "true true true true true true",
        id="comparisons",
    ),
    pytest.param('{{eq .missing "x"}}', "false", id="eq-missing"),
    # printf
    pytest.param(
        '{{printf "%d|%5.2f|%-4s|%q|%v|%t|%x|%05d" 42 3.14159 "ab" "x" .list true 255 -42}}',
        '42| 3.14|ab  |"x"|[a b c]|true|ff|-0042',
        id="printf-verbs",
    ),
    pytest.param('{{printf "%s %d" .n "x"}}', "%!s(float64=3) %!d(string=x)", id="printf-bad-verb"),
    pytest.param(
        '{{printf "%s %s" "a"}}|{{printf "%s" "a" "b"}}',
        "a %!s(MISSING)|a%!(EXTRA string=b)",
        id="printf-missing-extra",
    ),
    pytest.param(
        '{{printf "%g %e %v %.1f %%" 1e6 1234.5678 0.00001 2.25}}',
        "1e+06 1.234568e+03 1e-05 2.2 %",
        id="printf-floats",
    ),
    # Sprig
    pytest.param(
        '{{upper .name}} {{lower "AB"}} {{title "hello wide world"}}', "DEMO ab Hello Wide World", id="case"
    ),
    pytest.param(
        '{{trim "  x "}}|{{trimSuffix ".yaml" "a.yaml"}}|{{trimPrefix "v" "v1"}}|{{trunc 3 "abcdef"}}|{{trunc -2 "abcdef"}}',
        "x|a|1|abc|ef",
        id="trim-trunc",
    ),
    pytest.param(
        '{{replace "a" "o" "banana"}} {{contains "ell" .s}} {{hasPrefix "He" .s}} {{hasSuffix "x" .s}}',
        "bonono true true false",
        id="replace-contains",
    ),
    pytest.param(
        '{{.missing | default "d"}} {{default "d" .name}} {{empty .zero}} {{coalesce .missing "" "c"}}',
        "d demo true c",
        id="defaults",
    ),
    pytest.param(
        '{{quote .name .n}} {{squote "x"}} {{join "," .list}} {{join "-" .nums}}',
        '"demo" "3" \'x\' a,b,c 1-2.5-3',
        id="quote-join",
    ),
    pytest.param(
        '{{splitList "," "a,b"}} {{(split "," "a,b")._1}} {{list 1 "x"}}', "[a b] b [1 x]", id="split-list"
    ),
    pytest.param(
        '{{$d := dict "k" "v" "n" 1}}{{get $d "k"}} {{hasKey $d "n"}} {{keys $d}} {{get $d "zz"}}',
        "v true [k n] ",
        id="dict",
    ),
    pytest.param(
        '{{b64enc "hi"}} {{b64dec "aGk="}} {{toString .n}} {{toString .list}}',
        "aGk= hi 3 [a b c]",
        id="b64-tostring",
    ),
    pytest.param(
        "{{add .n 1}} {{sub 10 .f}} {{mul 2 3 4}} {{div 7 2}} {{mod -7 2}} {{max 1 5 3}} {{min 4 .n}} {{add1 1}}",
        "4 8 24 3 -1 5 3 2",
        id="arithmetic",
    ),
    pytest.param(
        '{{int "42"}} {{int .f}} {{float64 "1.5"}} {{int64 .big}}', "42 2 1.5 1000000", id="conversions"
    ),
    pytest.param(
        "{{toJson .map}} {{toJson .html}} {{toJson .nums}} {{toJson .missing}}",
        '{"a":1,"b":2} "\\u003cb\\u003e\\u0026\'\\"" [1,2.5,3] null',
        id="toJson",
    ),
    pytest.param("{{toPrettyJson .nested}}", '{\n  "x": {\n    "y": "deep"\n  }\n}', id="toPrettyJson"),
    pytest.param(
        '{{ternary "y" "n" true}} {{first .list}} {{last .list}} {{has "b" .list}}', "y a c true", id="lists"
    ),
    pytest.param(
        '{{repeat 3 "ab"}} {{indent 2 "a\\nb"}} {{nospace "a b c"}} {{cat "a" 1 .missing}}',
        "ababab   a\n  b abc a 1",
        id="strings-misc",
    ),
    pytest.param('{{regexMatch "^d.m" .name}} {{regexFind "[0-9]+" "ab123c"}}', "true 123", id="regex"),
    # time (the engine's time.Now / time.Parse)
    pytest.param(
        '{{(call .time.Now).Format "2006-01-02 15:04:05.000 Mon Jan _2 3PM MST Z07:00"}}',
        "2024-03-01 12:30:05.123 Fri Mar  1 12PM UTC Z",
        id="time-format",
    ),
    pytest.param(
        "{{(call .time.Parse .ts).Unix}} {{(call .time.Now).UTC.Year}}",
        "1709287200 2024",
        id="time-parse-unix",
    ),
    pytest.param("{{(call .time.Now).Sub (call .time.Parse .ts)}}", "2h30m5.123s", id="time-sub"),
    pytest.param(
        "{{((call .time.Now).Sub (call .time.Parse .ts)).Minutes}}",
        "150.08538333333334",
        id="duration-minutes",
    ),
    pytest.param(
        '{{call .time.Parse "2024-03-01T10:00:00+02:00"}}',
        "2024-03-01 10:00:00 +0200 +0200",
        id="time-string",
    ),
    pytest.param('{{(call .time.Parse .ts).Format "' + RFC3339 + '"}}', "2024-03-01T10:00:00Z", id="rfc3339"),
    pytest.param(
        '{{date "2006-01-02" (call .time.Now)}} {{unixEpoch (call .time.Now)}}',
        "2024-03-01 1709296205",
        id="sprig-date",
    ),
]


@pytest.mark.parametrize(("text", "expected"), LANGUAGE)
def test_language(text: str, expected: str) -> None:
    assert render(text) == expected


FLOATS = [
    pytest.param(3.0, "3", id="integral"),
    pytest.param(2.5, "2.5", id="fraction"),
    pytest.param(100000.0, "100000", id="1e5"),
    pytest.param(123456.0, "123456", id="six-digits"),
    pytest.param(1000000.0, "1e+06", id="1e6"),
    pytest.param(1234567.0, "1.234567e+06", id="seven-digits"),
    pytest.param(0.0001, "0.0001", id="1e-4"),
    pytest.param(0.00001, "1e-05", id="1e-5"),
    pytest.param(-0.5, "-0.5", id="negative"),
    pytest.param(0.0, "0", id="zero"),
    pytest.param(1e21, "1e+21", id="1e21"),
    pytest.param(1e100, "1e+100", id="1e100"),
    pytest.param(0.1 + 0.2, "0.30000000000000004", id="shortest-round-trip"),
    pytest.param(7, "7", id="python-int-is-float64"),
    pytest.param(True, "true", id="bool"),
    pytest.param(None, "<nil>", id="nil"),
    pytest.param({"b": [1, None], "a": "x"}, "map[a:x b:[1 <nil>]]", id="nested"),
]


@pytest.mark.parametrize(("value", "expected"), FLOATS)
def test_go_format_value(value: Any, expected: str) -> None:
    if isinstance(value, int) and not isinstance(value, bool):
        value = float(value)  # what the data import does
    assert go_format_value(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(3, "3", id="integral"),
        pytest.param(1e21, "1e+21", id="1e21"),
        pytest.param(1e20, "100000000000000000000", id="1e20"),
        pytest.param(1e-7, "1e-7", id="small"),
        pytest.param(0.000001, "0.000001", id="1e-6"),
    ],
)
def test_to_json_numbers(value: float, expected: str) -> None:
    assert render("{{toJson .v}}", {"v": value}) == expected


# ---------------------------------------------------------------------------------------------------------
# Errors


ERRORS = [
    pytest.param("{{.name", "template: t:1: unclosed action", id="unclosed-action"),
    pytest.param("{{/* x", "template: t:1: unclosed comment", id="unclosed-comment"),
    pytest.param("{{foo 1}}", 'template: t:1: function "foo" not defined', id="unknown-function"),
    pytest.param("{{now}}", 'template: t:1: function "now" not defined', id="impure-function-absent"),
    pytest.param("{{if .t}}x", "template: t:1: unexpected EOF", id="unexpected-eof"),
    pytest.param("a\n{{end}}", "template: t:2: unexpected {{end}}", id="unexpected-end"),
    pytest.param("{{if}}{{end}}", "template: t:1: missing value for if", id="missing-value"),
    pytest.param("{{$x}}", 'template: t:1: undefined variable "$x"', id="undefined-variable"),
    pytest.param("{{break}}", "template: t:1: {{break}} outside {{range}}", id="break-outside-range"),
    pytest.param(
        '{{"a" | "b"}}', "template: t:1: non executable command in pipeline stage 2", id="non-executable"
    ),
    pytest.param("{{(1}}", "template: t:1: unclosed left paren", id="unclosed-paren"),
    pytest.param("{{1)}}", "template: t:1: unexpected right paren", id="unexpected-paren"),
    pytest.param('{{"a}}', "template: t:1: unterminated quoted string", id="unterminated-string"),
    pytest.param("{{3x}}", 'template: t:1: bad number syntax: "3x"', id="bad-number"),
    pytest.param("{{.a-b}}", "template: t:1: bad character U+002D '-'", id="bad-character"),
    pytest.param(
        '{{define "x"}}a{{end}}{{define "x"}}b{{end}}',
        'template: t:1: template: multiple definition of template "x"',
        id="redefinition",
    ),
]


@pytest.mark.parametrize(("text", "message"), ERRORS)
def test_parse_errors(text: str, message: str) -> None:
    with pytest.raises(TemplateError) as caught:
        GoTemplate.parse("t", text)
    assert str(caught.value) == message


EXEC_ERRORS = [
    pytest.param(
        "{{upper 1 2}}",
        'template: t:1:2: executing "t" at <upper>: wrong number of args for upper: want 1 got 2',
        id="arity",
    ),
    pytest.param(
        "{{index}}",
        'template: t:1:2: executing "t" at <index>: wrong number of args for index: want at least 1 got 0',
        id="arity-variadic",
    ),
    pytest.param(
        "{{.null.x}}",
        'template: t:1:7: executing "t" at <.null.x>: nil pointer evaluating interface {}.x',
        id="nil-field",
    ),
    pytest.param(
        "{{.name.x}}",
        'template: t:1:7: executing "t" at <.name.x>: can\'t evaluate field x in type interface {}',
        id="field-of-string",
    ),
    pytest.param(
        "{{index .list 5}}",
        'template: t:1:2: executing "t" at <index .list 5>: error calling index: index out of range: 5',
        id="index-out-of-range",
    ),
    pytest.param(
        "{{index .list .n}}",
        'template: t:1:2: executing "t" at <index .list .n>: error calling index: cannot index slice/array with type float64',
        id="index-float",
    ),
    pytest.param(
        "{{if eq .n 3}}{{end}}",
        'template: t:1:5: executing "t" at <eq .n 3>: error calling eq: incompatible types for comparison',
        id="eq-int-float64",
    ),
    pytest.param(
        "{{lt .list 1}}",
        'template: t:1:2: executing "t" at <lt .list 1>: error calling lt: invalid type for comparison',
        id="lt-list",
    ),
    pytest.param(
        "{{upper .n}}",
        'template: t:1:8: executing "t" at <.n>: wrong type for value; expected string; got float64',
        id="wrong-type",
    ),
    pytest.param(
        "{{upper .missing}}",
        'template: t:1:8: executing "t" at <.missing>: invalid value; expected string',
        id="invalid-value",
    ),
    pytest.param(
        "{{.map.a 1}}",
        'template: t:1:6: executing "t" at <.map.a>: a is not a method but has arguments',
        id="map-key-with-args",
    ),
    pytest.param(
        "{{div 1 0}}",
        'template: t:1:2: executing "t" at <div 1 0>: error calling div: runtime error: integer divide by zero',
        id="div-zero",
    ),
    pytest.param(
        '{{template "nope"}}',
        'template: t:1:2: executing "t" at <{{template "nope"}}>: template "nope" not defined',
        id="undefined-template",
    ),
    pytest.param(
        "{{range .n}}{{end}}",
        'template: t:1:8: executing "t" at <{{range .n}}>: range can\'t iterate over 3',
        id="range-float",
    ),
    pytest.param(
        '{{call .time.Parse "x"}}',
        'template: t:1:2: executing "t" at <call .time.Parse "x">: error calling call: parsing time "x" as "2006-01-02T15:04:05Z07:00": cannot parse "x" as RFC 3339',
        id="time-parse-error",
    ),
    pytest.param(
        "{{call .name}}",
        'template: t:1:2: executing "t" at <call .name>: error calling call: non-function .name of type string',
        id="call-non-function",
    ),
    pytest.param(
        "{{(call .time.Now).Format}}",
        'template: t:1:18: executing "t" at <(call .time.Now).Format>: wrong number of args for Format: want 1 got 0',
        id="method-arity",
    ),
    pytest.param(
        "{{.time.Now}}",
        'template: t:1:2: executing "t" at <{{.time.Now}}>: can\'t print .time.Now of type func',
        id="print-func",
    ),
    pytest.param(
        "{{nil}}", 'template: t:1:2: executing "t" at <nil>: nil is not a command', id="nil-command"
    ),
    pytest.param(
        '{{fail "no"}}', 'template: t:1:2: executing "t" at <fail "no">: error calling fail: no', id="fail"
    ),
]


@pytest.mark.parametrize(("text", "message"), EXEC_ERRORS)
def test_execution_errors(text: str, message: str) -> None:
    with pytest.raises(TemplateError) as caught:
        render(text)
    assert str(caught.value) == message


LIMITS = [
    pytest.param("{{range 1000}}{{.}}{{end}}", {"max_steps": 500}, "max_steps", id="steps"),
    pytest.param(
        '{{define "r"}}{{template "r" .}}{{end}}{{template "r" .}}',
        {},
        "templates call templates",
        id="recursion",
    ),
    pytest.param("{{range 100000}}xxxxxxxxxx{{end}}", {"max_output": 1000}, "max_output", id="output"),
    pytest.param('{{repeat 100000 "ab"}}', {"max_output": 1000}, "max_output", id="repeat"),
    pytest.param('{{printf "%2000d" 1}}', {}, "limit of 1000", id="printf-width"),
    pytest.param('{{printf "%.5000f" 1.0}}', {}, "limit of 1000", id="printf-precision"),
    pytest.param(
        "{{$l := list 1 2}}{{range 40}}{{$l = list $l $l}}{{end}}{{toJson $l}}",
        {},
        "max_output",
        id="shared-structure",
    ),
    pytest.param(
        '{{$s := "ab"}}{{range 40}}{{$s = print $s $s}}{{end}}{{len $s}}',
        {},
        "max_output",
        id="string-doubling",
    ),
    pytest.param(
        '{{replace "" "xxxxxxxxxx" (repeat 1000 "a")}}', {"max_output": 5000}, "max_output", id="replace"
    ),
]


@pytest.mark.parametrize(("text", "limits", "names"), LIMITS)
def test_limits(text: str, limits: dict[str, int], names: str) -> None:
    with pytest.raises(TemplateError) as caught:
        render(text, **limits)
    assert names in str(caught.value)


def test_text_size_limit() -> None:
    with pytest.raises(TemplateError, match="65536 bytes"):
        GoTemplate.parse("t", "x" * 70_000)


def test_parse_nesting_limit() -> None:
    with pytest.raises(TemplateError, match="nested deeper than the limit of 64"):
        GoTemplate.parse("t", "{{if 1}}" * 100 + "{{end}}" * 100)
    with pytest.raises(TemplateError, match="nested deeper"):
        GoTemplate.parse("t", "{{" + "(" * 500 + "1" + ")" * 500 + "}}")


def test_output_checked_while_writing() -> None:
    """The output limit stops a render as soon as it is passed, not after building everything."""
    with pytest.raises(TemplateError, match="max_output"):
        render("{{range 1000000}}x{{end}}", max_output=100, max_steps=10_000_000)


def test_parsed_template_renders_repeatedly() -> None:
    template = GoTemplate.parse("greeting", "{{$x := .name}}{{$x}}")
    assert template.name == "greeting"
    assert [template.render({"name": n}) for n in ("a", "b")] == ["a", "b"]


def test_time_functions_with_offset_clock() -> None:
    clock = datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=-5)))
    data = {"time": time_functions(lambda: clock)}
    assert render('{{(call .time.Now).Format "15:04 -07:00 MST"}}', data) == "03:04 -05:00 -0500"
    assert render("{{(call .time.Now).Unix}}", data) == str(int(clock.timestamp()))


# ---------------------------------------------------------------------------------------------------------
# Argo Rollouts' catalog


def rollout(strategy: str) -> dict[str, Any]:
    """A Rollout as Argo's controller hands it to the engine (JSON round trip: numbers are float64)."""
    spec_strategy: dict[str, Any]
    if strategy == "canary":
        spec_strategy = {
            "canary": {
                "steps": [{"setWeight": 20}, {"pause": {}}, {"setWeight": 60}, {"pause": {"duration": "1m"}}]
            }
        }
    else:
        spec_strategy = {"blueGreen": {"activeService": "demo-active", "previewService": "demo-preview"}}
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": "guestbook", "namespace": "shop", "labels": {"app": "guestbook"}},
        "spec": {
            "replicas": 5,
            "selector": {"matchLabels": {"app": "guestbook"}},
            "strategy": spec_strategy,
            "template": {
                "metadata": {"labels": {"app": "guestbook"}},
                "spec": {
                    "containers": [
                        {
                            "name": "web",
                            "image": "argoproj/rollouts-demo:blue",
                            "ports": [{"containerPort": 8080}],
                        },
                        {"name": "sidecar", "image": "envoyproxy/envoy:v1.30"},
                    ]
                },
            },
        },
        "status": {
            "currentStepIndex": 1,
            "replicas": 5,
            "updatedReplicas": 2,
            "readyReplicas": 5,
            "phase": "Paused",
            "conditions": [
                {"type": "Progressing", "status": "True", "lastUpdateTime": "2024-03-01T10:00:00Z"}
            ],
        },
    }


def catalog() -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(file, template name, template body) for every template of the catalog."""
    for path in sorted(FIXTURES.glob("on-*.yaml")):
        config_map = yaml.safe_load(path.read_text())
        for key, body in config_map["data"].items():
            if key.startswith("template."):
                yield path.name, key.removeprefix("template."), yaml.safe_load(body)


def string_fields(node: Any, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(node, str):
        yield path, node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from string_fields(value, f"{path}.{key}" if path else key)


CATALOG = list(catalog())
CATALOG_COLORS = {
    "analysis-run-error": "#ECB22E",
    "analysis-run-failed": "#E01E5A",
    "rollout-aborted": "#E01E5A",
}
CATALOG_EXTRA_FIELDS = {
    "rollout-step-completed": [{"title": "Step completed", "value": "2/4", "short": True}],
    "scaling-replicaset": [
        {"title": "Desired replica", "value": "5", "short": True},
        {"title": "Updated replicas", "value": "2", "short": True},
    ],
}


def test_catalog_is_complete() -> None:
    assert len(CATALOG) == 9
    assert all(set(body) == {"message", "email", "slack"} for _, _, body in CATALOG)


def test_catalog_fixtures_match_the_mirror() -> None:
    if not (MIRROR / "HEAD").exists():
        pytest.skip(f"no local mirror of argoproj/argo-rollouts at {MIRROR}")
    for path in sorted(FIXTURES.glob("on-*.yaml")):
        shown = subprocess.run(
            ["git", "-C", str(MIRROR), "show", f"{CATALOG_COMMIT}:manifests/notifications/{path.name}"],
            capture_output=True,
            text=True,
            check=False,
        )
        if shown.returncode:
            pytest.skip(f"commit {CATALOG_COMMIT[:12]} is not in the mirror")
        assert shown.stdout == path.read_text(), path.name


@pytest.mark.parametrize("strategy", ["canary", "blueGreen"])
@pytest.mark.parametrize(("file", "name", "body"), [pytest.param(*c, id=c[1]) for c in CATALOG])
def test_catalog_renders(file: str, name: str, body: dict[str, Any], strategy: str) -> None:
    data = {"rollout": rollout(strategy), "time": time_functions(lambda: NOW)}
    if name == "rollout-step-completed" and strategy == "blueGreen":
        # A blue-green Rollout has no canary steps: Go fails the same way (the trigger only fires for canaries).
        with pytest.raises(TemplateError, match="len of nil pointer"):
            GoTemplate.parse(name, body["message"]).render(data)
        return
    rendered = {path: GoTemplate.parse(name, text).render(data) for path, text in string_fields(body)}
    assert set(rendered) == {"message", "email.subject", "slack.attachments"}
    assert rendered["message"] == rendered["email.subject"]
    assert "guestbook" in rendered["message"]
    assert "<no value>" not in "".join(rendered.values())
    attachments = json.loads(rendered["slack.attachments"])
    assert len(attachments) == 1
    attachment = attachments[0]
    assert attachment["title"] == "guestbook"
    assert attachment["color"] == CATALOG_COLORS.get(name, "#18be52")
    strategy_field = {
        "title": "Strategy",
        "value": "Canary" if strategy == "canary" else "BlueGreen",
        "short": True,
    }
    containers = [
        {"title": "web", "value": "argoproj/rollouts-demo:blue", "short": True},
        {"title": "sidecar", "value": "envoyproxy/envoy:v1.30", "short": True},
    ]
    assert attachment["fields"] == [strategy_field, *CATALOG_EXTRA_FIELDS.get(name, []), *containers]


CATALOG_MESSAGES = [
    pytest.param("rollout-aborted", "Rollout guestbook has been aborted.", id="aborted"),
    pytest.param("analysis-run-failed", "Rollout guestbook's analysis run failed.", id="analysis-failed"),
    pytest.param(
        "rollout-step-completed", "Rollout guestbook step number 2/4 has been completed.", id="step-completed"
    ),
    pytest.param("scaling-replicaset", "Scaling Rollout guestbook's replicaset to 5.", id="scaling"),
]


@pytest.mark.parametrize(("name", "expected"), CATALOG_MESSAGES)
def test_catalog_messages(name: str, expected: str) -> None:
    body = next(b for _, n, b in CATALOG if n == name)
    assert GoTemplate.parse(name, body["message"]).render({"rollout": rollout("canary")}) == expected


def test_catalog_slack_attachment_exact() -> None:
    """The aborted template's attachment as Go prints it, whitespace included (Slack gets this text)."""
    body = next(b for _, n, b in CATALOG if n == "rollout-aborted")
    single = rollout("canary")
    single["spec"]["template"]["spec"]["containers"] = single["spec"]["template"]["spec"]["containers"][:1]
    text = GoTemplate.parse("rollout-aborted", body["slack"]["attachments"]).render({"rollout": single})
    expected = (
        "[{\n"
        '  "title": "guestbook",\n'
        '  "color": "#E01E5A",\n'
        '  "fields": [\n'
        "  {\n"
        '    "title": "Strategy",\n'
        '    "value": "Canary",\n'
        '    "short": true\n'
        "  }\n"
        "  \n"
        "    ,\n"
        "    \n"
        "    {\n"
        '      "title": "web",\n'
        '      "value": "argoproj/rollouts-demo:blue",\n'
        '      "short": true\n'
        "    }\n"
        "  \n"
        "  ]\n"
        "}]\n"
    )
    assert text == expected


DOCS = yaml.safe_load((FIXTURES / "docs-templates.yaml").read_text())
DOCS_EXPECTED = {
    "docs/features/notifications.md": {
        "message": "Rollout guestbook has purple image\n",
        "slack.attachments": '[{\n  "title": "guestbook",\n  "color": "#800080"\n}]\n',
    },
    "docs/generated/notification-services/pagerduty.md": {
        "message": "Rollout guestbook is aborted.",
        "pagerduty.title": "Rollout guestbook",
        "pagerduty.urgency": "high",
        "pagerduty.body": "Rollout guestbook aborted ",
        "pagerduty.priorityID": "<priorityID of incident>",
    },
    "docs/generated/notification-services/pagerduty_v2.md": {
        "message": "Rollout guestbook is aborted.",
        "pagerdutyv2.summary": "Rollout guestbook is aborted.",
        "pagerdutyv2.severity": "critical",
        "pagerdutyv2.source": "guestbook",
    },
}


@pytest.mark.parametrize("doc", [pytest.param(d, id=d["source"].rsplit("/", 1)[-1]) for d in DOCS])
def test_documented_templates(doc: dict[str, Any]) -> None:
    body = yaml.safe_load(doc["template"])
    data = {"rollout": rollout("canary")}
    rendered = {path: GoTemplate.parse(doc["name"], text).render(data) for path, text in string_fields(body)}
    assert rendered == DOCS_EXPECTED[doc["source"]]


# ---------------------------------------------------------------------------------------------------------
# Fuzz: nothing but TemplateError, whatever the text or the data

_PIECES = [
    "{{",
    "}}",
    "{{- ",
    " -}}",
    "{{/*",
    "*/}}",
    ".",
    ".name",
    ".list",
    ".map",
    ".nested.x",
    "$",
    "$x",
    ":=",
    "=",
    "|",
    "(",
    ")",
    " ",
    "\n",
    '"s"',
    "`r`",
    "'c'",
    "1",
    "-2",
    "1.5e3",
    "0x1F",
    "nil",
    "true",
    "if",
    "else",
    "end",
    "range",
    "with",
    "break",
    "continue",
    "define",
    "template",
    "block",
    '"x"',
    ",",
    "$i, $e :=",
    "printf",
    '"%d %s %v %5.2f %!"',
    "index",
    "slice",
    "len",
    "eq",
    "lt",
    "and",
    "or",
    "not",
    "print",
    "call",
    "upper",
    "default",
    "toJson",
    "trunc",
    "repeat",
    "add",
    "div",
    "dict",
    "list",
    "keys",
    "split",
    "html",
    "js",
    "urlquery",
    "b64dec",
    "date",
    "title",
    ".time.Now",
    ".time.Parse",
    ".Format",
    ".Unix",
    "é",
    "\\",
    "{",
    "}",
]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(_PIECES), max_size=30).map("".join) | st.text(max_size=60))
def test_fuzz_text(text: str) -> None:
    try:
        template = GoTemplate.parse("fuzz", text)
    except TemplateError as exc:
        assert str(exc).startswith("template: fuzz")
        return
    try:
        template.render(DATA, max_output=10_000, max_steps=10_000)
    except TemplateError as exc:
        assert str(exc).startswith("template: ")


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=20,
)

_PROBES = [
    "{{.a}} {{.a.b.c}} {{index .a 0}} {{len .a}} {{range $k, $v := .a}}{{$k}}={{$v}};{{end}}",
    '{{toJson .}} {{toPrettyJson .a}} {{printf "%v %d %s %q %x %e" .a .a .a .a .a .a}}',
    "{{if eq .a .b}}eq{{end}}{{if lt .a .b}}lt{{end}} {{add .a .b}} {{div .a .b}} {{mod .a .b}} {{max .a .b}}",
    '{{upper .a}} {{join "," .a}} {{default .a .b}} {{quote .a}} {{trunc 3 .a}} {{keys .a}} {{int .a}}',
    "{{with .a}}{{.}}{{end}} {{slice .a 1}} {{html .a}} {{js .a}} {{urlquery .a}} {{b64enc .a}} {{title .a}}",
    '{{call .time.Parse .a}} {{(call .time.Parse .a).Unix}} {{date "2006" .a}} {{float64 .a}} {{toString .a}}',
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(a=_JSON, b=_JSON, probe=st.sampled_from(_PROBES))
def test_fuzz_data(a: Any, b: Any, probe: str) -> None:
    data = {"a": a, "b": b, "time": time_functions(lambda: NOW)}
    try:
        GoTemplate.parse("probe", probe).render(data, max_output=10_000)
    except TemplateError as exc:
        assert str(exc).startswith("template: probe")
