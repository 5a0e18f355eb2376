"""Bad parameters, as files and command lines: what ``test_bad_parameters.py`` feeds ``ztfnb run`` and ``ztfnb batch``.

`project` makes a small project (``pyproject.toml``, a notebook, a default
parameters file); `cases` yields one `Case` per bad input of each family —
a reserved parameter given at each level a value can come from, YAML alias
bombs, huge files and values, documents that are not mappings, binary junk,
nesting too deep, an output folder holding a user's file — with the command
line to run and what its one-line refusal must name.
"""

from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

PARAMETERS = (
    'count: int = 3  # how many\nexposure: str = "30 min"  # a time\n'
    'output_dir: str = ""  # report folder'
)

#: 325 bytes that PyYAML loads at once and that expand to 9⁹ values.
BOMB = """a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
count: [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


@dataclass
class Case:
    """One bad input: files to write, the command (``{nb}``, ``{out}``, ``{root}`` filled in), what to name."""

    id: str
    argv: list
    names: list
    files: dict = field(default_factory=dict)  # path under the project → str or bytes


def project(root):
    """A project under ``root``: ``notebooks/n.ipynb`` and ``parameters/n.yaml``; returns the notebook."""
    root = Path(root)
    (root / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    (root / "notebooks").mkdir()
    (root / "parameters").mkdir()
    (root / "parameters" / "n.yaml").write_text("count: 4\n")
    document = new_notebook()
    document.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}  # fmt: skip
    cell = new_code_cell(PARAMETERS)
    cell.metadata["tags"] = ["parameters"]
    document.cells = [cell, new_code_cell("print(count)")]
    nbformat.write(document, root / "notebooks" / "n.ipynb")
    return root / "notebooks" / "n.ipynb"


def _commands(file_option="-f"):
    """``run`` and ``batch`` with a base file; the batch's grid is good."""
    return {
        "run": ["run", "{nb}", file_option, "{root}/bad.yaml", "-o", "{out}"],
        "batch": [
            "batch",
            "{nb}",
            "--grid",
            "{root}/g.yaml",
            file_option,
            "{root}/bad.yaml",
            "--out",
            "{out}",
            "--no-progress",
        ],
    }


GOOD_GRID = {"g.yaml": "count: [1, 2]\n"}


def _file_cases(family, text, names):
    """The same bad file given to ``run -f``, ``run -p FILE.yaml`` and ``batch -f``, and as a grid."""
    for command, argv in _commands().items():
        yield Case(
            f"{family}-{command}-f", argv, ["bad.yaml", *names], {"bad.yaml": text, **GOOD_GRID}
        )
    yield Case(
        f"{family}-run-p-file", _commands("-p")["run"], ["bad.yaml", *names], {"bad.yaml": text}
    )
    grid = ["batch", "{nb}", "--grid", "{root}/bad.yaml", "--out", "{out}", "--no-progress"]
    yield Case(f"{family}-grid", grid, ["bad.yaml", *names], {"bad.yaml": text})


def cases():
    """Every bad input, one `Case` each."""
    # a reserved parameter, from every place a value can come from
    yield from _file_cases("reserved", 'output_dir: "../../etc"\n', ["output_dir"])
    yield Case("reserved-default-file", ["run", "{nb}", "-o", "{out}"], ["n.yaml", "output_dir"],
               {"parameters/n.yaml": "output_dir: /tmp/elsewhere\n"})  # fmt: skip
    for option in (
        ["-p", "output_dir", "/tmp"],
        ["-r", "output_dir", "/tmp"],
        ["-y", "output_dir: /tmp"],
    ):
        yield Case(f"reserved-run{option[0]}", ["run", "{nb}", *option, "-o", "{out}"], ["the command line", "output_dir"])  # fmt: skip
        yield Case(
            f"reserved-batch{option[0]}",
            [
                "batch",
                "{nb}",
                "--grid",
                "{root}/g.yaml",
                *option,
                "--out",
                "{out}",
                "--no-progress",
            ],
            ["the command line", "output_dir"],
            GOOD_GRID,
        )
    runs = "runs:\n  - {count: 1}\n  - {count: 2, output_dir: /tmp}\n"
    yield Case("reserved-grid-runs", ["batch", "{nb}", "--grid", "{root}/bad.yaml", "--out", "{out}", "--no-progress"],
               ["bad.yaml", "run 2", "output_dir"], {"bad.yaml": runs})  # fmt: skip
    # alias bombs
    yield from _file_cases("bomb", BOMB, ["more than"])
    yield Case("bomb-y", ["run", "{nb}", "-y", BOMB, "-o", "{out}"], ["-y", "more than"])
    # huge: a file larger than parameters are, a value longer than a message shows
    yield from _file_cases("huge-file", "count: 1\n# " + "x" * (2 * 1024**2) + "\n", ["bytes"])
    yield from _file_cases("huge-value", f"count: {'9' * 100_000}x\n", ["count"])
    yield from _file_cases("huge-quantity", f"exposure: '{'1' * 50_000} min'\n", ["exposure"])
    yield from _file_cases(
        "long-name", f"{'n' * 1000}: 1\n", ["unknown parameter"]
    )  # YAML's longest key
    # not a mapping of names to values
    for kind, text in (("list", "- 1\n- 2\n"), ("scalar", "42\n"), ("text", "just words\n")):
        yield from _file_cases(f"not-mapping-{kind}", text, [])
    # binary junk and control characters
    yield from _file_cases("binary", bytes(range(256)) * 4, ["not valid YAML"])
    yield from _file_cases("nul", "count: 1\x00\x01\x02\n", ["not valid YAML"])
    yield from _file_cases("tag", "count: !!binary aGVsbG8=\n", ["count"])
    yield from _file_cases("deep", "count: " + "[" * 2000 + "]" * 2000 + "\n", [])
    # an output folder holding a user's file
    yield Case("user-folder", ["run", "{nb}", "-o", "{root}/mine"], ["mine", "notes.txt", "--overwrite"],
               {"mine/notes.txt": "my notes\n"})  # fmt: skip


def materialise(case, root):
    """Write a case's files under ``root``; return its command line."""
    root = Path(root)
    for name, content in case.files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    if "{root}/g.yaml" in " ".join(case.argv) and not (root / "g.yaml").exists():
        (root / "g.yaml").write_text(GOOD_GRID["g.yaml"])
    fill = {"{nb}": root / "notebooks" / "n.ipynb", "{out}": root / "out", "{root}": root}
    argv = []
    for arg in case.argv:
        for placeholder, value in fill.items():
            arg = arg.replace(placeholder, str(value))
        argv.append(arg)
    return argv
