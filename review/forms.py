"""Extraction forms: the one description of what reviewers extract.

A form (YAML, see extraction_forms/README.md) declares tables, their keys and fields, controlled vocabularies and
the named cross-field rules that apply. Schemas (schema.py), reviewer workbooks (workbook.py), validation
(validate.py) and the data dictionary are all generated from the `Form` built here, so nothing is described twice.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from .errors import FormError, UnreadableInput
from .files import MAX_CONFIG_BYTES, MAX_CONFIG_DEPTH, MAX_CONFIG_NODES, read_text
from .issues import RULE_KINDS
from .words import counted

if TYPE_CHECKING:
    from .outcomes import OutcomeSpec

FIELD_TYPES = ("text", "integer", "number", "percent", "date", "category", "boolean")
NUMERIC_TYPES = ("integer", "number", "percent")
FORMATS = ("doi", "pmid", "nct", "year")

# Missing-value codes a reviewer may type in any non-key cell. An empty cell is a third state ("not yet
# extracted") and 0 a fourth; keeping them apart is what stops "not reported" being read as zero.
MISSING_CODES = {"NR": "not reported", "NA": "not applicable"}

# Provenance every data row carries, appended to each table unless the form defines them itself.
PROVENANCE_FIELDS: dict[str, dict[str, Any]] = {
    "source": {
        "type": "text",
        "label": "Source",
        "help": "Which report the values come from: a citation, a source id (e.g. S3) or a registry record id.",
    },
    "location": {
        "type": "text",
        "label": "Location",
        "help": "Where in the source: page, table, figure or registry section, e.g. 'p. 475, Table 2'.",
    },
    "comment": {
        "type": "text",
        "label": "Comment",
        "help": "Anything the next reader needs: assumptions, calculations, doubts.",
    },
}

_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
DEFAULT_FORM = "oncology_trial.yaml"


@dataclass(frozen=True)
class Field:
    """One column of a table: its type, vocabulary and limits, and the text reviewers see."""

    name: str
    type: str
    label: str
    help: str = ""
    unit: str = ""
    values: tuple[str, ...] = ()
    required: bool = False
    # typed only when the report gives it (an alternative): empty is not "not extracted"
    if_reported: bool = False
    # fields standing in for this one: where any holds a value, this one may stay empty
    unless_given: tuple[str, ...] = ()
    min: float | None = None
    max: float | None = None
    format: str | None = None
    references: tuple[str, str] | None = None  # (table, field) whose values this field must take
    line: int | None = None

    @property
    def numeric(self) -> bool:
        return self.type in NUMERIC_TYPES

    @property
    def header(self) -> str:
        """The column header in workbooks: the label with its unit."""
        return f"{self.label} ({self.unit})" if self.unit else self.label


@dataclass(frozen=True)
class Table:
    """One sheet of the workbook and one DataFrame: a key and fields."""

    name: str
    label: str
    description: str
    key: tuple[str, ...]
    fields: dict[str, Field]
    line: int | None = None
    outcome: OutcomeSpec | None = None  # the outcome kind the table holds and its fields' roles (outcomes.py)

    @property
    def sheet(self) -> str:
        return self.label

    def field_for_header(self, header: str) -> Field | None:
        """The field a workbook/CSV header stands for: its header, label or name, ignoring case and spacing."""
        wanted = _fold(header)
        for f in self.fields.values():
            if wanted in (_fold(f.header), _fold(f.label), _fold(f.name)):
                return f
        return None


@dataclass(frozen=True)
class Rule:
    """A named cross-field or cross-table rule: a kind from issues.RULE_KINDS applied to the form's fields."""

    kind: str
    table: str
    args: dict[str, str]
    severity: str | None = None  # overrides the kind's default
    name: str = ""
    line: int | None = None


