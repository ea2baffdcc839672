"""Speech in one place: the embedded speech backends and what they share.

* :mod:`.text`: written English made speakable (numbers, abbreviations, symbols), sentences and their pauses,
  and :func:`.text.chunks` (sentences packed into chunks of a few hundred characters, for Bark);
* :mod:`.writing`: the writing systems a voice's language reads, for ``Backend.text_problems``;
* :mod:`.fit`: speaking faster to fit a requested duration and trimming the silence around the voice (the core
  owns the clip's final rate and length: it resamples and fits every clip to its slot);
* :mod:`.base`: :class:`~.base.SpeechOptions`, the options piper and espeak share, and the voice lookup;
* :mod:`.piper` and :mod:`.espeak`: the backends (registered as ``piper`` and ``espeak``); :mod:`.vits` makes
  Piper's model draw its noise from a seed.

Importing this package imports nothing heavy: each backend loads its engine when it first renders.
"""
