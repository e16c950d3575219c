"""The documentation site builds with ``mkdocs build --strict``: a broken link, an API page naming a module that
moved, or a docstring reference (``:class:`X```) to a name that no longer exists fails the build
(``docs/hooks.py`` checks every reference in the package), and with it the suite. Also: every module of the
package has its place in the API reference, every ``lightning_dl.…`` name the pages mention exists, and the README
stays a short getting-started page whose links lead somewhere."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from conftest import REPO


def mkdocs_build(config: Path, site: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "PYTHONPATH": os.pathsep.join(
        [str(REPO), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config), "-d", str(site)],
                          cwd=config.parent, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site, built once with --strict into a temporary folder."""
    site = tmp_path_factory.mktemp("site")
    built = mkdocs_build(REPO / "mkdocs.yml", site)
    assert built.returncode == 0, f"mkdocs build --strict failed:\n{built.stdout[-3000:]}\n{built.stderr[-5000:]}"
    return site


def test_every_page_of_the_nav_is_built(site):
    for page in ["index.html", "design/index.html", "gans/index.html", "multinode/index.html", "results/gans/index.html",
                 "convnets/index.html", "autoencoders/index.html", "sequences/index.html",
                 "results/autoencoders/index.html", "results/sequences/index.html", "transfer/index.html",
                 "results/transfer/index.html", "notebooks/02_convnets/index.html",
                 "notebooks/03_autoencoders/index.html", "notebooks/05_sequences/index.html",
                 "api/models/index.html", "api/platform/index.html", "notebooks/04_gans/index.html",
                 "changelog/index.html"]:
        assert (site / page).is_file(), page


def test_the_api_reference_comes_from_the_docstrings(site):
    models = (site / "api" / "models" / "index.html").read_text()
    assert "BaseModule" in models and "OptimizerCallable" in models
    assert "Every LightningModule" in models or "module base" in models.lower()


def test_the_notebooks_are_rendered_with_their_figures(site):
    for notebook in sorted((REPO / "notebooks").glob("*.ipynb")):
        html = (site / "notebooks" / notebook.stem / "index.html").read_text()
        assert html.count("data:image/png;base64") >= 1, notebook.name


def test_the_changelog_page_is_the_changelog(site):
    assert "Optimiser syntax" in (site / "changelog" / "index.html").read_text()


def api_directives() -> set[str]:
    """The modules the API reference renders (``::: lightning_dl.x`` lines of ``docs/api/*.md``)."""
    return {match for page in (REPO / "docs" / "api").glob("*.md")
            for match in re.findall(r"^::: (\S+)", page.read_text(), re.MULTILINE)}


def test_every_module_of_the_package_is_in_the_api_reference():
    """A module added to the package (a new family's loop, a new callback) gets a ``:::`` line on an API page; a
    package's ``__init__`` only re-exports, so naming its modules is enough."""
    modules = {".".join(path.relative_to(REPO).with_suffix("").parts)
               for path in (REPO / "lightning_dl").rglob("*.py") if path.name != "__init__.py"}
    assert modules, "no modules found"
    assert sorted(modules - api_directives()) == []


NAME = re.compile(r"\blightning_dl(?:\.[A-Za-z_][A-Za-z0-9_]*)+")


def test_every_lightning_dl_name_the_pages_mention_exists():
    """``lightning_dl.cli.main`` in a page after the entry point moved to ``lightning_dl.__main__`` fails here
    (the changelog may name what was removed, so it is not checked)."""
    hooks = load_hooks()
    pages = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
    missing = sorted({f"{page.relative_to(REPO)}: {name}" for page in pages
                      for name in NAME.findall(page.read_text()) if not hooks._importable(name)})
    assert missing == []


def test_a_broken_link_fails_the_strict_build(tmp_path):
    """The site's own validation settings turn a link to a missing page into a failed build."""
    config = yaml.safe_load((REPO / "mkdocs.yml").read_text())
    tiny = {"site_name": "t", "docs_dir": "docs", "validation": config["validation"], "nav": ["index.md"]}
    (tmp_path / "docs").mkdir()
    (tmp_path / "mkdocs.yml").write_text(yaml.safe_dump(tiny))
    (tmp_path / "docs" / "index.md").write_text("# t\n\n[fine](#t)\n")
    assert mkdocs_build(tmp_path / "mkdocs.yml", tmp_path / "site").returncode == 0
    (tmp_path / "docs" / "index.md").write_text("# t\n\nSee [the GAN page](gans.md).\n")
    failed = mkdocs_build(tmp_path / "mkdocs.yml", tmp_path / "site")
    assert failed.returncode != 0 and "gans.md" in failed.stderr


def load_hooks():
    spec = importlib.util.spec_from_file_location("docs_hooks", REPO / "docs" / "hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_docstring_reference_to_a_moved_name_is_reported(tmp_path, monkeypatch):
    package = tmp_path / "fakepkg"
    package.mkdir()
    (package / "__init__.py").write_text('"""See :mod:`fakepkg.models` and :func:`fakepkg.models.helper`."""\n')
    (package / "models.py").write_text(textwrap.dedent('''
        """Models; :class:`Base` is the base, :class:`Renamed` was moved away."""


        def helper():
            """Used by :meth:`Base.run` and :class:`Child`."""


        class Base:
            """Calls :meth:`run`, keeps :attr:`state` and :attr:`gone`."""

            def __init__(self):
                self.state = 1

            def run(self):
                """See :class:`~fakepkg.models.Base` and :func:`json.dumps`."""


        class Child(Base):
            """A :class:`Base` whose :meth:`run` is inherited; see :func:`missing_function`."""
    '''))
    monkeypatch.syspath_prepend(str(tmp_path))
    hooks = load_hooks()
    monkeypatch.setattr(hooks, "PACKAGE", "fakepkg")
    problems = hooks.unresolved_references("fakepkg")
    assert len(problems) == 3, problems
    assert any(":class:`Renamed`" in p for p in problems)
    assert any(":attr:`gone`" in p and "Base" in p for p in problems)
    assert any(":func:`missing_function`" in p for p in problems)


def test_the_readme_is_a_short_getting_started_page_whose_links_resolve():
    readme = (REPO / "README.md").read_text()
    assert len(readme.splitlines()) < 250
    assert "make train" in readme and "make test" in readme
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", readme):
        if not target.startswith(("http://", "https://")):
            assert (REPO / target).exists(), f"README links to {target}, which does not exist"


def test_make_docs_builds_the_site():
    makefile = (REPO / "Makefile").read_text()
    assert re.search(r"^docs:.*\n(\t.*\n)*\t.*mkdocs build --strict", makefile, re.MULTILINE)
