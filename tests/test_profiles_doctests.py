"""Docstring examples of the profiles and maps stages run as tests."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "segmentum.profiles.profile",
    "segmentum.profiles.personas",
    "segmentum.profiles.exclusivity",
    "segmentum.maps.white_space",
    "segmentum.maps.themes",
    "segmentum.maps.projection",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