@dataclass(frozen=True, repr=False)
class Form:
    name: str
    title: str
    version: str
    description: str
    tables: dict[str, Table]
    rules: tuple[Rule, ...]
    path: Path | None = None

    @property
    def label(self) -> str:
        return f"{self.name} v{self.version}"

    def __repr__(self) -> str:
        return f"Form({self.label}: {counted(len(self.tables), 'table')}, {counted(len(self.rules), 'rule')})"

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{html.escape(t.sheet)}</td><td>{html.escape(', '.join(t.key))}</td>"
            f"<td>{len(t.fields)}</td><td>{html.escape(t.description)}</td></tr>"
            for t in self.tables.values()
        )
        return (
            f"<p><b>{html.escape(self.title)}</b> ({html.escape(self.label)}, {counted(len(self.rules), 'rule')})</p>"
            "<table><tr><th>sheet</th><th>key</th><th>fields</th><th>holds</th></tr>" + rows + "</table>"
        )

    def table(self, name: str) -> Table:
        try:
            return self.tables[name]
        except KeyError:
            raise KeyError(
                f"form {self.label} has no table {name!r}; it has {', '.join(self.tables)}"
            ) from None

    def table_for_sheet(self, sheet: str) -> Table | None:
        for t in self.tables.values():
            if _fold(t.sheet) == _fold(sheet) or _fold(t.name) == _fold(sheet):
                return t
        return None


def _fold(text: str) -> str:
    return re.sub(r"[\s_]+", " ", str(text)).strip().casefold()


# --------------------------------------------------------------------------------------------------------------
# Loading: YAML with line numbers, so every error can point at the line to fix.


class _Located(dict):
    """A mapping that remembers the YAML line of itself and of each key."""

    line: int = 0
    key_lines: dict[str, int]


class _Budget:
    """Bounds on building a form from YAML: nesting depth, and values made once aliases are expanded (an
    alias is a reference, so a few lines can stand for 10^9 values: the "billion laughs")."""

    def __init__(self) -> None:
        self.nodes = 0

    def spend(self, node: yaml.Node, depth: int) -> None:
        self.nodes += 1
        line = node.start_mark.line + 1
        if depth > MAX_CONFIG_DEPTH:
            raise _LoadError(f"nested more than {MAX_CONFIG_DEPTH} levels deep; a form needs a few", line)
        if self.nodes > MAX_CONFIG_NODES:
            raise _LoadError(
                f"expands to more than {MAX_CONFIG_NODES:,} values (YAML aliases repeat what they point to); "
                "write the form out without chains of aliases",
                line,
            )


def _construct(node: yaml.Node, budget: _Budget | None = None, depth: int = 0) -> Any:
    budget = budget or _Budget()
    budget.spend(node, depth)
    if isinstance(node, yaml.MappingNode):
        result = _Located()
        result.line = node.start_mark.line + 1
        result.key_lines = {}
        for key_node, value_node in node.value:
            key = _construct(key_node, budget, depth + 1)
            if not isinstance(key, (str, int, float, bool)):
                raise _LoadError(f"a key must be a plain name, not {key!r}", key_node.start_mark.line + 1)
            key = str(key)
            if key in result:
                raise _LoadError(f"duplicate key {key!r}", key_node.start_mark.line + 1)
            result[key] = _construct(value_node, budget, depth + 1)
            result.key_lines[key] = key_node.start_mark.line + 1
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_construct(n, budget, depth + 1) for n in node.value]
    return yaml.SafeLoader.construct_object(_scalar_loader, node, deep=True)


class _LoadError(Exception):
    def __init__(self, message: str, line: int | None):
        super().__init__(message)
        self.line = line


_scalar_loader = yaml.SafeLoader("")


def load_form(path: str | Path) -> Form:
    """Load and check a form; a malformed one raises FormError naming the file, line and problem."""
    path = Path(path)
    if not path.exists():
        raise FormError(
            f"{path}: form not found; pass the path of a YAML form, e.g. "
            "extraction_forms/oncology_trial.yaml."
        )
    try:
        text = read_text(path, "form (YAML)")
    except UnreadableInput as exc:
        raise FormError(str(exc)) from None
    return parse_form(text, str(path))


