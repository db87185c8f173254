"""Kubernetes' rules for names, with apimachinery's messages (`k8s.io/apimachinery/pkg/util/validation`).

Where it sits: at the bottom, under every validation that checks a name — the analysis objects'
(`analysis.validating`) and the Rollout's (`rollouts.validation.names`, which also checks the Services and
templates a Rollout names). An API server refuses an object whose name breaks these rules; `lint`, `plan` and
`analyze` never met one, so they apply the same rules with the same words.
"""

from __future__ import annotations

import re

__all__ = [
    "LABEL_MAX",
    "SUBDOMAIN_MAX",
    "dns1035_label_problems",
    "dns1123_label_problems",
    "dns1123_subdomain_problems",
    "max_len",
]

SUBDOMAIN_MAX = 253
LABEL_MAX = 63

_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_SUBDOMAIN_FMT = _LABEL_FMT + r"(\." + _LABEL_FMT + ")*"
_DNS1035_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
_LABEL = re.compile(_LABEL_FMT)
_SUBDOMAIN = re.compile(_SUBDOMAIN_FMT)
_DNS1035 = re.compile(_DNS1035_FMT)


def _regex_error(message: str, fmt: str, *examples: str) -> str:
    """apimachinery `validation.RegexError`, including its spacing."""
    shown = "".join((" or " if i else "") + f"'{e}', " for i, e in enumerate(examples))
    return f"{message} (e.g. {shown}regex used for validation is '{fmt}')"


def max_len(limit: int) -> str:
    return f"must be no more than {limit} characters"


def dns1123_subdomain_problems(value: str) -> list[str]:
    """`IsDNS1123Subdomain`: [] when `value` is a valid subdomain."""
    errs = [max_len(SUBDOMAIN_MAX)] if len(value) > SUBDOMAIN_MAX else []
    if not _SUBDOMAIN.fullmatch(value):
        errs.append(
            _regex_error(
                "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
                "and must start and end with an alphanumeric character",
                _SUBDOMAIN_FMT,
                "example.com",
            )
        )
    return errs


def dns1123_label_problems(value: str) -> list[str]:
    """`IsDNS1123Label`: [] when `value` is a valid label (namespaces)."""
    errs = [max_len(LABEL_MAX)] if len(value) > LABEL_MAX else []
    if not _LABEL.fullmatch(value):
        errs.append(
            _regex_error(
                "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
                "start and end with an alphanumeric character",
                _LABEL_FMT,
                "my-name",
                "123-abc",
            )
        )
    return errs


def dns1035_label_problems(value: str) -> list[str]:
    """`IsDNS1035Label`: [] when `value` is a valid Service name."""
    errs = [max_len(LABEL_MAX)] if len(value) > LABEL_MAX else []
    if not _DNS1035.fullmatch(value):
        errs.append(
            _regex_error(
                "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
                "alphabetic character, and end with an alphanumeric character",
                _DNS1035_FMT,
                "my-name",
                "abc-123",
            )
        )
    return errs
