"""Supervised worker processes: a batch that survives a killed, stuck or memory-hungry worker.

``concurrent.futures`` gives up on the whole pool when one worker dies (``BrokenProcessPool``), so
one bad record would cost every record in flight. Here each worker takes one record at a time over
its own pipe; the supervisor knows which record each worker holds, so a worker that dies, runs past
the time limit or hits its memory limit costs exactly that record, which is reported failed with
the reason, and a fresh worker takes its place. Results come back in input order.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections import deque
from multiprocessing.connection import wait
from typing import Any, Callable, Iterable, Iterator, Optional, Union

from .errors import ConversionError

# Records read ahead per worker: enough to keep workers busy, few enough to keep memory flat.
WINDOW_PER_WORKER = 4


def _address_space() -> int:
    """Bytes of address space this process maps now (0 where /proc is not there)."""
    try:
        with open("/proc/self/statm", "rb") as handle:
            return int(handle.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _limit_memory(megabytes: Optional[int]) -> None:
    """Cap this process's address space so a runaway record raises MemoryError here, not in the
    machine's OOM killer (where the kernel offers RLIMIT_AS; elsewhere there is no cap). The cap is
    what the forked worker already maps plus ``megabytes``: a parent that grew large must not leave
    its workers no room at all."""
    if not megabytes or os.name != "posix":
        return
    import resource

    try:
        limit = _address_space() + (megabytes << 20)
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (ValueError, OSError):
        pass


def _serve(conn: Any, work: Callable[[Any], Any], memory_mb: Optional[int]) -> None:
    """A worker: take (sequence, task), send back (sequence, result), until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the supervisor's to handle
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _limit_memory(memory_mb)
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        sequence, task = message
        try:
            result = work(task)
        except MemoryError:
            result = _Failure("ran out of memory (the per-record memory limit, --record-memory)")
        except Exception as error:  # noqa: BLE001 - reported against the record, the worker lives on
            result = _Failure(f"internal error: {type(error).__name__}: {str(error)[:200]}")
        conn.send((sequence, result))


class _Failure:
    """What a worker sends back when ``work`` itself raised."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


class _Worker:
    def __init__(self, context: Any, work: Callable[[Any], Any], memory_mb: Optional[int]) -> None:
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(child, work, memory_mb), daemon=True)
        self.process.start()
        child.close()
        self.task: Optional[tuple[int, Any]] = None
        self.started = 0.0

    def give(self, sequence: int, task: Any) -> None:
        self.task = (sequence, task)
        self.started = time.monotonic()
        self.conn.send((sequence, task))

    def stop(self, kill: bool = False) -> None:
        if not kill:
            try:
                self.conn.send(None)
            except (OSError, ValueError):
                kill = True
        if kill or self.process.join(2) is None and self.process.is_alive():
            self.process.kill()
        self.process.join()
        self.conn.close()


def _death(exitcode: Optional[int]) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            return f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exited with code {exitcode}"


def supervised(items: Iterable[Union[Any, ConversionError]], work: Callable[[Any], Any], *, jobs: int, timeout: Optional[float],
               memory_mb: Optional[int], failed: Callable[[Any, ConversionError], Any],
               passed: Callable[[ConversionError], Any]) -> Iterator[Any]:
    """``work(item)`` for every item in worker processes, in input order.

    A ConversionError item is passed through as ``passed(error)``; a record whose worker died or ran
    past ``timeout`` seconds becomes ``failed(item, error)``.
    """
    context = multiprocessing.get_context("fork")
    source = iter(items)
    workers = [_Worker(context, work, memory_mb) for _ in range(max(1, jobs))]
    waiting: deque[tuple[int, Any]] = deque()
    done: dict[int, Any] = {}
    read = emitted = 0
    exhausted = False
    try:
        while True:
            while not exhausted and read - emitted < WINDOW_PER_WORKER * len(workers):
                item = next(source, StopIteration)
                if item is StopIteration:
                    exhausted = True
                elif isinstance(item, ConversionError):
                    done[read] = passed(item)
                    read += 1
                else:
                    waiting.append((read, item))
                    read += 1
            for worker in workers:
                if worker.task is None and waiting:
                    worker.give(*waiting.popleft())
            while emitted in done:
                yield done.pop(emitted)
                emitted += 1
            if exhausted and emitted == read:
                return
            busy = [worker for worker in workers if worker.task is not None]
            if not busy:
                continue
            left = None
            if timeout is not None:
                left = max(0.0, min(worker.started + timeout for worker in busy) - time.monotonic())
            ready = set(wait([w.conn for w in busy] + [w.process.sentinel for w in busy], left))
            for index, worker in enumerate(workers):
                if worker.task is None:
                    continue
                sequence, task = worker.task
                problem = None
                if worker.conn in ready:
                    try:
                        got, result = worker.conn.recv()
                        worker.task = None
                        if isinstance(result, _Failure):
                            done[got] = failed(task, ConversionError(result.reason, record=getattr(task, "id", None), stage="convert"))
                        else:
                            done[got] = result
                        continue
                    except Exception:  # noqa: BLE001 - a dead or dying worker's pipe: EOF, a cut pickle
                        problem = f"its worker process died while converting it ({_death(_exitcode(worker))}); the batch went on"
                elif worker.process.sentinel in ready:
                    problem = f"its worker process died while converting it ({_death(_exitcode(worker))}); the batch went on"
                elif timeout is not None and time.monotonic() - worker.started >= timeout:
                    problem = f"took longer than the record time limit of {timeout:g} s (--record-timeout); stopped, the batch went on"
                if problem is None:
                    continue
                done[sequence] = failed(task, ConversionError(problem, record=getattr(task, "id", None), stage="convert"))
                worker.stop(kill=True)
                workers[index] = _Worker(context, work, memory_mb)
    finally:
        for worker in workers:
            worker.stop(kill=not exhausted)


def _exitcode(worker: _Worker) -> Optional[int]:
    worker.process.join(1)
    return worker.process.exitcode
