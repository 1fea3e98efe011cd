"""Consecutive-row chunks, split the way NannyML's size- and count-based chunkers do."""

from __future__ import annotations

from dataclasses import dataclass

from monitor.errors import MetricError

__all__ = ["DEFAULT_CHUNK_COUNT", "RowChunk", "split_rows"]

DEFAULT_CHUNK_COUNT = 10  # NannyML's default chunker: ten chunks


@dataclass(frozen=True, slots=True)
class RowChunk:
    """Rows ``start_row`` .. ``end_row`` (both inclusive) of a frame, in file order."""

    index: int
    start_row: int
    end_row: int

    @property
    def size(self) -> int:
        return self.end_row - self.start_row + 1

    @property
    def rows(self) -> slice:
        return slice(self.start_row, self.end_row + 1)


def split_rows(n_rows: int, *, chunk_size: int | None = None, chunks: int | None = None) -> list[RowChunk]:
    """Split ``n_rows`` consecutive rows into chunks.

    ``chunk_size`` makes full chunks of that many rows and keeps a last, smaller chunk
    for the rest; ``chunks`` uses ``n_rows // chunks`` rows a chunk (so a remainder makes
    one chunk more). Neither given means ten chunks. These are NannyML's defaults.

    >>> [(c.start_row, c.end_row) for c in split_rows(10, chunk_size=4)]
    [(0, 3), (4, 7), (8, 9)]
    >>> [(c.start_row, c.end_row) for c in split_rows(11, chunks=2)]
    [(0, 4), (5, 9), (10, 10)]
    """
    if chunk_size is not None and chunks is not None:
        raise MetricError("give a chunk size or a number of chunks, not both")
    if chunk_size is None:
        count = DEFAULT_CHUNK_COUNT if chunks is None else chunks
        if count <= 0:
            raise MetricError(f"the number of chunks must be positive, got {count}")
        chunk_size = n_rows // count
        if chunk_size == 0:
            raise MetricError(f"{n_rows} rows cannot make {count} chunks of at least one row; ask for fewer chunks")
    if chunk_size <= 0:
        raise MetricError(f"the chunk size must be positive, got {chunk_size}")
    return [
        RowChunk(index=index, start_row=start, end_row=min(start + chunk_size, n_rows) - 1)
        for index, start in enumerate(range(0, n_rows, chunk_size))
    ]
