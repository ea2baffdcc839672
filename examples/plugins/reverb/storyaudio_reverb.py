"""storyaudio-reverb: a ``Reverb`` column for storyaudio scripts, an example of a script extension.

    | Audio Type | ... | Duration | Reverb |
    | Speech     | ... | Auto     | 0.4    |

The row's clip is convolved with a synthetic room (decaying noise) and mixed with the dry sound; the tail
rings on after the row's own audio ends (an ``Auto`` row grows by it; a row with a length keeps it).
"""

from storyaudio.columns import Column, Extension


class Reverb(Extension):
    name = "reverb"  # the entry point's name, and the key of its settings
    description = "Reverb: a row's room, 0 (dry) to 1 (a hall), with a tail after the row."
    columns = (
        Column(
            "reverb", "Reverb", {"type": "number", "minimum": 0, "maximum": 1},
            description="how much room the row sounds in: 0 dry, 0.3 a room, 1 a hall.",
            fix="give a wet level from 0 (dry) to 1 (a hall), or N/A for none.",
        ),
    )

    def clip(self, audio, sample_rate, ask, values, ctx):
        """``audio`` (float32, channels x samples) with its reverb; the tail makes it longer."""
        import numpy as np
        from scipy.signal import fftconvolve

        wet = float(values["reverb"])
        n = int((0.3 + 1.5 * wet) * sample_rate)  # decay time: a room to a hall
        decay = np.exp(-6.9 * np.arange(n) / n)  # -60 dB at the end
        room = np.random.default_rng(0).standard_normal(n) * decay
        room /= np.sqrt(np.sum(room**2))  # as loud as the dry sound
        tail = fftconvolve(audio, room[np.newaxis, :], axes=1)
        dry = np.pad(audio, ((0, 0), (0, n - 1)))
        return ((1 - wet) * dry + wet * tail).astype(np.float32)
