"""Fetching public corpora, checked against a known sha256; no partial file is ever left."""

from __future__ import annotations

import errno
import hashlib
import os
import socket
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from .errors import CharlstmError

CORPORA = {
    "tinyshakespeare": {
        "url": "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/"
               "tinyshakespeare/input.txt",
        "sha256": "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
        "file": "tinyshakespeare.txt",
    },
    "names": {                                         # one name per line: --records lines
        "url": "https://raw.githubusercontent.com/karpathy/makemore/master/names.txt",
        "sha256": "0a30b5557f192f32ab962680889aac5f6fda0f4cecf40a6d0b5694f58ea8cc4d",
        "file": "names.txt",
    },
}


def download(name: str, dest="data", url: str | None = None, timeout: float = 60,
             force: bool = False) -> Path:
    """Download corpus ``name`` into folder ``dest``; returns the file's path.

    The bytes go to a temporary file beside the target and are renamed into place only
    after the sha256 matches, so a failed or corrupted download leaves nothing behind.
    ``url`` overrides the address (a mirror); the checksum is still enforced.
    """
    if name not in CORPORA:
        raise CharlstmError(f"unknown corpus {name!r}; available: {', '.join(CORPORA)}")
    spec = CORPORA[name]
    dest = Path(dest)
    target = dest / spec["file"]
    if target.exists() and not force:
        if _sha256(target) == spec["sha256"]:
            return target
        raise CharlstmError(f"{target} exists but its checksum is wrong; delete it or pass "
                            "--force to download it again")
    made = [d for d in [dest, *dest.parents] if not d.exists()]   # removed again on failure
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise CharlstmError(f"cannot create {dest}: {e.strerror}")
    url = url or spec["url"]
    fd, tmp = tempfile.mkstemp(prefix=f".{spec['file']}.", suffix=".part", dir=dest)
    ok = False
    try:
        h = hashlib.sha256()
        with os.fdopen(fd, "wb") as f:
            try:
                with urllib.request.urlopen(url, timeout=timeout) as r:
                    while chunk := r.read(1 << 16):
                        h.update(chunk)
                        f.write(chunk)
            except urllib.error.HTTPError as e:
                raise CharlstmError(f"download of {name} failed: {url} answered HTTP {e.code}")
            except (urllib.error.URLError, OSError, ValueError) as e:
                reason = getattr(e, "reason", e)
                if isinstance(reason, socket.gaierror) or isinstance(reason, OSError) and \
                        reason.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
                    host = urllib.parse.urlsplit(url).hostname
                    raise CharlstmError(
                        f"download of {name} failed: cannot reach {host} (no network? "
                        f"{getattr(reason, 'strerror', None) or reason}); on a machine that is "
                        f"online, fetch {url} and copy it to {target} (its sha256 is checked "
                        "on the next run of this command), pass --url with a mirror, or train "
                        "on the built-in corpus python-docs, which needs no download")
                raise CharlstmError(f"download of {name} from {url} failed: {reason}")
        if h.hexdigest() != spec["sha256"]:
            raise CharlstmError(f"download of {name} from {url} has the wrong sha256 "
                                f"({h.hexdigest()[:16]}..., expected {spec['sha256'][:16]}...); "
                                "nothing was saved")
        os.replace(tmp, target)
        ok = True
    finally:
        Path(tmp).unlink(missing_ok=True)
        if not ok:                                     # leave no empty folder behind
            for d in made:
                try:
                    d.rmdir()
                except OSError:
                    break
    return target


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()
