"""CODEOWNERS files parsed into path rules, and the owners of a path.

A pure, bounded parser of the ``CODEOWNERS`` files GitHub and GitLab read, and the matcher
that says who owns a path. The rules, as GitHub states them:

- One rule per line: a path pattern, then its owners, separated by whitespace. Blank lines
  and lines starting with ``#`` are skipped; a field starting with ``#`` starts a comment.
  ``\\`` escapes the next character (``\\ `` a space in a path, ``\\#`` a leading hash).
- Patterns follow ``.gitignore``: a leading ``/`` anchors at the repository's root, as does
  a ``/`` inside the pattern; otherwise it matches at any depth. ``*`` matches within one
  path segment, ``?`` one character of it, ``**`` any number of segments (``**/x``,
  ``x/**``, ``a/**/b``). A trailing ``/`` matches what is inside a directory; a pattern
  naming a directory matches everything under it, except one ending in ``/*``, which
  matches that directory's direct children only.
- Owners are ``@user``, ``@org/team`` (GitLab's nested groups too: ``@group/sub/team``)
  or e-mail addresses. A line without owners leaves its paths unowned.
- The last rule that matches a path decides its owners.

GitLab's additions are read too: section headers (``[Name]``, ``^[Optional]``,
``[Name][2]``) whose default owners apply to the section's lines that name none, and
exclusions (``!pattern``: the path has no owner). Sections are not combined as GitLab
combines them for approvals: the last matching line of the whole file decides, as on
GitHub.

Bad lines are all named at once (``InvalidRequest``, one problem per line number); nothing
is kept of a file with any."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from cipulse.errors import InvalidRequest

#: GitHub ignores a CODEOWNERS file over 3 MB; cipulse refuses one.
MAX_BYTES = 3 * 1024 * 1024
#: The most rules one file may hold, and the longest line (characters).
MAX_RULES = 20_000
MAX_LINE_CHARS = 8_000
#: How many bad lines a refusal names at most (then "and N more").
MAX_PROBLEMS = 20

_USER = r"@[A-Za-z0-9_][A-Za-z0-9_.-]*"
OWNER_FORM = re.compile(
    rf"{_USER}(?:/[A-Za-z0-9_.][A-Za-z0-9_.-]*)*|@@[a-z]+|[^@\s]+@[^@\s]+\.[^@\s]+"
)
#: A GitLab section header: ``[Name]``, ``^[Optional]``, ``[Name][2]``, then owners.
_SECTION = re.compile(r"\^?\[([^\]]+)\](?:\[\d+\])?(?:[ \t]+(.*))?")
#: The patterns that name every path: a repository's catch-all rule.
CATCH_ALL = frozenset({"*", "/*", "**", "/**", "**/*", "/**/*"})


@dataclass(frozen=True, slots=True)
class PathRule:
    """One rule of a CODEOWNERS file: its line, its pattern as written (escapes kept),
    its owners (in the file's order), whether it excludes (GitLab's ``!``) and its
    section (GitLab's, or None)."""

    line: int
    pattern: str
    owners: tuple[str, ...]
    negated: bool = False
    section: str | None = None
    regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "regex", re.compile(pattern_regex(self.pattern)))

    def matches(self, path: str) -> bool:
        """Whether this rule's pattern matches ``path`` (a file's path in the repository,
        with or without a leading ``/``)."""
        return self.regex.match(path.lstrip("/")) is not None

    @property
    def catch_all(self) -> bool:
        return not self.negated and self.pattern in CATCH_ALL


@dataclass(frozen=True, slots=True)
class Codeowners:
    """A parsed file: its rules in file order."""

    rules: tuple[PathRule, ...]

    def rule_for(self, path: str) -> PathRule | None:
        """The rule that decides ``path``: the last one matching it (None: none does)."""
        return decisive_rule(self.rules, path)

    def owners_of(self, path: str) -> tuple[str, ...]:
        """The owners of ``path`` (empty: unowned, or excluded by GitLab's ``!``)."""
        rule = self.rule_for(path)
        return () if rule is None or rule.negated else rule.owners


def decisive_rule(rules: tuple[PathRule, ...] | list[PathRule], path: str) -> PathRule | None:
    """The last of ``rules`` (in file order) that matches ``path``."""
    for rule in reversed(rules):
        if rule.matches(path):
            return rule
    return None


def catch_all_rule(rules: tuple[PathRule, ...] | list[PathRule]) -> PathRule | None:
    """The last catch-all rule (``*`` and the like) of the file, if any."""
    for rule in reversed(rules):
        if rule.pattern.lstrip("!") in CATCH_ALL:
            return rule
    return None


