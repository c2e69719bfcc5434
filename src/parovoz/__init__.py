"""Parovoz: the backend of a game distribution platform."""

__version__ = "0.1.0"
