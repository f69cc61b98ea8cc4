"""Row and column blocks: the engine's way to bound its temporaries.

A computation whose rows (symbols) or columns (days) are independent runs a
block at a time into a preallocated result, so its intermediate arrays are a
block's size instead of the universe's (2,000 symbols x 20 years is 80 MB per
float64 array).  The results are the same, element for element.

Blocks are sized in bytes, not rows: a float64 temporary of a block is about
``BLOCK_BYTES``, small enough to stay in the CPU cache and to be reused by the
allocator.  Measured on 2,000 symbols x 20 years, the HMA signal takes 0.74 s in
blocks of 16 rows (670 KB temporaries), 2.75 s in blocks of 64 rows (2.7 MB:
a million page faults, the freed memory went back to the system each time)
and 1.5 s on the whole array.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

#: Bytes of one float64 temporary of a block.
BLOCK_BYTES = 512 * 1024


def block_size(width: int) -> int:
    """Rows per block for arrays of ``width`` float64 columns (at least 1)."""
    return max(1, BLOCK_BYTES // (8 * max(1, int(width))))


def blocks(n: int, width: int) -> Iterator[slice]:
    """Slices covering ``range(n)``, each :func:`block_size` ``(width)`` long
    (the last one shorter)."""
    size = block_size(width)
    for lo in range(0, int(n), size):
        yield slice(lo, min(lo + size, int(n)))


def sum_rows(n: int, width: int, part: Callable[[slice], np.ndarray]) -> np.ndarray | None:
    """The column sums of the ``(n, width)`` array whose rows ``part(block)`` gives a
    block at a time, without making that array (None when ``n`` is 0).

    The rows are added in row order, the running total leading each block, so
    the additions are those of ``array.sum(axis=0)``: the same bytes.
    """
    total: np.ndarray | None = None
    for b in blocks(n, width):
        rows = part(b)
        total = rows.sum(axis=0) if total is None else np.vstack([total, rows]).sum(axis=0)
    return total
