"""Headless notebook execution: one papermill run, hence one fresh kernel process, per stage.

papermill runs the notebooks with our engine (:func:`_guarded_client_class`), which cannot wait
forever for a cell: ``execution.stall_timeout_s`` and ``execution.cell_timeout_s`` in params bound
every stage, and a stage stopped by either is reported as failed with the reason.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .stages import load_notebook

__all__ = [
    "DEFAULT_KERNEL",
    "DEFAULT_STALL_TIMEOUT",
    "StageStalled",
    "check_kernel",
    "execute_stage",
    "execute_notebook",
    "failure_reason",
    "stall_reason",
]

#: Kernel the Makefile registers (``python -m ipykernel install --sys-prefix --name stickrole``).
DEFAULT_KERNEL = "stickrole"


def check_kernel(kernel_name: str) -> None:
    """Fail early, with the fix, if the Jupyter kernel ``kernel_name`` is not installed."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec(kernel_name)
    except NoSuchKernel:
        raise ConfigError(
            f"Jupyter kernel {kernel_name!r} is not installed; register it with "
            f"`{sys.executable} -m ipykernel install --sys-prefix --name {kernel_name}` "
            "(`make env` does this)") from None


def failure_reason(exc: BaseException) -> str:
    """One line (at most 400 characters) saying why a stage failed."""
    ename = getattr(exc, "ename", None)
    evalue = getattr(exc, "evalue", None)
    text = f"{ename}: {evalue}" if ename else f"{type(exc).__name__}: {exc}"
    text = " ".join(text.split())
    return text if len(text) <= 400 else text[:397] + "..."


#: Seconds a finished cell's reply may take before the stage counts as stalled (params:
#: ``execution.stall_timeout_s``).
DEFAULT_STALL_TIMEOUT: float = 120.0

#: Name of our papermill engine (:func:`_register_engine`).
ENGINE_NAME = "stickrole"


class StageStalled(RuntimeError):
    """The kernel finished a cell but its reply never reached the runner (see ``_GuardedClient``)."""


def stall_reason(idle_since: float | None, now: float, limit: float | None) -> str | None:
    """Why a stage counts as stalled, or None: the kernel has been idle since ``idle_since``
    (monotonic seconds; None while busy) for longer than ``limit`` seconds without the reply."""
    if limit is None or idle_since is None or now - idle_since <= limit:
        return None
    return (f"the kernel finished a cell {now - idle_since:.0f} s ago but its reply never "
            f"arrived (execution.stall_timeout_s = {limit:g})")


def _guarded_client_class():
    """papermill's notebook client, made unable to wait forever for a cell's reply.

    Why not papermill's own client as it is: nbclient waits for a cell's ``execute_reply`` with
    one unbounded poll of the shell socket, while its mock of the ipywidgets Output widget
    *sends* on that same socket (state updates, as a frontend would). On a zmq asyncio socket a
    send can consume the readiness edge of a reply that arrives meanwhile, so the poll is never
    woken: the kernel is idle, the cell is done, and the client waits forever
    (jupyter/nbclient#312; the fix proposed there, #311, polls in slices, which nbclient has not
    merged). Here the wait is cut into one-second polls -- a missed wake-up then costs at most
    a second -- and, as a last resort, a reply still missing ``stall_timeout`` seconds after
    the kernel reported the cell finished stops the stage with :class:`StageStalled`.
    """
    from queue import Empty

    from papermill.clientwrap import PapermillNotebookClient
    from traitlets import Float

    class _GuardedClient(PapermillNotebookClient):
        stall_timeout = Float(default_value=None, allow_none=True).tag(config=True)

        def process_message(self, msg, cell, cell_index):
            content = msg.get("content", {})
            if msg.get("msg_type") == "status":
                busy = content.get("execution_state") == "busy"
                self._idle_since = None if busy else time.monotonic()
            return super().process_message(msg, cell, cell_index)

        def execute_cell(self, *args, **kwargs):
            self._idle_since = None  # a new request: the last cell's idle time no longer counts
            return super().execute_cell(*args, **kwargs)

        def start_new_kernel_client(self):
            kc = super().start_new_kernel_client()
            self._idle_since = None
            channel = kc.shell_channel
            unbounded_get = channel.get_msg
            client = self

            async def get_msg(timeout=None):
                deadline = None if timeout is None else time.monotonic() + timeout
                while True:
                    left = 1.0 if deadline is None else min(1.0, deadline - time.monotonic())
                    try:
                        return await unbounded_get(timeout=max(left, 0.0))
                    except Empty:
                        client._check_stalled()
                        if deadline is not None and time.monotonic() >= deadline:
                            raise

            channel.get_msg = get_msg
            return kc

        def _check_stalled(self) -> None:
            reason = stall_reason(getattr(self, "_idle_since", None), time.monotonic(),
                                  self.stall_timeout)
            if reason:
                raise StageStalled(reason)

    return _GuardedClient


