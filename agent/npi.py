"""The National Provider Identifier check digit (CMS "Requirements for NPI Check Digit").

An NPI is 10 digits starting with 1 or 2; the last digit is a Luhn mod-10 check digit
computed as if the prefix 80840 (health, USA) stood in front, which adds 24 to the sum.
"""

from __future__ import annotations

_PREFIX_SUM = 24


def npi_check_digit(first_nine: str) -> int:
    """The check digit for the first nine digits of an NPI."""
    if len(first_nine) != 9 or not first_nine.isascii() or not first_nine.isdigit():
        raise ValueError("an NPI check digit is computed from nine digits")
    total = _PREFIX_SUM
    for position, char in enumerate(reversed(first_nine)):
        digit = int(char)
        if position % 2 == 0:  # every other digit from the right, starting with the last
            digit *= 2
            digit = digit - 9 if digit > 9 else digit
        total += digit
    return (10 - total % 10) % 10


def is_valid_npi(npi: str) -> bool:
    """Whether ``npi`` has 10 digits, starts with 1 or 2 and has a correct check digit."""
    if len(npi) != 10 or not npi.isascii() or not npi.isdigit() or npi[0] not in "12":
        return False
    return npi_check_digit(npi[:9]) == int(npi[9])
