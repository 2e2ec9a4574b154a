"""The error every frame loader raises for a bad file or folder."""


class VideoLoadError(ValueError):
    """A file or folder could not be turned into frames; the message names it."""
