"""The experiments ship inside the package: a built wheel holds every experiment folder."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from dlexp.registry import available

ROOT = Path(__file__).parent.parent


def test_the_wheel_ships_every_experiment_folder(tmp_path):
    source = tmp_path / "source"  # a copy, so that the build leaves nothing in the checkout
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "build")
    for part in ("dlexp", "experiments"):
        shutil.copytree(ROOT / part, source / part, ignore=ignore)
    for file in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / file, source / file)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path), str(source)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    (wheel,) = tmp_path.glob("dlexp-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "dlexp/experiments/__init__.py" in names
    assert any(name.startswith("dlexp/templates/") for name in names)
    (entry_points,) = [name for name in names if name.endswith(".dist-info/entry_points.txt")]
    scripts = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "dlexp = dlexp.cli:main" in scripts  # the exit that skips Python's teardown
    for experiment, declaration in available().items():
        for file in declaration.parent.iterdir():
            if file.suffix in (".py", ".toml"):
                assert f"dlexp/experiments/{experiment}/{file.name}" in names