def parse(text: str) -> Codeowners:
    """The rules of a CODEOWNERS file, or ``InvalidRequest`` naming every bad line."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise InvalidRequest(f"file: larger than {MAX_BYTES // (1024 * 1024)} MB")
    rules: list[PathRule] = []
    problems: list[str] = []
    section: tuple[str, tuple[str, ...]] | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        try:
            header = _SECTION.fullmatch(line.strip())
            if header:
                section = (header.group(1), _owners(split_fields(header.group(2) or "")))
                continue
            fields = split_fields(line)
            if fields:
                rules.append(_rule(number, fields, section))
        except ValueError as problem:
            problems.append(f"line {number}: {problem}")
    if len(rules) > MAX_RULES:
        problems.append(f"file: more than {MAX_RULES:,} rules")
    if problems:
        shown = problems[:MAX_PROBLEMS]
        if len(problems) > MAX_PROBLEMS:
            shown.append(f"and {len(problems) - MAX_PROBLEMS} more bad lines")
        raise InvalidRequest("; ".join(shown), shown)
    return Codeowners(tuple(rules))


def _rule(number: int, fields: list[str], section: tuple[str, tuple[str, ...]] | None) -> PathRule:
    pattern, owners = fields[0], _owners(fields[1:])
    negated = pattern.startswith("!")
    body = pattern[1:] if negated else pattern
    check_pattern(body)
    if section is not None and not owners and not negated:
        owners = section[1]
    name = section[0] if section else None
    return PathRule(number, pattern, () if negated else owners, negated, name)


def _owners(fields: list[str]) -> tuple[str, ...]:
    bad = [owner for owner in fields if not OWNER_FORM.fullmatch(owner)]
    if bad:
        raise ValueError(
            ", ".join(repr(owner) for owner in bad[:5])
            + " is not an owner (@user, @org/team or an e-mail address)"
        )
    return tuple(dict.fromkeys(fields))


def split_fields(line: str) -> list[str]:
    """A line's whitespace-separated fields, escapes kept (``\\ `` stays in its field), up
    to a field starting with ``#`` (a comment)."""
    if len(line) > MAX_LINE_CHARS:
        raise ValueError(f"longer than {MAX_LINE_CHARS:,} characters")
    if any(ord(c) < 32 and c != "\t" for c in line):
        raise ValueError("holds a control character")
    fields: list[str] = []
    current: list[str] = []
    escaped = False
    for char in line.rstrip("\r"):
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            current.append(char)
            escaped = True
        elif char in " \t":
            if current:
                fields.append("".join(current))
                current = []
        elif char == "#" and not current:
            break
        else:
            current.append(char)
    if escaped:
        raise ValueError("ends with an escape (\\) that escapes nothing")
    if current:
        fields.append("".join(current))
    return fields


def check_pattern(pattern: str) -> None:
    """Refuse what GitHub refuses or cannot mean: an empty pattern, ``***``, ``[…]``
    character ranges."""
    plain = re.sub(r"\\.", "x", pattern)
    if not plain.strip("/"):
        if plain == "/":
            raise ValueError("the pattern '/' names no file")
        raise ValueError("no pattern")
    if "***" in plain:
        raise ValueError(f"pattern {pattern!r}: '***' is not a pattern (use '**')")
    if "[" in plain or "]" in plain:
        raise ValueError(f"pattern {pattern!r}: character ranges […] are not supported")


def pattern_regex(pattern: str) -> str:
    """The regular expression a pattern (escapes kept, ``!`` allowed) matches paths with
    (paths without a leading ``/``)."""
    body = pattern[1:] if pattern.startswith("!") else pattern
    directory = body.endswith("/") and not body.endswith("\\/")
    core = body.strip("/") if not body.endswith("\\/") else body.lstrip("/")
    anchored = body.startswith("/") or "/" in core
    children_only = core.endswith("/*") and not core.endswith("\\*")
    if core in ("**", "*") and not body.startswith("/"):
        return r"(?s).*\Z"
    parts = _translate(core)
    start = "" if anchored else "(?:.*/)?"
    if directory:
        end = "/.*"
    elif children_only:
        end = ""
    else:
        end = "(?:/.*)?"
    return f"(?s){start}{parts}{end}\\Z"


def _translate(core: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(core):
        char = core[i]
        if char == "\\" and i + 1 < len(core):
            out.append(re.escape(core[i + 1]))
            i += 2
            continue
        if core.startswith("**/", i) and (i == 0 or core[i - 1] == "/"):
            out.append("(?:.*/)?")
            i += 3
            continue
        if core.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        out.append({"*": "[^/]*", "?": "[^/]"}.get(char) or re.escape(char))
        i += 1
    return "".join(out)
