"""Headless Chromium for the tests, driven over the DevTools protocol on a pipe.

One browser runs for all the page tests: ``Chromium.find()`` (None when there is none; the
tests then skip), ``browser.open(url)`` -> a ``Tab`` with ``evaluate(js)``, ``wait_for(js)``,
``screenshot()`` and the URLs it requested. No dependencies: with ``--remote-debugging-pipe``
Chromium reads JSON commands on its file descriptor 3 and answers on 4, each message ended by
a NUL byte. (The same pages can be checked by hand with
``chromium --headless --dump-dom 'file:///.../page.html#autorun=1&...'``.)
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import tempfile
import time

NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# Headless, and nothing that reaches the network (updates, sync, field trials) or needs a
# display or a sandbox (root in a container).
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--hide-scrollbars", "--remote-debugging-pipe"]


class BrowserError(RuntimeError):
    pass


class Chromium:
    @staticmethod
    def find() -> str | None:
        """The Chromium binary: $CHROMIUM, or the first of NAMES on the PATH."""
        if os.environ.get("CHROMIUM"):
            return os.environ["CHROMIUM"]
        return next((p for p in map(shutil.which, NAMES) if p), None)

    def __init__(self, binary: str, timeout: float = 30.0):
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="charlstm-chromium-")
        to_chrome, self._out = os.pipe()               # we write commands, Chromium reads fd 3
        self._in, from_chrome = os.pipe()              # Chromium writes fd 4, we read answers

        def pipes_on_3_and_4():                        # in the child, before exec
            a, b = os.dup(to_chrome), os.dup(from_chrome)   # dup: never 3 or 4 already
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.proc = subprocess.Popen([binary, *FLAGS, f"--user-data-dir={self.profile}",
                                      "about:blank"], preexec_fn=pipes_on_3_and_4,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL,
                                     close_fds=False)  # True would close 3 and 4 after the dup2
        # (Python's own descriptors are not inherited anyway: PEP 446.)
        os.close(to_chrome)
        os.close(from_chrome)
        self._buffer, self._id, self.events = b"", 0, []

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        """Send one command and wait for its answer (events meanwhile go to ``events``)."""
        self._id += 1
        message = {"id": self._id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._out, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            while b"\0" not in self._buffer:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([self._in], [], [], left)[0]:
                    raise BrowserError(f"Chromium did not answer {method} in {self.timeout} s")
                chunk = os.read(self._in, 1 << 20)
                if not chunk:
                    raise BrowserError(f"Chromium exited (during {method})")
                self._buffer += chunk
            raw, self._buffer = self._buffer.split(b"\0", 1)
            answer = json.loads(raw)
            if answer.get("id") == self._id:
                if "error" in answer:
                    raise BrowserError(f"{method}: {answer['error']}")
                return answer.get("result", {})
            self.events.append(answer)

    def open(self, url: str, width: int = 1000, height: int = 760) -> "Tab":
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        tab = Tab(self, target, session)
        tab.send("Network.enable")
        tab.send("Emulation.setDeviceMetricsOverride",
                 {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        tab.send("Page.navigate", {"url": url})
        page = json.dumps(url.split("#")[0])              # page.js may rewrite the fragment
        tab.wait_for(f"location.href.split('#')[0] === {page} && document.readyState === 'complete'")
        return tab

    def close(self):
        try:
            self.send("Browser.close")
            self.proc.wait(timeout=10)
        except Exception:
            self.proc.kill()
            self.proc.wait()
        os.close(self._out)
        os.close(self._in)
        shutil.rmtree(self.profile, ignore_errors=True)


class Tab:
    def __init__(self, browser: Chromium, target: str, session: str):
        self.browser, self.target, self.session = browser, target, session

    def send(self, method, params=None):
        return self.browser.send(method, params, self.session)

    def evaluate(self, expression: str):
        """The value of a JavaScript expression in the page."""
        r = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in r:
            raise BrowserError(f"{expression}: {r['exceptionDetails']}")
        return r["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 30.0, every: float = 0.02):
        """Poll until the expression is true; -> its value."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise BrowserError(f"still false after {timeout} s: {expression}")
            time.sleep(every)

    def requested_urls(self) -> list[str]:
        """Every URL this tab asked for so far (the page itself included)."""
        return [e["params"]["request"]["url"] for e in self.browser.events
                if e.get("method") == "Network.requestWillBeSent"
                and e.get("sessionId") == self.session]

    def screenshot(self) -> bytes:
        return base64.b64decode(self.send("Page.captureScreenshot", {"format": "png"})["data"])

    def close(self):
        self.browser.send("Target.closeTarget", {"targetId": self.target})
