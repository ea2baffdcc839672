"""The storyaudio error tree.

    StoryAudioError                  every error storyaudio raises on purpose
    ├── UserError                    the user can fix it; the CLI exits with code 2, no traceback
    │   ├── ScriptError              a script breaks the schema or a rule; carries every Problem (row, field, fix)
    │   ├── ScriptReadError          a file that cannot be read as a script at all (format, encoding, headers)
    │   ├── UnknownBackendError      --use names a backend that is not registered, or not of that kind
    │   ├── BackendUnavailableError  a backend's dependency, model file or device is missing; says what to install
    │   ├── OptionError              --set names an unknown option or gives it a bad value
    │   └── WriterError              the LLM never produced a valid script, or the endpoint refused us
    └── RenderError                  a backend failed while rendering a row (a bug or a broken model): exit 1

Every message says what is wrong and how to fix it.
"""

from __future__ import annotations

from dataclasses import dataclass


class StoryAudioError(Exception):
    """Base of every error storyaudio raises on purpose."""

    exit_code = 1


class UserError(StoryAudioError):
    """Bad input the user can fix. The CLI prints the message and exits with code 2."""

    exit_code = 2


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a script: where (1-based row, as a person counts table rows; None for the whole
    script), which field, what is wrong and how to fix it."""

    row: int | None
    field: str | None
    message: str
    fix: str = ""

    def __str__(self) -> str:
        where = f"row {self.row}" if self.row is not None else "script"
        if self.field:
            where += f", {self.field}"
        text = f"{where}: {self.message}"
        if self.fix:
            text += f" Fix: {self.fix}"
        return text

    def to_dict(self) -> dict:
        return {"row": self.row, "field": self.field, "message": self.message, "fix": self.fix}


class ScriptError(UserError):
    """A script that breaks the schema or a semantic rule. ``problems`` lists every one found."""

    def __init__(self, problems: list[Problem], source: str | None = None):
        self.problems = list(problems)
        self.source = source
        head = f"{source}: " if source else ""
        n = len(self.problems)
        lines = [f"{head}the script has {n} problem{'s' if n != 1 else ''}:"]
        lines += [f"  - {p}" for p in self.problems]
        super().__init__("\n".join(lines))


class ScriptReadError(UserError):
    """A file that cannot be read as a script (unknown extension, missing headers, broken JSON)."""


class UnknownBackendError(UserError):
    """A backend name that is not registered, or registered for another kind."""


class BackendUnavailableError(UserError):
    """A backend whose dependency, weights or device is missing. The message names what to install."""


class OptionError(UserError):
    """An unknown backend option or a bad value for one."""


class WriterError(UserError):
    """The writer could not get a valid script from the LLM (after repair turns), or the endpoint failed."""


class DiskFullError(UserError):
    """The disk holding the output folder filled up while the render wrote its files (nothing was moved in)."""


class RenderError(StoryAudioError):
    """A backend failed while rendering one row."""

    def __init__(self, message: str, row: int | None = None):
        self.row = row
        super().__init__(f"row {row}: {message}" if row is not None else message)
