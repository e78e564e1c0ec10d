"""Ticket numbers: short, digits only, unique, and not guessable from one another.

A caller hears the number read back digit by digit and may read it to an officer later, so it
must be short (six digits while there are fewer than 900,000 tickets), never start with 0 (people
drop a leading zero), and neighbouring tickets must not get neighbouring numbers (a caller
should not be able to guess another business's ticket). A fixed affine permutation of the
row id modulo the number space gives all three with no lookup and no collision.
"""

from __future__ import annotations

# (size of the number space, multiplier coprime with it, offset). Six digits first, then seven.
_SPACES = (
    (900_000, 379_721, 271_828),
    (9_000_000, 3_797_213, 2_718_281),
)


def ticket_number(ticket_id: int) -> str:
    """Return the public number for the ticket with row id `ticket_id` (>= 1)."""
    if ticket_id < 1:
        raise ValueError("ticket ids start at 1")
    index = ticket_id - 1
    for space, multiplier, offset in _SPACES:
        if index < space:
            return str(space // 9 + (index * multiplier + offset) % space)
        index -= space
    raise OverflowError("ticket number space exhausted")


def spoken_digits(number: str) -> list[str]:
    """Split a ticket number into the digits a caller hears one by one."""
    return [ch for ch in number if ch.isdigit()]
