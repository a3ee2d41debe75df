"""livefoley.sidecar (see README.md in this folder)."""
