"""Walk-forward optimisation (tron.backtest.optimize, tron.backtest.tasks, `tron optimize`): the windows,
the grid's checks, the selection by each objective, the task contract, the stitching, and on bars built so
that one parameter value clearly wins, the command finding it, with the same results on 1 and 2 workers."""

from __future__ import annotations

import json
import math
import pickle
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from tron.backtest import optimize as opt
from tron.backtest.tasks import RunSpec, Task, TaskResult, objectives, run_local, share
from tron.cli import main
from tron.domain.risk import RiskLimits

DAYS = [
    date(2025, 3, 3) + timedelta(days=i)
    for i in range(14)
    if (date(2025, 3, 3) + timedelta(days=i)).weekday() < 5
]


# ---------------------------------------------------------------------------------------------- the bars
def _day(d: date, lift: float) -> list[str]:
    """One day of 60 minute bars that only a 30-minute opening range trades at a profit.

    09:15–09:29 chops around ₹100; 09:30 breaks down to 99.70 on 3× volume (a 15-minute range shorts it);
    it then rallies to 100.55 by 09:44 (the short is stopped out: ORB 15 loses every day); 09:45 breaks
    out to 100.90 on 3× volume (only a 30-minute range, whose high is 100.58, buys it), then the price
    climbs ``lift`` rupees by 10:05 and holds to 10:14, where the data ends and the long is closed at a
    profit that varies with ``lift`` (so the Sharpe is defined). A 45-minute range sees no breakout on
    volume afterwards: no trade."""
    rows: list[str] = []

    def bar(k: int, o: float, c: float, vol: int) -> None:
        t = f"{d.isoformat()}T{9 + (15 + k) // 60:02d}:{(15 + k) % 60:02d}:00+05:30"
        rows.append(f"{t},{o:.2f},{max(o, c) + 0.03:.2f},{min(o, c) - 0.03:.2f},{c:.2f},{vol}")

    p = 100.0
    for k in range(15):
        c = 100.05 if k % 2 else 99.95
        bar(k, p, c, 1000)
        p = c
    bar(15, p, 99.7, 3000)
    p = 99.7
    for k in range(16, 30):
        c = 99.7 + 0.85 * (k - 15) / 14
        bar(k, p, c, 1000)
        p = c
    bar(30, p, 100.9, 3000)
    p, top = 100.9, 100.9 + lift
    for k in range(31, 51):
        c = 100.9 + lift * (k - 30) / 20
        bar(k, p, c, 1000)
        p = c
    for k in range(51, 60):
        c = top + (0.02 if k % 2 else -0.02)
        bar(k, p, c, 1000)
        p = c
    return rows


