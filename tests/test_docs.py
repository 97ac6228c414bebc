"""The docs pages' Python examples run as written (each page in one namespace)."""

import pathlib
import re

import pytest

DOCS = pathlib.Path(__file__).resolve().parents[1] / "docs"


@pytest.mark.parametrize("page", ["user-guide.md", "interpolation.md", "coming-from.md",
                                  "support.md", "choosing.md"])
def test_docs_examples_run(page, capsys):
    text = (DOCS / page).read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks
    namespace = {}
    for code in blocks:
        exec(compile(code, str(DOCS / page), "exec"), namespace)
