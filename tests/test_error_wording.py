"""Library errors name the Python parameter; the command line names the flag, for the same cause.

Each message is written once, with its parameters marked (wavelens._validation.param):
``str(error)`` says ``n_patterns=25``, the CLI says ``--patterns 25``.
"""

import ast
import pickle
import re
from pathlib import Path

import numpy as np
import pytest

from wavelens import WavelensError, analyze, find_communities, find_near_duplicates, load_dataset, wavelet_transform
from wavelens._validation import param, render, see
from wavelens.cli import main
from wavelens.cli._options import FLAGS, error_message, flags

SRC = Path(__file__).resolve().parents[1] / "src" / "wavelens"


def _digits(limit):
    return load_dataset("digits", limit=limit, random_state=0)


def _npz(root):
    path = root / "one.npz"
    if not path.exists():
        rng = np.random.default_rng(0)
        np.savez(path, images=rng.random((12, 9, 9)), labels=np.arange(12) % 2)
    return path


def _mixed_folder(root):
    from PIL import Image

    for name, size in (("a/0.png", (8, 8)), ("a/1.png", (8, 8)), ("b/2.png", (6, 10))):
        path = root / "mixed" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full(size, 128, np.uint8)).save(path)
    return root / "mixed"


def _full_folder(root):
    folder = root / "full"
    folder.mkdir(exist_ok=True)
    (folder / "mine.txt").write_text("not a wavelens result")
    return folder


# (case id, library call given the test's folder, Python wording, command line, CLI wording)
CASES = [
    ("level too high", lambda r: wavelet_transform(np.zeros((2, 8, 8)), level=5),
     "use level=3 or less", ["analyze", "digits", "--level", "5"], "use --level 3 or less"),
    ("level 0", lambda r: wavelet_transform(np.zeros((2, 8, 8)), level=0),
     "The 'level' parameter must be an integer >= 1", ["analyze", "digits", "--level", "0"],
     "The '--level' parameter must be an integer >= 1"),
    ("unknown wavelet", lambda r: wavelet_transform(np.zeros((2, 8, 8)), wavelet="nope"),
     "see pywt.wavelist(kind='discrete') for the full list", ["analyze", "digits", "--wavelet", "nope"],
     "run 'wavelens wavelets' for the full list"),
    ("patterns above images", lambda r: analyze(_digits(50), n_patterns=60),
     "use n_patterns=25 or fewer", ["analyze", "digits", "--limit", "50", "--patterns", "60"],
     "use --patterns 25 or fewer"),
    ("neighbors above images", lambda r: find_communities(_digits(5), n_neighbors=10),
     "n_neighbors=10 needs more than 10 images", ["communities", "digits", "--limit", "5", "--neighbors", "10"],
     "--neighbors 10 needs more than 10 images"),
    ("features above coefficients", lambda r: find_communities(_digits(60), n_features=100),
     "n_features=100 is more than the 64", ["communities", "digits", "--limit", "60", "--n-features", "100"],
     "--n-features 100 is more than the 64"),
    ("communities above images", lambda r: find_communities(_digits(12), n_neighbors=3, n_communities=20),
     "use n_communities=11 or fewer",
     ["communities", "digits", "--limit", "12", "--neighbors", "3", "--communities", "20"],
     "use --communities 11 or fewer"),
    ("split of digits", lambda r: load_dataset("digits", split="test"),
     "use split='all'", ["analyze", "digits", "--split", "test"], "use --split all"),
    ("split of an npz", lambda r: load_dataset(_npz(r), split="train"),
     "use split='all'", ["analyze", "{npz}", "--split", "train"], "use --split all"),
    ("split of dataset B", lambda r: load_dataset(_npz(r), split="test"),
     "use split='all'", ["duplicates", "digits", "{npz}", "--split-b", "test"], "use --split-b all"),
    ("sizes differ", lambda r: load_dataset(_mixed_folder(r)),
     "pass resize=(H, W) to bring them", ["analyze", "{mixed}"], "pass --resize HxW to bring them"),
    ("built-in not found", lambda r: load_dataset("mnist", data_dir=r / "nowhere"),
     "or pass data_dir='DIR'", ["analyze", "mnist", "--data-dir", "{root}/nowhere"], "or pass --data-dir DIR"),
    ("unknown dataset", lambda r: load_dataset("nosuch"),
     "see help(wavelens.load_dataset) for the built-in names", ["analyze", "nosuch"],
     "run 'wavelens datasets' for the built-in names"),
    ("output folder not empty", lambda r: find_near_duplicates(_digits(40)).save(_full_folder(r)),
     "or pass overwrite=True to replace", ["duplicates", "digits", "--limit", "40"], "or pass --overwrite to replace"),
]


@pytest.fixture
def root(tmp_path, monkeypatch):
    monkeypatch.delenv("WAVELENS_DATA", raising=False)
    return tmp_path