@pytest.fixture(scope="module")
def bars(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Nine trading days of ORBX (a folder with one CSV), the lift varying from day to day."""
    folder = tmp_path_factory.mktemp("wf") / "bars"
    folder.mkdir()
    lines = ["date,open,high,low,close,volume"]
    for i, d in enumerate(DAYS[:9]):
        lines += _day(d, 0.25 + 0.25 * ((i * 7) % 10) / 9)
    (folder / "ORBX.csv").write_text("\n".join(lines) + "\n")
    return folder


def optimize(*argv: str) -> int:
    return main(["optimize", *argv])


def wf_json(bars: Path, capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    code = optimize(
        "--data", str(bars), "--strategy", "orb", "--capital", "1000000", "--charges", "none",
        "--train", "4d", "--test", "2d", "--json", *argv,
    )  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


# ---------------------------------------------------------------------------------------------- windows
def test_rolling_windows_tile_the_days_after_the_first_training() -> None:
    days = DAYS[:9]
    ws = opt.split_windows(days, 4, 2)
    assert [(w.train, w.test) for w in ws] == [
        (tuple(days[0:4]), tuple(days[4:6])),
        (tuple(days[2:6]), tuple(days[6:8])),
        (tuple(days[4:8]), tuple(days[8:9])),  # the last test window takes what is left
    ]
    assert [w.index for w in ws] == [0, 1, 2]
    assert ws[0].to_doc()["train"] == {"from": "2025-03-03", "to": "2025-03-06", "days": 4}


def test_anchored_windows_grow_from_the_first_day() -> None:
    days = DAYS[:8]
    ws = opt.split_windows(days, 4, 2, anchored=True)
    assert [(len(w.train), w.train[0], w.test) for w in ws] == [
        (4, days[0], tuple(days[4:6])),
        (6, days[0], tuple(days[6:8])),
    ]


def test_too_few_days_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"needs at least 6, the data holds 5 \(2025-03-03 … 2025-03-07\)"):
        opt.split_windows(DAYS[:5], 4, 2)
    with pytest.raises(ValueError, match="holds 0"):
        opt.split_windows([], 4, 2)
    with pytest.raises(ValueError, match="--train must be ≥ 2"):
        opt.split_windows(DAYS, 1, 2)
    assert len(opt.split_windows(DAYS[:6], 4, 2)) == 1  # exactly one window


@pytest.mark.parametrize(("text", "days"), [("60d", 60), ("20", 20), (" 5d ", 5)])
def test_spans_are_trading_days(text: str, days: int) -> None:
    assert opt.parse_span(text, "--train") == days


@pytest.mark.parametrize("text", ["2m", "0d", "", "d", "-3d", "1.5d"])
def test_a_bad_span_names_the_option(text: str) -> None:
    with pytest.raises(ValueError, match="--test wants a number of trading days such as 60d"):
        opt.parse_span(text, "--test")


# ---------------------------------------------------------------------------------------------- the grid
def test_the_grid_is_the_product_of_its_values() -> None:
    grid = opt.parse_grid(["range_minutes=15,30", "buffer_pct=0.05, 0.2,0"], ["orb"])
    assert grid.keys == ("range_minutes", "buffer_pct")
    assert grid.points()[:4] == [
        {"range_minutes": 15, "buffer_pct": 0.05},
        {"range_minutes": 15, "buffer_pct": 0.2},
        {"range_minutes": 15, "buffer_pct": 0.0},
        {"range_minutes": 30, "buffer_pct": 0.05},
    ]
    assert len(grid.points()) == 6
    several = opt.parse_grid(["orb.buffer_pct=0.1", "vwap.band_pct=0.05,0.1"], ["orb", "vwap"])
    assert several.points()[1] == {"orb.buffer_pct": 0.1, "vwap.band_pct": 0.1}
    # a value alone is checked in its range; the rule across parameters waits for the combination
    assert len(opt.parse_grid(["fast=20,30", "slow=10"], ["ema_cross"]).points()) == 2


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ([], "say what to search: --grid"),
        (["range_minutes"], "--grid wants k=v1,v2,…"),
        (["range_minutes="], "--grid wants k=v1,v2,…"),
        (["speed=1,2"], "orb has no parameter 'speed'; allowed: range_minutes, buffer_pct, volume_mult"),
        (["vwap.band_pct=0.1"], "'vwap' is not one of the strategies run"),
        (["range_minutes=15,x"], "--grid range_minutes: not a number: 'x'"),
        (["range_minutes=15,nan"], "not a finite number"),
        (["range_minutes=3"], "--grid range_minutes: orb.range_minutes=3.0 outside [5, 60]"),
        (["range_minutes=15.5"], "must be a whole number of bars"),
        (["range_minutes=15,15"], "15 given twice"),
        (["buffer_pct=0.1", "buffer_pct=0.2"], "--grid buffer_pct given twice"),
    ],
)
def test_a_bad_grid_is_refused_naming_the_key(items: list[str], message: str) -> None:
    with pytest.raises(ValueError) as e:
        opt.parse_grid(items, ["orb"])
    assert message in str(e.value)


def test_several_strategies_need_the_strategy_named() -> None:
    with pytest.raises(ValueError, match=r"say which strategy \(name.band_pct=…\)"):
        opt.parse_grid(["band_pct=0.1"], ["orb", "vwap"])


# ---------------------------------------------------------------------------------------------- selection
def result(point: int, sharpe: float | None, calmar: float | None, net: str, dd: float = 1.0) -> TaskResult:
    return TaskResult(
        point, 0, "train", point, 4, 3, Decimal(net), Decimal(1_000_000), sharpe, calmar, dd, 0.0
    )


def test_each_objective_picks_its_best() -> None:
    rs = [result(0, 2.0, 1.0, "100"), result(1, 1.0, 3.0, "50"), result(2, 0.5, 2.0, "900")]
    assert opt.select(rs, "sharpe").point == 0
    assert opt.select(rs, "calmar").point == 1
    assert opt.select(rs, "net").point == 2
    with pytest.raises(ValueError, match="unknown objective 'sortino'"):
        opt.select(rs, "sortino")
    with pytest.raises(ValueError, match="no in-sample result"):
        opt.select([], "net")


def test_ties_and_undefined_objectives() -> None:
    # a tie goes to the higher net P&L, then to the earlier set of the grid
    assert opt.select([result(0, 1.0, None, "10"), result(1, 1.0, None, "20")], "sharpe").point == 1
    assert opt.select([result(0, 1.0, None, "10"), result(1, 1.0, None, "10")], "sharpe").point == 0
    # an undefined Sharpe (no trade, or no variation) ranks below any defined one, even a negative one
    assert opt.select([result(0, None, None, "0"), result(1, -0.5, None, "-10")], "sharpe").point == 1
    # a Calmar undefined because a gaining run never drew down ranks first; a losing one last
    never_down = result(1, 3.0, None, "500", dd=0.0)
    assert opt.select([result(0, 2.0, 40.0, "900"), never_down], "calmar").point == 1
    assert opt.score(result(2, None, None, "-5", dd=0.0), "calmar") == -math.inf


# ---------------------------------------------------------------------------------------------- the task contract
def test_tasks_and_results_round_trip_through_json_and_pickle(bars: Path) -> None:
    spec = RunSpec(str(bars), RiskLimits(capital=Decimal(1_000_000)).to_doc(), "close", 2.5, False)
    task = Task(3, 1, "test", 5, DAYS[4], DAYS[5], (("orb", {"range_minutes": 30.0}),), spec, curve=True)
    assert Task.from_doc(json.loads(json.dumps(task.to_doc()))) == task
    assert pickle.loads(pickle.dumps(task)) == task
    assert task.plan().risk == RiskLimits(capital=Decimal(1_000_000))
    (done,) = run_local([task], 1)
    assert (done.index, done.window, done.phase, done.point, done.days) == (3, 1, "test", 5, 2)
    assert done.dates == tuple(DAYS[4:6]) and len(done.day_ends) == 2 and len(done.equity) == 2 * 61
    assert TaskResult.from_doc(json.loads(json.dumps(done.to_doc()))) == done
    assert [t.index for t in share([task] * 5, 1, 2)] == [3, 3]
    with pytest.raises(ValueError, match="task index 2 of 2"):
        share([task], 2, 2)


def test_stitching_carries_each_windows_net_into_the_next() -> None:
    cap = Decimal(1000)

    def window(eq: list[float], ends: tuple[int, ...], days: tuple[date, ...]) -> TaskResult:
        net = Decimal(str(eq[-1])) - cap
        return TaskResult(
            0, 0, "test", 0, len(days), 1, net, cap, None, None, 0.0, 0.0, tuple(eq), ends, days
        )

    a = window([1000, 1010, 1005, 1020], (1, 3), tuple(DAYS[0:2]))
    b = window([990, 1030], (1,), (DAYS[2],))
    s = opt.stitch([a, b])
    assert s.equity.tolist() == [1000, 1010, 1005, 1020, 1010, 1050]
    assert s.day_equity.tolist() == [1010, 1020, 1050] and s.net == Decimal(50) and s.trades == 2
    assert s.dates == DAYS[0:3]
    assert s.metrics == objectives(np.array([1010.0, 1020.0, 1050.0]), s.equity, 1000.0)
    assert s.to_doc()["final_equity"] == "1050.00"


def test_degradation_is_out_of_sample_over_in_sample() -> None:
    d = {"in_sample": 2.0, "out_of_sample": 0.5, "ratio": 0.25}
    assert opt.statement("sharpe", d) == (
        "Out-of-sample Sharpe 0.50 against 2.00 in sample (mean of the windows' chosen sets): OOS/IS = 0.25, "
        "75% lower out of sample."
    )
    bad = opt.statement("calmar", {"in_sample": -1.0, "out_of_sample": 0.5, "ratio": None})
    assert bad.endswith("no OOS/IS ratio (Calmar not positive in sample).")


# ---------------------------------------------------------------------------------------------- the command
def test_it_finds_the_known_best_and_workers_do_not_change_the_result(
    bars: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    grid = ("--grid", "range_minutes=15,30", "--grid", "buffer_pct=0.05,0.2")
    one = wf_json(bars, capsys, *grid, "--workers", "1")
    report = tmp_path / "wf.html"
    two = wf_json(bars, capsys, *grid, "--workers", "2", "--html", str(report))
    assert one.pop("workers") == 1 and two.pop("workers") == 2
    assert one == two  # identical, to the last digit, whatever the number of workers

    assert one["windowing"] == "rolling" and len(one["windows"]) == 3 and one["sets"] == 4
    assert [w["chosen"]["range_minutes"] for w in one["windows"]] == [30, 30, 30]
    for w in one["windows"]:
        grid_w = [g for g in one["in_sample_grid"] if g["window"] == w["window"]]
        best = max(
            g["sharpe"] for g in grid_w if g["params"]["range_minutes"] != 30 and g["sharpe"] is not None
        )
        assert w["in_sample"]["sharpe"] > max(best, 0)
        assert float(w["out_of_sample"]["net"]) > 0 and w["out_of_sample"]["trades"] == w["test"]["days"]
    assert one["windows"][-1]["test"] == {"from": "2025-03-13", "to": "2025-03-13", "days": 1}
    assert one["stability"]["range_minutes"]["mode"] == 30
    assert one["stability"]["range_minutes"]["mode_share"] == 1.0
    oos = one["out_of_sample"]
    assert oos["days"] == 5 and float(oos["net"]) == sum(
        float(w["out_of_sample"]["net"]) for w in one["windows"]
    )
    deg = one["degradation"]["sharpe"]
    assert deg["ratio"] == round(deg["out_of_sample"] / deg["in_sample"], 6)
    assert one["summary"].startswith("Out-of-sample Sharpe ")

    page = report.read_text()
    assert (
        "range_minutes \\ buffer_pct" in page
        and "chosen ×3" in page
        and page.count("<td style=") == 4
        and "Parameter stability" in page
    )
    assert page.count("<svg") == 2 and "<script" not in page and "http" not in page


@pytest.mark.parametrize("objective", ["calmar", "net"])
def test_every_objective_finds_it_anchored_too(
    bars: Path, objective: str, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = wf_json(
        bars,
        capsys,
        "--grid",
        "range_minutes=15,30,45",
        "--objective",
        objective,
        "--anchored",
        "--workers",
        "1",
    )
    assert doc["windowing"] == "anchored" and doc["objective"] == objective
    assert [w["train"]["days"] for w in doc["windows"]] == [4, 6, 8]
    assert [w["chosen"] for w in doc["windows"]] == [{"range_minutes": 30}] * 3


def test_the_table_and_a_combination_left_out(bars: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = optimize(
        "--data", str(bars), "--strategy", "ema_cross", "--grid", "fast=5,20", "--grid", "slow=10",
        "--train", "3d", "--test", "3d", "--from", "2025-03-03", "--to", "2025-03-11", "--charges", "none",
        "--workers", "1",
    )  # fmt: skip
    out = " ".join(capsys.readouterr().out.split())  # the table wraps long lines
    assert code == 0
    assert "parameter stability" in out and "out of sample, stitched" in out and "OOS/IS" in out
    assert (
        "left out 1 combination(s): fast=20 slow=10 (ema_cross: fast 20 must be shorter than slow 10)" in out
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--strategy", "nope", "--grid", "x=1"], "unknown strategy"),
        (["--strategy", "orb", "--grid", "speed=1"], "orb has no parameter 'speed'"),
        (["--strategy", "orb", "--grid", "range_minutes=2,15"], "outside [5, 60]"),
        (["--strategy", "orb"], "say what to search: --grid"),
        (
            ["--strategy", "ema_cross", "--grid", "fast=20", "--grid", "slow=10"],
            "no parameter set of the grid",
        ),
        (["--strategy", "orb", "--grid", "buffer_pct=0.1", "--train", "2m"], "--train wants a number"),
        (["--strategy", "orb", "--grid", "buffer_pct=0.1", "--train", "8d"], "too few trading days"),
        (["--strategy", "orb", "--grid", "buffer_pct=0.1", "--from", "2025-04-01"], "has no session from"),
        (
            ["--strategy", "orb", "--grid", "buffer_pct=0.1", "--from", "2025-03-09", "--to", "2025-03-08"],
            "after",
        ),
    ],
)
def test_bad_input_exits_2_with_a_message(
    bars: Path, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["--data", str(bars), "--train", "4d", "--test", "2d", "--workers", "1"]
    args = base + argv
    if "--train" in argv:  # the case's own --train
        i = base.index("--train")
        args = base[:i] + base[i + 2 :] + argv
    assert optimize(*args) == 2
    err = capsys.readouterr().err
    assert err.startswith("tron optimize: ") and message in err


def test_missing_data_and_argparse_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    common = ["--strategy", "orb", "--grid", "buffer_pct=0.1", "--train", "4d", "--test", "2d"]
    assert optimize("--data", str(tmp_path / "none.csv"), *common) == 2
    assert "data file not found" in capsys.readouterr().err
    assert optimize("--data", str(tmp_path / "day.jsonl"), *common) == 2
    assert "optimize reads OHLCV bars" in capsys.readouterr().err
    for bad in (["--workers", "0"], ["--objective", "sortino"], ["--capital", "-1"]):
        with pytest.raises(SystemExit) as e:
            optimize("--data", str(tmp_path), *common, *bad)
        assert e.value.code == 2
