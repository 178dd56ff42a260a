"""Shared fixtures of the problem-registry tests."""

from __future__ import annotations

import pytest

from problems import register
from problems.registry import _FAMILIES


@pytest.fixture
def refuses_registration():
    """``check(cls, match)``: registering the family ``cls`` raises a ValueError matching
    ``match``; the registry is left as it was either way."""
    def check(cls, match: str) -> None:
        try:
            with pytest.raises(ValueError, match=match):
                register(cls)
        finally:
            _FAMILIES.pop(cls.family, None)
    return check