@pytest.mark.parametrize("case, call, python, argv, cli", CASES, ids=[c[0] for c in CASES])
def test_library_names_the_parameter_and_the_cli_the_flag(root, capsys, case, call, python, argv, cli):
    with pytest.raises(WavelensError) as excinfo:
        call(root)
    message = str(excinfo.value)
    assert python in message, message
    assert "--" not in message and "wavelens wavelets" not in message and "wavelens datasets" not in message, message

    names = {"npz": _npz(root), "mixed": _mixed_folder(root), "root": root}
    argv = [a.format(**{k: str(v) for k, v in names.items()}) for a in argv]
    with pytest.raises(SystemExit) as stopped:
        main([*argv, "--out", str(_full_folder(root) if case == "output folder not empty" else root / "out"),
              "--no-report"])
    err = capsys.readouterr().err
    assert stopped.value.code == 2, err
    assert err.startswith("wavelens: error: ") and err.count("\n") == 1, err
    assert cli in err, err
    assert python not in err, err


def test_a_message_is_written_once_and_rendered_both_ways():
    error = WavelensError(f"use {param('n_patterns', 898)} or fewer, {param('split', 'all')}, "
                          f"{param('resize', (32, 32))}, {param('resize', text='(H, W)')}, {param('overwrite', True)}, "
                          f"a larger {param('limit')}, {param('n_jobs', -1)}; {see('help(wavelens.load_dataset)')}")
    assert str(error) == ("use n_patterns=898 or fewer, split='all', resize=(32, 32), resize=(H, W), overwrite=True, "
                          "a larger limit, n_jobs=-1; see help(wavelens.load_dataset)")
    assert error_message(error) == ("use --patterns 898 or fewer, --split all, --resize 32x32, --resize HxW, "
                                    "--overwrite, a larger --limit, --jobs -1; run 'wavelens datasets'")
    assert error.args == (str(error),) and "\x1f" not in repr(error)
    copy = pickle.loads(pickle.dumps(error))  # the marks survive a trip to another process
    assert str(copy) == str(error) and error_message(copy) == error_message(error)
    # A parameter the command line does not have stays as Python says it.
    assert render(f"{param('chunk_size', 8)}", lambda name, value: FLAGS.get(name)) == "chunk_size=8"


def test_a_command_can_give_a_parameter_another_flag():
    with pytest.raises(WavelensError) as excinfo:
        with flags(split="--split-b"):
            load_dataset("digits", split="train")
    assert str(excinfo.value).endswith("use split='all'.")
    assert error_message(excinfo.value).endswith("use --split-b all.")


def test_a_wrapped_message_keeps_its_marks():
    """An error about one image, given the line of the table that names it, still names --resize."""
    from wavelens.datasets._folder import _described

    inner = WavelensError(f"a.png decodes to 4x4 pixels; pass {param('resize', text='(H, W)')}.")
    outer = _described(inner, lambda i: f"list.csv line {i + 2}", 0)
    assert str(outer) == "list.csv line 2: a.png decodes to 4x4 pixels; pass resize=(H, W)."
    assert error_message(outer) == "list.csv line 2: a.png decodes to 4x4 pixels; pass --resize HxW."


def test_every_parameter_a_message_names_has_a_flag():
    """Each parameter the library marks in a message (or checks with a shared check) is in the CLI's table."""
    marked = set()
    for path in SRC.rglob("*.py"):
        text = path.read_text()
        marked |= set(re.findall(r"""\bparam\(\s*['"](\w+)['"]""", text))
        marked |= set(re.findall(r"""\b(?:check_positive_int|check_seed)\(\s*\w+,\s*['"](\w+)['"]""", text))
        marked |= {f"see {m}" for m in re.findall(r"""\bsee\(\s*['"]([^'"]+)['"]""", text)}
    marked |= {"see pywt.wavelist(kind='discrete')"}  # see(_WAVELIST)
    assert {"n_patterns", "split", "resize", "level", "folder"} <= marked
    assert marked - set(FLAGS) == set()


def _text_outside_docstrings(tree):
    """Every string constant of a module (f-string parts included) but its docstrings."""
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docstrings.add(id(first.value))
    return [node.value for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings]


def test_library_text_names_parameters_not_flags():
    """Errors and summaries of the library (outside cli/) name no command-line flag: Python callers have
    parameters; the command line maps marked parameters to its flags (cli/_options.FLAGS)."""
    flag = re.compile(r"(?:^|[\s(\"'`])--[a-z]")
    found = []
    for path in sorted(SRC.rglob("*.py")):
        if "cli" in path.relative_to(SRC).parts:
            continue
        for text in _text_outside_docstrings(ast.parse(path.read_text(), str(path))):
            if flag.search(text):
                found.append(f"{path.relative_to(SRC)}: {text!r}")
    assert found == [], "\n".join(found)
