"""The legend of the map's picture (``render.py``): its rows, and how they are laid out in
columns on a panel at the picture's top right.

A map in a committee report must name every layer it draws, so each layer drawn keeps at
least its own entry: its title, with a key in its colour (or, for a layer of classes, its
title over a class's key). When the rows do not fit the picture above its attribution, a
categorised or graduated layer's classes are cut first ("and 5 more classes" within the
layer), then the panel takes more columns; only when the layers' own entries cannot fit in
as many columns as half the picture's width holds are the last layers named in a line of text
instead ("Also drawn: ..."). The shown feature's and the marker's rows, and those that say a
layer has nothing here, are always kept, after the layers'.

Text is measured with the renderer's own font metrics, so the layout reckoned here is the one
``render`` draws: a test can read what the legend says without reading the picture."""

import math
import textwrap
from dataclasses import dataclass
from functools import cache

from matplotlib.backends.backend_agg import RendererAgg
from matplotlib.font_manager import FontProperties

from .picture import and_list

FONT_SIZE = 7  # points, as the picture's other small text
LINE_SPACING = 1.25  # a line's height, in font sizes
WRAP = 36  # characters a legend line wraps at
KEY_WIDTH = 18  # pixels; the key's box, before its text
KEY_HEIGHT = 10
KEY_GAP = 6
ROW_GAP = 4
PADDING = 6
COLUMN_GAP = 14
MARGIN = 4  # from the picture's edges and its attribution
WIDTH_SHARE = 0.7  # of the picture's width the panel may take, in columns
MAX_COLUMNS = 4
# Keys drawn taller than a line: the shown feature's ring, the search result's cross.
TALL_KEYS = {"shown-point": 16, "marker": 18}


@dataclass(frozen=True)
class Key:
    """How a row's key is drawn: ``kind`` is a geometry type (``polygon``, ``line``, ``point``),
    ``shown-point``, ``shown-line`` (the feature shown) or ``marker`` (the search result)."""

    kind: str
    colour: str = ""
    opacity: float = 1.0


@dataclass(frozen=True)
class LegendRow:
    text: str
    key: Key | None = None
    title: bool = False  # a layer's title, drawn in bold

    def lines(self) -> list[str]:
        return textwrap.wrap(self.text, WRAP) or [self.text]


@dataclass(frozen=True)
class LegendLayer:
    """A layer drawn: ``classes`` are the (colour, label) of its classes drawn; a layer of one
    colour has one, unlabelled."""

    title: str
    geometry_type: str
    opacity: float
    classes: tuple[tuple[str, str], ...]

    @property
    def classed(self) -> bool:
        return any(label for _, label in self.classes)

    def rows(self, most: int) -> list[LegendRow]:
        """Its rows, with at most ``most`` (at least one) of its classes named."""
        if not self.classed:
            colour = self.classes[0][0]
            return [LegendRow(self.title, Key(self.geometry_type, colour, self.opacity), True)]
        # "and 1 more class" would take the row the class takes: it is named instead.
        shown = self.classes[: max(most, 1)]
        if len(self.classes) - len(shown) == 1:
            shown = self.classes
        rows = [LegendRow(self.title, title=True)]
        rows += [
            LegendRow(label, Key(self.geometry_type, colour, self.opacity))
            for colour, label in shown
        ]
        more = len(self.classes) - len(shown)
        if more:
            rows.append(LegendRow(f"and {more} more class{'es' if more > 1 else ''}"))
        return rows


@dataclass(frozen=True)
class PlacedRow:
    row: LegendRow
    x: float  # pixels from the panel's left, within its padding
    y: float  # pixels from the panel's top, within its padding


@dataclass(frozen=True)
class LegendLayout:
    columns: list[list[LegendRow]]
    placed: list[PlacedRow]
    width: float  # the panel's, in pixels, padding included
    height: float
    line_height: float  # pixels

    def texts(self) -> list[str]:
        """What the legend says, row by row, column after column."""
        return [row.text for column in self.columns for row in column]


@cache
def _renderer(dpi: int) -> RendererAgg:
    return RendererAgg(1, 1, dpi)


@cache
def text_width(text: str, bold: bool, dpi: int) -> float:
    """The width in pixels of one line of legend text, as the renderer draws it."""
    font = FontProperties(size=FONT_SIZE, weight="bold" if bold else "normal")
    width, _, _ = _renderer(dpi).get_text_width_height_descent(text, font, ismath=False)
    return width


def line_height(dpi: int) -> float:
    return FONT_SIZE * dpi / 72 * LINE_SPACING


