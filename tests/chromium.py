"""A minimal headless-Chromium driver over the DevTools protocol on a pipe (no extra deps).

Chromium started with ``--remote-debugging-pipe`` reads protocol messages (JSON, each ended
by a NUL byte) from fd 3 and writes answers and events to fd 4. `Browser` opens one page,
records JavaScript exceptions, console errors, log errors and every network request, and can
evaluate expressions and take screenshots.

Used by tests/test_report_browser.py, and from the command line to screenshot a report:

    python -m tests.chromium REPORT.html OUT.png [WIDTH]
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions", "--mute-audio", "--hide-scrollbars",
         "--remote-debugging-pipe"]


#: Waits for the fanlab page's latest redraw (its promise resolves to plot divs: not returned).
DRAWN = "Promise.resolve(window.fanlab && window.fanlab.drawn).then(() => true)"


def find_chromium() -> str | None:
    """Path of a Chromium (or Chrome) binary, or None."""
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None


class BrowserError(RuntimeError):
    pass


class Browser:
    """One headless Chromium with one page; use as a context manager."""

    def __init__(self, executable: str, width: int = 1400, height: int = 900, timeout: float = 60.0):
        self.executable, self.width, self.height, self.timeout = executable, width, height, timeout
        self.errors: list[str] = []      # JS exceptions, console.error, log errors
        self.requests: list[str] = []    # every URL the page asked for
        self._events: list[dict] = []
        self._buf = b""
        self._id = 0

    def __enter__(self) -> "Browser":
        self._profile = tempfile.TemporaryDirectory(prefix="fanlab-chromium-")
        to_r, self._to_w = os.pipe()      # we write commands; Chromium reads them on fd 3
        self._from_r, from_w = os.pipe()  # Chromium writes on fd 4; we read

        def onto_3_and_4() -> None:  # in the child, before exec: copies first, so no end clobbers the other
            a, b = fcntl.fcntl(to_r, fcntl.F_DUPFD, 10), fcntl.fcntl(from_w, fcntl.F_DUPFD, 10)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self._log = tempfile.TemporaryFile()
        # close_fds=False: Python's own descriptors are close-on-exec anyway; only 3 and 4 pass
        self.proc = subprocess.Popen(
            [self.executable, *FLAGS, f"--user-data-dir={self._profile.name}",
             f"--window-size={self.width},{self.height}", "about:blank"],
            preexec_fn=onto_3_and_4, close_fds=False, stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log)
        os.close(to_r)
        os.close(from_w)
        try:
            target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
            self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            for domain in ("Runtime", "Log", "Page", "Network"):
                self.send(f"{domain}.enable", session=True)
            self.send("Emulation.setDeviceMetricsOverride", {"width": self.width, "height": self.height,
                                                              "deviceScaleFactor": 1, "mobile": False}, session=True)
        except Exception:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc) -> None:
        try:
            if self.proc.poll() is None:
                try:
                    self.send("Browser.close", timeout=10)
                except Exception:
                    pass
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
        finally:
            for fd in (self._to_w, self._from_r):
                try:
                    os.close(fd)
                except OSError:
                    pass
            self._log.close()
            self._profile.cleanup()

    def stderr_tail(self, n: int = 2000) -> str:
        if self._log.closed:
            return ""
        self._log.seek(0)
        return self._log.read().decode(errors="replace")[-n:]

    # -- protocol ---------------------------------------------------------------------------
    def _read_message(self, deadline: float) -> dict:
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrowserError("timed out waiting for Chromium")
            ready, _, _ = select.select([self._from_r], [], [], left)
            if ready:
                chunk = os.read(self._from_r, 1 << 20)
                if not chunk:
                    raise BrowserError(f"Chromium closed the pipe; its output: {self.stderr_tail()}")
                self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        msg = json.loads(raw)
        if "method" in msg:
            self._record(msg)
        return msg

    def _record(self, msg: dict) -> None:
        self._events.append(msg)
        m, p = msg["method"], msg.get("params", {})
        if m == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            self.errors.append("exception: " + str(d.get("exception", {}).get("description") or d.get("text")))
        elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            self.errors.append("console.error: " + " ".join(str(a.get("value", a.get("description", "")))
                                                          for a in p.get("args", [])))
        elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            self.errors.append("log: " + p["entry"].get("text", "") + " " + p["entry"].get("url", ""))
        elif m == "Network.requestWillBeSent":
            self.requests.append(p.get("request", {}).get("url", "")[:200])  # data: URIs can be long

    def send(self, method: str, params: dict | None = None, session: bool = False,
             timeout: float | None = None) -> dict:
        """Send one command and return its result (raises BrowserError on a protocol error)."""
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = self.session
        os.write(self._to_w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def wait_event(self, method: str, timeout: float | None = None) -> dict:
        deadline = time.monotonic() + (timeout or self.timeout)
        seen = len(self._events)
        while True:
            for ev in self._events[seen:]:
                if ev["method"] == method:
                    return ev
            seen = len(self._events)
            self._read_message(deadline)

    # -- page -------------------------------------------------------------------------------
    def open(self, path: Path) -> None:
        """Load a local file and wait for its load event."""
        self._events.clear()
        self.send("Page.navigate", {"url": Path(path).resolve().as_uri()}, session=True)
        self.wait_event("Page.loadEventFired")

    def evaluate(self, expression: str):
        """Value of a JS expression (promises awaited); a JS error raises BrowserError."""
        res = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                             "awaitPromise": True}, session=True)
        if "exceptionDetails" in res:
            d = res["exceptionDetails"]
            raise BrowserError(f"{expression[:80]}: {d.get('exception', {}).get('description') or d.get('text')}")
        return res.get("result", {}).get("value")

    def screenshot(self, path: Path, full_page: bool = True, max_height: int = 16000) -> Path:
        """Write a PNG of the page (the whole page, up to `max_height` px tall)."""
        params: dict = {"format": "png"}
        if full_page:
            size = self.send("Page.getLayoutMetrics", session=True)["cssContentSize"]
            params.update(captureBeyondViewport=True, clip={"x": 0, "y": 0, "width": self.width, "scale": 1,
                                                            "height": min(int(size["height"]), max_height)})
        data = self.send("Page.captureScreenshot", params, session=True)["data"]
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_bytes(base64.b64decode(data))
        return Path(path)


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__)
        return 2
    exe = find_chromium()
    if exe is None:
        print("chromium not found (apt-get install chromium)", file=sys.stderr)
        return 2
    with Browser(exe, width=int(argv[2]) if len(argv) > 2 else 1400) as b:
        b.open(Path(argv[0]))
        b.evaluate(DRAWN)
        out = b.screenshot(Path(argv[1]))
        if b.errors:
            print("page errors:", *b.errors, sep="\n  ", file=sys.stderr)
            return 1
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
