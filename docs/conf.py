"""Sphinx configuration for sk_dispersion.

The build is offline (no intersphinx: inventories would have to be fetched) and is
meant to run with ``-W`` so that every warning fails it; ``tests/test_docs.py``
builds it that way.
"""

import os
import re
import sys
import warnings
from pathlib import Path

DOCS_DIR = Path(__file__).resolve().parent
ROOT_DIR = DOCS_DIR.parent
sys.path.insert(0, str(ROOT_DIR))

import sk_dispersion  # noqa: E402

project = "sk-dispersion"
author = "sk_dispersion developers"
copyright = "2026, sk_dispersion developers"
release = sk_dispersion.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "**/README.md"]
default_role = "literal"
nitpicky = False

# The benchmark pages are markdown written by the benchmark scripts (docs/benchmarks/):
# their heading levels and links into the repository (scripts, DESIGN.md) are not ours
# to police, and must not break the build. Only markdown (myst) warnings are silenced;
# the hand-written pages are reStructuredText.
suppress_warnings = ["myst.header", "myst.xref_missing"]
myst_enable_extensions = ["dollarmath"]
myst_heading_anchors = 3

autosummary_generate = True
autosummary_imported_members = False
autodoc_typehints = "none"
autodoc_default_options = {"member-order": "bysource"}

# numpydoc renders the Parameters/Returns sections; autosummary lists the members
# (numpydoc's own member tables would need a stub page per inherited method).
numpydoc_show_class_members = False
numpydoc_show_inherited_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_use_plots = False

html_theme = "alabaster"
html_title = f"sk-dispersion {release}"
html_theme_options = {
    "description": "Dispersed embeddings on the unit hypersphere",
    "fixed_sidebar": True,
    "page_width": "1100px",
    "sidebar_width": "240px",
}
html_sidebars = {"**": ["about.html", "navigation.html", "searchbox.html"]}
html_show_sourcelink = False

# Gallery: every examples/plot_*.py is executed at build time on CPU.
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT_DIR / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"__init__\.py",
    "doc_module": ("sk_dispersion",),
    "backreferences_dir": "generated",
    "reference_url": {"sk_dispersion": None},
    "abort_on_example_error": True,
    "only_warn_on_example_error": False,
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "min_reported_time": 1,
    "plot_gallery": os.environ.get("SK_DISPERSION_DOCS_PLOT", "True"),
}

# Examples must run on a CPU-only machine, even when a GPU is present, so the
# figures and timings in the docs do not depend on where they were built.
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("MPLBACKEND", "Agg")

warnings.filterwarnings(
    "ignore",
    category=UserWarning,
    message="Matplotlib is currently using agg",
)


BENCHMARK_PLACEHOLDER = ".. benchmark-tables-go-here"


def _benchmark_toctree():
    """A toctree of docs/benchmarks/*.md, or a note when none is committed yet."""
    pages = sorted(p.stem for p in (DOCS_DIR / "benchmarks").glob("*.md"))
    if not pages:
        return "No benchmark tables have been committed yet.\n"
    entries = "\n".join(f"   benchmarks/{page}" for page in pages)
    return f".. toctree::\n   :maxdepth: 2\n\n{entries}\n"


def _fill_benchmark_toctree(app, docname, source):
    if docname == "benchmarks":
        source[0] = source[0].replace(BENCHMARK_PLACEHOLDER, _benchmark_toctree())


_SHAPE = re.compile(r"shape \(([^)]*)\)")
_TRAILING_UNDERSCORE = re.compile(r"\b(\w+)_(?=[\s,)]|$)")


def _escape_shape_names(app, what, name, obj, options, lines):
    """Escape fitted-attribute names in shapes, e.g. ``(n_components_, n_hidden)``.

    In reStructuredText ``word_`` is a hyperlink reference; scikit-learn-style
    docstrings write such names in "of shape (...)" type lines, which would otherwise
    fail the build with "Unknown target name".
    """
    for index, line in enumerate(lines):
        lines[index] = _SHAPE.sub(
            lambda match: (
                "shape (" + _TRAILING_UNDERSCORE.sub(r"\1\\_", match.group(1)) + ")"
            ),
            line,
        )


CLI_PLACEHOLDER = ".. cli-help-goes-here"
CLI_COMMANDS = ("demo", "disperse", "transform", "metrics", "prototypes")


def _cli_help(arguments):
    """What ``sk-dispersion ARGUMENTS`` prints, at a fixed width."""
    import contextlib
    import io

    from sk_dispersion.cli import build_parser

    os.environ["COLUMNS"] = "88"
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
        build_parser().parse_args(arguments)
    return out.getvalue()


def _cli_reference():
    sections = []
    for name, arguments in [("sk-dispersion", ["--help"])] + [
        (f"sk-dispersion {command}", [command, "--help"]) for command in CLI_COMMANDS
    ]:
        text = "\n".join("   " + line for line in _cli_help(arguments).splitlines())
        sections.append(
            f"``{name}``\n{'-' * (len(name) + 4)}\n\n.. code-block:: text\n\n{text}\n"
        )
    return "\n".join(sections)


def _fill_cli_reference(app, docname, source):
    if docname == "cli":
        source[0] = source[0].replace(CLI_PLACEHOLDER, _cli_reference())


def setup(app):
    app.connect("source-read", _fill_benchmark_toctree)
    app.connect("source-read", _fill_cli_reference)
    # Before numpydoc (priority 500) turns the sections into reStructuredText.
    app.connect("autodoc-process-docstring", _escape_shape_names, priority=400)
