"""Run the tutorial's pages and check (or rewrite) what they say the code prints and draws.

A page ``docs/tutorial/NN-name.md`` (and its translation ``NN-name.zh-CN.md``) is prose with fenced blocks. Every
```` ```python ```` block runs, in page order, in one namespace per page, with the repository root as the working
directory. What a block prints must be the ```` ```text ```` block that follows it (before the next python block);
a block that prints nothing has none. Lines are compared after stripping trailing spaces. Figures are written by
the code into ``docs/tutorial/images/``; a page links them as ``![...](images/NAME.png)``.

    python tools/tutorial.py              check every page (exit 1 on a difference)
    python tools/tutorial.py --write      rewrite the text blocks from the run (and keep the figures it wrote)
    python tools/tutorial.py 02 08        only the chapters whose file names start so

Check mode runs the code in a scratch working directory (an empty ``docs/tutorial/images/`` in a temporary
folder, so the committed figures are not touched; a page must not read repository files by relative path), then
compares each figure the page links with the committed one: same size, and pixels within 2/255 on average (PNG
bytes and the last bit of a float32 sum may differ between CPUs; a changed picture does not pass). Both languages
of a page must hold the same code; the English page's run is checked against both pages' text blocks. A text
block is a python block's output only when blank lines alone separate them.
"""
from __future__ import annotations

import contextlib
import io
import os
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGES = ROOT / "docs" / "tutorial"
IMAGES = "docs/tutorial/images"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```\n", re.S | re.M)
FIGURE = re.compile(r"!\[[^\]]*\]\(images/([^)]+\.png)\)")


def blocks(text: str) -> list[tuple[str, str, int, int]]:
    """The fenced blocks of a page: (language, body, start, end) in order."""
    return [(m.group(1), m.group(2), m.start(), m.end()) for m in FENCE.finditer(text)]


def _is_output(text: str, bs: list, i: int) -> bool:
    """Whether block i is the output of block i - 1: a text block right after a python block (blank lines only)."""
    return (i > 0 and bs[i][0] == "text" and bs[i - 1][0] == "python"
            and not text[bs[i - 1][3]:bs[i][2]].strip())


def code_and_outputs(text: str) -> list[tuple[str, str | None]]:
    """Each python block with its output block (None when no text block follows it directly)."""
    bs = blocks(text)
    pairs = []
    for i, (lang, body, _, _) in enumerate(bs):
        if lang != "python":
            continue
        pairs.append((body, bs[i + 1][1] if i + 1 < len(bs) and _is_output(text, bs, i + 1) else None))
    return pairs


def normalized(out: str | None) -> str:
    return "\n".join(line.rstrip() for line in (out or "").strip("\n").split("\n")).strip("\n")


def run_page(path: Path, workdir: Path) -> list[str]:
    """Run a page's python blocks in one namespace (working directory ``workdir``): each block's printed output."""
    namespace: dict = {"__name__": f"tutorial_{path.stem.replace('-', '_')}"}
    outputs = []
    cwd = os.getcwd()
    os.chdir(workdir)
    try:
        for k, (code, _) in enumerate(code_and_outputs(path.read_text(encoding="utf-8"))):
            buf = io.StringIO()
            with contextlib.redirect_stdout(buf):
                exec(compile(code, f"{path.name}:block{k + 1}", "exec"), namespace)
            outputs.append(buf.getvalue())
    finally:
        os.chdir(cwd)
    return outputs


def translations(page: Path) -> list[Path]:
    """The page and its translations (``X.md`` and ``X.zh-CN.md``)."""
    zh = page.with_name(page.name[:-3] + ".zh-CN.md")
    return [page, zh] if zh.exists() else [page]


def chapters(prefixes=()) -> list[Path]:
    pages = sorted(p for p in PAGES.glob("[0-9][0-9]-*.md") if not p.name.endswith(".zh-CN.md"))
    return [p for p in pages if not prefixes or any(p.name.startswith(x) for x in prefixes)]


def check_same_code(page: Path) -> list[str]:
    versions = translations(page)
    if len(versions) < 2:
        return [f"{page.name}: no {page.name[:-3]}.zh-CN.md"]
    codes = [[c for c, _ in code_and_outputs(p.read_text(encoding="utf-8"))] for p in versions]
    if codes[0] != codes[1]:
        return [f"{versions[1].name}: its code blocks differ from {page.name}'s"]
    return []


def compare_outputs(path: Path, outputs: list[str]) -> list[str]:
    problems = []
    for k, ((code, expected), got) in enumerate(zip(code_and_outputs(path.read_text(encoding="utf-8")), outputs,
                                                    strict=True)):
        if normalized(expected) != normalized(got):
            problems.append(f"{path.name}, block {k + 1} ({code.splitlines()[0][:60]!r}):\n"
                            f"--- the page says\n{normalized(expected)}\n--- the code prints\n{normalized(got)}")
    return problems


def compare_figures(page: Path, produced: Path) -> list[str]:
    import numpy as np
    from PIL import Image

    problems = []
    names = sorted({n for p in translations(page) for n in FIGURE.findall(p.read_text(encoding="utf-8"))})
    for name in names:
        committed, new = ROOT / IMAGES / name, produced / name
        if not new.exists():
            problems.append(f"{page.name}: the code did not write images/{name}")
            continue
        if not committed.exists():
            problems.append(f"{page.name}: images/{name} is not committed (run --write)")
            continue
        a = np.asarray(Image.open(committed).convert("RGB"), dtype=np.float64)
        b = np.asarray(Image.open(new).convert("RGB"), dtype=np.float64)
        if a.shape != b.shape:
            problems.append(f"{page.name}: images/{name} is {a.shape}, the code draws {b.shape}")
        elif np.abs(a - b).mean() > 2.0:
            problems.append(f"{page.name}: images/{name} differs from what the code draws "
                            f"(mean |Δ| = {np.abs(a - b).mean():.2f}/255)")
    return problems


def write_outputs(path: Path, outputs: list[str]) -> None:
    """Replace (insert, or remove) the text block after each python block by what it printed."""
    text = path.read_text(encoding="utf-8")
    bs = blocks(text)
    pieces, pos, k = [], 0, 0
    for i, (lang, _, _, end) in enumerate(bs):
        if _is_output(text, bs, i):      # the old output: dropped (with the blank lines before it)
            pos = end
            continue
        if lang != "python":
            continue
        pieces.append(text[pos:end])
        pos = end
        out = normalized(outputs[k])
        k += 1
        if out:
            pieces.append(f"\n```text\n{out}\n```\n")
    pieces.append(text[pos:])
    path.write_text("".join(pieces), encoding="utf-8")


def process(page: Path, write: bool) -> list[str]:
    """Run one chapter; check it (returns the problems) or, with ``write``, rewrite its text blocks and figures."""
    problems = check_same_code(page)
    if write:
        (ROOT / IMAGES).mkdir(parents=True, exist_ok=True)
        outputs = run_page(page, ROOT)
        for p in translations(page):
            write_outputs(p, outputs)
        return problems
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / IMAGES).mkdir(parents=True)
        outputs = run_page(page, Path(tmp))
        for p in translations(page):
            problems += compare_outputs(p, outputs)
        problems += compare_figures(page, Path(tmp) / IMAGES)
    return problems


def main(argv=None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    write = "--write" in args
    prefixes = [a for a in args if a != "--write"]
    failed = False
    for page in chapters(prefixes):
        problems = process(page, write)
        print(f"{page.name}: {'ok' if not problems else 'FAILED'}")
        for p in problems:
            print(p)
        failed = failed or bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    sys.exit(main())
