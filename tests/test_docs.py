"""The documents quote the code: the quotes must stay true."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_derivation_quotes_lines_that_exist_in_layers_py():
    doc = (ROOT / "docs" / "derivation.md").read_text(encoding="utf-8")
    src = (ROOT / "charlstm" / "layers.py").read_text(encoding="utf-8")
    quoted = [ln for block in re.findall(r"```python\n(.*?)```", doc, re.S)
              for ln in block.splitlines() if ln.strip()]
    assert len(quoted) >= 7
    missing = [ln for ln in quoted if ln not in src]
    assert not missing, f"docs/derivation.md quotes lines no longer in layers.py: {missing}"


def test_the_readme_links_the_derivation():
    assert "docs/derivation.md" in (ROOT / "README.md").read_text(encoding="utf-8")


# --------------------------------------------------------------------------- documented flags

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")


def _command_flags():
    """Every charlstm command's options, from the typer app itself."""
    import typer.main

    from charlstm.cli import app
    group = typer.main.get_command(app)
    flags = {name: {o for p in cmd.params for o in (*p.opts, *p.secondary_opts)}
             for name, cmd in group.commands.items()}
    flags[""] = {o for p in group.params for o in p.opts} | {"--help"}
    return flags


def _script_flags():
    """The options the scripts' argument parsers define (read from their source)."""
    return {f for p in (ROOT / "scripts").glob("*.py")
            for f in re.findall(r"""add_argument\(\s*["'](--[a-z0-9-]+)""", p.read_text())}


def _code_spans(text):
    """Inline code and the lines of fenced code blocks: where commands are shown."""
    blocks = re.findall(r"```[a-z]*\n(.*?)```", text, re.S)
    rest = re.sub(r"```[a-z]*\n.*?```", "", text, flags=re.S)
    lines = [ln for b in blocks for ln in re.sub(r"\\\n", " ", b).splitlines()]  # join \ lines
    return lines + re.findall(r"`([^`\n]+)`", rest)


def test_every_documented_charlstm_flag_exists():
    """A flag shown after `charlstm COMMAND` must be an option of that command; a flag shown
    alone (`--hidden-size`) or after a script must be an option of some command or script."""
    commands, scripts = _command_flags(), _script_flags()
    known = set().union(*commands.values()) | scripts
    wrong = []
    for doc in DOCS:
        for span in _code_spans(doc.read_text(encoding="utf-8")):
            for part in re.split(r"&&|\||;", span):
                m = re.search(r"\bcharlstm\s+([a-z]+)\b", part)
                if m and m.group(1) in commands:
                    own = commands[m.group(1)] | commands[""]
                    wrong += [f"{doc.name}: charlstm {m.group(1)} {f}"
                              for f in FLAG.findall(part[m.end():]) if f not in own]
                elif "scripts/" in part or part.strip().startswith("--"):
                    wrong += [f"{doc.name}: {f}" for f in FLAG.findall(part) if f not in known]
                # else: another program's command line (chromium, pip, git): not ours
    assert not wrong, "documented flags that do not exist: " + "; ".join(sorted(set(wrong)))


def test_the_readme_stays_short_and_links_every_docs_page():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.encode()) < 15_000
    pages = {p.name for p in (ROOT / "docs").glob("*.md")}
    assert {p for p in pages if f"docs/{p}" not in readme} == set()
