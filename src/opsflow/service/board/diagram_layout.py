"""A workflow diagram as SVG geometry, drawn on the server from ``opsflow graph``'s Mermaid.

The board draws the Mermaid text the engine produces (``engine.graph``) itself rather than
running Mermaid in the browser: Mermaid styles its SVG with a ``<style>`` element and
``style`` attributes, which the board's Content-Security-Policy (``style-src 'self'``)
refuses, and it is megabytes of script. The drawing is a small layered ("Sugiyama") layout:

1. parse the ``stateDiagram-v2`` subset ``core.diagram.mermaid`` writes;
2. rank the states top to bottom: a depth-first search from the initial state turns the
   edges that close a cycle around, then each state goes one rank below its lowest
   predecessor (longest path); ranks are doubled so that every edge crosses at least one
   rank between its ends, where its label sits;
3. split long edges into a chain of points, one per rank crossed;
4. order each rank by the barycentre of its neighbours (sweeps down and up, the order with
   the fewest crossings kept);
5. place each rank horizontally as near its neighbours as the spacing allows (isotonic
   regression by pooling adjacent violators), a few passes;
6. draw each edge as smooth curves through its points; a self-loop on the node's right.

A transition written ``from: "*"`` reaches its target from every open state: it would draw
as many crossing lines, so it is left out of the drawing and named below it (``collapsed``).
Text widths are estimated (a CJK character one em, Latin about half), with room to spare.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

NODE_FONT = 14.0  # px: the state titles
LABEL_FONT = 12.5  # px: the event labels
NODE_H = 40.0
NODE_PAD = 28.0  # horizontal room around a state's title
NODE_MIN_W = 84.0
BOLD = 1.08  # the current state's title is bold: every box has room for that
LABEL_H = 20.0
GAP_NODES = 28.0  # between two boxes of a rank
GAP_SMALL = 14.0  # beside a label or a bend
RANK_GAP = 14.0  # between two ranks
LOOP_W = 30.0  # how far a self-loop reaches out of its box
MARGIN = 16.0
START_R = 7.0  # the initial dot's radius
START_GAP = 30.0  # room above the initial state for its dot and arrow
SWEEPS = 12
PLACEMENT_PASSES = 8
COLLAPSE_AT = 3  # a "from any state" transition reaching at least this many states

_STATE = re.compile(r'^state "(?P<title>.*)" as (?P<name>\w+)$')
_EDGE = re.compile(r"^(?P<source>\[\*\]|\w+) --> (?P<target>\[\*\]|\w+)(?: : (?P<label>.*))?$")
_FLAG = re.compile(r" \((internal|auto|\d+ approvals)\)$")
_CLASS = re.compile(r"^class (?P<name>\w+) current$")


@dataclass(frozen=True)
class Edge:
    """A transition between two states: its event and its marks (``auto``, ``internal``,
    ``2 approvals``)."""

    source: str
    target: str
    event: str
    flags: tuple[str, ...] = ()


@dataclass
class Chart:
    """What the Mermaid text says: states (in order of appearance), edges, the current state."""

    title: str | None = None
    states: list[str] = field(default_factory=list)
    titles: dict[str, str] = field(default_factory=dict)
    initial: str | None = None
    finals: set[str] = field(default_factory=set)
    edges: list[Edge] = field(default_factory=list)
    current: str | None = None

    def _see(self, name: str) -> None:
        if name not in self.states:
            self.states.append(name)


def parse(text: str) -> Chart:
    """The chart of a ``stateDiagram-v2`` as ``opsflow graph`` writes it (other lines ignored)."""
    chart = Chart()
    lines = text.splitlines()
    if lines[:1] == ["---"]:
        end = lines.index("---", 1) if "---" in lines[1:] else 0
        for line in lines[1:end]:
            if line.startswith("title: "):
                chart.title = line[len("title: ") :].strip()
        lines = lines[end + 1 :]
    for raw in lines:
        line = raw.strip()
        if found := _STATE.match(line):
            chart._see(found["name"])
            chart.titles[found["name"]] = found["title"]
        elif found := _EDGE.match(line):
            source, target = found["source"], found["target"]
            if source == "[*]" and target != "[*]":
                chart._see(target)
                chart.initial = target
            elif target == "[*]" and source != "[*]":
                chart._see(source)
                chart.finals.add(source)
            elif source != "[*]":
                chart._see(source)
                chart._see(target)
                chart.edges.append(Edge(source, target, *_label(found["label"] or "")))
        elif found := _CLASS.match(line):
            chart.current = found["name"]
    return chart


def _label(text: str) -> tuple[str, tuple[str, ...]]:
    flags: list[str] = []
    while found := _FLAG.search(text):
        flags.insert(0, found[1])
        text = text[: found.start()]
    return text.strip(), tuple(flags)


def text_width(text: str, size: float) -> float:
    """The width of ``text`` at ``size`` px, estimated generously (no font is at hand)."""
    width = 0.0
    for char in text:
        if ord(char) >= 0x2E80:  # CJK and full-width forms
            width += 1.0
        elif char in "mwMW@%":
            width += 0.85
        elif char.isupper() or char.isdigit():
            width += 0.66
        elif char in "iljtf.,:;'|!() ":
            width += 0.34
        else:
            width += 0.56
    return width * size


@dataclass(frozen=True)
class Box:
    """A state's box (top-left corner, size) and how it is drawn."""

    name: str
    title: str
    x: float
    y: float
    w: float
    h: float
    initial: bool
    final: bool
    current: bool

    @property
    def cx(self) -> float:
        return self.x + self.w / 2

    @property
    def cy(self) -> float:
        return self.y + self.h / 2


