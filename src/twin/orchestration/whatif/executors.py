"""Where chunks of scenarios run: this process, local worker processes, or a Dask cluster.

Results do not depend on the executor: every scenario is computed from the
study and its own row only (its seed derives from the study seed and its
id), numerical libraries run single-threaded inside workers, and the batch
kernels give bitwise the same states however instances are grouped.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence

from twin.core.errors import InputError
from twin.orchestration.whatif.scenarios import ChunkResult, run_chunk
from twin.orchestration.whatif.study import Study

SINGLE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                 "TWIN_THREADS": "1"}
"""Environment of worker processes: one thread each, the executor parallelises."""


@contextlib.contextmanager
def _single_threaded_children():
    saved = {k: os.environ.get(k) for k in SINGLE_THREAD}
    os.environ.update(SINGLE_THREAD)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run_chunks(study: Study, chunks: Sequence[list[dict]], keep_series: bool, workers: int = 1,
               scheduler: str | None = None) -> Iterator[ChunkResult]:
    """Run every chunk; yield each result as it completes (in any order)."""
    if scheduler:
        yield from _dask(study, chunks, keep_series, scheduler)
    elif workers <= 1:
        for chunk in chunks:
            yield run_chunk(study, chunk, keep_series)
    else:
        yield from _processes(study, chunks, keep_series, workers)


CRASHED = "its worker process died running it (a crash in native code, or killed)"


def _watch_parent(parent: int) -> None:
    """Worker initializer: exit when the study process is gone (no orphans after a kill)."""
    import threading
    import time

    def watch():
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def _pool(workers: int):
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_watch_parent, initargs=(os.getpid(),))


def _processes(study, chunks, keep_series, workers) -> Iterator[ChunkResult]:
    """Chunks on a pool of processes; a chunk whose process dies is re-run scenario by scenario."""
    from concurrent.futures import FIRST_COMPLETED, wait
    from concurrent.futures.process import BrokenProcessPool

    queue = list(chunks)
    with _single_threaded_children():
        while queue:
            broken: list[list[dict]] = []
            with _pool(workers) as pool:
                pending: dict = {}
                while (queue and not broken) or pending:
                    while queue and not broken and len(pending) < 2 * workers:
                        chunk = queue.pop(0)
                        pending[pool.submit(run_chunk, study, chunk, keep_series)] = chunk
                    done, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for future in done:
                        chunk = pending.pop(future)
                        try:
                            yield future.result()
                        except BrokenProcessPool:
                            broken.append(chunk)
            for chunk in broken:
                yield from _one_by_one(study, chunk, keep_series)


def _one_by_one(study, chunk, keep_series) -> Iterator[ChunkResult]:
    """Each scenario of a chunk in turn, so a crash is pinned on its scenario."""
    from concurrent.futures.process import BrokenProcessPool

    from twin.orchestration.whatif.scenarios import failed_row

    pool = _pool(1)
    try:
        for row in chunk:
            try:
                yield pool.submit(run_chunk, study, [row], keep_series).result()
            except BrokenProcessPool:
                yield ChunkResult([failed_row(row, CRASHED)], {})
                pool.shutdown(wait=False)
                pool = _pool(1)
    finally:
        pool.shutdown(wait=False)


def _dask(study, chunks, keep_series, scheduler) -> Iterator[ChunkResult]:
    try:
        from distributed import Client, as_completed
    except ImportError:  # pragma: no cover - a dependency of the package
        raise InputError("--scheduler needs dask.distributed (pip install 'dask[distributed]')")
    try:
        client = Client(scheduler, timeout="10s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise InputError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
    try:
        futures = [client.submit(run_chunk, study, chunk, keep_series, pure=False)
                   for chunk in chunks]
        for future in as_completed(futures):
            yield future.result()
            future.release()
    finally:
        client.close()
