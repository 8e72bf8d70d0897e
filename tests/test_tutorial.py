"""The tutorial (docs/tutorial/*.md, English and Chinese) cannot drift from the code: every python block runs, in
page order, and prints exactly the text block that follows it; the figures it links are the ones the code draws;
both languages hold the same code. ``python tools/tutorial.py --write`` regenerates the outputs after a change."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.repo_tools import load_tool

ROOT = Path(__file__).resolve().parent.parent
tutorial = load_tool("tutorial")

SLOW = {"08", "09"}   # chapters that train (8) or build the large models (9): 20-30 s each on 2 cores
PAGES = tutorial.chapters()


def test_every_chapter_has_both_languages():
    assert [p.name[:2] for p in PAGES] == [f"{i:02d}" for i in range(1, len(PAGES) + 1)]
    for page in PAGES:
        assert tutorial.check_same_code(page) == []


@pytest.mark.parametrize("page", [pytest.param(p, id=p.stem, marks=[pytest.mark.slow] if p.name[:2] in SLOW else [])
                                  for p in PAGES])
def test_chapter_prints_what_it_says(page):
    problems = tutorial.process(page, write=False)
    assert not problems, "\n".join(problems)


def test_runner_catches_a_drifted_output(tmp_path):
    page = tmp_path / "01-x.md"
    page.write_text("a\n\n```python\nprint(6 * 7)\n```\n\n```text\n41\n```\n\n```python\nx = 1\n```\n",
                    encoding="utf-8")
    outputs = tutorial.run_page(page, tmp_path)
    assert outputs == ["42\n", ""]
    assert len(tutorial.compare_outputs(page, outputs)) == 1
    tutorial.write_outputs(page, outputs)
    assert tutorial.compare_outputs(page, outputs) == []
    assert "```text\n42\n```" in page.read_text(encoding="utf-8")


def _quick_start(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line.startswith("python3 -m venv .venv && ")]


def test_readmes_share_the_quick_start():
    commands = _quick_start(ROOT / "README.md")
    assert len(commands) == 2
    assert _quick_start(ROOT / "README.zh-CN.md") == commands
    assert "(README.zh-CN.md)" in (ROOT / "README.md").read_text(encoding="utf-8")
    assert "(README.md)" in (ROOT / "README.zh-CN.md").read_text(encoding="utf-8")


def test_relative_links_resolve():
    pages = [ROOT / "README.md", ROOT / "README.zh-CN.md", *sorted(tutorial.PAGES.glob("*.md"))]
    broken = []
    for page in pages:
        for target in re.findall(r"\]\(([^)#\s]+)\)", page.read_text(encoding="utf-8")):
            if "://" not in target and not (page.parent / target).exists():
                broken.append(f"{page.relative_to(ROOT)}: {target}")
    assert broken == []


def test_write_is_idempotent(tmp_path):
    page = tmp_path / "01-x.md"
    page.write_text("a\n\n```python\nprint(1)\n```\n\nb\n\n```python\nprint(2)\n```\n\n```text\n3\n```\n\nc\n",
                    encoding="utf-8")
    outputs = tutorial.run_page(page, tmp_path)
    tutorial.write_outputs(page, outputs)
    once = page.read_text(encoding="utf-8")
    assert once == "a\n\n```python\nprint(1)\n```\n\n```text\n1\n```\n\nb\n\n```python\nprint(2)\n```\n\n```text\n2\n```\n\nc\n"
    tutorial.write_outputs(page, outputs)
    assert page.read_text(encoding="utf-8") == once
