"""Build measurement corpora from text already on this machine (never committed).

    python scripts/corpora.py c-headers --out runs/corpora/c-headers.txt --mb 2

``c-headers``: C header files from the system's development packages (``/usr/include``
by default, ``--root`` elsewhere): neither prose nor English, the kind of text no test or
sweep of charlstm is tuned on. Files are taken in a fixed shuffled order (a hash of each
path), their licence comments dropped (the same boilerplate hundreds of times would be
memorised, not modelled), each cut to its first 30,000 characters, exact duplicates
skipped, and each introduced by a ``/* path */`` line, until the corpus reaches ``--mb``
megabytes. The same root gives the same corpus; the summary
line prints its sha256 so two machines can tell whether they measured the same text.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
from pathlib import Path

COMMENT = re.compile(r"/\*.*?\*/\n?", re.S)
LICENCE_WORDS = ("copyright", "license", "licence", "free software", "spdx")
PER_FILE = 30_000                                      # chars: no one header dominates


def strip_licence(text: str) -> str:
    """The file without its licence comments (any /* */ block naming a copyright or licence)."""
    return COMMENT.sub(lambda m: "" if any(w in m.group(0).lower() for w in LICENCE_WORDS)
                       else m.group(0), text)


def _order(root: Path, path: Path) -> str:
    """A fixed shuffle of the paths, so the corpus mixes libraries instead of taking the
    first few folders whole."""
    return hashlib.sha256(str(path.relative_to(root)).encode()).hexdigest()


def c_headers(root: Path, max_chars: int) -> tuple[str, int]:
    """Up to max_chars of C headers under root, and how many files went in."""
    parts, size, seen, files = [], 0, set(), 0
    for path in sorted(root.rglob("*.h"), key=lambda p: _order(root, p)):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue                                   # binary or unreadable: not text
        body = strip_licence(text).strip()
        if len(body) > PER_FILE:                       # cut at a line end
            body = body[:body.rfind("\n", 0, PER_FILE)]
        digest = hashlib.sha256(body.encode()).digest()
        if len(body) < 200 or digest in seen:
            continue
        seen.add(digest)
        part = f"/* {path.relative_to(root)} */\n{body}\n\n"
        parts.append(part)
        size += len(part)
        files += 1
        if size >= max_chars:
            break
    return "".join(parts)[:max_chars], files


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("kind", choices=["c-headers"])
    ap.add_argument("--out", type=Path, required=True, help="text file to write")
    ap.add_argument("--mb", type=float, default=2.0, help="size in megabytes of text")
    ap.add_argument("--root", type=Path, default=Path("/usr/include"),
                    help="where the headers are")
    args = ap.parse_args(argv)
    if not args.root.is_dir():
        sys.exit(f"error: {args.root} is not a folder; pass --root with the headers' folder")
    text, files = c_headers(args.root, int(args.mb * 1_000_000))
    if not text:
        sys.exit(f"error: no C headers under {args.root}; install a -dev package or pass --root")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
    print(f"{args.out}: {len(text):,} chars from {files} files, {len(set(text))} symbols, "
          f"sha256 {sha[:16]}")


if __name__ == "__main__":
    main()
