"""The content engine: game builds as signed chunk manifests, installed and updated by delta
(docs/CONTENT.md)."""
