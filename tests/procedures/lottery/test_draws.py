"""The lottery's seed and order: anyone holding the course, the season and the published
value replays the same draw; another value gives another order."""

from __future__ import annotations

import hashlib

from procedures.lottery.draws import draw_seed, drawn_order, fingerprint

CANDIDATES = [12, 3, 45, 7, 30, 18, 21, 9]


def test_the_seed_is_the_sha256_of_course_season_and_published_value() -> None:
    expected = hashlib.sha256(b"piano|2027-2028|12 27 33 41").hexdigest()

    assert draw_seed("piano", "2027-2028", " 12 27 33 41 ") == expected


def test_the_same_seed_and_candidates_give_the_same_order_whatever_their_reading_order() -> None:
    seed = draw_seed("piano", "2027-2028", "12 27 33 41")

    first = drawn_order(CANDIDATES, seed)

    assert first == drawn_order(list(reversed(CANDIDATES)), seed)
    assert sorted(first) == sorted(CANDIDATES)
    assert first != sorted(CANDIDATES)  # shuffled, not filing order
    assert fingerprint(first) == fingerprint(drawn_order(CANDIDATES, seed))


def test_another_published_value_course_or_season_gives_another_order() -> None:
    orders = {
        tuple(drawn_order(CANDIDATES, draw_seed(course, season, published)))
        for course, season, published in [
            ("piano", "2027-2028", "12 27 33 41"),
            ("piano", "2027-2028", "12 27 33 42"),
            ("theatre", "2027-2028", "12 27 33 41"),
            ("piano", "2028-2029", "12 27 33 41"),
        ]
    }

    assert len(orders) == 4
