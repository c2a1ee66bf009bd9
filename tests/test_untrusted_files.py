"""Input files as an attacker or a careless user gives them: special files, files too large,
nested too deep or expanding without bound, loops of files, and files whose content must not
be quoted. Every input kind is read by the one bounded reader (`aimcsim.params.files`), so
every case, for every kind, ends in exit code 2 and one error naming the file, in seconds.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml
from conftest import arch_doc, linear_workload
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_bad_files import _loads_or_refuses, _mutated
from test_bad_files import _one_error as _bad_files_error

from aimcsim import load_arch, load_workload, simulate
from aimcsim.cli import main
from aimcsim.params.files import MAX_DEPTH, MAX_VALUES, check_tree, load_json
from aimcsim.spec.arch import MAX_EXTENDS, MODES

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
    paths["tech"].write_text((ROOT / "tech" / "pcm14.yaml").read_text())
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
    """`test_bad_files`' check (exit 2, an error first, no traceback, within its time limit), and one
    error: a line, or a block whose further lines each name the same file."""
    err = _bad_files_error(capsys, argv, None)
    lines = [line for line in err.splitlines() if not line.startswith("aimcsim: warning:")]
    culprit = lines[0].removeprefix("aimcsim: error: ").split(": ")[0]
    assert all(line.startswith(f"{culprit}: ") for line in lines[1:]), err
    assert len(lines) <= 9, err
    return "\n".join(lines)


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


@pytest.mark.parametrize("grown", [10, 100])
def test_a_file_that_grows_while_read_is_read_whole_or_refused(tmp_path, monkeypatch, grown):
    """The reader asks for the size the file had when opened and one byte more; a file that
    grew meanwhile (here: `os.fstat` tells its size before it grew by `grown` bytes) is read
    on to the end, or refused once above the limit (64 bytes here)."""
    from aimcsim.params import files

    path = tmp_path / "grows.json"
    data = b"x" * (40 + grown)
    path.write_bytes(data)
    real = os.fstat

    def before_it_grew(fd: int) -> os.stat_result:
        info = list(real(fd))
        info[6] = 40  # st_size
        return os.stat_result(info)

    monkeypatch.setattr(files.os, "fstat", before_it_grew)
    monkeypatch.setitem(files.LIMIT_BYTES, "json", 64)
    if len(data) <= 64:
        assert files.read_bytes(path, "json") == data
    else:
        with pytest.raises(Exception, match="more than the 64 bytes limit of a JSON file"):
            files.read_bytes(path, "json")


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


# ---- results folders ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """A run, a search and a sweep folder of small inputs, made once (copied per test)."""
    base = tmp_path_factory.mktemp("folders")
    paths = _files(base)
    for argv in (["run", str(paths["arch"]), str(paths["work"]), "--mode", "both",
                  "--out", str(base / "run")],
                 ["search", str(paths["arch"]), str(paths["work"]), "--space",
                  str(paths["space"]), "--out", str(base / "search")],
                 ["sweep", str(paths["sweep"]), "--out", str(base / "sweep")]):
        assert main(argv) == 0
    return base


def _copy(folders: Path, kind: str, to: Path) -> Path:
    import shutil

    return Path(shutil.copytree(folders / kind, to / kind))


def test_a_report_embeds_only_the_inputs_the_folder_recorded(folders, tmp_path, capsys,
                                                             monkeypatch):
    """summary.json naming a secret file as the architecture, settings and workload, the
    report made from another directory: the secret never lands in the page, the recorded
    architecture does."""
    run = _copy(folders, "run", tmp_path)
    secret = tmp_path / "secret.yaml"
    secret.write_text("token: SECRET-0123456789\n")
    summary = json.loads((run / "summary.json").read_text())
    summary.update(arch=str(secret), workload=str(secret), settings=str(secret))
    (run / "summary.json").write_text(json.dumps(summary))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert main(["report", str(run)]) == 0, capsys.readouterr().err
    page = (run / "report.html").read_text()
    assert "SECRET-0123456789" not in page
    assert "arch.yaml" in page and "as aimcsim resolved it" in page
    for kind in ("search", "sweep"):
        folder = _copy(folders, kind, tmp_path)
        assert main(["report", str(folder)]) == 0, capsys.readouterr().err
        assert "as aimcsim resolved it" in (folder / "report.html").read_text()


def test_a_recorded_input_that_leaves_the_folder_is_refused(folders, tmp_path, capsys):
    """A recorded input that is a symbolic link (to a file of this machine), a recorded
    architecture that extends or names another file: report and plot refuse it."""
    secret = tmp_path / "secret.yaml"
    secret.write_text("token: SECRET\n")
    run = _copy(folders, "run", tmp_path)
    (run / "arch.yaml").unlink()
    (run / "arch.yaml").symlink_to(secret)
    line = _one_error(capsys, ["report", str(run)])
    assert "arch.yaml: a recorded input must be a regular file" in line and "SECRET" not in line
    search = _copy(folders, "search", tmp_path)
    recorded = (search / "arch.yaml").read_text()
    for bad, expected in ((f"extends: {secret}\n", "extends: a recorded architecture is "
                           "resolved: it extends nothing"),
                          (recorded.replace("technology: technology.yaml",
                                            f"technology: {secret}"),
                           "technology: a recorded architecture names its recorded "
                           "technology.yaml only")):
        (search / "arch.yaml").write_text(bad)
        line = _one_error(capsys, ["plot", str(search), "--kind", "pareto"])
        assert expected in line and "SECRET" not in line, line


def _broken(path: Path, how: str) -> str:
    """Break a results file in one of several ways; returns what the error must say."""
    if how == "fifo":
        path.unlink()
        os.mkfifo(path)
        return "is a FIFO (named pipe), not a regular file"
    if how == "garbage":
        path.write_bytes(b"\x00\xff garbage \x01" * 10)
        return "" if path.suffix == ".csv" else "not"
    if how == "empty":
        path.write_bytes(b"")
        return ""
    if path.suffix == ".json":
        path.write_text("[1, 2]" if how == "shape" else '{"modes": {"hybrid": {}}}')
        return "expected a JSON object" if how == "shape" else "missing"
    import pandas as pd

    table = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    if how == "shape":
        table = table.drop(columns=table.columns[1])
        expected = "missing column(s)"
    else:  # a column of numbers as text
        name = next(c for c in table.columns if c.endswith("_ns") or c == "latency_ns_hybrid")
        table[name] = "fast"
        expected = f"{name}: expected number values"
    if path.suffix == ".parquet":
        table.to_parquet(path)
    else:
        table.to_csv(path, index=False)
    return expected


RESULT_CASES = [("run", "summary.json", ["report"]), ("run", "layers.csv", ["report"]),
                ("run", "layers.csv", ["plot", "--kind", "breakdown"]),
                ("run", "critical_path.csv", ["report"]),
                ("run", "timeline.parquet", ["plot", "--kind", "timeline"]),
                ("search", "summary.json", ["report"]), ("search", "search.csv", ["report"]),
                ("search", "search.csv", ["plot", "--kind", "pareto"]),
                ("sweep", "points.parquet", ["report"]),
                ("sweep", "points.parquet", ["compare"]),
                ("sweep", "layers.parquet", ["compare"]),
                ("sweep", "layers.parquet", ["plot", "--kind", "breakdown"])]


@pytest.mark.parametrize("how", ["fifo", "garbage", "empty", "shape", "types"])
@pytest.mark.parametrize(("kind", "name", "command"), RESULT_CASES,
                         ids=[f"{k}-{n}-{c[0]}" for k, n, c in RESULT_CASES])
def test_a_broken_results_file_gets_one_clean_error(folders, tmp_path, capsys, kind, name,
                                                    command, how):
    folder = _copy(folders, kind, tmp_path)
    if how == "types" and name.endswith(".json"):
        how = "keys"
    expected = _broken(folder / name, how)
    argv = [command[0], str(folder), *command[1:]]
    line = _one_error(capsys, argv)
    assert str(folder / name) in line and expected in line, line


def test_errors_in_what_a_settings_file_sets_name_that_file(tmp_path, capsys):
    paths = _files(tmp_path)
    paths["settings"].write_text("version: 1\npipeline:\n  parallel_tokens: 0\nlora:\n"
                                 "  rank: 999999\n")
    block = _one_error(capsys, _argv("settings", paths, tmp_path / "out"))
    assert block.splitlines()[0] == f"aimcsim: error: {paths['settings']}: 2 error(s)", block
    assert f"{paths['settings']}: lora.rank: 999999 is above the maximum" in block


# ---- fuzzing: technology files and results folders ----------------------------------------

_FUZZ = settings(max_examples=60, deadline=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture])
_TECH = yaml.safe_load((ROOT / "tech" / "pcm14.yaml").read_text())


@_FUZZ
@given(doc=_mutated(_TECH))
def test_fuzzed_technologies(tmp_path_factory, doc):
    """A mutated technology file: the architecture naming it loads and runs, or is refused
    with the library's own error, in seconds."""
    folder = tmp_path_factory.mktemp("tech")
    paths = _files(folder)
    paths["tech"].write_text(yaml.safe_dump(doc))
    _loads_or_refuses(lambda: [simulate(load_arch(paths["arch"]), load_workload(paths["work"]),
                                        mode, timeline=False) for mode in MODES])


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzzed_results_folders(folders, tmp_path_factory, data):
    """A run or search folder's summary.json mutated: report either writes its page or ends
    in one clean error (exit 2), never a traceback."""
    kind = data.draw(st.sampled_from(["run", "search"]))
    folder = _copy(folders, kind, tmp_path_factory.mktemp("fuzz"))
    doc = data.draw(_mutated(json.loads((folder / "summary.json").read_text())))
    (folder / "summary.json").write_text(json.dumps(doc))
    _loads_or_refuses(lambda: main(["report", str(folder)]) in (0, 2) or pytest.fail("exit"))
