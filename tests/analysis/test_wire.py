"""WireModel: camelCase on the wire, snake_case in Python, unknown fields ignored (docs/semantics/objects.md#analysis-objects "camelCase")."""

from pydantic import TypeAdapter

from analysis.wire import INT_OR_STRING_MARK, PRESERVE_UNKNOWN_MARK, IntOrString, RawObject, WireModel


class Sample(WireModel):
    failure_limit: IntOrString | None = None
    job_spec: RawObject | None = None


def test_reads_camel_case_and_ignores_unknown() -> None:
    m = Sample.model_validate({"failureLimit": "{{args.n}}", "jobSpec": {"x": 1}, "newArgoField": True})
    assert m.failure_limit == "{{args.n}}"
    assert m.to_wire() == {"failureLimit": "{{args.n}}", "jobSpec": {"x": 1}}


def test_populate_by_name_and_exclude_none() -> None:
    assert Sample(failure_limit=3).to_wire() == {"failureLimit": 3}
    assert Sample.from_wire({}).to_wire() == {}


def test_schema_markers() -> None:
    assert TypeAdapter(IntOrString).json_schema()[INT_OR_STRING_MARK] is True
    assert TypeAdapter(RawObject).json_schema()[PRESERVE_UNKNOWN_MARK] is True
