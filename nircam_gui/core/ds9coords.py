"""1-based pixel positions beside the 0-based ones of the tables, as DS9 shows them.

Arrays are indexed 0-based; DS9, the GUI's pixel readout and DS9 region files count
from 1 (the centre of the first pixel is 1, 1). Each table that gives pixel positions
carries both, so a position copied into DS9 lands on the same pixel.
"""

from __future__ import annotations

from astropy.table import Table

__all__ = ["add_ds9_columns"]


def add_ds9_columns(table: Table, names: tuple[str, ...] = ("x", "y")) -> Table:
    """Append ``<name>_ds9 = <name> + 1`` for each 0-based column in ``names`` present; returns ``table``.

    Appended at the end, so the columns readers already index keep their places.
    """
    for name in names:
        if name not in table.colnames:
            continue
        col = table[name] + 1
        axis = "column" if name.startswith("x") else "row"
        col.description = f"{axis} {name}, 1-based as in DS9 and the region files ({name} + 1)"
        table.add_column(col, name=f"{name}_ds9")
    return table
