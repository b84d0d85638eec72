"""Worker processes that cannot outlive the process that started them.

joblib's loky workers are separate processes; when a run is killed with ``kill -9`` they
would carry on (each holding a copy of the data) and keep their resource tracker alive.
:func:`workers_die_with_parent` wraps a ``joblib.Parallel`` call so that each worker

* asks the kernel to kill it when its parent dies (Linux ``PR_SET_PDEATHSIG``; only when the
  pool is started from the main thread, since the kernel ties the signal to the thread that
  forked the worker), and
* watches its parent process id from a daemon thread and exits as soon as it changes
  (any POSIX system, within :data:`WATCH_INTERVAL_S`).

Once the workers are gone the loky resource tracker sees its last writer close and exits
too, removing the shared-memory files it tracked.

>>> from joblib import Parallel, delayed
>>> with workers_die_with_parent():
...     Parallel(n_jobs=1)(delayed(abs)(x) for x in (-1, 2))
[1, 2]
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator

WATCH_INTERVAL_S = 0.2
_PR_SET_PDEATHSIG = 1


def _exit_when_orphaned(parent_pid: int) -> None:
    while True:
        time.sleep(WATCH_INTERVAL_S)
        if os.getppid() != parent_pid:
            os._exit(1)


def die_with_parent(parent_pid: int, use_pdeathsig: bool = True) -> None:
    """Worker initializer: end this process when ``parent_pid`` is gone."""
    if use_pdeathsig and sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:  # the parent died before the signal was armed
        os._exit(1)
    threading.Thread(
        target=_exit_when_orphaned, args=(parent_pid,), name="segmentum-parent-watch", daemon=True
    ).start()


@contextlib.contextmanager
def workers_die_with_parent() -> Iterator[None]:
    """Run the ``joblib.Parallel`` calls inside with workers bound to this process.

    Only joblib's default process backend (loky) is changed; a backend the caller chose
    with ``joblib.parallel_config`` (threads, dask, …) is left as it is.
    """
    from joblib import parallel_config
    from joblib.parallel import LokyBackend, get_active_backend

    backend, _ = get_active_backend()
    if type(backend) is not LokyBackend:
        yield
        return
    main = threading.current_thread() is threading.main_thread()
    with parallel_config(backend="loky", initializer=die_with_parent, initargs=(os.getpid(), main)):
        yield
