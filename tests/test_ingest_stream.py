"""`IngestStream`: the same denials and report as `ingest()`, one at a time, in flat memory."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest
from typer.testing import CliRunner

import agent.ingest
import agent.x12.segments
from agent.cli import app
from agent.ingest import IngestStream, ingest
from tests.conftest import FIXTURES
from tests.test_x12_linear import calls, many_claims

FILES = [str(p) for p in sorted((FIXTURES / "835").glob("*.835"))] + \
    [str(p) for p in sorted((FIXTURES / "queue").glob("*"))]


def _truncated(tmp_path: Path) -> str:
    text = Path(FILES[0]).read_text()
    path = tmp_path / "truncated.835"
    path.write_text(text[: len(text) * 2 // 3])
    return str(path)


@pytest.fixture
def batch(tmp_path: Path) -> list[str]:
    """Every fixture, one twice (duplicates), one truncated and one missing file."""
    return [*FILES, FILES[0], _truncated(tmp_path), str(tmp_path / "missing.835")]


def test_stream_yields_what_ingest_returns(batch: list[str]) -> None:
    stream = IngestStream(batch)
    streamed = list(stream)
    report = ingest(batch)
    assert [d.denial_id for d in streamed] == [d.denial_id for d in report.denials]
    assert stream.report(streamed) == report
    assert report.summary.duplicates > 0 and report.summary.files_failed == 2
    with pytest.raises(RuntimeError):
        list(stream)


def test_json_output_is_the_whole_report_written_as_it_streams(batch: list[str]) -> None:
    result = CliRunner().invoke(app, ["ingest", "--json", *batch])
    assert result.exit_code == 1
    assert result.stdout == ingest(batch).model_dump_json(indent=2) + "\n"


def test_json_output_without_denials_keeps_the_same_shape(tmp_path: Path) -> None:
    bad = _truncated(tmp_path)
    result = CliRunner().invoke(app, ["ingest", "--json", bad])
    assert result.exit_code == 2
    assert result.stdout == ingest([bad]).model_dump_json(indent=2) + "\n"


def test_a_file_over_the_held_limit_is_read_twice_with_the_same_result(
        monkeypatch: pytest.MonkeyPatch, batch: list[str]) -> None:
    expected = ingest(batch)
    monkeypatch.setattr(agent.ingest, "HELD_DENIALS", 2)
    stream = IngestStream(batch)
    assert stream.report(list(stream)) == expected


def test_a_large_file_that_fails_at_its_end_passes_on_no_denials(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(agent.ingest, "HELD_DENIALS", 2)
    text = many_claims(20)
    path = tmp_path / "cut.835"
    path.write_text(text[: text.rindex("SE*")])
    stream = IngestStream([path])
    assert list(stream) == []
    assert stream.files[0].status == "failed" and stream.exit_status == 2


def test_a_file_changed_between_its_two_reads_is_reported(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(agent.ingest, "HELD_DENIALS", 2)
    monkeypatch.setattr(agent.x12.segments, "CHUNK_SIZE", 64)
    path = tmp_path / "moving.835"
    text = many_claims(500)  # past the 8 KB a text file reads ahead
    path.write_text(text)
    stream = IngestStream([path])
    passed_on = 0
    for _ in stream:
        if passed_on == 0:
            path.write_text(text[:200])  # truncated under the second read
        passed_on += 1
    result = stream.files[0]
    assert result.status == "failed" and result.denials == passed_on
    assert result.errors == [f"{path}: the file changed while it was read; {passed_on} of "
                             "its denials were already passed on"]


def test_warnings_past_the_limit_are_counted_in_one_line(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(agent.ingest, "MAX_WARNINGS_PER_FILE", 1)
    path = tmp_path / "unbalanced.835"
    path.write_text(many_claims(3).replace("CAS*CO*50*10.00", "CAS*CO*50*9.00"))
    stream = IngestStream([path])
    list(stream)
    warnings = stream.files[0].warnings
    assert len(warnings) == 2 and warnings[1].endswith("more warnings not listed")


def _peak_bytes(path: Path, keep: bool) -> int:
    tracemalloc.start()
    try:
        if keep:
            ingest([path])
        else:
            for _ in IngestStream([path]):
                pass
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _peaks(tmp_path: Path, claims: int, keep: bool) -> tuple[int, int, int]:
    """Peak traced bytes at 1x and 10x, and the denials added (two per claim)."""
    small, large = tmp_path / "1x.835", tmp_path / "10x.835"
    small.write_text(many_claims(claims))
    large.write_text(many_claims(10 * claims))
    _peak_bytes(small, keep)  # warm caches and imports
    return _peak_bytes(small, keep), _peak_bytes(large, keep), 18 * claims


def test_streaming_memory_is_flat_in_file_size(monkeypatch: pytest.MonkeyPatch,
                                               tmp_path: Path) -> None:
    # Chunks smaller than the files, so that the 1x file is not read in one piece.
    monkeypatch.setattr(agent.x12.segments, "CHUNK_SIZE", 1 << 14)
    small, large, added = _peaks(tmp_path, 1_000, keep=False)
    assert large < 1.5 * small, (small, large)
    assert (large - small) / added < 200  # bytes per denial: an id to drop duplicates


def test_the_memory_measure_sees_denials_kept(monkeypatch: pytest.MonkeyPatch,
                                              tmp_path: Path) -> None:
    monkeypatch.setattr(agent.x12.segments, "CHUNK_SIZE", 1 << 14)
    small, large, added = _peaks(tmp_path, 100, keep=True)
    assert large > 5 * small and (large - small) / added > 1_000


def test_streaming_work_is_linear_in_file_size(tmp_path: Path) -> None:
    small, large = tmp_path / "1x.835", tmp_path / "10x.835"
    small.write_text(many_claims(300))  # 600 denials: held, one read
    large.write_text(many_claims(3_000))  # 6,000 denials: over the limit, two reads

    def drain(path: Path) -> None:
        for _ in IngestStream([path]):
            pass

    drain(small)
    ratio = calls(lambda: drain(large)) / calls(lambda: drain(small))
    assert ratio < 13, ratio  # a second read of the large file only adds the reader's work