def parse_form(text: str, name: str = "<form>") -> Form:
    """Load a form from YAML text (for notebooks and tests); errors name `name` as the file."""
    if len(text) > MAX_CONFIG_BYTES:
        raise FormError(f"{name}: {len(text):,} characters; a form is limited to {MAX_CONFIG_BYTES:,}.")
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else "?"
        raise FormError(f"{name}, line {line}: not valid YAML: {exc.problem}.") from None
    except yaml.YAMLError as exc:  # e.g. a reader error: a control character the YAML spec forbids
        raise FormError(f"{name}: not valid YAML: {exc}.") from None
    except RecursionError:
        raise FormError(
            f"{name}: nested too deeply to read (a form is limited to {MAX_CONFIG_DEPTH} levels)."
        ) from None
    if node is None:
        raise FormError(f"{name}: the form is empty.")
    try:
        return _build(_construct(node), Path(name))
    except _LoadError as exc:
        where = f", line {exc.line}" if exc.line else ""
        raise FormError(f"{name}{where}: {exc}") from None


def _require(mapping: Any, key: str, what: str, line: int | None) -> Any:
    if not isinstance(mapping, dict) or key not in mapping:
        raise _LoadError(f"{what} needs '{key}:'", line)
    return mapping[key]


def _line(mapping: Any, key: str | None = None) -> int | None:
    if isinstance(mapping, _Located):
        return mapping.key_lines.get(key, mapping.line) if key else mapping.line
    return None


def _check_keys(mapping: Any, allowed: set[str], what: str) -> None:
    if not isinstance(mapping, dict):
        raise _LoadError(f"{what} must be a mapping of 'key: value' lines", None)
    for key in mapping:
        if key not in allowed:
            raise _LoadError(
                f"{what}: unknown key {key!r}; allowed keys are {', '.join(sorted(allowed))}",
                _line(mapping, key),
            )


_FORM_KEYS = {"form", "title", "version", "description", "vocabularies", "tables", "rules"}
_TABLE_KEYS = {"label", "description", "key", "fields", "provenance", "outcome"}
_FIELD_KEYS = {
    "type",
    "label",
    "help",
    "unit",
    "values",
    "vocabulary",
    "required",
    "if_reported",
    "unless_given",
    "min",
    "max",
    "format",
    "references",
}
_RULE_KEYS = {"rule", "table", "severity", "name"}


def _build(doc: Any, path: Path) -> Form:
    if not isinstance(doc, dict):
        raise _LoadError("a form must be a mapping with form:, version: and tables:", 1)
    _check_keys(doc, _FORM_KEYS, "the form")
    name = _require(doc, "form", "the form", _line(doc))
    version = _require(doc, "version", "the form", _line(doc))
    if not isinstance(name, str) or not _NAME.match(name):
        raise _LoadError(
            f"form: {name!r} must be a lower-case name such as oncology_trial", _line(doc, "form")
        )
    if not isinstance(version, (str, int, float)) or isinstance(version, bool):
        raise _LoadError("version: must be a version such as 1.0.0", _line(doc, "version"))

    vocabularies = doc.get("vocabularies") or {}
    _check_vocabularies(vocabularies)

    tables_doc = _require(doc, "tables", "the form", _line(doc))
    if not isinstance(tables_doc, dict) or not tables_doc:
        raise _LoadError("tables: must list at least one table", _line(doc, "tables"))
    tables: dict[str, Table] = {}
    for tname, tdoc in tables_doc.items():
        tables[tname] = _build_table(tname, tdoc, vocabularies, _line(tables_doc, tname))
    _check_tables(tables)

    rules = tuple(_build_rule(r, tables) for r in (doc.get("rules") or []))
    if not isinstance(doc.get("rules") or [], list):
        raise _LoadError("rules: must be a list of '- rule: ...' entries", _line(doc, "rules"))
    return Form(
        name=name,
        title=str(doc.get("title") or name),
        version=str(version),
        description=str(doc.get("description") or ""),
        tables=tables,
        rules=rules,
        path=path,
    )


