"""Which Ray cluster ``stickrole run`` uses, and joining it.

The one ``--address`` names, else the ``RAY_ADDRESS`` environment variable, else a new local
instance of the run's own (``ray.init(address="local")``) -- never one found on the machine: a
plain ``ray.init()`` joins whatever head Ray's address file (``/tmp/ray/ray_current_cluster``,
written by ``ray start``) names, so a run could attach to another job's head, die with it, or
hang for minutes on a stale address. An address is probed before Ray is asked
(:func:`check_reachable`): a dead one is one line within seconds.

``ray`` is imported only once an address has passed the probe (importing it costs seconds).
"""

from __future__ import annotations

import logging
import os
import socket
import time
from pathlib import Path

from ..errors import ConfigError

__all__ = ["check_reachable", "cluster_address", "connect"]

log = logging.getLogger("stickrole_utils.pipeline")

#: Seconds a probe of ``--address`` may take per step (TCP connect, then the head's HTTP/2
#: greeting): a dead or wrong address is reported well within 30 s (Ray itself would retry for
#: minutes).
_PROBE_TIMEOUT_S = 8.0
#: Ray's attempts (1 s apart) to reach a head that answers the probe (``RAY_NUM_REDIS_GET_RETRIES``
#: unless set; Ray's default is 20).
_CONNECT_RETRIES = 8
#: A client's HTTP/2 connection preface and an empty SETTINGS frame (RFC 9113, 3.4).
_HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])


def cluster_address(address: str | None) -> str | None:
    """The Ray cluster a run joins: ``address`` (``--address``), else the ``RAY_ADDRESS``
    environment variable, else none (``None``: start a local instance). ``local`` (in either)
    asks for a local instance explicitly. Nothing else is consulted: not the address file Ray
    leaves in its temp directory (``/tmp/ray/ray_current_cluster``), not running Ray processes.

    Raises
    ------
    ConfigError
        ``auto``, or an address that is not ``host:port`` / ``ray://host:port``.
    """
    given, source = ((address, "--address") if address
                     else (os.environ.get("RAY_ADDRESS"), "RAY_ADDRESS"))
    given = (given or "").strip()
    if not given or given == "local":
        return None
    if given == "auto":
        raise ConfigError(f"{source} auto: give the head's host:port (`ray start --head` prints "
                          "it), or leave it out to start a local Ray instance; stickrole never "
                          "joins a cluster it finds on the machine by itself")
    _host_port(given, source)
    return given


def _host_port(address: str, source: str = "--address") -> tuple[str, int]:
    rest = address.split("://", 1)[1] if "://" in address else address
    host, sep, port = rest.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"{source} {address!r}: expected HOST:PORT of a Ray head (e.g. "
                          "10.0.0.5:6379), or leave it out to start a local Ray instance")
    return host, int(port)


def check_reachable(address: str, timeout: float = _PROBE_TIMEOUT_S) -> None:
    """Fail fast, with one line, when nothing that speaks Ray's protocol answers at ``address``.

    Ray's own connect retries an unreachable head for many minutes; this connects over TCP and,
    unless Ray uses TLS (``RAY_USE_TLS``), waits for the HTTP/2 greeting every gRPC server (a
    Ray head's GCS) sends first -- each step within ``timeout`` seconds.

    Raises
    ------
    ConfigError
        Connection refused or timed out, the host unknown, or no gRPC greeting.
    """
    host, port = _host_port(address)
    hint = ("is its head running (`ray start --head`)? Leave --address out (and RAY_ADDRESS "
            "unset) to start a local Ray instance")
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except TimeoutError:
        raise ConfigError(f"cannot reach the Ray cluster at {address}: no answer within "
                          f"{timeout:g} s; {hint}") from None
    except OSError as exc:
        raise ConfigError(f"cannot reach the Ray cluster at {address}: "
                          f"{exc.strerror or exc}; {hint}") from None
    with sock:
        if os.environ.get("RAY_USE_TLS", "0").lower() in ("1", "true"):
            return
        try:  # a gRPC (HTTP/2) server sends a SETTINGS frame (type 4) as its greeting
            sock.sendall(_HTTP2_PREFACE)
            head = b""
            while len(head) < 9:
                chunk = sock.recv(9 - len(head))
                if not chunk:
                    break
                head += chunk
        except OSError:
            head = b""
        if len(head) < 9 or head[3] != 4:
            raise ConfigError(f"{address} answers but is not a Ray head (no gRPC greeting "
                              f"within {timeout:g} s); give the head's GCS port (6379 unless "
                              "`ray start --head --port` chose another)")


def connect(address: str | None) -> str | None:
    """Join the Ray cluster :func:`cluster_address` names, or start a local instance of our own
    (``ray.init(address="local")``: no dashboard, its node registered as 127.0.0.1; Ray's
    servers still listen on every interface, guarded by Ray's token authentication, on by
    default for a local instance); nothing when this process is already connected.

    Returns
    -------
    str or None
        The address joined (``None``: a local instance).

    Raises
    ------
    ConfigError
        The address is malformed or unreachable (:func:`check_reachable`), or Ray refused to
        connect (one line; Ray's own reason attached).
    """
    t0 = time.perf_counter()
    address = cluster_address(address)
    if address:
        check_reachable(address)  # before Ray is imported: a typo fails in a second
        _use_token_if_available()  # before Ray is imported: it reads the mode once
        # Ray tries a head that answers but refuses it (not a GCS) 20 times, 1 s apart
        os.environ.setdefault("RAY_NUM_REDIS_GET_RETRIES", str(_CONNECT_RETRIES))
    import ray

    if ray.is_initialized():
        return address
    quiet = {"include_dashboard": False, "logging_level": logging.WARNING,
             "configure_logging": True}
    if address:
        try:
            ray.init(address=address, **quiet)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise ConfigError(f"cannot join the Ray cluster at {address}: "
                              f"{' '.join(str(exc).split())[:300]}") from None
    else:
        # "local": a new instance even when RAY_ADDRESS or Ray's address file names another
        ray.init(address="local", _node_ip_address="127.0.0.1", **quiet)
    dt = time.perf_counter() - t0
    log.info("Ray %s in %.1f s: %s", f"joined {address}" if address else "started (local)", dt,
             ", ".join(f"{k} {v:g}" for k, v in sorted(ray.cluster_resources().items())
                       if k in ("CPU", "GPU")))
    return address


def _use_token_if_available() -> None:
    """Ray (2.5x+) starts new clusters with token authentication when a token exists
    (``ray get-auth-token --generate``, kept in ``~/.ray/auth_token``) but a driver joining by
    address only sends it with ``RAY_AUTH_MODE=token``: set that when a token is at hand and the
    mode was not chosen explicitly."""
    if "RAY_AUTH_MODE" in os.environ:
        return
    path = Path(os.environ.get("RAY_AUTH_TOKEN_PATH") or Path.home() / ".ray" / "auth_token")
    if os.environ.get("RAY_AUTH_TOKEN") or path.is_file():
        os.environ["RAY_AUTH_MODE"] = "token"
