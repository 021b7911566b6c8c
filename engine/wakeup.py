"""How idle job threads of a runner sleep until new work may be there
(engine/worker.py)."""
from __future__ import annotations

import threading
from typing import Optional


class Wakeup:
    """Lets idle job threads sleep until new work may be there. A generation
    counter instead of a bare event: a notification that arrives between a
    thread's empty claim and its wait is not lost."""

    def __init__(self):
        self._condition = threading.Condition()
        self._generation = 0

    @property
    def generation(self) -> int:
        return self._generation

    def notify(self) -> None:
        with self._condition:
            self._generation += 1
            self._condition.notify_all()

    def wait(self, seen: int, timeout: Optional[float]) -> None:
        with self._condition:
            self._condition.wait_for(lambda: self._generation != seen, timeout)
