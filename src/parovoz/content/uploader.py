"""The build's chunk uploader: asks the store which chunks it lacks (in batches), then compresses,
encrypts and puts only those on a bounded thread pool.

Ids are hashed by the caller (the build's main thread, while it cuts: SHA-256 releases the GIL), so
the pool does nothing but encode and put, and the main thread never waits behind an encode for a
hash. A batch goes to `store.missing` when it is full or when the pool is about to run dry, whichever
comes first: remote stores get few round trips, local ones keep every worker busy; after a batch
with nothing new (a re-run) there is no pool to keep busy, so the next waits until full. Memory stays
bounded: at most `_BATCH_MAX` chunks (and about `_BATCH_MAX_BYTES`) waiting for their `missing`
answer plus `_PENDING_PER_WORKER × workers` being encoded.
"""

from __future__ import annotations

from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from parovoz.content import codec
from parovoz.content.store import ChunkStore

_BATCH_MAX = 32
_BATCH_MAX_BYTES = 16 * 1024 * 1024
_PENDING_PER_WORKER = 3


class ChunkUploader:
    def __init__(
        self, store: ChunkStore, pool: ThreadPoolExecutor, workers: int, level: int, key: bytes | None
    ) -> None:
        self.store, self.pool, self.workers, self.level, self.key = store, pool, workers, level, key
        self.known: dict[str, int | Future[int]] = {}  # id -> stored size (a future while being put)
        self.batch: list[tuple[str, bytes]] = []
        self.batch_bytes = 0
        self.encoding: set[Future[int]] = set()  # submitted, not yet seen done
        # Whether the last batch found chunks to upload. When it found none (a re-run, unchanged
        # content) there is no pool to keep busy: batches wait until full, so a remote store answers
        # a batch in one concurrent round instead of one round trip per chunk.
        self.last_batch_new = True
        self.new_chunks = 0
        self.new_bytes = 0
        self._new_ids: list[str] = []

    def add(self, cid: str, data: bytes) -> None:
        """Make sure the chunk `cid` (plain bytes `data`) ends up in the store."""
        if cid in self.known:
            return
        self.batch.append((cid, data))
        self.batch_bytes += len(data)
        self._reap(wait(self.encoding, timeout=0).done)
        # Flush early when few encodes are pending: the pool must not run dry.
        full = len(self.batch) >= _BATCH_MAX or self.batch_bytes >= _BATCH_MAX_BYTES
        if full or (self.last_batch_new and len(self.encoding) < 2 * self.workers):
            self._flush()

    def finish(self) -> None:
        """Wait until every chunk added so far is in the store (raises what a put raised)."""
        self._flush()
        self._reap(wait(self.encoding).done)

    def stored_size(self, cid: str) -> int:
        size = self.known[cid]
        return size.result() if isinstance(size, Future) else size

    def new_stored_bytes(self) -> int:
        return sum(self.stored_size(cid) for cid in self._new_ids)

    def _flush(self) -> None:
        batch, self.batch, self.batch_bytes = self.batch, [], 0
        unknown = {cid for cid, _ in batch if cid not in self.known}
        lacking = self.store.missing(unknown) if unknown else set()
        if unknown:
            self.last_batch_new = bool(lacking)
        for cid, data in batch:
            if cid in self.known:  # a duplicate within the batch
                continue
            if cid in lacking:
                self.known[cid] = self._submit(cid, data)
                self.new_chunks += 1
                self.new_bytes += len(data)
                self._new_ids.append(cid)
            else:
                self.known[cid] = self.store.size(cid)

    def _submit(self, cid: str, data: bytes) -> Future[int]:
        # A few per worker, so a worker never waits for the main thread; the first to finish frees a
        # place (waiting for the oldest would idle the other workers behind one large chunk).
        while len(self.encoding) >= _PENDING_PER_WORKER * self.workers:
            self._reap(wait(self.encoding, return_when=FIRST_COMPLETED).done)
        future = self.pool.submit(self._encode_and_put, cid, data)
        self.encoding.add(future)
        return future

    def _reap(self, done: set[Future[int]]) -> None:
        for future in done:
            self.encoding.discard(future)
            future.result()  # a failed put stops the build here

    def _encode_and_put(self, cid: str, data: bytes) -> int:
        blob = codec.encode(data, self.level, self.key, cid=cid)
        self.store.put(cid, blob)
        return len(blob)
