"""Composition: which services exist, how one is hosted, the embedded platform, `parovoz serve`."""
