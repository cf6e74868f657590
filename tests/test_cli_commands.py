"""Every sub-command end to end, in process: its exit code on good and bad input, and
what it leaves on disk. Runs are a 3x3 grid for 60 s with V2X off and one worker, so
the whole table costs a few seconds; the report is built only where it is the subject.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from v2x_sim import cli
from v2x_sim.cli import main

TINY = """\
name: tiny
simulation: {horizon_s: 60, seed: 1}
road: {generator: grid, grid: {rows: 3, cols: 3, spacing_m: 200}}
demand: {random: {rate_vph: 600}}
v2x: {enabled: false}
"""
SWEEP = TINY + "sweep: {mode: grid, parameters: {demand.random.rate_vph: [300, 600]}, " \
               "replications: 1}\n"


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # default results/ folders land in tmp_path
    (tmp_path / "tiny.yaml").write_text(TINY, encoding="utf-8")
    (tmp_path / "sweep.yaml").write_text(SWEEP, encoding="utf-8")


STUDY = ["-j", "1", "-q", "--no-report"]
CASES = [
    (["scenarios"], 0),
    (["validate", "tiny.yaml"], 0),
    (["validate", "tiny.yaml", "--set", "road.grid.rows=0"], 2),
    (["validate", "missing.yaml"], 2),
    (["run", "tiny.yaml", "-q", "--no-report", "-o", "out"], 0),
    (["run", "tiny.yaml", "-q", "--no-report", "--seed", "-1"], 2),
    (["run", "tiny.yaml", "-q", "--no-report", "--policy", "nope"], 2),
    (["compare", "tiny.yaml", "--policies", "none", "-n", "2", *STUDY, "-o", "cmp"], 0),
    (["compare", "tiny.yaml", "--policies", "none", "--baseline", "oracle", *STUDY], 2),
    (["replicate", "tiny.yaml", "-n", "2", *STUDY, "-o", "rep"], 0),
    (["replicate", "tiny.yaml", "-n", "0", *STUDY], 2),
    (["sweep", "sweep.yaml", *STUDY, "-o", "swp"], 0),
    (["sweep", "tiny.yaml", *STUDY], 2),  # no sweep: block
    (["report", "nowhere"], 2),
    (["routes", "tiny.yaml", "-q", "-o", "rts"], 0),
    (["routes", "missing.yaml", "-q"], 2),
    (["import", "sumo", "nothere.net.xml", "-o", "imp"], 2),
    (["run"], 2),  # missing argument (argparse)
    (["fly"], 2),  # unknown command (argparse)
]


@pytest.mark.parametrize(("argv", "code"), CASES, ids=[" ".join(a[:2]) + f" -> {c}"
                                                       for a, c in CASES])
def test_exit_code(argv: list[str], code: int, capsys: pytest.CaptureFixture[str]) -> None:
    """Exit 0 on success; 2 with one line on stderr for any bad input."""
    try:
        got = main(argv)
    except SystemExit as exc:  # argparse exits by itself on usage errors
        got = int(exc.code or 0)
    _, err = capsys.readouterr()
    assert got == code, err
    if code == 2:
        assert len(err.strip().splitlines()) == 1, err
        assert "Traceback" not in err


def test_version_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.startswith("v2x-sim ")


def test_no_report_then_report_dir(capsys: pytest.CaptureFixture[str]) -> None:
    """``--no-report`` writes the tables but no figures or report.html; ``report DIR``
    builds both later from the files on disk, exit 0; a folder that holds no results is
    exit 2."""
    assert main(["run", "tiny.yaml", "-q", "--no-report", "-o", "out"]) == 0
    out = Path("out")
    assert (out / "summary.json").is_file()
    assert not (out / "report.html").exists()
    assert not (out / "figures").exists()
    assert main(["report", "out"]) == 0
    assert (out / "report.html").stat().st_size > 0
    assert any((out / "figures").glob("*.png"))
    Path("empty").mkdir()
    assert main(["report", "empty"]) == 2
    assert "empty" in capsys.readouterr().err


def test_interrupt_exits_130(monkeypatch: pytest.MonkeyPatch,
                             capsys: pytest.CaptureFixture[str]) -> None:
    """Ctrl-C during a command: exit 130 and one line saying the results were left as
    they were."""
    def interrupted(_args: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setitem(cli.COMMANDS, "run", interrupted)
    assert main(["run", "tiny.yaml", "-q"]) == 130
    assert "interrupted" in capsys.readouterr().err
