"""Text handling shared by the speech backends: make written English speakable, split it into sentences and
give every break a pause length.

* :func:`normalize` turns numbers, ordinals, years, money, percentages, times, fractions, abbreviations and
  symbols into the words a reader would say ("Dr. Smith paid $3.50 on May 5th, 1999" -> "Doctor Smith paid
  three dollars and fifty cents on May fifth, nineteen ninety-nine").
* :func:`split_sentences` cuts a line at sentence boundaries (never after "Dr." or inside "3.5") and cuts
  sentences longer than ``max_chars`` at clause punctuation.
* :func:`segments` does both and attaches the pause that follows each piece, shaped by its punctuation
  ("?" a little longer than ".", ";" shorter, "..." longer, a blank line longest).
* :func:`chunks` packs sentences into chunks of at most ``max_chars`` characters (for models that take a few
  sentences at a time, like Bark).

Pure Python. Normalisation is English only; other languages go to the synthesiser untouched (espeak-ng reads
their numbers). Splitting works on any text that ends sentences with . ! ? or an ellipsis.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "PAUSE_WEIGHTS",
    "Segment",
    "chunks",
    "digits_to_words",
    "normalize",
    "number_to_words",
    "ordinal_to_words",
    "segments",
    "split_sentences",
    "year_to_words",
]

# -- numbers ------------------------------------------------------------------------------------------------

_ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
         "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]
_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_SCALES = [(10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand")]
_ORDINAL_IRREGULAR = {"one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
                      "nine": "ninth", "twelve": "twelfth"}


def _below_thousand(n: int) -> str:
    parts = []
    if n >= 100:
        parts.append(f"{_ONES[n // 100]} hundred")
        n %= 100
        if n:
            parts.append("and")
    if n >= 20:
        parts.append(_TENS[n // 10] + (f"-{_ONES[n % 10]}" if n % 10 else ""))
    elif n or not parts:
        parts.append(_ONES[n])
    return " ".join(parts)


def number_to_words(n: int) -> str:
    """Cardinal in British/American reading style: 1234 -> "one thousand two hundred and thirty-four"."""
    if n < 0:
        return "minus " + number_to_words(-n)
    if n >= 10**15:
        return digits_to_words(str(n))
    if n < 1000:
        return _below_thousand(n)
    parts = []
    for value, word in _SCALES:
        if n >= value:
            parts.append(f"{_below_thousand(n // value)} {word}")
            n %= value
    if n:
        parts.append(("and " if n < 100 else "") + _below_thousand(n))
    return " ".join(parts)


def ordinal_to_words(n: int) -> str:
    """21 -> "twenty-first", 100 -> "one hundredth"."""
    words = number_to_words(n)
    head, sep, last = words.rpartition(" ")
    pre, dash, unit = last.rpartition("-")
    if unit in _ORDINAL_IRREGULAR:
        unit = _ORDINAL_IRREGULAR[unit]
    elif unit.endswith("y"):
        unit = unit[:-1] + "ieth"
    else:
        unit += "th"
    return f"{head}{sep}{pre}{dash}{unit}"


def year_to_words(n: int) -> str:
    """1999 -> "nineteen ninety-nine", 1905 -> "nineteen oh five", 2000 -> "two thousand",
    2008 -> "two thousand eight", 2024 -> "twenty twenty-four", 1900 -> "nineteen hundred"."""
    if n < 1000 or n > 2999:
        return number_to_words(n)
    if 2000 <= n <= 2009:
        return "two thousand" + (f" {_ONES[n - 2000]}" if n > 2000 else "")
    hi, lo = divmod(n, 100)
    if lo == 0:
        return f"{number_to_words(hi)} hundred"
    if lo < 10:
        return f"{number_to_words(hi)} oh {_ONES[lo]}"
    return f"{number_to_words(hi)} {number_to_words(lo)}"


def digits_to_words(s: str) -> str:
    """"0451" -> "zero four five one" (phone numbers, codes, long digit strings)."""
    return " ".join(_ONES[int(c)] for c in s if c.isdigit())


def _decimal_to_words(s: str) -> str:
    """"3.14" -> "three point one four"; "0.5" -> "zero point five"; "1,234.5" works too."""
    whole, _, frac = s.replace(",", "").partition(".")
    out = number_to_words(int(whole or "0"))
    if frac:
        out += " point " + digits_to_words(frac)
    return out


def _plural_word(word: str) -> str:
    """Plural of a word as spoken ("nineties" from "ninety")."""
    if word.endswith("y"):
        return word[:-1] + "ies"
    if word.endswith(("s", "x")):
        return word + "es"
    return word + "s"


# -- abbreviations and symbols ------------------------------------------------------------------------------

#: Titles that always precede a name: the period never ends a sentence.
_TITLES = {
    "dr": "Doctor", "mr": "Mister", "mrs": "Missus", "ms": "Miz", "prof": "Professor", "capt": "Captain",
    "lt": "Lieutenant", "sgt": "Sergeant", "gen": "General", "col": "Colonel", "gov": "Governor",
    "sen": "Senator", "rep": "Representative", "rev": "Reverend", "fr": "Father", "hon": "Honorable",
    "mt": "Mount", "ft": "Fort", "pres": "President", "supt": "Superintendent", "insp": "Inspector",
    "det": "Detective", "cpl": "Corporal", "adm": "Admiral", "maj": "Major", "messrs": "Messieurs",
}
_ALWAYS_TITLES = {"mr", "mrs", "ms", "messrs", "prof"}
#: Abbreviations that may end a sentence (the period is kept when a capital or the end follows).
_ABBREVIATIONS = {
    "etc": "et cetera", "vs": "versus", "approx": "approximately", "dept": "department", "jr": "Junior",
    "sr": "Senior", "ave": "Avenue", "rd": "Road", "blvd": "Boulevard", "ln": "Lane", "hwy": "Highway",
    "corp": "Corporation", "inc": "Incorporated", "ltd": "Limited", "co": "Company",
    "jan": "January", "feb": "February", "mar": "March", "apr": "April", "jun": "June", "jul": "July",
    "aug": "August", "sep": "September", "sept": "September", "oct": "October", "nov": "November",
    "dec": "December", "mon": "Monday", "tue": "Tuesday", "tues": "Tuesday", "wed": "Wednesday",
    "thu": "Thursday", "thurs": "Thursday", "fri": "Friday", "sat": "Saturday", "sun": "Sunday",
    "no": "number", "nos": "numbers", "vol": "volume", "ch": "chapter", "fig": "figure", "pp": "pages",
    "p": "page", "oz": "ounces", "lb": "pounds", "lbs": "pounds",
}
#: Dotted abbreviations written with internal periods.
_DOTTED = {
    "e.g.": "for example", "i.e.": "that is", "a.m.": "A M", "p.m.": "P M", "etc.": "et cetera",
    "a.k.a.": "also known as", "r.i.p.": "rest in peace", "p.s.": "P S", "vs.": "versus",
}
#: Units after a number.
_UNITS = {
    "km": ("kilometre", "kilometres"), "m": ("metre", "metres"), "cm": ("centimetre", "centimetres"),
    "mm": ("millimetre", "millimetres"), "kg": ("kilogram", "kilograms"), "g": ("gram", "grams"),
    "mg": ("milligram", "milligrams"), "lb": ("pound", "pounds"), "lbs": ("pound", "pounds"),
    "oz": ("ounce", "ounces"), "mph": ("mile per hour", "miles per hour"),
    "kph": ("kilometre per hour", "kilometres per hour"), "km/h": ("kilometre per hour", "kilometres per hour"),
    "ft": ("foot", "feet"), "in": ("inch", "inches"), "mi": ("mile", "miles"), "ml": ("millilitre", "millilitres"),
    "l": ("litre", "litres"), "hz": ("hertz", "hertz"), "khz": ("kilohertz", "kilohertz"),
    "mhz": ("megahertz", "megahertz"), "ghz": ("gigahertz", "gigahertz"), "kb": ("kilobyte", "kilobytes"),
    "mb": ("megabyte", "megabytes"), "gb": ("gigabyte", "gigabytes"), "tb": ("terabyte", "terabytes"),
    "db": ("decibel", "decibels"), "kw": ("kilowatt", "kilowatts"), "w": ("watt", "watts"),
    "v": ("volt", "volts"), "ms": ("millisecond", "milliseconds"), "s": ("second", "seconds"),
    "h": ("hour", "hours"), "yr": ("year", "years"), "yrs": ("year", "years"), "min": ("minute", "minutes"),
    "mins": ("minute", "minutes"), "hr": ("hour", "hours"), "hrs": ("hour", "hours"), "sec": ("second", "seconds"),
    "secs": ("second", "seconds"),
}
#: Units that are also ordinary words or letters: only read as units when written right after the number.
_TIGHT_UNITS = {"in", "m", "s", "h", "l", "g", "w", "v"}
#: Abbreviations expanded only when capitalised ("Wed." is Wednesday, "wed." is a verb).
_CAPITAL_ONLY = {"jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "mon",
                 "tue", "tues", "wed", "thu", "thurs", "fri", "sat", "sun", "co", "jr", "sr", "ave", "rd",
                 "blvd", "ln", "hwy", "corp", "inc", "ltd", "dept"}
_CURRENCIES = {
    "$": ("dollar", "dollars", "cent", "cents"), "£": ("pound", "pounds", "penny", "pence"),
    "€": ("euro", "euros", "cent", "cents"), "¥": ("yen", "yen", "", ""), "₹": ("rupee", "rupees", "paisa", "paise"),
}
_SCALE_WORDS = {"k": "thousand", "m": "million", "bn": "billion", "b": "billion", "thousand": "thousand",
                "million": "million", "billion": "billion", "trillion": "trillion"}
_FRACTIONS = {(1, 2): "one half", (1, 3): "one third", (2, 3): "two thirds", (1, 4): "one quarter",
              (3, 4): "three quarters"}
_SYMBOLS = [
    ("&", " and "), ("+", " plus "), ("=", " equals "), ("@", " at "), ("×", " times "), ("÷", " divided by "),
    ("~", " about "), ("≈", " about "), ("°", " degrees "), ("#", " number "), ("§", " section "),
    ("‰", " per mille "), ("%", " percent "), ("<", " less than "), (">", " more than "),
    ("*", " "), ("_", " "), ("|", ", "), ("^", " "), ("\\", " "), ("{", " "), ("}", " "), ("[", ", "),
    ("]", ", "),
]
_TYPOGRAPHY = {"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": " - ", "\u2014": " — ",
               "\u2026": "...", "\u00a0": " ", "\u2009": " ", "\u202f": " "}


def _num(s: str) -> str:
    s = s.replace(",", "")
    return _decimal_to_words(s) if "." in s else number_to_words(int(s))


_NUM = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"


def _money(m: re.Match) -> str:
    sign, sym, amount, scale = m.group("sign"), m.group("cur"), m.group("amt"), m.group("scale")
    one, many, sub_one, sub_many = _CURRENCIES[sym]
    prefix = "minus " if sign else ""
    if scale:
        return f"{prefix}{_num(amount)} {_SCALE_WORDS[scale.lower()]} {many}"
    whole, _, frac = amount.replace(",", "").partition(".")
    w = int(whole or "0")
    parts = []
    if w or not frac:
        parts.append(f"{number_to_words(w)} {one if w == 1 else many}")
    if frac and sub_one:
        cents = int((frac + "0")[:2])
        if cents:
            parts.append(f"{number_to_words(cents)} {sub_one if cents == 1 else sub_many}")
    elif frac:
        return f"{prefix}{_decimal_to_words(amount)} {many}"
    return prefix + " and ".join(parts)


def _time(m: re.Match) -> str:
    h, mi, suffix = int(m.group("h")), int(m.group("m")), m.group("ampm")
    if h > 24 or mi > 59:
        return m.group(0)
    if mi == 0:
        words = f"{number_to_words(h)}" + (" o'clock" if not suffix and h <= 12 else " hundred" if not suffix else "")
    elif mi < 10:
        words = f"{number_to_words(h)} oh {_ONES[mi]}"
    else:
        words = f"{number_to_words(h)} {number_to_words(mi)}"
    if suffix:
        words += " " + " ".join(suffix.replace(".", "").upper())
        if suffix.endswith(".") and re.match(r"\s*(?:$|\s+[A-Z\"'(])", m.string[m.end():]):
            words += "."
    return words


def _ordinal(m: re.Match) -> str:
    return ordinal_to_words(int(m.group(1).replace(",", "")))


def _decade(m: re.Match) -> str:
    century, decade = int(m.group(1)), int(m.group(2))
    if decade == 0:
        return "two thousands" if century == 20 else f"{number_to_words(century)} hundreds"
    return f"{number_to_words(century)} {_plural_word(_TENS[decade])}"


_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"]


def _date(month: int, day: int, year: str) -> str | None:
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return None
    y = int(year)
    spoken_year = year_to_words(y) if len(year) == 4 else number_to_words(y) if y >= 10 else f"oh {_ONES[y]}"
    return f"{_MONTHS[month - 1]} {ordinal_to_words(day)}, {spoken_year}"


def _fraction(m: re.Match) -> str:
    a, b = int(m.group(1)), int(m.group(2))
    if (a, b) in _FRACTIONS:
        return _FRACTIONS[(a, b)]
    if b == 0 or a >= b or b not in (5, 6, 8, 10, 16, 32, 100):
        return f"{number_to_words(a)} {number_to_words(b)}"
    denom = "half" if b == 2 else "quarter" if b == 4 else ordinal_to_words(b)
    return f"{number_to_words(a)} {denom if a == 1 else _plural_word(denom) if denom != 'half' else 'halves'}"


def _unit(m: re.Match) -> str:
    amount, unit = m.group(1), m.group(2)
    one, many = _UNITS[unit.lower()]
    singular = amount.replace(",", "") in ("1", "1.0")
    return f"{_num(amount)} {one if singular else many}"


def _temperature(m: re.Match) -> str:
    sign, amount, scale = m.group(1), m.group(2), m.group(3)
    value = ("minus " if sign else "") + _num(amount)
    name = {"c": " Celsius", "f": " Fahrenheit", "k": " kelvin"}.get((scale or "").lower(), "")
    return f"{value} {'degree' if amount == '1' else 'degrees'}{name}"


def _plain_number(m: re.Match) -> str:
    s = m.group(0)
    sign = ""
    if s[0] in "-−":
        sign, s = "minus ", s[1:]
    plain = s.replace(",", "")
    if "." not in plain and "," not in s:
        if len(plain) > 1 and plain.startswith("0"):
            return sign + digits_to_words(plain)  # 007, 0451: codes are read digit by digit
        if len(plain) > 9:
            return sign + digits_to_words(plain)  # phone numbers and IDs
        if not sign and len(plain) == 4 and 1100 <= int(plain) <= 2099:
            return year_to_words(int(plain))
    return sign + _num(s)


def _initialism(m: re.Match) -> str:
    """"U.S.A." -> "U S A" (a final period that ends the sentence is kept by the caller's rule)."""
    return " ".join(m.group(0).replace(".", ""))


def _abbreviation(m: re.Match) -> str:
    word, rest = m.group(1), m.group(2)
    key = word.lower()
    following = m.string[m.end():]
    if key in _TITLES and (key in _ALWAYS_TITLES or re.match(r"\s+[A-Z]", following)):
        return _TITLES[key] + rest
    if key in _ABBREVIATIONS:
        if key in ("no", "nos") and not re.match(r"\s*\d", following):
            return m.group(0)
        if key in ("p", "pp") and not re.match(r"\s*\d", following):
            return m.group(0)
        if key in _CAPITAL_ONLY and not word[0].isupper():
            return m.group(0)
        expanded = _ABBREVIATIONS[key]
        if word[0].isupper() and expanded[0].islower() and key not in ("no", "nos", "p", "pp"):
            expanded = expanded[0].upper() + expanded[1:]
        # Keep the period when a new sentence starts after it (or the text ends).
        ends = re.match(r"\s*(?:$|[\"')\]]*\s+[A-Z\"'(])", following) is not None
        return expanded + ("." if ends else "") + rest
    if key == "dr" and re.search(r"[A-Z][a-z]+\s*$", m.string[: m.start()]):
        ends = re.match(r"\s*(?:$|\s+[A-Z])", following) is not None
        return "Drive" + ("." if ends else "") + rest
    if key == "st":
        # "St. Louis" -> Saint; "Baker St." -> Street.
        if re.match(r"\s+[A-Z]", following) and not re.search(r"[A-Z][a-z]+\s*$", m.string[: m.start()]):
            return "Saint" + rest
        ends = re.match(r"\s*(?:$|\s+[A-Z])", following) is not None
        return "Street" + ("." if ends else "") + rest
    return m.group(0)


#: espeak-style phoneme input (``[[k'aIp3]]``, what a lexicon's phonemes become): passed through untouched.
_PHONEMES = re.compile(r"\[\[[^\[\]]*\]\]")
_HELD = 0xE000  # private-use characters stand in for held phoneme spans while the text is rewritten


def normalize(text: str) -> str:
    """Rewrite written English as the words a reader would say. Idempotent on plain prose. Phoneme input in
    double brackets (``[[k'aIp3]]``) is left exactly as written."""
    held: list[str] = []

    def hold(m: re.Match) -> str:
        held.append(m.group(0))
        return chr(_HELD + len(held) - 1)

    t = _normalize(_PHONEMES.sub(hold, text[:]) if "[[" in text else text)
    for i, span in enumerate(held):
        t = t.replace(chr(_HELD + i), span)
    return t


def _normalize(text: str) -> str:
    t = text
    for a, b in _TYPOGRAPHY.items():
        t = t.replace(a, b)

    # Dotted abbreviations (e.g., i.e., a.m.) first: their periods must never split sentences.
    def dotted(m: re.Match) -> str:
        key = m.group(0).lower()
        following = m.string[m.end():]
        ends = re.match(r"\s*(?:$|\s+[A-Z])", following) is not None and key in ("etc.", "a.m.", "p.m.")
        return _DOTTED[key] + ("." if ends else "")

    t = re.sub(r"(?<![\w.])(?:e\.g\.|i\.e\.|a\.k\.a\.|r\.i\.p\.|p\.s\.)", dotted, t, flags=re.IGNORECASE)
    # Times: 7:05, 10:30 pm, 3pm, 9 a.m.
    t = re.sub(r"\b(?P<h>\d{1,2}):(?P<m>\d{2})(?:\s*(?P<ampm>[ap]\.?m\.?)(?![a-z]))?", _time, t, flags=re.IGNORECASE)

    def hour_ampm(m: re.Match) -> str:
        words = number_to_words(int(m.group(1))) + " " + " ".join(m.group(2).replace(".", "").upper())
        following = m.string[m.end():]
        ends = m.group(2).endswith(".") and re.match(r"\s*(?:$|\s+[A-Z])", following) is not None
        return words + ("." if ends else "")

    t = re.sub(r"\b(\d{1,2})\s*([ap]\.m\.|[ap]m)(?![a-z])", hour_ampm, t, flags=re.IGNORECASE)

    def ampm_dotted(m: re.Match) -> str:
        following = m.string[m.end():]
        ends = re.match(r"\s*(?:$|\s+[A-Z])", following) is not None
        return " ".join(m.group(0).replace(".", "").upper()) + ("." if ends else "")

    t = re.sub(r"(?<![\w.])[ap]\.m\.", ampm_dotted, t, flags=re.IGNORECASE)
    # Money: $5, $3.50, -$2, £1.2m, €40 billion.
    cur = "|".join(re.escape(c) for c in _CURRENCIES)
    t = re.sub(
        rf"(?P<sign>-)?(?P<cur>{cur})\s?(?P<amt>{_NUM})(?:\s?(?P<scale>thousand|million|billion|trillion|bn|k|m|b)\b)?",
        _money, t, flags=re.IGNORECASE,
    )
    t = re.sub(r"(\d+)\s?¢", lambda m: f"{number_to_words(int(m.group(1)))} {'cent' if m.group(1) == '1' else 'cents'}", t)
    # Temperatures: 20°C, -5 °F, 90°.
    t = re.sub(rf"(-)?({_NUM})\s?°\s?(?:([CFK])(?![A-Za-z]))?", _temperature, t)
    # Percent: 50%, 3.5 %.
    t = re.sub(rf"(-)?({_NUM})\s?%", lambda m: ("minus " if m.group(1) else "") + _num(m.group(2)) + " percent", t)
    # Decades: 1990s, '90s, 80s.
    t = re.sub(r"\b(1[1-9]|20)(\d)0s\b", _decade, t)
    t = re.sub(r"(?:(?<=\s)|^)'?([2-9])0s\b", lambda m: _plural_word(_TENS[int(m.group(1))]), t)
    # Ordinals: 1st, 22nd, 3rd, 104th.
    t = re.sub(r"\b(\d{1,3}(?:,\d{3})*|\d+)(?:st|nd|rd|th)\b", _ordinal, t, flags=re.IGNORECASE)
    # Dates: 2020-12-05 (ISO), 12/05/2020 (month first, as in the US; day first when the first number is > 12).
    t = re.sub(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b", lambda m: _date(int(m.group(2)), int(m.group(3)), m.group(1)) or
               m.group(0), t)
    t = re.sub(r"(?<![\d/])(\d{1,2})/(\d{1,2})/(\d{2}|\d{4})(?![\d/])", lambda m: (
        _date(int(m.group(1)), int(m.group(2)), m.group(3)) or _date(int(m.group(2)), int(m.group(1)), m.group(3))
        or m.group(0)), t)
    # Simple fractions: 1/2, 3/4 (not dates like 12/05/2020); 24/7 and 9/11 are read as two numbers.
    t = re.sub(r"\band/or\b", "and or", t)
    t = re.sub(r"(?<![\d/])(\d{1,2})/(\d{1,2})(?![\d/])", _fraction, t)
    # Units: 5 km, 60mph, 3.5 kg, 100 MB.
    spaced = "|".join(sorted((re.escape(u) for u in _UNITS if u not in _TIGHT_UNITS), key=len, reverse=True))
    tight = "|".join(sorted((re.escape(u) for u in _TIGHT_UNITS), key=len, reverse=True))
    t = re.sub(rf"\b({_NUM})\s?({spaced})\b(?!\.\w)", _unit, t, flags=re.IGNORECASE)
    t = re.sub(rf"\b({_NUM})({tight})\b(?!\.\w)", _unit, t, flags=re.IGNORECASE)
    # Phone numbers: 555-123-4567, 555-0199 are read digit by digit.
    t = re.sub(r"(?<![\d-])(?:\d{3}-)?\d{3}-\d{4}(?![\d-])",
               lambda m: ", ".join(digits_to_words(g) for g in m.group(0).split("-")), t)
    # Ranges between numbers: 1990-1995, 5-10 -> "to".
    t = re.sub(r"(?<=\d)\s?[-–]\s?(?=\d)", " to ", t)
    # Initialisms with periods: U.S., U.K., U.S.A.
    t = re.sub(r"\b(?:[A-Z]\.){2,}(?=[\s,;:!?)\"']|$)", lambda m: _initialism(m) + (
        "." if re.match(r"\s*(?:$|\s+[A-Z])", m.string[m.end():]) else ""), t)
    # Single-word abbreviations with a period.
    t = re.sub(r"\b([A-Za-z]{1,6})\.(\s?)(?=\s|$|[,;:)\"'])", _abbreviation, t)
    # Remaining numbers: 1,234; 3.14; -7; 1999; 007.
    t = re.sub(rf"(?<![\w.])[-−]?(?:{_NUM})(?![\w])", _plain_number, t)
    t = re.sub(rf"(?<=[A-Za-z])(?:{_NUM})|(?:{_NUM})(?=[A-Za-z])", lambda m: " " + _plain_number(m) + " ", t)
    # Symbols.
    t = re.sub(r"(?<=\w)/(?=\w)", " or ", t)
    for sym, word in _SYMBOLS:
        t = t.replace(sym, word)
    # Tidy spacing.
    t = re.sub(r"[ \t]+", " ", t)
    t = re.sub(r" +([,.;:!?])", r"\1", t)
    t = re.sub(r"\n[ \t]+|[ \t]+\n", "\n", t)
    return t.strip()


# -- sentences and pauses -----------------------------------------------------------------------------------

#: Pause after a piece, as a multiple of the backend's ``sentence_pause`` (seconds after a full stop).
PAUSE_WEIGHTS = {
    ".": 1.0, "!": 1.0, "?": 1.15, ";": 0.7, ":": 0.7, "—": 0.6, "...": 1.6, ",": 0.4,
    "line": 1.4, "paragraph": 2.2, "end": 0.0,
}

# A sentence ends at . ! ? (or "...", "…") plus closing quotes/brackets, followed by whitespace; or at a newline.
_CLOSERS = "\"'\u201d\u2019)]"
_SENTENCE_END = re.compile(rf"(\.\.\.|…|[.!?]+)([{re.escape(_CLOSERS)}]*)(\s+)")


@dataclass(frozen=True)
class Segment:
    """A piece of text to synthesise in one go and the pause (seconds) that follows it."""

    text: str
    pause: float
    mark: str = "end"


def _terminal_mark(piece: str) -> str:
    s = piece.rstrip().rstrip(_CLOSERS)
    if s.endswith(("...", "…")):
        return "..."
    for mark in ("?", "!", ".", ";", ":", "—", ","):
        if s.endswith(mark):
            return mark
    return "end"


def _split_long(sentence: str, max_chars: int) -> list[str]:
    """Cut a sentence longer than ``max_chars`` at ; : — then , (the latest break that fits), then spaces."""
    if len(sentence) <= max_chars:
        return [sentence]
    out: list[str] = []
    rest = sentence
    while len(rest) > max_chars:
        cut = -1
        for pattern in (r"[;:—]\s+", r",\s+", r"\s+"):
            found = [m.end() for m in re.finditer(pattern, rest[: max_chars + 1]) if m.end() > max_chars // 4]
            if found:
                cut = found[-1]
                break
        if cut <= 0:
            cut = max_chars
        out.append(rest[:cut].strip())
        rest = rest[cut:].strip()
    if rest:
        out.append(rest)
    return out


def split_sentences(text: str, max_chars: int = 220) -> list[str]:
    """Split (already normalised) text into sentences; sentences longer than ``max_chars`` are cut at clause
    punctuation. Newlines always end a piece."""
    pieces: list[str] = []
    for line in re.split(r"\n+", text):
        line = line.strip()
        if not line:
            continue
        pos = 0
        for m in _SENTENCE_END.finditer(line + " "):
            # Do not split "3.5" or an initial like "J. Smith" (single capital letter before the period).
            before = line[: m.start()]
            if m.group(1) == "." and re.search(r"(?:^|\s)[A-Z]$", before):
                continue
            end = m.end(2)
            piece = line[pos:end].strip()
            if piece:
                pieces.append(piece)
            pos = m.end()
        tail = line[pos:].strip()
        if tail:
            pieces.append(tail)
    out: list[str] = []
    for p in pieces:
        out.extend(_split_long(p, max_chars))
    return out


def segments(text: str, sentence_pause: float = 0.35, max_chars: int = 220, normalise: bool = True) -> list[Segment]:
    """Normalise ``text`` (when ``normalise``), split it into speakable pieces and give each the pause that
    follows it: ``sentence_pause`` × the weight of its final punctuation (:data:`PAUSE_WEIGHTS`); a line break
    weighs more, a blank line most; the last piece has no pause."""
    if normalise:
        text = normalize(text)
    paragraphs = [p for p in re.split(r"\n\s*\n", text) if p.strip()]
    out: list[Segment] = []
    for pi, para in enumerate(paragraphs):
        lines = [ln for ln in para.split("\n") if ln.strip()]
        for li, line in enumerate(lines):
            pieces = split_sentences(line, max_chars)
            for k, piece in enumerate(pieces):
                if not re.search(r"\w", piece):
                    continue
                mark = _terminal_mark(piece)
                weight = PAUSE_WEIGHTS.get(mark, 0.5)
                if k == len(pieces) - 1:
                    if li == len(lines) - 1 and pi < len(paragraphs) - 1:
                        mark = "paragraph"
                        weight = max(weight, PAUSE_WEIGHTS["paragraph"])
                    elif li < len(lines) - 1:
                        mark = "line" if mark == "end" else mark
                        weight = max(weight, PAUSE_WEIGHTS["line"] if mark == "line" else weight)
                out.append(Segment(piece, round(sentence_pause * weight, 4), mark))
    if out:
        out[-1] = Segment(out[-1].text, 0.0, "end")
    return out


def chunks(text: str, max_chars: int) -> list[str]:
    """Sentences of ``text`` packed into chunks of at most ``max_chars`` characters: a sentence longer than
    that is cut at clause punctuation, then between words (:func:`split_sentences`); consecutive short
    sentences share a chunk. Whitespace (newlines too) becomes single spaces. No normalisation."""
    pieces = [" ".join(p.split()) for p in split_sentences(text, max_chars)]
    out: list[str] = []
    for piece in pieces:
        if out and len(out[-1]) + 1 + len(piece) <= max_chars:
            out[-1] = f"{out[-1]} {piece}"
        elif piece:
            out.append(piece)
    return out
