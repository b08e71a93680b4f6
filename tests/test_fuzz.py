"""The loaders under mutated files: every load gives a consistent dataset or WavelensError.

The fuzzer runs in a subprocess so that a crash of the interpreter fails this
test instead of ending the suite; ``make fuzz`` runs it with 10,000 inputs per
format.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fuzzing import FORMATS

PER_FORMAT = 2000


@pytest.mark.parametrize("kind", FORMATS)
def test_mutated_files_give_a_dataset_or_one_line_error(kind):
    script = Path(__file__).with_name("fuzzing.py")
    result = subprocess.run([sys.executable, str(script), "--per-format", str(PER_FORMAT), "--formats", kind],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode in (0, 1), f"the fuzzer crashed (exit {result.returncode}): {result.stderr[-2000:]}"
    counts = json.loads(result.stdout.strip().splitlines()[-1])
    assert counts["inputs"] == PER_FORMAT
    assert counts["failures"] == 0 and counts["hangs"] == 0, counts["first_failures"]
    # Both outcomes occur, so the mutations reach past the first check and some stay loadable.
    assert counts["refused"] > 0 and counts["loaded"] > 0, counts
    assert result.stderr == "", result.stderr[-2000:]  # no warnings or other noise from the loaders
