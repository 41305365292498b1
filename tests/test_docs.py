"""The documentation builds with warnings as errors, and its code runs.

The Sphinx build executes every gallery example (``examples/plot_*.py``), so this is
also the test that the examples run. It needs the ``docs`` extra
(``pip install -e ".[docs]"``) and is skipped, saying so, without it.
"""

import doctest
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
EXAMPLES = ROOT / "examples"
DOCS_REQUIREMENTS = (
    "sphinx",
    "numpydoc",
    "sphinx_gallery",
    "myst_parser",
    "matplotlib",
)
MISSING = [name for name in DOCS_REQUIREMENTS if importlib.util.find_spec(name) is None]

needs_docs_extra = pytest.mark.skipif(
    bool(MISSING),
    reason=f"docs extra not installed (missing {', '.join(MISSING)}); "
    'install it with: pip install -e ".[docs]"',
)


PUBLIC_PAGES = [
    "sk_dispersion.SphereDisperser",
    "sk_dispersion.LloydDisperser",
    "sk_dispersion.MMDDisperser",
    "sk_dispersion.MMADisperser",
    "sk_dispersion.KoLeoDisperser",
    "sk_dispersion.Disperser",
    "sk_dispersion.disperse",
    "sk_dispersion.make_prototypes",
    "sk_dispersion.postprocessing.AllButTheTop",
    "sk_dispersion.postprocessing.HubnessReducer",
    "sk_dispersion.losses.get_loss",
    "sk_dispersion.losses.DispersionLoss",
    *(
        f"sk_dispersion.losses.{name}_loss"
        for name in ("sliced", "sliced_axis", "lloyd", "mmd", "uniformity")
        + ("mma", "mmcs", "koleo", "ssw")
    ),
    "sk_dispersion.metrics.min_angle",
    "sk_dispersion.metrics.nearest_neighbor_angles",
    "sk_dispersion.metrics.circular_variance",
    "sk_dispersion.metrics.riesz_energy",
    "sk_dispersion.metrics.uniformity",
    "sk_dispersion.metrics.hubness",
    "sk_dispersion.metrics.dispersion_report",
    "sk_dispersion.sphere.normalize",
]


def _build_env():
    env = dict(os.environ)
    # One torch/OpenMP thread: the examples use small tensors, and on a shared
    # machine thread oversubscription makes them many times slower.
    env.setdefault("OMP_NUM_THREADS", "1")
    env["MPLBACKEND"] = "Agg"
    return env


@pytest.fixture(scope="module")
def built_docs(tmp_path_factory):
    """Build a copy of docs/ and examples/ (the source tree stays clean)."""
    workdir = tmp_path_factory.mktemp("docs")
    ignore = shutil.ignore_patterns(
        "_build", "generated", "auto_examples", "__pycache__"
    )
    shutil.copytree(DOCS, workdir / "docs", ignore=ignore)
    shutil.copytree(EXAMPLES, workdir / "examples", ignore=ignore)
    html = workdir / "html"
    command = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html"]
    result = subprocess.run(
        [*command, str(workdir / "docs"), str(html)],
        capture_output=True,
        text=True,
        env=_build_env(),
        timeout=900,
    )
    return result, html


@needs_docs_extra
def test_docs_build_without_warnings(built_docs):
    result, html = built_docs
    assert result.returncode == 0, (
        f"sphinx-build -W failed (exit {result.returncode}):\n"
        f"{result.stderr[-6000:]}\n{result.stdout[-2000:]}"
    )
    assert (html / "index.html").is_file()


@needs_docs_extra
@pytest.mark.parametrize("name", PUBLIC_PAGES)
def test_every_public_name_has_an_api_page(built_docs, name):
    result, html = built_docs
    assert result.returncode == 0, "the docs build failed; see the test above"
    page = html / "generated" / f"{name}.html"
    assert page.is_file(), f"no API page for {name}"
    text = page.read_text(encoding="utf-8")
    assert "Parameters" in text or "Examples" in text, f"{name}'s page has no docstring"


@needs_docs_extra
def test_gallery_examples_ran_and_made_figures(built_docs):
    result, html = built_docs
    assert result.returncode == 0, "the docs build failed; see the test above"
    examples = sorted(p.stem for p in EXAMPLES.glob("plot_*.py"))
    assert examples, "no gallery examples found"
    for stem in examples:
        page = html / "auto_examples" / f"{stem}.html"
        assert page.is_file(), f"gallery page missing for {stem}"
        figures = list((html / "_images").glob(f"sphx_glr_{stem}_*.png"))
        assert figures, f"{stem} made no figure"


def _rst_with_doctests():
    return sorted(
        path.relative_to(ROOT).as_posix()
        for path in DOCS.rglob("*.rst")
        if re.search(r"^>>> ", path.read_text(encoding="utf-8"), re.MULTILINE)
    )


@pytest.mark.parametrize("path", _rst_with_doctests())
def test_code_in_the_guide_runs(path):
    """The >>> examples of the hand-written pages are doctests: they must pass."""
    pytest.importorskip("sklearn")
    failures, attempted = doctest.testfile(
        str(ROOT / path),
        module_relative=False,
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
        verbose=False,
        report=True,
    )
    assert attempted > 0
    assert failures == 0, f"{failures} of {attempted} doctest(s) in {path} failed"
