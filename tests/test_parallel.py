"""genomekit.parallel.ordered_map: input order, and errors where a plain loop gives them."""

from __future__ import annotations

import time

import pytest

from genomekit.parallel import ordered_map


def _slow_square(x):
    time.sleep(0.001 * (7 - x % 7))  # later items often finish first
    return x * x


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_results_in_input_order(threads):
    assert list(ordered_map(_slow_square, range(40), threads)) == [x * x for x in range(40)]


def _items_then_damage(n):
    yield from range(n)
    raise ValueError("damaged input")


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_error_from_items_after_the_results_before_it(threads):
    got = []
    with pytest.raises(ValueError, match="damaged input"):
        for r in ordered_map(_slow_square, _items_then_damage(9), threads):
            got.append(r)
    assert got == [x * x for x in range(9)]


def _fails_at_five(x):
    if x == 5:
        raise KeyError(x)
    return x


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_error_from_func_in_its_turn(threads):
    got = []
    with pytest.raises(KeyError):
        for r in ordered_map(_fails_at_five, range(20), threads):
            got.append(r)
    assert got == [0, 1, 2, 3, 4]