def _check_vocabularies(vocabularies: Any) -> None:
    if not isinstance(vocabularies, dict):
        raise _LoadError("vocabularies: must map a name to a list of allowed values", None)
    for vname, values in vocabularies.items():
        if not isinstance(values, list) or not values:
            raise _LoadError(f"vocabulary {vname!r} must be a non-empty list", _line(vocabularies, vname))
        seen: set[str] = set()
        for v in values:
            folded = _fold(str(v))
            if folded in seen:
                raise _LoadError(f"vocabulary {vname!r} lists {v!r} twice", _line(vocabularies, vname))
            if str(v).upper() in MISSING_CODES:
                raise _LoadError(
                    f"vocabulary {vname!r} may not contain {v!r}: NR and NA are always allowed as missing codes",
                    _line(vocabularies, vname),
                )
            seen.add(folded)


def _build_table(tname: str, tdoc: Any, vocabularies: dict[str, list], line: int | None) -> Table:
    if not _NAME.match(str(tname)):
        raise _LoadError(f"table name {tname!r} must be lower-case letters, digits and _", line)
    if not isinstance(tdoc, dict):
        raise _LoadError(f"table {tname!r} must be a mapping with key: and fields:", line)
    _check_keys(tdoc, _TABLE_KEYS, f"table {tname!r}")
    label = str(tdoc.get("label") or tname.replace("_", " ").capitalize())
    if len(label) > 31 or _SHEET_FORBIDDEN.search(label):
        raise _LoadError(
            f"table {tname!r}: label {label!r} becomes a sheet name, so it must be at most 31 characters "
            "without [ ] : * ? / \\",
            _line(tdoc, "label"),
        )
    fields_doc = _require(tdoc, "fields", f"table {tname!r}", line)
    if not isinstance(fields_doc, dict) or not fields_doc:
        raise _LoadError(f"table {tname!r}: fields: must list at least one field", _line(tdoc, "fields"))
    fields: dict[str, Field] = {}
    for fname, fdoc in fields_doc.items():
        fields[fname] = _build_field(tname, fname, fdoc, vocabularies, _line(fields_doc, fname))
    if tdoc.get("provenance", True):
        for pname, pdoc in PROVENANCE_FIELDS.items():
            if pname not in fields:
                fields[pname] = Field(name=pname, **pdoc)

    key = tdoc.get("key")
    key = [key] if isinstance(key, str) else key
    if not isinstance(key, list) or not key:
        raise _LoadError(
            f"table {tname!r} needs key: the field(s) that identify a row", _line(tdoc, "key") or line
        )
    for k in key:
        if k not in fields:
            raise _LoadError(f"table {tname!r}: key field {k!r} is not among its fields", _line(tdoc, "key"))
        if fields[k].type in ("number", "percent", "boolean"):
            raise _LoadError(
                f"table {tname!r}: key field {k!r} cannot be of type {fields[k].type}", _line(tdoc, "key")
            )
    for f in fields.values():
        for other in f.unless_given:
            if other not in fields or other == f.name:
                raise _LoadError(
                    f"field {tname}.{f.name}: unless_given: {other!r} is not another field of table {tname}",
                    f.line,
                )
    # Key fields are always required: a row without its key cannot be placed.
    for k in key:
        f = fields[k]
        if not f.required:
            fields[k] = Field(**{**f.__dict__, "required": True})

    headers: dict[str, str] = {}
    for f in fields.values():
        folded = _fold(f.header)
        if folded in headers:
            raise _LoadError(
                f"table {tname!r}: fields {headers[folded]!r} and {f.name!r} have the same header {f.header!r}; "
                "give one a different label",
                f.line,
            )
        headers[folded] = f.name
    outcome = None
    if "outcome" in tdoc:
        from .outcomes import (
            SpecError,
            parse_spec,
        )  # outcomes imports the engine; forms stays light without it

        odoc = tdoc["outcome"]
        try:
            outcome = parse_spec(tname, odoc, fields, _line(tdoc, "outcome"))
        except SpecError as exc:
            at = _line(odoc, exc.key) if exc.key else None
            raise _LoadError(f"table {tname!r}: {exc}", at or _line(tdoc, "outcome")) from None
    return Table(
        name=tname,
        label=label,
        description=str(tdoc.get("description") or ""),
        key=tuple(key),
        fields=fields,
        line=line,
        outcome=outcome,
    )


