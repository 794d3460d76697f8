"""The schema of an experiment declaration (`experiment.toml`), checked by pydantic on load:
what each table holds, its types, and the rules that keep a declaration safe to run and to show
(the name is one folder name, claim prose names only its params, protocol keys have no dots)."""

from __future__ import annotations

import re
import string
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)


def _slug(text: str) -> str:
    """A name that is safe as one folder name: it can never reach outside `--out`."""
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,63}", text):
        raise ValueError(
            "must be a slug: 1 to 64 lowercase letters, digits and hyphens, starting with a "
            "letter or digit (no spaces, dots or slashes)"
        )
    return text


Slug = Annotated[str, AfterValidator(_slug)]
Text = Annotated[str, StringConstraints(min_length=1)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Source(Strict):
    deck: Text
    slide: Text
    also: str = ""


class ClaimSpec(Strict):
    """One checkable sentence of the lecture; `check` names a check of the experiment's code.

    `text` may name `params` in braces ({min_gain_points}); `sentence` fills them in."""

    id: Slug
    text: Text
    quote: str = ""
    kind: Literal["identity", "empirical"]
    check: Text
    reference: str = ""
    params: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _placeholders_are_params(self) -> ClaimSpec:
        """Every {placeholder} of `text` names one of `params`, so `sentence` never fails."""
        try:
            fields = [field for _, field, _, _ in string.Formatter().parse(self.text) if field]
        except ValueError as error:
            raise ValueError(f"text has a stray brace ({error}); write {{{{ for a brace") from None
        unknown = [f for f in fields if f not in self.params]
        if unknown:
            raise ValueError(
                f"text names {{{unknown[0]}}}, which is not one of its params "
                f"({', '.join(self.params) or 'none'})"
            )
        try:
            self.text.format(**self.params)
        except (LookupError, ValueError, TypeError, AttributeError) as error:
            raise ValueError(f"text cannot be filled in from its params ({error})") from None
        return self

    @property
    def sentence(self) -> str:
        return self.text.format(**self.params)


class Declaration(Strict):
    name: Slug
    title: Text
    claim: Text
    source: Source
    finding: Slug | None = None
    protocol: dict[str, Any]
    scales: dict[str, dict[str, Any]] = Field(default_factory=dict)
    runtime: dict[str, str] = Field(default_factory=dict)
    reference: dict[str, Any] = Field(default_factory=dict)
    claims: list[ClaimSpec] = Field(default_factory=list)

    @model_validator(mode="after")
    def _keys_are_names(self) -> Declaration:
        """Protocol keys are plain names (no dots), so that `table.key` reaches one entry."""
        tables = [("protocol", self.protocol), *((f"scale {s}", t) for s, t in self.scales.items())]
        while tables:
            where, table = tables.pop()
            for key, value in table.items():
                if not re.fullmatch(r"[A-Za-z0-9_-]+", key):
                    raise ValueError(
                        f"{where} has key {key!r}, not a plain name (letters, digits, _ and -)"
                    )
                if isinstance(value, dict):
                    tables.append((where, value))
        return self
