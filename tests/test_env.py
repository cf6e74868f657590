"""Speed-tuning environment variables: bad values are clear errors, never ignored."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from v2x_sim._core.env import KERNEL_THREADS, REPORT_WORKERS, env_count
from v2x_sim._core.errors import ScenarioError
from v2x_sim.cli import main
from v2x_sim.compute.servers import kernel_threads
from v2x_sim.report.render import report_workers

BAD_VALUES = [(env_count, name, value) for name in (KERNEL_THREADS, REPORT_WORKERS)
              for value in ("0", "-1", "two", "65", "1.5")]


@pytest.mark.parametrize(("read", "name", "value"), BAD_VALUES)
def test_a_bad_value_names_the_variable(monkeypatch: pytest.MonkeyPatch,
                                        read: Callable[[str], object], name: str,
                                        value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ScenarioError) as caught:
        read(name)
    assert caught.value.path == name
    assert value in str(caught.value)


def test_the_readers_refuse_what_they_used_to_ignore(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KERNEL_THREADS, "0")
    with pytest.raises(ScenarioError):
        kernel_threads()
    monkeypatch.setenv(REPORT_WORKERS, "x")
    with pytest.raises(ScenarioError):
        report_workers(9)


def test_report_workers_takes_a_good_value_capped_by_the_figures(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(REPORT_WORKERS, "3")
    assert report_workers(9) in (1, 3)  # 1 where fork is unavailable
    assert report_workers(2) in (1, 2)


def test_the_command_line_stops_before_running(monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str],
                                               tmp_path: Path) -> None:
    monkeypatch.setenv(KERNEL_THREADS, "many")
    out = tmp_path / "out"
    code = main(["run", "quickstart", "-o", str(out), "-q"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1
    assert KERNEL_THREADS in err
    assert "'many'" in err
    assert not out.exists()  # nothing written