@dataclass(frozen=True)
class Label:
    """An edge's label: its text, centred at (x, y), and its box's size."""

    text: str
    x: float
    y: float
    w: float
    h: float


@dataclass(frozen=True)
class Line:
    """An edge as drawn: the SVG path (arrow at its end) and its label."""

    edge: Edge
    path: str
    label: Label
    back: bool  # drawn against the ranks' direction (it closes a cycle)
    loop: bool


@dataclass(frozen=True)
class Layout:
    """The whole drawing: its size, the boxes, the lines, the initial dot, what was left out."""

    width: float
    height: float
    boxes: list[Box]
    lines: list[Line]
    start: tuple[float, float, float] | None  # the initial dot: x, y and where its arrow ends
    collapsed: list[Edge]


@dataclass
class _Item:
    """One thing placed in a rank: a state's box, a label on an edge, or a bend of one."""

    key: str
    rank: int
    width: float
    up: list[str] = field(default_factory=list)
    down: list[str] = field(default_factory=list)
    x: float = 0.0  # the left edge


def collapsed(chart: Chart) -> list[Edge]:
    """The edges of ``from: "*"`` transitions: one (event, target) from every open state."""
    open_states = [s for s in chart.states if s not in chart.finals]
    by_kind: dict[tuple[str, tuple[str, ...], str], set[str]] = {}
    for edge in chart.edges:
        by_kind.setdefault((edge.event, edge.flags, edge.target), set()).add(edge.source)
    left_out = set()
    for (event, flags, target), sources in by_kind.items():
        everyone = {s for s in open_states if s != target}
        if len(sources) >= COLLAPSE_AT and everyone <= sources:
            left_out.add((event, flags, target))
    return [e for e in chart.edges if (e.event, e.flags, e.target) in left_out]


