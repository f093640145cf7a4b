"""A safe YAML loader that keeps line/column marks and refuses hostile documents (SPEC §2.9).

The document is composed with PyYAML's ``SafeLoader`` machinery (on libyaml's parser when
it is installed, else the pure-Python one), then turned
into plain Python data by our own walk over the node graph, so that every mapping key and
every value gets a mark in a side table addressed by its path, e.g.
``("states", "draft", "sla", "within")`` or ``("transitions", 3, "when")``.

Refused: documents over 1 MiB, documents expanding to more than 100,000 nodes (aliases are
counted at every use, while composing, so an alias bomb stops before it is built), nesting
deeper than 64 levels, recursive aliases, tags other than the plain YAML types, empty files
and multi-document streams. Duplicate keys, and keys that YAML reads as something other than
a string (``on:``, ``yes:``, ``1:``, ``null:``), are errors but loading goes on so that later
checks still run. Timestamps (``2026-01-05``) are kept as the text written, so the data stays
JSON-able; the field types parse them. Values that YAML 1.1 reads as booleans from
``yes``/``no``/``on``/``off`` are kept as booleans and listed in ``YamlDocument.traps``:
only the caller knows whether a boolean or a string is meant there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.events import AliasEvent, MappingStartEvent, ScalarEvent, SequenceStartEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import Resolver

from opsflow.language.diagnostics import Diagnostic

MAX_BYTES = 1024 * 1024
MAX_NODES = 100_000
_TOO_MANY = (
    f"the document expands to more than {MAX_NODES} nodes (aliases count at each use); "
    "refusing to load it"
)
MAX_DEPTH = 64

YamlPath = tuple[str | int, ...]

_TAG = "tag:yaml.org,2002:"
_ALLOWED_SCALAR_TAGS = {f"{_TAG}{t}" for t in ("str", "int", "float", "bool", "null", "timestamp")}
_MAP_TAG = f"{_TAG}map"
_SEQ_TAG = f"{_TAG}seq"
_MERGE_TAG = f"{_TAG}merge"
_TYPE_WORDS = {
    f"{_TAG}int": "an integer",
    f"{_TAG}float": "a number",
    f"{_TAG}null": "null",
    f"{_TAG}timestamp": "a date",
}


@dataclass(frozen=True)
class NodeInfo:
    """Where a node sits in the text (1-based line/col) and how it was written."""

    line: int
    col: int
    end_line: int
    end_col: int
    start_index: int
    end_index: int
    style: str | None = None  # scalars: None (plain), "'", '"', "|", ">"
    kind: str = "scalar"  # "scalar", "sequence" or "mapping"


@dataclass(frozen=True)
class BoolTrap:
    """A value written ``yes``/``no``/``on``/``off`` that YAML 1.1 read as a boolean."""

    path: YamlPath
    text: str
    value: bool


@dataclass
class YamlDocument:
    """Plain data of one YAML document plus the marks of its keys and values."""

    data: Any
    values: dict[YamlPath, NodeInfo] = field(default_factory=dict)
    keys: dict[YamlPath, NodeInfo] = field(default_factory=dict)
    traps: list[BoolTrap] = field(default_factory=list)
    error_paths: set[YamlPath] = field(default_factory=set)
    source: str = ""  # the text parsed (a leading BOM removed); NodeInfo indexes point into it

    def locate(self, path: YamlPath, *, key: bool = False) -> tuple[int, int]:
        """Return the (line, col) of ``path``'s key or value, else of its nearest ancestor."""
        table = self.keys if key else self.values
        if path in table:
            info = table[path]
            return info.line, info.col
        for cut in range(len(path), -1, -1):
            prefix = path[:cut]
            info_or_none = self.values.get(prefix) or self.keys.get(prefix)
            if info_or_none is not None:
                return info_or_none.line, info_or_none.col
        return 1, 1


class YamlLimitError(yaml.MarkedYAMLError):
    """A document refused by opsflow's own rules (limits, recursion, several documents)."""


def _info(node: Node) -> NodeInfo:
    start, end = node.start_mark, node.end_mark
    kind = (
        "mapping"
        if isinstance(node, MappingNode)
        else ("sequence" if isinstance(node, SequenceNode) else "scalar")
    )
    style = node.style if isinstance(node, ScalarNode) else None
    return NodeInfo(
        start.line + 1,
        start.column + 1,
        end.line + 1,
        end.column + 1,
        start.index,
        end.index,
        style or None,
        kind,
    )


