"""The Python API exactly as README shows it, run in a fresh folder."""

import os
import re
from pathlib import Path

import dlexp

from .helpers import needs_mnist

README = Path(__file__).parent.parent / "README.md"


def readme_example() -> str:
    (block,) = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    return block


@needs_mnist
def test_the_readme_example_runs_as_written(tmp_path, monkeypatch, capsys):
    data = Path(os.environ["DLEXP_DATA_DIR"]).resolve()  # CI gives it relative to the checkout
    monkeypatch.setenv("DLEXP_DATA_DIR", str(data))
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(readme_example(), namespace)
    result = namespace["result"]
    assert result.folder == Path("results/vanishing-gradient/tiny")
    assert {"variant", "seed", "epoch", "layer", "metric", "value"} <= set(result.metrics.columns)
    assert [v.id for v in result.verdicts][:2] == ["vanishing", "exploding"]
    assert all(path.suffix == ".png" and path.exists() for path in result.figures)
    assert "exploding" in capsys.readouterr().out
    again = dlexp.load(result.folder)
    assert again.metrics.equals(result.metrics) and again.scale == "tiny"