def wrapped_height(text: str, width: float, dpi: int) -> float:
    """About how tall ``text`` in the legend's font is when wrapped to ``width`` pixels (a line
    more than its length needs, for the room wrapping at words leaves)."""
    if not text:
        return 0
    lines = math.ceil(text_width(text, False, dpi) / max(width, 1)) + 1
    return lines * line_height(dpi)


@cache
def _row_size(row: LegendRow, dpi: int) -> tuple[float, float]:
    lines = row.lines()
    text = max(text_width(line, row.title, dpi) for line in lines)
    tall = TALL_KEYS.get(row.key.kind, KEY_HEIGHT) if row.key else 0
    return KEY_WIDTH + KEY_GAP + text, max(len(lines) * line_height(dpi), tall) + ROW_GAP


def _pack(
    blocks: list[list[LegendRow]], columns: int, room: float, width: float, dpi: int
) -> LegendLayout | None:
    """The blocks (a layer's rows, kept together where a column holds them) in at most
    ``columns`` columns, each filled top down in turn to ``room`` pixels (of rows, their gaps
    included); None if they do not fit, or the panel is wider than ``width`` pixels."""
    laid: list[list[tuple[LegendRow, float, float]]] = [[]]
    used = 0.0
    for block in blocks:
        sizes = [_row_size(row, dpi) for row in block]
        total = sum(size[1] for size in sizes)
        if used and used + total > room and total <= room:
            laid.append([])
            used = 0.0
        for row, (row_width, row_height) in zip(block, sizes, strict=True):
            if used and used + row_height > room:
                laid.append([])
                used = 0.0
            laid[-1].append((row, row_width, used))
            used += row_height
            if used > room:
                return None
    if len(laid) > columns:
        return None
    placed, x, tallest = [], 0.0, 0.0
    for column in laid:
        for row, _, y in column:
            placed.append(PlacedRow(row, x, y))
        x += max(row_width for _, row_width, _ in column) + COLUMN_GAP
        last, _, last_y = column[-1]
        tallest = max(tallest, last_y + _row_size(last, dpi)[1])
    panel_width = x - COLUMN_GAP + 2 * PADDING
    if panel_width > width:
        return None
    return LegendLayout(
        columns=[[row for row, _, _ in column] for column in laid],
        placed=placed,
        width=panel_width,
        height=tallest - ROW_GAP + 2 * PADDING,
        line_height=line_height(dpi),
    )


def _balanced(
    blocks: list[list[LegendRow]], columns: int, height: float, width: float, dpi: int
) -> LegendLayout | None:
    """The blocks in at most ``columns`` columns of as even a height as they go in, the panel
    at most ``width`` x ``height`` pixels; None if they do not fit."""
    most = height - 2 * PADDING + ROW_GAP
    total = sum(_row_size(row, dpi)[1] for block in blocks for row in block)
    room = min(total / columns, most)
    while True:
        layout = _pack(blocks, columns, room, width, dpi)
        if layout is not None or room >= most:
            return layout
        room = min(room + line_height(dpi) / 2, most)


def legend_layout(
    layers: list[LegendLayer], extras: list[LegendRow], *, width: int, height: int,
    bottom: float = 0, dpi: int = 100,
) -> LegendLayout | None:  # fmt: skip
    """The legend of a ``width`` x ``height`` picture whose foot (its attribution) takes
    ``bottom`` pixels: ``layers`` in order, then ``extras``. None when there is nothing to
    say. See the module's docstring for what gives way when space is short."""
    if not layers and not extras:
        return None
    room_height = height - bottom - 3 * MARGIN
    # A small picture's legend may take more of it: a title of 40 characters needs 250 pixels.
    room_width = max(width * WIDTH_SHARE, min(width - 2 * MARGIN, 300))
    tail = [[row] for row in extras]
    most = max((len(layer.classes) for layer in layers if layer.classed), default=1)
    for columns in range(1, MAX_COLUMNS + 1):
        for shown in range(most, 0, -1):  # classes named of each layer of classes
            blocks = [layer.rows(shown) for layer in layers] + tail
            layout = _balanced(blocks, columns, room_height, room_width, dpi)
            if layout is not None:
                return layout
    # More layers than could ever be keyed at this size: the last named in a line of text.
    for kept in range(len(layers) - 1, -1, -1):
        note = LegendRow(f"Also drawn: {and_list([layer.title for layer in layers[kept:]])}.")
        blocks = [layer.rows(1) for layer in layers[:kept]] + [[note]] + tail
        layout = _balanced(blocks, MAX_COLUMNS, room_height, room_width, dpi)
        if layout is not None:
            return layout
    # Too small a picture for even that (a thumbnail): the whole of it, overflowing.
    blocks = [layer.rows(1) for layer in layers] + tail
    return _pack(blocks, 1, math.inf, math.inf, dpi)
