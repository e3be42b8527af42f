"""The README and docs/: links resolve inside the repository, and the flow picture is its source's."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
_LINK = re.compile(r"\]\(([^)\s]+)\)")


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(REPO)))
def test_every_link_resolves_inside_the_repository(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    broken = []
    for target in _LINK.findall(text):
        if target.startswith(("http://", "https://", "mailto:", "#")):
            continue
        resolved = (page.parent / target.split("#", 1)[0]).resolve()
        if not resolved.exists() or REPO not in resolved.parents:
            broken.append(target)
    assert broken == []
    assert "../shared" not in text


def test_the_readme_fits_on_about_two_screens() -> None:
    assert len((REPO / "README.md").read_text(encoding="utf-8").splitlines()) <= 120


def test_the_flow_picture_is_what_its_source_draws(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("flow", REPO / "docs" / "images" / "flow.py")
    assert spec is not None and spec.loader is not None
    flow = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(flow)
    drawn = flow.draw(tmp_path / "flow.svg")
    assert drawn.read_bytes() == (REPO / "docs" / "images" / "flow.svg").read_bytes()
