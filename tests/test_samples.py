"""Sample sheets (--pops): genomekit.io.samples.read_pops."""

from __future__ import annotations

import re

import pytest

from genomekit.errors import InputError
from genomekit.genome import SEX_FEMALE, SEX_MALE, SEX_UNKNOWN
from genomekit.io.samples import read_pops


def _sheet(tmp_path, text: str) -> str:
    path = tmp_path / "pops.tsv"
    path.write_text(text)
    return str(path)


def test_populations_in_first_seen_order_and_sex_codes(tmp_path):
    sheet = read_pops(_sheet(tmp_path, (
        "sample\tpopulation\tsex\n"
        "s1\tKOR\tM\ns2\tJPN\tfemale\n# a comment\n\ns3\tKOR\tunknown\n"
        "s4\tEUR.2\t2\ns5\tJPN\n")))
    assert sheet.populations == ("KOR", "JPN", "EUR.2")
    assert sheet.population == {"s1": "KOR", "s2": "JPN", "s3": "KOR", "s4": "EUR.2",
                                "s5": "JPN"}
    assert sheet.sex == {"s1": SEX_MALE, "s2": SEX_FEMALE, "s3": SEX_UNKNOWN,
                         "s4": SEX_FEMALE, "s5": SEX_UNKNOWN}


@pytest.mark.parametrize("text,what", [
    ("s1\tKOR\tM\ns2\tKOR pop\tF\n", "line 2: population 'KOR pop' is not a valid tag suffix"),
    ("s1\tKOR\tM\ns2\tKOR\tF\ns3\tJ/P\tF\n", "line 3: population 'J/P'"),
    ("s1\tKOR\tM\ns2\tKOR\tboth\n", "line 2: unknown sex 'both'"),
    ("s1\tKOR\tM\ns1\tJPN\tF\n", "line 2: sample 's1' listed twice"),
    ("s1 KOR M\n", "line 1: expected SAMPLE<TAB>POPULATION"),
    ("# nothing\n\n", "no samples listed"),
])
def test_bad_sheets(tmp_path, text, what):
    with pytest.raises(InputError, match=re.escape(what)):
        read_pops(_sheet(tmp_path, text))