def ranks(
    states: Sequence[str], edges: Sequence[tuple[str, str]], initial: str | None
) -> dict[str, int]:
    """Each state's rank: 0 for the sources, else one below its lowest predecessor, once the
    edges closing a cycle (found depth first from ``initial``) and those into ``initial``
    are turned around."""
    succ: dict[str, list[str]] = {s: [] for s in states}
    for source, target in edges:
        if source != target and target not in succ[source]:
            succ[source].append(target)
    # The flow starts at the top: an edge into the initial state turns around, wherever from.
    back: set[tuple[str, str]] = {(s, t) for s in succ for t in succ[s] if t == initial}
    seen: set[str] = set()
    for root in ([initial] if initial else []) + list(states):
        if root in seen:
            continue
        seen.add(root)
        on_path = {root}
        stack = [(root, iter(succ[root]))]
        while stack:
            node, rest = stack[-1]
            step = next(rest, None)
            if step is None:
                stack.pop()
                on_path.discard(node)
            elif step in on_path:
                back.add((node, step))
            elif step not in seen:
                seen.add(step)
                on_path.add(step)
                stack.append((step, iter(succ[step])))
    dag = {(t, s) if (s, t) in back else (s, t) for s in succ for t in succ[s]}
    preds: dict[str, list[str]] = {s: [] for s in states}
    for source, target in dag:
        preds[target].append(source)
    rank: dict[str, int] = {}

    def rank_of(node: str) -> int:
        if node not in rank:
            rank[node] = 0  # a guard: the dag has no cycle left
            rank[node] = max((rank_of(p) + 1 for p in preds[node]), default=0)
        return rank[node]

    for state in states:
        rank_of(state)
    return rank


def layout(
    chart: Chart,
    title_of: Callable[[str], str],
    label_of: Callable[[Edge], str],
) -> Layout:
    """The drawing of ``chart``: state titles by ``title_of``, edge labels by ``label_of``."""
    left_out = collapsed(chart)
    drawn = [e for e in chart.edges if e not in left_out]
    rank = ranks(chart.states, [(e.source, e.target) for e in chart.edges], chart.initial)
    items: dict[str, _Item] = {}
    box_w: dict[str, float] = {}
    loops: dict[str, list[Edge]] = {}
    for edge in drawn:
        if edge.source == edge.target:
            loops.setdefault(edge.source, []).append(edge)
    for state in chart.states:
        w = max(NODE_MIN_W, text_width(title_of(state), NODE_FONT) * BOLD + NODE_PAD)
        box_w[state] = w
        loop_text = " · ".join(label_of(e) for e in loops.get(state, []))
        extra = LOOP_W + 4 + text_width(loop_text, LABEL_FONT) + 12 if loop_text else 0.0
        items[state] = _Item(state, 2 * rank[state], w + extra)
    chains: list[tuple[Edge, list[str], bool, str]] = []
    for number, edge in enumerate(e for e in drawn if e.source != e.target):
        back = rank[edge.source] > rank[edge.target]
        top, bottom = (edge.target, edge.source) if back else (edge.source, edge.target)
        if rank[top] == rank[bottom]:  # two sources of one rank: cannot happen after ranks()
            continue
        label_rank = 2 * rank[bottom] - 1 if back else 2 * rank[top] + 1
        keys = [top]
        for r in range(2 * rank[top] + 1, 2 * rank[bottom]):
            key = f"{number}:{r}"
            text_w = text_width(label_of(edge), LABEL_FONT) + 10 if r == label_rank else 8.0
            items[key] = _Item(key, r, text_w)
            keys.append(key)
        keys.append(bottom)
        for upper, lower in zip(keys, keys[1:], strict=False):
            items[upper].down.append(lower)
            items[lower].up.append(upper)
        chains.append((edge, keys, back, f"{number}:{label_rank}"))
    layers = _order(items, chart)
    _place(items, layers)
    ys = _rank_tops(layers, items)
    return _draw(chart, items, layers, ys, box_w, loops, chains, left_out, title_of, label_of)


def _order(items: dict[str, _Item], chart: Chart) -> list[list[str]]:
    """Each rank's items, ordered to cross few edges."""
    depth = max(item.rank for item in items.values()) + 1 if items else 0
    layers: list[list[str]] = [[] for _ in range(depth)]
    seen: set[str] = set()

    def visit(key: str) -> None:  # depth first from the initial state: a sensible start
        stack = [key]
        while stack:
            current = stack.pop()
            if current in seen:
                continue
            seen.add(current)
            layers[items[current].rank].append(current)
            stack.extend(reversed(items[current].down))

    for state in ([chart.initial] if chart.initial else []) + chart.states:
        visit(state)
    for key in items:
        visit(key)
    best, fewest = [list(layer) for layer in layers], _crossings(layers, items)
    for sweep in range(SWEEPS):
        downward = sweep % 2 == 0
        order = range(1, depth) if downward else range(depth - 2, -1, -1)
        for r in order:
            near = layers[r - 1] if downward else layers[r + 1]
            where = {key: i for i, key in enumerate(near)}
            current = {key: i for i, key in enumerate(layers[r])}

            def centre(
                key: str,
                where: dict[str, int] = where,
                current: dict[str, int] = current,
                downward: bool = downward,
            ) -> float:
                linked = items[key].up if downward else items[key].down
                spots = [where[k] for k in linked if k in where]
                return sum(spots) / len(spots) if spots else float(current[key])

            layers[r].sort(key=centre)
        count = _crossings(layers, items)
        if count < fewest:
            best, fewest = [list(layer) for layer in layers], count
    return best