class _Composing:
    """The composer's bounds: counts expanded nodes and nesting depth, one document only.

    Mixed into a loader built on PyYAML's pure-Python parser or on libyaml's (below).
    """

    anchors: dict[Any, Node]

    def _start(self) -> None:
        self._count = 0
        self._depth = 0
        self._sizes: dict[int, int] = {}

    def _add(self, n: int, mark: yaml.Mark) -> None:
        self._count += n
        if self._count > MAX_NODES:
            raise YamlLimitError(None, None, _TOO_MANY, mark)

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        loader: Any = self
        if loader.check_event(AliasEvent):
            event = loader.get_event()
            if event.anchor not in self.anchors:
                raise yaml.composer.ComposerError(
                    None, None, f"found undefined alias '{event.anchor}'", event.start_mark
                )
            node = self.anchors[event.anchor]
            size = self._sizes.get(id(node))
            if size is None:
                raise YamlLimitError(
                    None, None, f"alias '{event.anchor}' refers to itself", event.start_mark
                )
            self._add(size, event.start_mark)
            return node
        event = loader.peek_event()
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise YamlLimitError(
                None,
                None,
                f"the document is nested more than {MAX_DEPTH} levels deep",
                event.start_mark,
            )
        before = self._count
        if not isinstance(event, ScalarEvent | SequenceStartEvent | MappingStartEvent):
            raise yaml.composer.ComposerError(None, None, "expected a node", event.start_mark)
        composed: Node = super().compose_node(parent, index)  # type: ignore[misc]
        assert composed is not None
        self._depth -= 1
        self._sizes[id(composed)] = self._count - before + 1
        self._add(1, composed.start_mark)
        return composed

    def compose_single(self) -> Node | None:
        """Compose the only document of the stream; a second document is an error."""
        loader: Any = self
        loader.get_event()  # stream start
        node = None
        if not loader.check_event(yaml.StreamEndEvent):
            node = loader.compose_document()
        if not loader.check_event(yaml.StreamEndEvent):
            event = loader.get_event()
            raise YamlLimitError(
                None,
                None,
                "a workflow file holds one YAML document, but a second one starts here",
                event.start_mark,
            )
        return node


