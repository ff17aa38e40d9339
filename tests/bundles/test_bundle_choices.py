"""Which runs a bundle takes, what it leaves out and why, and the refusals a user meets."""

from __future__ import annotations

import io
import json
import shutil
import tarfile
from pathlib import Path

import duckdb
import pytest

import trackyard
from trackyard.errors import BundleError, BundlePluginSetWarning, UnknownRunError

from .conftest import tree


def _runs(ws: Path) -> dict[str, dict[str, object]]:
    """Each run's record (consist's snapshot), by run id."""
    records = {}
    for path in (ws / "runs" / "consist_runs").glob("*.json"):
        record = json.loads(path.read_text(encoding="utf-8"))
        records[record["run"]["id"]] = record
    return records


def _by_name(ws: Path) -> dict[str, dict[str, object]]:
    return {r["run"]["meta"]["trackyard"]["run_name"]: r for r in _runs(ws).values()}  # type: ignore[index]


def test_a_cache_hit_brings_the_run_it_reused(origin: Path, tmp_path: Path) -> None:
    named = _by_name(origin)
    hit = named["a-again"]["run"]["id"]  # type: ignore[index]
    source = named["a"]["run"]["id"]  # type: ignore[index]
    report = trackyard.export_runs(tmp_path / "hit.tar", workspace=origin, runs=[hit])
    assert report.runs == (hit, source)
    assert report.added == (source,)
    with tarfile.open(tmp_path / "hit.tar") as tar:
        names = tar.getnames()
    assert names[:2] == ["manifest.json", "plugins.lock.toml"]
    assert f"runs/{hit}.json" in names and f"runs/{source}.json" in names
    assert any(n.startswith("files/outputs/") and source in n for n in names)
    everything = trackyard.export_runs(tmp_path / "all.tgz", workspace=origin, since="2000-01-01")
    assert len(everything.runs) == 3 and everything.added == ()


def test_nothing_selected_is_refused_before_writing(origin: Path, tmp_path: Path) -> None:
    out = tmp_path / "none.tar.gz"
    with pytest.raises(BundleError) as caught:
        trackyard.export_runs(out, "simulation", workspace=origin, since="2100-01-01")
    assert str(caught.value) == (
        "nothing to export: no finished runs of domain 'simulation' created since "
        f"2100-01-01 00:00 in {origin}"
    )
    with pytest.raises(UnknownRunError, match="no run 'nope' is recorded in workspace"):
        trackyard.export_runs(out, workspace=origin, runs=["nope"])
    with pytest.raises(BundleError, match=r"unknown archive type; name it \.tar, \.tar\.gz"):
        trackyard.export_runs(tmp_path / "runs.zip", workspace=origin)
    assert list(tmp_path.iterdir()) == []


def test_a_run_whose_output_changed_is_left_out(origin: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    shutil.copytree(origin, ws)
    b = _by_name(ws)["b"]
    b_id = b["run"]["id"]  # type: ignore[index]
    output = ws / "runs" / b["outputs"][0]["container_uri"]  # type: ignore[index]
    output.write_bytes(output.read_bytes() + b"edited")
    report = trackyard.export_runs(tmp_path / "out.tar.gz", "simulation", workspace=ws)
    assert b_id not in report.runs and len(report.runs) == 2
    assert report.skipped == (
        (b_id, f"output 'results' ({output}) was changed since it was recorded"),
    )
    assert f"left out {b_id}: output 'results'" in str(report)


def _rewrite_manifest(bundle: Path, out: Path, **changes: object) -> None:
    """A copy of ``bundle`` whose manifest says other things (as another machine's would)."""
    with tarfile.open(bundle) as src, tarfile.open(out, "w") as dst:
        for info in src:
            data = src.extractfile(info).read()  # type: ignore[union-attr]
            if info.name == "manifest.json":
                data = json.dumps({**json.loads(data), **changes}).encode()
                info.size = len(data)
            dst.addfile(info, io.BytesIO(data))


def test_another_plugin_set_warns_and_marks_the_runs(bundle: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.tar"
    _rewrite_manifest(bundle, other, plugin_set="0" * 64)
    ws = tmp_path / "ws"
    with pytest.warns(BundlePluginSetWarning, match=f"bundle {other} was made with another "
                      f"plugin set \\({'0' * 64}\\) than the one installed here"):  # fmt: skip
        report = trackyard.import_runs(other, workspace=ws)
    assert report.plugin_set_differs and len(report.imported) == 3
    for record in _runs(ws).values():
        imported = record["run"]["meta"]["trackyard"]["imported"]  # type: ignore[index]
        assert imported["plugin_set_differs"] is True
    with duckdb.connect(str(ws / "provenance.duckdb"), read_only=True) as con:
        marked = con.execute(
            "SELECT count(*) FROM run WHERE "
            "json_extract(meta, '$.trackyard.imported.plugin_set_differs')::BOOLEAN"
        ).fetchone()
    assert marked == (3,)


def test_a_file_that_would_replace_other_content_is_refused(bundle: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    with tarfile.open(bundle) as tar:
        member = next(n for n in tar.getnames() if n.startswith("files/"))
    clash = ws / "runs" / member.removeprefix("files/")
    clash.parent.mkdir(parents=True)
    clash.write_bytes(b"someone else's file")
    before = tree(ws)
    with pytest.raises(BundleError) as caught:
        trackyard.import_runs(bundle, workspace=ws)
    assert str(caught.value).startswith(
        f"member {member!r} would replace {clash}, which holds other content; nothing was imported"
    )
    assert tree(ws) == before


def test_a_tar_that_is_not_a_bundle_is_refused(tmp_path: Path) -> None:
    stray = tmp_path / "photos.tar"
    with tarfile.open(stray, "w") as tar:
        info = tarfile.TarInfo("holiday.jpg")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"jpg"))
    with pytest.raises(BundleError) as caught:
        trackyard.import_runs(stray, workspace=tmp_path / "ws")
    assert str(caught.value) == (
        f"bundle {stray}: member 'holiday.jpg' comes first where manifest.json should: not a "
        "trackyard bundle; nothing was imported"
    )
    assert not (tmp_path / "ws").exists()


def test_zstd_without_its_package_is_refused_before_writing(origin: Path, tmp_path: Path) -> None:
    try:
        import zstandard  # type: ignore[import-not-found]  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("zstandard is installed: .tar.zst bundles work here")
    with pytest.raises(BundleError) as caught:
        trackyard.export_runs(tmp_path / "runs.tar.zst", workspace=origin)
    assert str(caught.value) == (
        f"bundle {tmp_path / 'runs.tar.zst'}: .tar.zst needs the zstandard package "
        "(`python -m pip install zstandard`), or use .tar.gz"
    )
    assert list(tmp_path.iterdir()) == []
