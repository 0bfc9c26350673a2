"""sha256 on a helper thread, fed in order while the caller moves the same bytes.

Copying and hashing then overlap on two cores (hashlib releases the GIL for large buffers), so a
verified transfer costs about as long as the slower of the two rather than their sum. At most
``depth`` chunks wait in between, which bounds the memory held.
"""

from __future__ import annotations

import hashlib
import queue
import threading


class BackgroundSha256:
    def __init__(self, depth: int = 4) -> None:
        self._chunks: queue.Queue[bytes | None] = queue.Queue(maxsize=depth)
        self._digest = hashlib.sha256()
        self._thread = threading.Thread(target=self._run, name="sha256", daemon=True)
        self._thread.start()
        self._result: str | None = None

    def update(self, chunk: bytes) -> None:
        self._chunks.put(chunk)

    def hexdigest(self) -> str:
        """Waits for the queued chunks, then returns the digest (call once, after the last update)."""
        if self._result is None:
            self._chunks.put(None)
            self._thread.join()
            self._result = self._digest.hexdigest()
        return self._result

    def _run(self) -> None:
        while (chunk := self._chunks.get()) is not None:
            self._digest.update(chunk)
