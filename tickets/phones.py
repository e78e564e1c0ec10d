"""Phone numbers: normalising with `phonenumbers`, and finding one spoken in a message.

Callers are asked to say a callback number in their message. Whisper writes it as digits
("0912 345 678") or as Vietnamese words ("không chín một hai ba bốn năm sáu bảy tám"), and people
read numbers in more than one way: digit by digit, in pairs ("ba mươi tư" = 34, "mười lăm" =
15), with the variants of everyday speech ("linh"/"lẻ" for 0, "mốt" for 1, "tư" for 4,
"lăm"/"nhăm" for 5, "bẩy" for 7). A run of number words is turned into digits and accepted only
if `phonenumbers` calls it a valid Vietnamese number, which filters out years, amounts and the
"một" of "một câu hỏi".
"""

from __future__ import annotations

import phonenumbers

from tickets.text import Token, tokenize

REGION = "VN"

# Accented forms are checked exactly (so "bà" is not "ba", "từ" is not "tư"); a word typed
# without any diacritics is looked up in the folded table.
_DIGITS_ACCENTED = {
    "không": "0",
    "linh": "0",
    "lẻ": "0",
    "một": "1",
    "mốt": "1",
    "hai": "2",
    "ba": "3",
    "bốn": "4",
    "tư": "4",
    "năm": "5",
    "lăm": "5",
    "nhăm": "5",
    "sáu": "6",
    "bảy": "7",
    "bẩy": "7",
    "tám": "8",
    "chín": "9",
    # English calls (the IVR's second language).
    "zero": "0",
    "oh": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
}
_DIGITS_FOLDED = {
    "khong": "0",
    "linh": "0",
    "le": "0",
    "mot": "1",
    "hai": "2",
    "ba": "3",
    "bon": "4",
    "tu": "4",
    "nam": "5",
    "lam": "5",
    "nham": "5",
    "sau": "6",
    "bay": "7",
    "tam": "8",
    "chin": "9",
} | {k: v for k, v in _DIGITS_ACCENTED.items() if k.isascii()}
_TENS = {"mươi": "mươi", "mười": "mười", "trăm": "trăm"}
_TENS_FOLDED = {"muoi": None, "tram": "trăm"}  # "muoi" is ambiguous: mươi (x10) or mười (10)

# Callback numbers: 10 or 11 digits with the trunk 0, or 11 or 12 with the country code 84.
_MIN_DIGITS, _MAX_DIGITS = 10, 12


def normalize_phone(raw: str | None, *, region: str = REGION) -> str | None:
    """Return `raw` in E.164 (+84…) if it is a possible phone number, else None."""
    if not raw or not raw.strip():
        return None
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def display_phone(raw: str | None, *, region: str = REGION) -> str:
    """Return the number as people here write it (0912 345 678), or `raw` unchanged."""
    if not raw:
        return ""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return raw
    if phonenumbers.region_code_for_number(number) == region:
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def phone_variants(raw: str | None, *, region: str = REGION) -> set[str]:
    """Return the spellings one number may be stored under (+84…, 0…, 84…), for linking."""
    e164 = normalize_phone(raw, region=region)
    if e164 is None:
        return {raw.strip()} if raw and raw.strip() else set()
    variants = {e164, e164.lstrip("+")}
    number = phonenumbers.parse(e164)
    if phonenumbers.region_code_for_number(number) == region:
        variants.add("0" + str(number.national_number))
    return variants


def _digit(token: Token) -> str | None:
    if token.text.isdigit():
        return token.text
    if token.has_marks:
        return _DIGITS_ACCENTED.get(token.text)
    return _DIGITS_FOLDED.get(token.folded)


def _structure(token: Token) -> str | None:
    """Return "mươi", "mười" or "trăm" for the words that build numbers, else None."""
    if token.has_marks:
        return _TENS.get(token.text)
    if token.folded == "muoi":
        return "mươi"  # typed plainly: read "x muoi" as x*10; a leading one is handled below
    return _TENS_FOLDED.get(token.folded)