def _crossings(layers: list[list[str]], items: dict[str, _Item]) -> int:
    total = 0
    for upper, lower in zip(layers, layers[1:], strict=False):
        below = {key: i for i, key in enumerate(lower)}
        pairs = [
            (i, below[d]) for i, key in enumerate(upper) for d in items[key].down if d in below
        ]
        for n, (a1, b1) in enumerate(pairs):
            for a2, b2 in pairs[n + 1 :]:
                if (a1 - a2) * (b1 - b2) < 0:
                    total += 1
    return total


def _gap(a: _Item, b: _Item) -> float:
    is_box = ":" not in a.key and ":" not in b.key
    return GAP_NODES if is_box else GAP_SMALL


def _place(items: dict[str, _Item], layers: list[list[str]]) -> None:
    """Left edges for every item: each rank packed, then pulled toward its neighbours."""
    for layer in layers:
        x = 0.0
        for n, key in enumerate(layer):
            if n:
                x += _gap(items[layer[n - 1]], items[key])
            items[key].x = x
            x += items[key].width
    for turn in range(PLACEMENT_PASSES):
        order = range(len(layers)) if turn % 2 == 0 else range(len(layers) - 1, -1, -1)
        for r in order:
            layer = layers[r]
            wanted = []
            for key in layer:
                item = items[key]
                linked = item.up + item.down
                centres = [items[k].x + items[k].width / 2 for k in linked]
                mine = item.x + item.width / 2
                wanted.append(sum(centres) / len(centres) if centres else mine)
            _fit(items, layer, wanted)
    left = min((item.x for item in items.values()), default=0.0)
    for item in items.values():
        item.x -= left


def _fit(items: dict[str, _Item], layer: list[str], wanted: list[float]) -> None:
    """Centres as near ``wanted`` as the order and the gaps allow (least squares), by pooling
    adjacent violators."""
    if not layer:
        return
    offsets = [0.0]
    for n in range(1, len(layer)):
        before, this = items[layer[n - 1]], items[layer[n]]
        offsets.append(offsets[-1] + before.width / 2 + _gap(before, this) + this.width / 2)
    targets = [w - o for w, o in zip(wanted, offsets, strict=True)]
    blocks: list[list[float]] = []  # [sum, count]
    for value in targets:
        blocks.append([value, 1.0])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] > blocks[-1][0] / blocks[-1][1]:
            total, count = blocks.pop()
            blocks[-1][0] += total
            blocks[-1][1] += count
    n = 0
    for total, count in blocks:
        for _ in range(int(count)):
            item = items[layer[n]]
            item.x = total / count + offsets[n] - item.width / 2
            n += 1


def _rank_tops(layers: list[list[str]], items: dict[str, _Item]) -> list[tuple[float, float]]:
    """Each rank's top and height."""
    y = MARGIN + START_GAP
    tops = []
    for r, layer in enumerate(layers):
        if r % 2 == 0:
            height = NODE_H
        else:
            labelled = any(items[k].width > 8.0 for k in layer)
            height = LABEL_H if labelled else 4.0
        tops.append((y, height))
        y += height + RANK_GAP
    return tops


