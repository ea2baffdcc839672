"""storyaudio: turn a scene prompt or an audio script into finished, loudness-correct audio."""

__version__ = "0.1.0"