def _register_engine() -> None:
    """Register the papermill engine that runs notebooks with :func:`_guarded_client_class`."""
    from papermill.engines import NBClientEngine, papermill_engines

    if ENGINE_NAME in papermill_engines._engines:
        return
    client_class = _guarded_client_class()

    class _Engine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, log_output=False,
                                     stdout_file=None, stderr_file=None, start_timeout=60,
                                     execution_timeout=None, stall_timeout=None, **kwargs):
            from papermill.engines import logger
            from papermill.utils import merge_kwargs, remove_args

            kwargs = remove_args(["input_path", "timeout", "startup_timeout"], **kwargs)
            final = merge_kwargs(kwargs, timeout=execution_timeout,
                                 startup_timeout=start_timeout, kernel_name=kernel_name,
                                 log=logger, log_output=log_output, stdout_file=stdout_file,
                                 stderr_file=stderr_file, stall_timeout=stall_timeout)
            return client_class(nb_man, **final).execute()

    papermill_engines.register(ENGINE_NAME, _Engine)


def execute_stage(
    stage: str,
    output: Path,
    parameters: Mapping[str, Any],
    *,
    kernel_name: str = DEFAULT_KERNEL,
    notebook_dir: Path | None = None,
    stream_stderr: bool = False,
    cwd: Path | None = None,
    execution_timeout: float | None = None,
    stall_timeout: float | None = DEFAULT_STALL_TIMEOUT,
) -> None:
    """Run one stage notebook headless with papermill (a fresh kernel process).

    Parameters
    ----------
    stage : str
        Key of :data:`NOTEBOOK_FILES`.
    output : Path
        Where the executed notebook is written (also when it fails: it shows the error).
    parameters : mapping
        Injected after the notebook's ``parameters`` cell.
    kernel_name : str
        Jupyter kernel (always explicit: the notebooks' metadata is not trusted).
    stream_stderr : bool
        Copy the kernel's stderr (progress bars) to this process's stderr while it runs.
    cwd : Path, optional
        Working directory of the kernel (default: the current one).
    execution_timeout : float, optional
        Seconds a single cell may run before the stage fails (default: no limit; generation of
        a large model can take hours).
    stall_timeout : float, optional
        Seconds to wait for a cell's reply once the kernel has reported the cell finished;
        past it the stage fails with :class:`StageStalled` instead of waiting forever
        (``None``: wait forever).

    Raises
    ------
    papermill.PapermillExecutionError
        A cell raised; ``ename``/``evalue`` hold the error.
    """
    execute_notebook(load_notebook(stage, notebook_dir), output, parameters,
                     kernel_name=kernel_name, stream_stderr=stream_stderr, cwd=cwd,
                     execution_timeout=execution_timeout, stall_timeout=stall_timeout)


def execute_notebook(
    nb: Any,
    output: Path,
    parameters: Mapping[str, Any],
    *,
    kernel_name: str = DEFAULT_KERNEL,
    stream_stderr: bool = False,
    cwd: Path | None = None,
    execution_timeout: float | None = None,
    stall_timeout: float | None = DEFAULT_STALL_TIMEOUT,
) -> None:
    """Run a notebook (an ``nbformat`` node) headless; see :func:`execute_stage`."""
    import papermill as pm

    output.parent.mkdir(parents=True, exist_ok=True)
    pm_log = logging.getLogger("papermill")
    level = pm_log.level
    pm_log.setLevel(max(level, logging.WARNING))  # our one line per stage replaces its chatter
    try:
        _register_engine()
        pm.execute_notebook(
            nb,
            str(output),
            parameters=dict(parameters),
            kernel_name=kernel_name,
            language="python",
            progress_bar=False,
            stderr_file=sys.stderr if stream_stderr else None,
            cwd=str(cwd or Path.cwd()),
            execution_timeout=execution_timeout,
            engine_name=ENGINE_NAME,
            stall_timeout=stall_timeout,
            # the kernel's own start-up warnings (e.g. "running over TCP without encryption")
            # would print once per stage; cell errors and outputs are unaffected
            extra_arguments=["--IPKernelApp.log_level=ERROR"],
        )
    finally:
        pm_log.setLevel(level)