class _ComposingLoader(_Composing, yaml.SafeLoader):
    """PyYAML's pure-Python SafeLoader with the composer's bounds: the reference parser,
    whose messages the diagnostics quote."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._start()


_CParser: Any = getattr(getattr(yaml, "_yaml", None), "CParser", None)


class _FastComposingLoader(_Composing, _CParser or object, Composer, SafeConstructor, Resolver):  # type: ignore[misc]
    """The same loader on libyaml's parser (a large workflow reads ~3x faster): libyaml
    reads the events with the same marks (character index, line, column), and the
    pure-Python composer, resolver and constructor turn them into the same nodes. Used
    only when libyaml is installed; a document it refuses is read again by
    ``_ComposingLoader``, whose words the diagnostics keep."""

    def __init__(self, stream: str) -> None:
        _CParser.__init__(self, stream)
        Composer.__init__(self)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)
        self._start()

    def compose_scalar_node(self, anchor: Any) -> ScalarNode:
        node = super().compose_scalar_node(anchor)
        if node.style == "":  # libyaml's plain style; PyYAML's is None
            node.style = None
        return node


def _compose(text: str, *, fast: bool) -> tuple[Any, Node | None]:
    """The loader and the document's node, with libyaml's parser when ``fast``."""
    loader = _FastComposingLoader(text) if fast else _ComposingLoader(text)
    try:
        return loader, loader.compose_single()
    finally:
        loader.dispose()


class _Builder:
    """Turns a composed node graph into plain data, recording marks and problems."""

    def __init__(self, loader: Any, path: str) -> None:
        self.loader = loader
        self.path = path
        self.doc = YamlDocument(data=None)
        self.diagnostics: list[Diagnostic] = []

    def error(self, info: NodeInfo, message: str, where: YamlPath) -> None:
        self.diagnostics.append(Diagnostic(self.path, info.line, info.col, "error", message))
        self.doc.error_paths.add(where)

    def build(self, node: Node, where: YamlPath) -> Any:
        info = _info(node)
        self.doc.values[where] = info
        if isinstance(node, ScalarNode):
            return self.scalar(node, info, where)
        if node.tag not in (_MAP_TAG, _SEQ_TAG):
            self.error(info, _tag_message(node.tag), where)
            return None
        if isinstance(node, SequenceNode):
            return [self.build(child, (*where, i)) for i, child in enumerate(node.value)]
        assert isinstance(node, MappingNode)
        return self.mapping(node, where)

    def scalar(self, node: ScalarNode, info: NodeInfo, where: YamlPath) -> Any:
        if node.tag not in _ALLOWED_SCALAR_TAGS:
            self.error(info, _tag_message(node.tag), where)
            return None
        if node.tag == f"{_TAG}timestamp":
            return node.value
        try:
            value = self.loader.construct_object(node, deep=True)
        except (ValueError, yaml.YAMLError) as exc:
            reason = "the number is too long" if "digits" in str(exc) else str(exc)
            self.error(info, f"cannot read the value '{_clip(node.value)}': {reason}", where)
            return None
        if isinstance(value, bool) and node.value.lower() not in ("true", "false"):
            self.doc.traps.append(BoolTrap(where, node.value, value))
        trap = _number_trap(node, value)
        if trap is not None:
            self.error(info, trap, where)
            return None
        return value

    def mapping(self, node: MappingNode, where: YamlPath) -> dict[str, Any]:
        result: dict[str, Any] = {}
        merges: list[Node] = []
        for key_node, value_node in node.value:
            key_info = _info(key_node)
            if isinstance(key_node, ScalarNode) and key_node.tag == _MERGE_TAG:
                merges.extend(_merge_sources(value_node))
                continue
            key = self.key(key_node, key_info, where)
            if key is None:
                continue
            child = (*where, key)
            if key in result:
                first = self.doc.keys[child]
                self.error(
                    key_info,
                    f"duplicate key '{key}' (first defined at line {first.line})",
                    child,
                )
                continue
            self.doc.keys[child] = key_info
            result[key] = self.build(value_node, child)
        for source in merges:
            if not isinstance(source, MappingNode):
                self.error(
                    _info(source), "a merge key ('<<') takes a mapping or a list of mappings", where
                )
                continue
            for key_node, value_node in source.value:
                if not isinstance(key_node, ScalarNode) or key_node.tag == _MERGE_TAG:
                    continue
                key = str(key_node.value)
                if key not in result:
                    self.doc.keys[(*where, key)] = _info(key_node)
                    result[key] = self.build(value_node, (*where, key))
        return result

    def key(self, node: Node, info: NodeInfo, where: YamlPath) -> str | None:
        if not isinstance(node, ScalarNode):
            self.error(info, "a key must be a name, not a list or a mapping", where)
            return None
        text = str(node.value)
        tag = node.tag
        if tag == f"{_TAG}bool" and text.lower() not in ("true", "false"):
            self.error(
                info,
                f"key '{text}' is read as the boolean {_bool_word(text)} by YAML 1.1; "
                f"quote it: '{text}'",
                (*where, text),
            )
        elif tag == f"{_TAG}bool" or tag in _TYPE_WORDS:
            word = "a boolean" if tag == f"{_TAG}bool" else _TYPE_WORDS[tag]
            self.error(
                info,
                f"key '{text}' is read as {word} by YAML, not as a name; quote it: '{text}'",
                (*where, text),
            )
        elif tag != f"{_TAG}str":
            self.error(info, _tag_message(tag), (*where, text))
        return text


def _number_trap(node: ScalarNode, value: Any) -> str | None:
    """Why a plain number is a YAML 1.1 trap (octal ``010``, base-60 ``1:30``), or None."""
    if node.style is not None or node.tag not in (f"{_TAG}int", f"{_TAG}float"):
        return None
    text = str(node.value)
    digits = text.lstrip("+-").replace("_", "")
    if ":" in text:
        return (
            f"'{_clip(text)}' is read as the base-60 number {value} by YAML 1.1; "
            f"quote it: '{_clip(text)}'"
        )
    if (
        node.tag == f"{_TAG}int"
        and len(digits) > 1
        and digits.startswith("0")
        and (digits.isdigit())
    ):
        return (
            f"'{_clip(text)}' is read as the octal number {value} by YAML 1.1; "
            f"write {value}, or quote it: '{_clip(text)}'"
        )
    return None


def _merge_sources(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    return [node]


def _bool_word(text: str) -> str:
    return "true" if text.lower() in ("yes", "on", "y", "true") else "false"


def _tag_message(tag: str) -> str:
    short = "!!" + tag[len(_TAG) :] if tag.startswith(_TAG) else tag
    return (
        f"tag '{short}' is not allowed in a workflow file (only plain YAML values: "
        "strings, numbers, booleans, null, lists, mappings)"
    )


def _clip(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def bool_trap_hint(text: str) -> str:
    """Explain how YAML 1.1 reads ``text`` (``yes``, ``on``, ...) and how to quote it."""
    return f"'{text}' is read as the boolean {_bool_word(text)} by YAML 1.1; quote it: '{text}'"


def _line_col(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def load_yaml(text: str, path: str = "<string>") -> tuple[YamlDocument | None, list[Diagnostic]]:
    """Parse one YAML document; the document is None when it could not be read at all."""
    size = len(text.encode("utf-8", errors="surrogatepass"))
    if size > MAX_BYTES:
        message = (
            f"the file is {size} bytes; workflow files are limited to 1 MiB ({MAX_BYTES} bytes)"
        )
        return None, [Diagnostic(path, 1, 1, "error", message)]
    text = text.removeprefix("\ufeff")
    loader: Any = None
    if _CParser is not None and not yaml.reader.Reader.NON_PRINTABLE.search(text):
        try:
            loader, node = _compose(text, fast=True)
        except YamlLimitError as exc:  # opsflow's own limits: the same words either way
            return None, [_syntax_diagnostic(exc, path)]
        except (yaml.YAMLError, RecursionError):
            loader = None  # read again below, for the reference parser's diagnostics
    try:
        if loader is None:
            too_many = _too_many_nodes(text, path)
            if too_many is not None:
                return None, [too_many]
            loader, node = _compose(text, fast=False)
    except yaml.MarkedYAMLError as exc:
        return None, [_syntax_diagnostic(exc, path)]
    except yaml.reader.ReaderError as exc:
        line, col = _line_col(text, exc.position)
        char = exc.character if isinstance(exc.character, int) else 0
        message = f"invalid YAML: character #x{char:04x} is not allowed ({exc.reason})"
        return None, [Diagnostic(path, line, col, "error", message)]
    except RecursionError:
        message = f"the document is nested more than {MAX_DEPTH} levels deep"
        return None, [Diagnostic(path, 1, 1, "error", message)]
    if node is None or (isinstance(node, ScalarNode) and node.tag == f"{_TAG}null"):
        line, col = (1, 1) if node is None else (node.start_mark.line + 1, 1)
        message = "the file is empty; a workflow file is a mapping with workflow, version, states"
        return None, [Diagnostic(path, line, col, "error", message)]
    builder = _Builder(loader, path)
    builder.doc.data = builder.build(node, ())
    builder.doc.source = text
    return builder.doc, builder.diagnostics


def _too_many_nodes(text: str, path: str) -> Diagnostic | None:
    """The node limit checked first with libyaml, when installed: the marked pure-Python
    parse takes seconds to reach 100,000 nodes of a 1 MiB flow list; this takes
    milliseconds. Aliases count once here (the composer counts their expansion)."""
    if not getattr(yaml, "__with_libyaml__", False):
        return None
    count = 0
    try:
        for event in yaml.parse(text, Loader=yaml.CSafeLoader):
            if isinstance(event, ScalarEvent | SequenceStartEvent | MappingStartEvent | AliasEvent):
                count += 1
                if count > MAX_NODES:
                    mark = event.start_mark
                    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
                    return Diagnostic(path, line, col, "error", _TOO_MANY)
    except yaml.YAMLError:
        return None  # the marked parse reports it, in its own words
    return None


def _syntax_diagnostic(exc: yaml.MarkedYAMLError, path: str) -> Diagnostic:
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or exc.context or "unreadable document"
    if "could not find expected ':'" in problem and exc.context_mark is not None:
        # The scanner notices a key without ':' on a later line; the key is the problem.
        mark = exc.context_mark
        line, col = mark.line + 1, mark.column + 1
        message = (
            "invalid YAML: this line has no ':' after its key (a mapping entry is "
            "'key: value'); check the indentation of the line after it"
        )
        return Diagnostic(path, line, col, "error", message)
    line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    if isinstance(exc, YamlLimitError):
        return Diagnostic(path, line, col, "error", problem)
    message = f"invalid YAML: {problem}"
    if exc.context and exc.problem and exc.context_mark is not None:
        message += f" ({exc.context} at line {exc.context_mark.line + 1})"
    if "expected <block end>" in problem:
        message += "; check the indentation"
    elif "'\\t'" in problem:
        message += "; indent with spaces, not tabs"
    return Diagnostic(path, line, col, "error", message)
