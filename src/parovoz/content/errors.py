"""The content engine's errors: each carries a message fit to show a user as it is (the CLI prints it
and exits non-zero, never a traceback)."""

from __future__ import annotations


class ContentError(Exception):
    """Base of every error the content engine raises on purpose."""


class ChunkNotFound(ContentError):
    """A chunk store has no blob under the id asked for."""


class ChunkCorrupt(ContentError):
    """A blob is damaged: bad header, wrong size, failed tag, or plain bytes that do not hash to its id."""


class ManifestRejected(ContentError):
    """A manifest whose signature does not verify or whose content is hostile or inconsistent."""


class UnsafePath(ManifestRejected):
    """A path that would reach outside the install directory (`..`, absolute, symlink out, ...)."""


class ChunkFetchFailed(ContentError):
    """A chunk could not be fetched from a remote store (after retries), or the answer was refused."""


class SourceRejected(ContentError):
    """A build source that cannot be shipped as it is: a symlink, a special file, an unreadable name."""


class KeyInvalid(ContentError):
    """A signing or depot key that cannot be read, or is of the wrong kind or size."""
