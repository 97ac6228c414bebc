"""The README's examples run as written (in order, sharing one namespace)."""

import pathlib
import re

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_examples_run(capsys):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) >= 3
    namespace = {}
    for code in blocks:
        exec(compile(code, str(README), "exec"), namespace)
    # the deep example prints test accuracy and the flipped samples' mean weight
    acc, w_flipped = map(float, capsys.readouterr().out.split()[-2:])
    assert acc > 0.85 and w_flipped < 0.2
