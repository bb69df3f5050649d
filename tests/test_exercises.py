"""Every concept page ends with its exercises (``docs/exercises/<chapter>/<page>.md``, included by a
snippet line), 2-4 of them, each with a collapsed worked solution whose code runs with a checked
output (the page's Sybil test runs it). Each chapter has a coding exercise whose solution checks
itself against PyTorch or a numerical gradient.
"""
import re
from pathlib import Path

import pytest

from hooks.site_nav import CHAPTERS

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = sorted(p.relative_to(DOCS).as_posix() for c in CHAPTERS for p in (DOCS / c).glob("*.md"))
EXERCISES = sorted(p.relative_to(DOCS / "exercises").as_posix() for p in (DOCS / "exercises").rglob("*.md"))
SOLUTION = re.compile(r'^\?\?\? success "参考答案"\n((?:[ \t]*\n|    .*\n)*)', re.MULTILINE)
CHECKED_BLOCK = re.compile(r'^    ```python\n.*?^    ```\n\s*^    ```text title="输出"\n', re.MULTILINE | re.DOTALL)
SELF_CHECK = re.compile(r"^\s*import torch$|gradcheck|numerical_gradient", re.MULTILINE)


def _exercise(page):
    return (DOCS / "exercises" / page).read_text(encoding="utf-8")


# the page anatomy's one collapsed workshop block, which may follow the exercises (tests/test_page_anatomy.py)
DETAILS = re.compile(r'\n\?\?\? info "实现细节"\n(?:[ \t]*\n|    .*\n?)*\Z')


@pytest.mark.parametrize("page", PAGES)
def test_page_ends_with_its_exercises(page):
    lines = DETAILS.sub("", (DOCS / page).read_text(encoding="utf-8")).rstrip().split("\n")
    assert lines[-1] == f'--8<-- "docs/exercises/{page}"', f"{page} does not end with its exercises' include"
    assert (DOCS / "exercises" / page).is_file()


def test_no_exercise_file_without_its_page():
    assert set(EXERCISES) <= set(PAGES), f"exercises without a page: {sorted(set(EXERCISES) - set(PAGES))}"


@pytest.mark.parametrize("page", EXERCISES)
def test_two_to_four_exercises_each_with_a_checked_solution(page):
    text = _exercise(page)
    assert text.startswith("## 练习\n"), f"{page}: the section must start with '## 练习'"
    numbers = [int(n) for n in re.findall(r"^\*\*练习 (\d+)", text, re.MULTILINE)]
    assert 2 <= len(numbers) <= 4 and numbers == list(range(1, len(numbers) + 1)), f"{page}: exercises {numbers}"
    solutions = SOLUTION.findall(text)
    assert len(solutions) == len(numbers), f"{page}: {len(numbers)} exercises, {len(solutions)} collapsed solutions"
    for i, body in enumerate(solutions, 1):
        assert CHECKED_BLOCK.search(body), f"{page}, 练习 {i}: no python block with its 输出 in the solution"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_each_chapter_has_a_self_checking_coding_exercise(chapter):
    solutions = [body for page in EXERCISES if page.startswith(chapter)
                 for body in SOLUTION.findall(_exercise(page))]
    assert any(SELF_CHECK.search(body) for body in solutions), \
        f"{chapter}: no solution checks itself against torch or a numerical gradient"
