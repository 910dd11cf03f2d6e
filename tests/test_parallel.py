"""genomekit.parallel: ordered_map (input order, and errors where a plain loop gives them)
and import_in_background."""

from __future__ import annotations

import sys
import threading
import time

import pytest

from genomekit.parallel import import_in_background, ordered_map


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


def _join_import_threads():
    for thread in threading.enumerate():
        if thread.name == "import":
            thread.join(5)


def test_import_in_background(monkeypatch, tmp_path):
    (tmp_path / "gk_probe_a.py").write_text("VALUE = 3\n")
    (tmp_path / "gk_probe_b.py").write_text("import time\ntime.sleep(0.05)\nVALUE = 7\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("gk_probe_a", "gk_probe_b"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    # A module that cannot be imported neither raises here nor stops the next one.
    import_in_background("gk_no_such_module", "gk_probe_a")
    _join_import_threads()
    assert sys.modules["gk_probe_a"].VALUE == 3
    assert "gk_no_such_module" not in sys.modules
    # The caller's own import waits for the one under way and gets the whole module.
    import_in_background("gk_probe_b")
    import gk_probe_b

    assert gk_probe_b.VALUE == 7
    _join_import_threads()
