"""MkDocs hooks of the documentation site.

The docstrings refer to other names with Sphinx roles (``:class:`GAN```, ``:func:`~lightning_dl.x.y```), which
mkdocstrings shows as code but does not check. :func:`on_pre_build` resolves every such reference in the package
and logs a warning for each one that names nothing, so ``mkdocs build --strict`` (and ``tests/test_docs.py``)
fails when a name is moved or renamed and a docstring still points at the old one.
"""

from __future__ import annotations

import builtins
import importlib
import inspect
import logging
import pkgutil
import re
from types import ModuleType
from typing import Any

log = logging.getLogger("mkdocs.hooks.docstring_references")
ROLE = re.compile(r":(?:class|func|meth|attr|mod|data|obj|exc):`~?\.?([^`<>]+)`")
PACKAGE = "lightning_dl"


def _lookup(scope: Any, dotted: str) -> bool:
    """Whether ``dotted`` names an attribute chain of ``scope`` (a module, class or dict of globals)."""
    first, *rest = dotted.split(".")
    try:
        value = scope[first] if isinstance(scope, dict) else getattr(scope, first)
        for part in rest:
            value = getattr(value, part)
    except (KeyError, AttributeError):
        return False
    return True


def _importable(dotted: str) -> bool:
    """Whether ``dotted`` is a module, or an attribute chain of one, that can be imported."""
    parts = dotted.split(".")
    for end in range(len(parts), 0, -1):
        try:
            module = importlib.import_module(".".join(parts[:end]))
        except ImportError:
            continue
        return end == len(parts) or _lookup(module, ".".join(parts[end:]))
    return False


def _assigned_on_self(owner: type, name: str) -> bool:
    """Whether a class of ``owner``'s MRO (from this package) assigns ``self.<name>`` or annotates ``name``."""
    for base in inspect.getmro(owner):
        if not base.__module__.startswith(PACKAGE):
            continue
        if name in getattr(base, "__annotations__", {}):
            return True
        try:
            source = inspect.getsource(base)
        except (OSError, TypeError):
            continue
        if re.search(rf"self\.{re.escape(name)}\s*(:[^=]+)?=", source):
            return True
    return False


def resolves(name: str, module: ModuleType, owner: type | None = None) -> bool:
    """Whether a docstring reference ``name`` found in ``module`` (in a member of ``owner``) names something:
    a global of the module, an attribute of the owner class, of a class of the module (``:meth:`setup``` in a
    class's text about another), a builtin, or an importable dotted path."""
    name = name.strip().removesuffix("()")
    scopes: list[Any] = [vars(module), builtins]
    if owner is not None:
        scopes.append(owner)
        scopes.append({base.__name__: base for base in inspect.getmro(owner)})  # :class:`GAN` in a subclass
        if "." not in name and _assigned_on_self(owner, name):
            return True  # an instance attribute, set in a method as ``self.name``
    if "." not in name:
        scopes += [v for v in vars(module).values() if inspect.isclass(v)]
    return any(_lookup(scope, name) for scope in scopes) or _importable(name)


def _documented(module: ModuleType):
    """(docstring, owner class) of the module, its classes and functions, and the classes' own members."""
    yield inspect.getdoc(module) or "", None
    for value in list(vars(module).values()):
        if getattr(value, "__module__", None) != module.__name__:
            continue
        if inspect.isclass(value):
            yield inspect.getdoc(value) or "", value
            for member in list(vars(value).values()):
                target = member.fget if isinstance(member, property) else getattr(member, "__func__", member)
                if callable(target) or isinstance(member, property):
                    yield (target.__doc__ or "") if target is not None else "", value
        elif inspect.isfunction(value):
            yield inspect.getdoc(value) or "", None


def unresolved_references(package: str = PACKAGE) -> list[str]:
    """Every docstring reference in ``package`` that names nothing, as ``module: :role:`name```."""
    root = importlib.import_module(package)
    modules = [root] + [importlib.import_module(info.name)
                        for info in pkgutil.walk_packages(root.__path__, prefix=f"{package}.")]
    problems = []
    for module in modules:
        for doc, owner in _documented(module):
            for match in ROLE.finditer(doc):
                if not resolves(match.group(1), module, owner):
                    where = module.__name__ + (f".{owner.__name__}" if owner is not None else "")
                    problems.append(f"{where}: {match.group(0)} names nothing (moved or renamed?)")
    return sorted(set(problems))


def on_pre_build(config: Any, **kwargs: Any) -> None:
    """Warn (an error under ``--strict``) for each docstring reference that names nothing."""
    for problem in unresolved_references():
        log.warning(f"Docstring reference: {problem}")
