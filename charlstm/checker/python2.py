"""Reading Python 2-era coursework under Python 3: a small source rewrite, not a translator.

Only what is safe and needed for a fair check of the math is rewritten, each in place
(line numbers do not move):

    print 'dx: ', dx.shape        ->  print('dx: ', dx.shape)
    print x,                      ->  print(x, end=' ')
    print >>f, x                  ->  print(x, file=f)
    print                         ->  print()
    except ValueError, e:         ->  except ValueError as e:

and ``xrange`` is given to the learner's namespace as ``range``. Anything else Python 2
only (backticks, ``<>``, ``ur''``, integer ``/``) is left as it is: a statement that then
does not compile is skipped and named, and a ``/`` on integers is named in the diagnosis.
"""

from __future__ import annotations

import io
import tokenize
from dataclasses import dataclass

_OPEN, _CLOSE = "([{", ")]}"
_NOT_A_STATEMENT = {"(", "=", ".", ",", ")", "[", "]", "}", ":", ";", "+=", "-=", "*=", "/="}


@dataclass
class Rewritten:
    source: str
    prints: int = 0          # print statements rewritten as calls
    excepts: int = 0         # `except E, e:` rewritten with `as`
    xrange: bool = False     # the code uses xrange

    @property
    def python2(self):
        return bool(self.prints or self.excepts or self.xrange)


def rewrite(source):
    """``Rewritten`` source, or the source unchanged where it cannot be tokenized."""
    try:
        toks = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        toks = _tokens_until_error(source)
    starts = [0]
    for line in source.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))

    def offset(pos):
        row, col = pos
        return starts[row - 1] + col if row - 1 < len(starts) else len(source)

    out = Rewritten(source, xrange=any(t.type == tokenize.NAME and t.string == "xrange" for t in toks))
    edits = []                                  # (start, end, replacement), non-overlapping
    depth, at_start = 0, True
    for i, t in enumerate(toks):
        if t.type in (tokenize.NL, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT,
                      tokenize.ENCODING):
            continue
        if t.type == tokenize.NEWLINE:
            depth, at_start = 0, True
            continue
        if t.type == tokenize.OP and t.string in _OPEN:
            depth += 1
        elif t.type == tokenize.OP and t.string in _CLOSE:
            depth = max(depth - 1, 0)
        starting, at_start = at_start, (depth == 0 and t.type == tokenize.OP and t.string in ":;")
        if not starting or t.type != tokenize.NAME:
            continue
        if t.string == "print":
            nxt = toks[i + 1] if i + 1 < len(toks) else None
            if nxt is not None and nxt.type == tokenize.OP and nxt.string in _NOT_A_STATEMENT:
                continue                        # print(...), print = ..., already Python 3
            end = _statement_end(toks, i + 1)
            args = [a for a in toks[i + 1:end] if a.type not in (tokenize.NL, tokenize.COMMENT)]
            call = _print_call(args, source, offset)
            if call is None:
                continue
            a, b = offset(t.start), offset(toks[end - 1].end if end > i + 1 else t.end)
            edits.append((a, b, call))
            out.prints += 1
        elif t.string == "except":
            comma = _except_comma(toks, i + 1)
            if comma is not None:
                edits.append((offset(comma.start), offset(comma.end), " as"))
                out.excepts += 1
    text = source
    for a, b, new in sorted(edits, reverse=True):
        text = text[:a] + new + text[b:]
    out.source = text
    return out


def _tokens_until_error(source):
    toks = []
    try:
        for t in tokenize.generate_tokens(io.StringIO(source).readline):
            toks.append(t)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return toks


def _statement_end(toks, j):
    """Index just past the last token of the simple statement starting before toks[j]."""
    depth = 0
    last = j
    while j < len(toks):
        t = toks[j]
        if t.type == tokenize.OP and t.string in _OPEN:
            depth += 1
        elif t.type == tokenize.OP and t.string in _CLOSE:
            depth -= 1
        if depth <= 0 and (t.type in (tokenize.NEWLINE, tokenize.ENDMARKER)
                           or (t.type == tokenize.OP and t.string == ";")
                           or (t.type == tokenize.COMMENT and depth == 0)):
            return last
        if t.type not in (tokenize.NL, tokenize.COMMENT):
            last = j + 1
        j += 1
    return last


def _split_commas(args):
    """The argument tokens split at commas outside brackets."""
    parts, cur, depth = [], [], 0
    for t in args:
        if t.type == tokenize.OP and t.string in _OPEN:
            depth += 1
        elif t.type == tokenize.OP and t.string in _CLOSE:
            depth -= 1
        if depth == 0 and t.type == tokenize.OP and t.string == ",":
            parts.append(cur)
            cur = []
        else:
            cur.append(t)
    parts.append(cur)
    return parts


def _print_call(args, source, offset):
    """'print(...)' for the tokens after a print statement's ``print``, or None."""
    def text(ts):
        return source[offset(ts[0].start):offset(ts[-1].end)] if ts else ""
    parts = _split_commas(args)
    extra = []
    if parts and parts[0] and parts[0][0].type == tokenize.OP and parts[0][0].string == ">>":
        dest = parts.pop(0)[1:]
        if not dest:
            return None
        extra.append(f"file={text(dest)}")
    if len(parts) > 1 and not parts[-1]:        # a trailing comma: no newline
        parts.pop()
        extra.insert(0, "end=' '")
    if any(not p for p in parts) and parts != [[]]:
        return None
    values = [text(p) for p in parts if p]
    return "print(" + ", ".join(values + extra) + ")"


def _except_comma(toks, j):
    """The comma of ``except E, name:`` (Python 2), or None."""
    depth, comma = 0, None
    while j < len(toks):
        t = toks[j]
        if t.type == tokenize.OP and t.string in _OPEN:
            depth += 1
        elif t.type == tokenize.OP and t.string in _CLOSE:
            depth -= 1
        elif depth == 0 and t.type == tokenize.OP and t.string == ",":
            comma = j
        elif depth == 0 and t.type == tokenize.OP and t.string == ":":
            ok = comma is not None and j == comma + 2 and toks[comma + 1].type == tokenize.NAME
            return toks[comma] if ok else None
        elif t.type in (tokenize.NEWLINE, tokenize.ENDMARKER):
            return None
        j += 1
    return None
