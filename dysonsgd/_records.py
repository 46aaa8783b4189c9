"""A mixin for result dataclasses read both by attribute and as a mapping."""

from __future__ import annotations

from dataclasses import fields


class FieldsAsMapping:
    """For frozen dataclasses: ``obj["name"]`` reads a field and ``to_dict()`` gives them all.

    Lets a result that used to be a plain dict keep its callers' ``obj["key"]`` access while
    being a typed, documented object; ``to_dict()`` is what ``--json`` prints.
    """

    def __getitem__(self, key: str):
        if key not in self._names():
            raise KeyError(key)
        return getattr(self, key)

    @classmethod
    def _names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    def to_dict(self) -> dict:
        """The fields keyed by name, in definition order; numpy values left as they are."""
        return {name: getattr(self, name) for name in self._names()}
