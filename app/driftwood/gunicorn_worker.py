"""gunicorn's threaded worker, refusing new connections from the moment it is told to stop.

On SIGTERM, gunicorn 27's gthread worker stops *accepting* connections but keeps its copy of
the listening socket open until it exits (the master closes its own copy first). Meanwhile the
kernel still completes the handshake of every new connection and queues it, unanswered, and
when the worker exits each one is reset: nginx has sent its request by then, so it cannot
retry a POST (the app might have applied it) and the user gets an error page. Measured in a
deploy under load (tests/docker/test_stress_faults.py): 1 to 4 failed adds per deploy while
the old container drained. With the listener closed at once, a connection attempt is refused
instead, which nginx retries on the new container whatever the method: nothing was sent.
"""

from __future__ import annotations

from gunicorn.workers.gthread import ThreadWorker


class DrainingThreadWorker(ThreadWorker):
    """gthread, but a stopping worker closes its listening sockets instead of only ignoring
    them; requests already accepted and kept-alive connections are served as before."""

    def set_accept_enabled(self, enabled: bool) -> None:
        super().set_accept_enabled(enabled)
        # Also called with False when the worker is merely full (worker_connections): the
        # sockets stay open then. `alive` is False only once the worker is stopping.
        if not enabled and not self.alive:
            for listener in self.sockets:
                listener.close()
