"""The registry lists every public class once, and everything it names exists.

A class exported by ``nnref`` that is a layer, loss or optimiser but missing from
``nnref.registry`` fails here: the cross-cutting tests (torch signatures and parity,
CPU/GPU agreement, bad inputs, the API page) would silently leave it out otherwise.
"""
from pathlib import Path

import pytest

import nnref
from nnref import layers, registry
from nnref.module import Module
from nnref.optim import Optimizer
from tests.cases import CASES

ROOT = Path(__file__).resolve().parent.parent
NAMES = [e.name for e in registry.ALL]


def _public_classes():
    for name in nnref.__all__:
        obj = getattr(nnref, name)
        if obj in (Module, Optimizer):
            continue                    # the base classes
        if isinstance(obj, type) and (issubclass(obj, (Module, Optimizer)) or name.endswith("Loss")):
            yield name


def test_every_public_class_is_registered():
    missing = sorted(set(_public_classes()) - set(NAMES))
    assert not missing, f"public classes missing from nnref/registry.py: {missing}"


def test_each_class_is_registered_once():
    assert len(NAMES) == len(set(NAMES))


@pytest.mark.parametrize("entry", registry.ALL, ids=NAMES)
def test_registered_class_is_exported(entry):
    cls = getattr(nnref, entry.name)
    assert isinstance(cls, type)
    if entry in registry.LAYERS:
        assert getattr(layers, entry.name) is cls, "layers are exported from nnref.layers too (same object)"


@pytest.mark.parametrize("entry", registry.LAYERS, ids=[e.name for e in registry.LAYERS])
def test_every_layer_has_cases(entry):
    if entry.name in registry.CONTAINERS:
        return
    assert [c for c in CASES if c.layer == entry.name], f"add cases for {entry.name} to tests/cases.py"


def test_cases_name_registered_layers():
    unknown = sorted({c.layer for c in CASES} - set(NAMES))
    assert not unknown, f"tests/cases.py names unregistered layers: {unknown}"


@pytest.mark.parametrize("entry", registry.ALL, ids=NAMES)
def test_page_teaches_the_class(entry):
    page = ROOT / "docs" / entry.page
    assert page.is_file(), f"{entry.name}: page docs/{entry.page} does not exist"
    assert entry.name in page.read_text(encoding="utf-8"), f"docs/{entry.page} never names {entry.name}"


@pytest.mark.parametrize("entry", registry.ALL, ids=NAMES)
def test_api_page_lists_the_class(entry):
    """The API page documents every registered class (through its module's ``:::`` block)."""
    api = (ROOT / "docs" / "api" / "index.md").read_text(encoding="utf-8")
    module = getattr(nnref, entry.name).__module__
    assert f"::: {module}" in api, f"docs/api/index.md has no '::: {module}' block for {entry.name}"