def _build_field(tname: str, fname: Any, fdoc: Any, vocabularies: dict[str, list], line: int | None) -> Field:
    where = f"field {tname}.{fname}"
    if not _NAME.match(str(fname)):
        raise _LoadError(f"{where}: a field name must be lower-case letters, digits and _", line)
    if isinstance(fdoc, str):  # shorthand: `dose: number`
        fdoc = {"type": fdoc}
    if not isinstance(fdoc, dict):
        raise _LoadError(f"{where} must be a type name or a mapping with type:", line)
    _check_keys(fdoc, _FIELD_KEYS, where)
    ftype = fdoc.get("type")
    if ftype not in FIELD_TYPES:
        raise _LoadError(
            f"{where}: type {ftype!r} is not one of {', '.join(FIELD_TYPES)}", _line(fdoc, "type") or line
        )
    values: tuple[str, ...] = ()
    if "vocabulary" in fdoc:
        vname = fdoc["vocabulary"]
        if vname not in vocabularies:
            raise _LoadError(
                f"{where}: vocabulary {vname!r} is not defined under vocabularies:", _line(fdoc, "vocabulary")
            )
        values = tuple(str(v) for v in vocabularies[vname])
    if "values" in fdoc:
        if "vocabulary" in fdoc:
            raise _LoadError(f"{where}: give either values: or vocabulary:, not both", _line(fdoc, "values"))
        if not isinstance(fdoc["values"], list) or not fdoc["values"]:
            raise _LoadError(f"{where}: values: must be a non-empty list", _line(fdoc, "values"))
        values = tuple(str(v) for v in fdoc["values"])
    if ftype == "category" and not values:
        raise _LoadError(f"{where}: a category field needs values: or vocabulary:", line)
    if values and ftype != "category":
        raise _LoadError(f"{where}: values: only apply to type category (this field is {ftype})", line)
    for bound in ("min", "max"):
        if bound in fdoc:
            if ftype not in NUMERIC_TYPES:
                raise _LoadError(
                    f"{where}: {bound}: only applies to integer, number and percent fields",
                    _line(fdoc, bound),
                )
            if not isinstance(fdoc[bound], (int, float)) or isinstance(fdoc[bound], bool):
                raise _LoadError(f"{where}: {bound}: must be a number", _line(fdoc, bound))
    lo, hi = fdoc.get("min"), fdoc.get("max")
    if ftype == "percent":
        lo = 0 if lo is None else lo
        hi = 100 if hi is None else hi
    if lo is not None and hi is not None and lo > hi:
        raise _LoadError(f"{where}: min ({lo}) is greater than max ({hi})", _line(fdoc, "min"))
    fmt = fdoc.get("format")
    if fmt is not None and fmt not in FORMATS:
        raise _LoadError(f"{where}: format {fmt!r} is not one of {', '.join(FORMATS)}", _line(fdoc, "format"))
    if fmt == "year" and ftype != "integer":
        raise _LoadError(f"{where}: format year needs type integer", _line(fdoc, "format"))
    references = None
    if "references" in fdoc:
        ref = str(fdoc["references"])
        if ref.count(".") != 1:
            raise _LoadError(
                f"{where}: references: must be 'table.field', e.g. studies.study_id",
                _line(fdoc, "references"),
            )
        references = tuple(ref.split("."))
    required = fdoc.get("required", False)
    if_reported = fdoc.get("if_reported", False)
    for key, flag in (("required", required), ("if_reported", if_reported)):
        if not isinstance(flag, bool):
            raise _LoadError(f"{where}: {key}: must be true or false", _line(fdoc, key))
    if required and if_reported:
        raise _LoadError(
            f"{where}: a field cannot be both required and if_reported (empty when the report does not give it)",
            _line(fdoc, "if_reported"),
        )
    unless = fdoc.get("unless_given", [])
    unless = [unless] if isinstance(unless, str) else unless
    if not isinstance(unless, list) or not all(isinstance(u, str) for u in unless):
        raise _LoadError(
            f"{where}: unless_given: must be a list of this table's field names", _line(fdoc, "unless_given")
        )
    return Field(
        name=str(fname),
        type=ftype,
        label=str(fdoc.get("label") or str(fname).replace("_", " ").capitalize()),
        help=str(fdoc.get("help") or "").strip(),
        unit=str(fdoc.get("unit") or ""),
        values=values,
        required=required,
        if_reported=if_reported,
        unless_given=tuple(unless),
        min=lo,
        max=hi,
        format=fmt,
        references=references,  # type: ignore[arg-type]
        line=line,
    )


