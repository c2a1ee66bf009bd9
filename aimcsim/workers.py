"""Local worker processes: what every process pool of aimcsim shares (sweeps, decode)."""

from __future__ import annotations

import os
import threading
import time


def end_with_parent(parent: int) -> None:
    """Pool worker initialiser: end this worker once its parent is gone (a SIGKILL of the
    parent would otherwise leave it waiting for work forever). A daemon thread checks every
    half second whether the worker has been handed to another parent."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="aimcsim-parent-watch").start()


__all__ = ["end_with_parent"]