def _draw(
    chart: Chart,
    items: dict[str, _Item],
    layers: list[list[str]],
    ys: list[tuple[float, float]],
    box_w: dict[str, float],
    loops: dict[str, list[Edge]],
    chains: list[tuple[Edge, list[str], bool, str]],
    left_out: list[Edge],
    title_of: Callable[[str], str],
    label_of: Callable[[Edge], str],
) -> Layout:
    boxes: dict[str, Box] = {}
    for state in chart.states:
        item = items[state]
        top, _height = ys[item.rank]
        boxes[state] = Box(
            state,
            title_of(state),
            MARGIN + item.x,
            top,
            box_w[state],
            NODE_H,
            state == chart.initial,
            state in chart.finals,
            state == chart.current,
        )
    ports = _ports(chains, items, boxes)
    lines: list[Line] = []
    for edge, keys, back, label_key in chains:
        points = []
        for n, key in enumerate(keys):
            if n == 0:
                points.append((ports[(key, "bottom", keys[1])], boxes[key].y + NODE_H))
            elif n == len(keys) - 1:
                points.append((ports[(key, "top", keys[-2])], boxes[key].y))
            else:
                item = items[key]
                top, height = ys[item.rank]
                points.append((MARGIN + item.x + item.width / 2, top + height / 2))
        if back:
            points.reverse()
        item = items[label_key]
        top, height = ys[item.rank]
        label = Label(
            label_of(edge), MARGIN + item.x + item.width / 2, top + height / 2, item.width, LABEL_H
        )
        lines.append(Line(edge, _curve(points), label, back, False))
    for state, own in loops.items():
        box = boxes[state]
        for n, edge in enumerate(own[:1]):  # one loop drawn per state; others share its label
            text = " · ".join(label_of(e) for e in own)
            right, cy = box.x + box.w, box.cy + n
            path = (
                f"M{right:.1f},{cy - 9:.1f} C{right + LOOP_W:.1f},{cy - 22:.1f} "
                f"{right + LOOP_W:.1f},{cy + 22:.1f} {right + 1:.1f},{cy + 9:.1f}"
            )
            w = text_width(text, LABEL_FONT) + 10
            label = Label(text, right + LOOP_W + 4 + w / 2, cy, w, LABEL_H)
            lines.append(Line(edge, path, label, False, True))
    width = max((MARGIN + i.x + i.width for i in items.values()), default=0.0) + MARGIN
    width = max(width, *(MARGIN + b.x + b.w + MARGIN for b in boxes.values()), 2 * MARGIN)
    height = (ys[-1][0] + ys[-1][1] + MARGIN) if ys else 2 * MARGIN
    start = None
    if chart.initial in boxes:
        first = boxes[chart.initial]
        start = (first.cx, first.y - START_GAP + START_R, first.y)
    return Layout(round(width, 1), round(height, 1), list(boxes.values()), lines, start, left_out)


def _ports(
    chains: list[tuple[Edge, list[str], bool, str]],
    items: dict[str, _Item],
    boxes: dict[str, Box],
) -> dict[tuple[str, str, str], float]:
    """Where each line meets a box: the lines of one side spread along it, in the order of
    where they go, so that they do not cross at the box."""
    sides: dict[tuple[str, str], list[str]] = {}
    for _edge, keys, _back, _label in chains:
        sides.setdefault((keys[0], "bottom"), []).append(keys[1])
        sides.setdefault((keys[-1], "top"), []).append(keys[-2])
    found: dict[tuple[str, str, str], float] = {}
    for (state, side), others in sides.items():
        box = boxes[state]
        others.sort(key=lambda k: items[k].x + items[k].width / 2)
        step = min(16.0, box.w * 0.8 / max(len(others) - 1, 1))
        for n, other in enumerate(others):
            found[(state, side, other)] = box.cx + (n - (len(others) - 1) / 2) * step
    return found


def _curve(points: list[tuple[float, float]]) -> str:
    """Smooth curves through ``points``, leaving and reaching each one vertically."""
    (x, y), *rest = points
    path = [f"M{x:.1f},{y:.1f}"]
    for nx, ny in rest:
        middle = (y + ny) / 2
        path.append(f"C{x:.1f},{middle:.1f} {nx:.1f},{middle:.1f} {nx:.1f},{ny:.1f}")
        x, y = nx, ny
    return " ".join(path)


__all__ = ["Box", "Chart", "Edge", "Label", "Layout", "Line", "layout", "parse", "text_width"]