def _check_tables(tables: dict[str, Table]) -> None:
    sheets: dict[str, str] = {}
    for t in tables.values():
        folded = _fold(t.sheet)
        if folded in sheets:
            raise _LoadError(
                f"tables {sheets[folded]!r} and {t.name!r} have the same label {t.label!r}", t.line
            )
        sheets[folded] = t.name
        ref = t.outcome.options.get("total_from") if t.outcome else None
        if ref:
            rt, rf = str(ref).split(".", 1)
            if rt not in tables or rf not in tables[rt].fields:
                raise _LoadError(
                    f"table {t.name!r}: outcome: total_from: {ref} is not a field of the form", t.line
                )
        for f in t.fields.values():
            if f.references:
                rt, rf = f.references
                if rt not in tables or rf not in tables[rt].fields:
                    raise _LoadError(
                        f"field {t.name}.{f.name}: references {rt}.{rf}, which is not a field of the form",
                        f.line,
                    )


def _build_rule(rdoc: Any, tables: dict[str, Table]) -> Rule:
    line = _line(rdoc)
    if not isinstance(rdoc, dict):
        raise _LoadError("each rule must be a mapping starting with 'rule:'", line)
    kind = _require(rdoc, "rule", "a rule", line)
    if kind not in RULE_KINDS:
        raise _LoadError(
            f"unknown rule {kind!r}; known rules: {', '.join(sorted(RULE_KINDS))}", _line(rdoc, "rule")
        )
    spec = RULE_KINDS[kind]
    _check_keys(rdoc, _RULE_KEYS | set(spec.params) | set(spec.optional), f"rule {kind!r}")
    tname = _require(rdoc, "table", f"rule {kind!r}", line)
    if tname not in tables:
        raise _LoadError(f"rule {kind!r}: table {tname!r} is not in the form", _line(rdoc, "table"))
    args: dict[str, str] = {}
    for p in (*spec.params, *spec.optional):
        if p not in rdoc:
            if p in spec.params:
                raise _LoadError(f"rule {kind!r} needs '{p}:' ({spec.params[p]})", line)
            continue
        value = str(rdoc[p])
        target_table, target_field = value.split(".", 1) if "." in value else (tname, value)
        if target_table not in tables or target_field not in tables[target_table].fields:
            raise _LoadError(
                f"rule {kind!r}: {p}: {value!r} is not a field of table {target_table!r}", _line(rdoc, p)
            )
        args[p] = value
    severity = rdoc.get("severity")
    if severity not in (None, "error", "warning"):
        raise _LoadError(f"rule {kind!r}: severity must be error or warning", _line(rdoc, "severity"))
    return Rule(
        kind=kind, table=tname, args=args, severity=severity, name=str(rdoc.get("name") or ""), line=line
    )


def default_form_path() -> Path:
    """The shipped oncology trial form: extraction_forms/oncology_trial.yaml in the repository, which a wheel
    carries as package data (review/forms_data/, see pyproject.toml), found with importlib.resources."""
    from importlib.resources import files

    packaged = files("review") / "forms_data" / DEFAULT_FORM
    repository = Path(__file__).resolve().parent.parent / "extraction_forms" / DEFAULT_FORM
    for candidate in (packaged, repository):
        if candidate.is_file():
            return Path(str(candidate))
    raise FormError(f"the default form {DEFAULT_FORM} was not found; pass --form FORM.")
