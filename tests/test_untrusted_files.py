"""Input files as an attacker or a careless user gives them: special files, files too large,
nested too deep or expanding without bound, loops of files, and files whose content must not
be quoted. Every input kind is read by the one bounded reader (`aimcsim.params.files`), so
every case, for every kind, ends in exit code 2 and one error naming the file, in seconds.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
import yaml
from conftest import arch_doc, linear_workload

from aimcsim.cli import main
from aimcsim.params.files import MAX_DEPTH, MAX_VALUES, check_tree, load_json
from aimcsim.spec.arch import MAX_EXTENDS

LIMIT_S = 5.0
ROOT = Path(__file__).resolve().parents[1]
GPU = ROOT / "tech" / "gpu"


def _files(folder: Path) -> dict[str, Path]:
    """A valid set of every input kind in `folder`, by kind."""
    paths = {k: folder / name for k, name in (
        ("arch", "a.yaml"), ("work", "w.yaml"), ("settings", "r.yaml"), ("sweep", "s.yaml"),
        ("space", "sp.yaml"), ("config", "config.json"), ("tech", "t.yaml"),
        ("gpu", "g.yaml"))}
    docs = {"arch": {**arch_doc(), "technology": "t.yaml"}, "work": linear_workload(16, 64, 64),
            "settings": {"version": 1, "pipeline": {"parallel_tokens": 8}},
            "sweep": {"version": 1, "arch": "a.yaml", "workloads": ["w.yaml"],
                      "axes": {"pipeline.parallel_tokens": [4, 8]}},
            "space": {"version": 1, "parallel_tokens": [4, 8], "integration_time_ns": [256]}}
    for kind, doc in docs.items():
        paths[kind].write_text(yaml.safe_dump(doc, sort_keys=False))
    paths["tech"].write_text((ROOT / "tech" / "pcm14_horowitz45.yaml").read_text())
    paths["gpu"].write_text(next(GPU.glob("*.yaml")).read_text())
    paths["config"].write_text(json.dumps({"model_type": "gpt2", "n_embd": 64, "n_head": 2,
                                           "n_layer": 2}))
    return paths


def _argv(kind: str, p: dict[str, Path], out: Path) -> list[str]:
    a, w = str(p["arch"]), str(p["work"])
    return {"arch": ["run", a, w], "work": ["run", a, w], "tech": ["run", a, w],
            "settings": ["run", a, w, "--settings", str(p["settings"])],
            "gpu": ["run", a, w, "--gpu", str(p["gpu"])],
            "sweep": ["sweep", str(p["sweep"]), "--out", str(out)],
            "space": ["search", a, w, "--space", str(p["space"]), "--out", str(out)],
            "config": ["trace", "--config", str(p["config"]), "--out", str(out / "t.yaml")],
            }[kind]


def _one_error(capsys, argv: list[str]) -> str:
    start = time.perf_counter()
    code = main(argv)
    elapsed = time.perf_counter() - start
    err = capsys.readouterr().err
    assert code == 2, err
    assert elapsed < LIMIT_S, f"{elapsed:.1f} s"
    lines = [line for line in err.splitlines() if not line.startswith("aimcsim: warning:")]
    assert len(lines) == 1 and lines[0].startswith("aimcsim: error: "), err
    assert "Traceback" not in err
    return lines[0]


KINDS = ("arch", "work", "settings", "tech", "gpu", "sweep", "space", "config")


def _fifo(path: Path) -> str:
    os.mkfifo(path)
    return "is a FIFO (named pipe), not a regular file"


def _device(path: Path) -> str:
    path.symlink_to("/dev/zero")
    return "is a character device, not a regular file"


def _folder(path: Path) -> str:
    path.mkdir()
    return "is a folder, not a regular file"


def _sparse(path: Path) -> str:
    with open(path, "wb") as f:  # 2 GiB that take no disk: refused by size, unread
        f.truncate(2 << 30)
    return "2,048 MiB is above the 16 MiB limit"


def _loop(path: Path) -> str:
    other = path.with_name(path.name + ".other")
    other.symlink_to(path.name)
    path.symlink_to(other.name)
    return "a loop of symbolic links"


@pytest.mark.parametrize("make", [_fifo, _device, _folder, _sparse, _loop],
                         ids=lambda f: f.__name__.strip("_"))
@pytest.mark.parametrize("kind", KINDS)
def test_a_special_or_huge_input_is_refused_unread(tmp_path, capsys, kind, make):
    paths = _files(tmp_path)
    paths[kind].unlink()
    expected = make(paths[kind])
    line = _one_error(capsys, _argv(kind, paths, tmp_path / "out"))
    assert _names(line, paths[kind]) and expected in line, line


def _names(line: str, path: Path) -> bool:
    """Whether the message names the file: resolved (a symlink's target), or as the file that
    names it gives it."""
    try:
        resolved = str(path.resolve())
    except RuntimeError:  # (a loop)
        resolved = str(path)
    return str(path) in line or resolved in line or repr(path.name) in line


def _deep_yaml(levels: int) -> str:
    return "".join(f"{' ' * i}k{i}:\n" for i in range(levels)) + " " * levels + "x\n"


def _bomb() -> str:
    """Nine lines that expand to 9^9 (387 million) values."""
    lines = ['l0: &l0 ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 9)]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(("text", "expected"), [
    (_deep_yaml(MAX_DEPTH + 5), f"nested deeper than {MAX_DEPTH} levels"),
    ("[" * 5000 + "]" * 5000, "exceeded maximum nesting depth"),
    (_bomb(), f"holds more than {MAX_VALUES:,} values"),
], ids=["deep", "flow-deep", "alias-bomb"])
@pytest.mark.parametrize("kind", [k for k in KINDS if k != "config"])
def test_a_yaml_input_nested_or_expanding_without_bound_is_refused(tmp_path, capsys, kind,
                                                                    text, expected):
    paths = _files(tmp_path)
    paths[kind].write_text(text)
    line = _one_error(capsys, _argv(kind, paths, tmp_path / "out"))
    assert str(paths[kind]) in line and expected in line, line


@pytest.mark.parametrize(("text", "expected"), [
    ('{"model_type": "gpt2", "x": ' + "[" * 5000 + "]" * 5000 + "}",
     f"nested deeper than {MAX_DEPTH} levels"),
    ('{"model_type": "gpt2", "x": ' + "[" * 100 + "]" * 100 + "}",
     f"nested deeper than {MAX_DEPTH} levels"),
    ('{"model_type": "gpt2",', "invalid JSON at line 1, column 23"),
    ("[1, 2]", "a config.json is a JSON object (a mapping of fields), not a list"),
], ids=["recursion", "deep", "truncated", "list"])
def test_a_config_json_nested_without_bound_is_refused(tmp_path, capsys, text, expected):
    paths = _files(tmp_path)
    paths["config"].write_text(text)
    line = _one_error(capsys, _argv("config", paths, tmp_path / "out"))
    assert str(paths["config"]) in line and expected in line, line


def test_the_tree_check_walks_without_recursion():
    deep: list = []
    node = deep
    for _ in range(100_000):  # deeper than Python's stack
        node.append([])
        node = node[0]
    with pytest.raises(Exception, match=f"nested deeper than {MAX_DEPTH} levels"):
        check_tree(deep, "doc")
    check_tree({"a": [[[1]]] * 1000}, "doc")  # shared values, counted each time: fine


@pytest.mark.parametrize("kind", ["arch", "work", "config"])
def test_a_byte_order_mark_is_read_as_text(tmp_path, capsys, kind):
    paths = _files(tmp_path)
    text = paths[kind].read_text()
    paths[kind].write_text(text, encoding="utf-8-sig")
    argv = _argv(kind, paths, tmp_path / "out")
    assert main(argv) == 0, capsys.readouterr().err
    if kind == "config":
        assert load_json(paths["config"]) == json.loads(text)


def test_a_long_extends_chain_is_refused(tmp_path, capsys):
    paths = _files(tmp_path)
    previous = paths["arch"]
    for i in range(MAX_EXTENDS + 4):
        link = tmp_path / f"x{i}.yaml"
        link.write_text(f"extends: {previous.name}\n")
        previous = link
    line = _one_error(capsys, ["run", str(previous), str(paths["work"])])
    assert str(previous) in line and f"more than {MAX_EXTENDS} files extend one another" in line


def test_a_foreign_file_a_path_names_is_never_quoted(tmp_path, capsys):
    """`technology:` or `extends:` naming a file that is not one of ours (a key file, say):
    the error names the file, says what it holds, and quotes nothing of it, in one line."""
    paths = _files(tmp_path)
    secret = tmp_path / "id_secret"
    for text, said in (("SECRET-KEY-0123456789 " * 20, "the file holds text"),
                       ("key: SECRET\n- SECRET\n", "invalid YAML at line 2")):
        secret.write_text(text)
        for key in ("technology", "extends"):
            doc = {**arch_doc(), key: str(secret)} if key == "technology" else {key: str(secret)}
            paths["arch"].write_text(yaml.safe_dump(doc))
            line = _one_error(capsys, ["run", str(paths["arch"]), str(paths["work"])])
            assert "SECRET" not in line, line
            assert str(secret) in line and said in line, line
