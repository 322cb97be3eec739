"""How ``lessons/data/common_passwords.txt`` is made: the recipe, kept in code so that anyone
can check the shipped file against it (a test does) and rebuild it with ``python -m
lessons.wordlists``.

Why a recipe and not a download: the lists of most common passwords hardly contain a password
of 12 characters or more, and the service refuses anything shorter anyway. Of the 2,000 most
common entries of the list below, only 4 are that long. What people do to reach a length rule
is well known, though: take a common password and add digits, a year or a symbol, or type it
twice. So the list is:

1. every entry of 12 to 128 characters among the first 2,000 lines of SecLists'
   ``Passwords/Common-Credentials/xato-net-10-million-passwords-100000.txt`` (measured: these
   were really used);
2. *composed by the workbook's authors*: the 200 most common entries of the same file (less
   offensive words) with the endings in ``ENDINGS`` appended, and each doubled, kept when the
   result is 12 to 128 characters long. These were not measured: they are the guesses any
   password-cracking rule set tries first.

SecLists is © 2025 Daniel Miessler, MIT licence; the notice is in the data file's header.
The comparison is case-insensitive, so the list holds lower-case entries only.
"""

from __future__ import annotations

from pathlib import Path

MIN_LENGTH, MAX_LENGTH = 12, 128
TARGET = Path(__file__).with_name("data") / "common_passwords.txt"

# Lines 1-2000 of xato-net-10-million-passwords-100000.txt that are 12 characters or longer.
MEASURED_LONG = ("q1w2e3r4t5y6", "1qaz2wsx3edc", "123qweasdzxc", "1q2w3e4r5t6y")

# The first 200 lines of the same file, in order (blank lines removed), as the base words.
TOP_200 = """
123456 password 12345678 qwerty 123456789 12345 1234 111111 1234567 dragon 123123 baseball
abc123 football monkey letmein 696969 shadow master 666666 qwertyuiop 123321 mustang
1234567890 michael 654321 pussy superman 1qaz2wsx 7777777 fuckyou 121212 000000 qazwsx
123qwe killer trustno1 jordan jennifer zxcvbnm asdfgh hunter buster soccer harley batman
andrew tigger sunshine iloveyou fuckme 2000 charlie robert thomas hockey ranger daniel
starwars klaster 112233 george asshole computer michelle jessica pepper 1111 zxcvbn 555555
11111111 131313 freedom 777777 pass fuck maggie 159753 aaaaaa ginger princess joshua cheese
amanda summer love ashley 6969 nicole chelsea biteme matthew access yankees 987654321 dallas
austin thunder taylor matrix william corvette hello martin heather secret fucker merlin
diamond 1234qwer gfhjkm hammer silver 222222 88888888 anthony justin test bailey q1w2e3r4t5
patrick internet scooter orange 11111 golfer cookie richard samantha bigdog guitar jackson
whatever mickey chicken sparky snoopy maverick phoenix camaro sexy peanut morgan welcome
falcon cowboy ferrari samsung andrea smokey steelers joseph mercedes dakota arsenal eagles
melissa boomer booboo spider nascar monster tigers yellow xxxxxx 123123123 gateway marina
diablo bulldog qwer1234 compaq purple hardcore banana junior hannah 123654 porsche lakers
iceman money cowboys 987654 london tennis 999999 ncc1701 coffee scooby 0000 miller boston
q1w2e3r4 fuckoff brandon yamaha chester mother forever
""".split()

# Left out of the composed part: a workbook should not ship a list of slurs. (Their padded
# forms are no safer; a production list from a breach corpus would include them.)
OFFENSIVE = frozenset({"pussy", "fuckyou", "fuckme", "asshole", "fuck", "biteme", "fucker",
                       "sexy", "hardcore", "fuckoff"})

ENDINGS = (
    "1", "12", "123", "1234", "12345", "123456", "1234567", "12345678", "123456789",
    "1234567890", "321", "4321", "54321", "654321", "0", "00", "000", "01", "11", "111",
    "1111", "2", "3", "7", "13", "22", "23", "69", "88", "99", "007", "!", "!!", "1!", "123!",
    "1234!", "12345!", "@123", "#1", "_123",
    *(str(year) for year in range(1990, 2026)),
)


def compose() -> list[str]:
    """The list, in a stable order: measured entries first, then the composed ones."""
    seen: dict[str, None] = {}
    for entry in MEASURED_LONG:
        seen.setdefault(entry.casefold())
    for base in TOP_200:
        if base in OFFENSIVE:
            continue
        for candidate in (*(base + ending for ending in ENDINGS), base + base):
            if MIN_LENGTH <= len(candidate) <= MAX_LENGTH:
                seen.setdefault(candidate.casefold())
    return list(seen)


HEADER = """\
# Common passwords of 12 to 128 characters, for the registration check of lesson 07.
# How this file was made, and why: lessons/wordlists.py (rebuild: python -m lessons.wordlists).
#
# Part 1, measured: entries of 12+ characters among the first 2,000 lines of
#   SecLists, Passwords/Common-Credentials/xato-net-10-million-passwords-100000.txt
# Part 2, composed by the workbook's authors (not measured): the 200 most common entries of
#   that file, less offensive words, with common endings (digit runs, years 1990-2025, "!",
#   "@123" ...) appended or doubled, kept at 12 to 128 characters.
#
# SecLists licence (for the entries taken from it):
#   MIT License. Copyright (c) 2025 Daniel Miessler.
#   Permission is hereby granted, free of charge, to any person obtaining a copy of this
#   software and associated documentation files (the "Software"), to deal in the Software
#   without restriction, including without limitation the rights to use, copy, modify, merge,
#   publish, distribute, sublicense, and/or sell copies of the Software, and to permit persons
#   to whom the Software is furnished to do so, subject to the following conditions:
#   The above copyright notice and this permission notice shall be included in all copies or
#   substantial portions of the Software.
#   THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED,
#   INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR
#   PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE
#   FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR
#   OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER
#   DEALINGS IN THE SOFTWARE.
# The composed part and the recipe are the workbook's own, MIT licence (see LICENSE).
#
# One entry per line, lower case (the check ignores case).
"""


def render() -> str:
    return HEADER + "".join(entry + "\n" for entry in compose())


if __name__ == "__main__":
    TARGET.write_text(render(), encoding="utf-8")
    print(f"wrote {len(compose())} entries to {TARGET}")
