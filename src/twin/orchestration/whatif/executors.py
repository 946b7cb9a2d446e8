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


def _processes(study, chunks, keep_series, workers) -> Iterator[ChunkResult]:
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    with _single_threaded_children(), ProcessPoolExecutor(
            max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        pending = set()
        queue = list(chunks)
        while queue or pending:
            while queue and len(pending) < 2 * workers:  # a few ahead, not the whole study
                pending.add(pool.submit(run_chunk, study, queue.pop(0), keep_series))
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                yield future.result()


def _dask(study, chunks, keep_series, scheduler) -> Iterator[ChunkResult]:
    try:
        from distributed import Client, as_completed
    except ImportError:  # pragma: no cover - a dependency of the package
        raise InputError("--scheduler needs dask.distributed (pip install 'dask[distributed]')")
    try:
        client = Client(scheduler, timeout="10s")
    except (OSError, TimeoutError) as exc:
        raise InputError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
    try:
        futures = [client.submit(run_chunk, study, chunk, keep_series, pure=False)
                   for chunk in chunks]
        for future in as_completed(futures):
            yield future.result()
            future.release()
    finally:
        client.close()