def _runs(tokens: list[Token]) -> list[list[Token]]:
    """Split the text into maximal runs of number words and numerals."""
    runs: list[list[Token]] = []
    current: list[Token] = []
    for token in tokens:
        if _digit(token) is not None or _structure(token) is not None:
            current.append(token)
        else:
            if current:
                runs.append(current)
            current = []
    if current:
        runs.append(current)
    return runs


def spoken_digits(tokens: list[Token]) -> str:
    """Return the digits a run of number words says ("ba mươi tư" -> "34")."""
    out: list[str] = []
    i = 0
    n = len(tokens)

    def digit_at(k: int) -> str | None:
        return _digit(tokens[k]) if k < n else None

    def struct_at(k: int) -> str | None:
        return _structure(tokens[k]) if k < n else None

    while i < n:
        d = digit_at(i)
        s = struct_at(i)
        if s in ("mười", "mươi"):
            # "mười" = 10, "mười lăm" = 15; a "mươi" not taken by a digit before it is a
            # "mười" typed without its tone.
            nxt = digit_at(i + 1)
            if nxt is not None and len(nxt) == 1 and nxt != "0":
                out.append("1" + nxt)
                i += 2
            else:
                out.append("10")
                i += 1
            continue
        if d is None:  # a stray "trăm": no digits of its own
            i += 1
            continue
        if len(d) == 1 and struct_at(i + 1) == "mươi":
            nxt = digit_at(i + 2)
            if nxt is not None and len(nxt) == 1:
                out.append(d + nxt)
                i += 3
            else:
                out.append(d + "0")
                i += 2
            continue
        if len(d) == 1 and struct_at(i + 1) == "trăm":
            # "năm trăm linh sáu" = 506, "năm trăm hai mươi" = 520, "năm trăm" = 500.
            if digit_at(i + 2) == "0" and digit_at(i + 3) is not None:
                out.append(d + "0" + (digit_at(i + 3) or ""))
                i += 4
            elif digit_at(i + 2) is not None and struct_at(i + 3) == "mươi":
                tens = digit_at(i + 2) or ""
                unit = digit_at(i + 4)
                if unit is not None and len(unit) == 1:
                    out.append(d + tens + unit)
                    i += 5
                else:
                    out.append(d + tens + "0")
                    i += 4
            elif struct_at(i + 2) == "mười":
                unit = digit_at(i + 3)
                if unit is not None and len(unit) == 1 and unit != "0":
                    out.append(d + "1" + unit)
                    i += 4
                else:
                    out.append(d + "10")
                    i += 3
            else:
                out.append(d + "00")
                i += 2
            continue
        out.append(d)
        i += 1
    return "".join(out)


def _valid(digits: str, region: str) -> str | None:
    candidate = "+" + digits if digits.startswith("84") and len(digits) >= 11 else digits
    try:
        number = phonenumbers.parse(candidate, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def extract_callback_number(text: str, *, region: str = REGION) -> str | None:
    """Return the first valid phone number spoken or written in `text`, in E.164, else None."""
    for run in _runs(tokenize(text)):
        digits = spoken_digits(run)
        if len(digits) < _MIN_DIGITS:
            continue
        # Only numbers with the trunk 0 or the country code: a bare run of digits is more
        # often a tax code (Bắc Ninh's start with 23) or an amount than a phone number.
        if digits.startswith(("0", "84")) and len(digits) <= _MAX_DIGITS:
            whole = _valid(digits, region)
            if whole is not None:
                return whole
        # A number word just before or after the number ("hai số: không chín…", "…sáu ạ năm
        # giờ") joins the run; look for a valid number inside it.
        for size in (10, 11, 12):
            for start in range(0, len(digits) - size + 1):
                window = digits[start : start + size]
                if window.startswith(("0", "84")):
                    found = _valid(window, region)
                    if found is not None:
                        return found
    return None
