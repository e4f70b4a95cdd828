"""Cards on the Hub through the real huggingface_hub client, against the loopback fake Hub (tests/hubserver.py)."""

from __future__ import annotations

import json
import logging
import shutil
import traceback
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from huggingface_hub import ModelCard

from scer_hf import update_card
from scer_hf.core import fmt
from scer_hf.publish.card import edit_card_text
from scer_hf.cli import cli
from scer_hf.errors import CardConflictError, HubPushError
from tests.hubserver import FakeHub, use_fake_hub
from tests.builders import inference_report, rating, training_report

CARDS = Path(__file__).parent / "fixtures" / "cards"
WRITE = "hf_FakeWriteToken0123456789abcdef"
READ = "hf_FakeReadToken0123456789abcdef"


@pytest.fixture()
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    with FakeHub(tokens={WRITE: "write", READ: "read"}) as h:
        use_fake_hub(monkeypatch, h)
        monkeypatch.setenv("HF_TOKEN", WRITE)
        monkeypatch.setenv("HF_HUB_ETAG_TIMEOUT", "2")
        monkeypatch.setenv("HF_HUB_DOWNLOAD_TIMEOUT", "2")
        yield h
    assert all(path.startswith("/") for _, path, _ in h.log)


def real_card() -> bytes:
    return (CARDS / "all-MiniLM-L6-v2.README.md").read_bytes()


def test_repo_card_is_pulled_edited_and_pushed_with_parent_commit(hub: FakeHub) -> None:
    first = hub.create_repo("org/minilm", {"README.md": real_card(), "scer_label.svg": b"<svg/>"})
    rep = training_report()
    res = update_card("org/minilm", rep, rating=rating(report=rep))
    pushed = hub.file("org/minilm", "README.md")
    assert pushed is not None
    expected = edit_card_text(real_card().decode(), rep, rating(report=rep), label="scer_label.svg")
    assert pushed.decode() == expected == res.content  # the same bytes a local edit gives
    assert res.changed and res.pushed and res.pr_url is None
    assert res.commit_url == f"{hub.url}/org/minilm/commit/{hub.head('org/minilm')}"
    history = hub.history("org/minilm")
    assert history[0]["parent"] == first and history[0]["summary"].startswith("Add SCER")
    assert "![SCER carbon-efficiency label (training)](scer_label.svg)" in pushed.decode()  # the label exists in the repo
    # the commit went through preupload + NDJSON commit and the Hub's YAML validation
    routes = [(m, p.split("?")[0]) for m, p, _ in hub.log]
    assert ("POST", "/api/validate-yaml") in routes and ("POST", "/api/models/org/minilm/commit/main") in routes
    # same report again: nothing to commit
    again = update_card("org/minilm", rep, rating=rating(report=rep))
    assert not again.changed and not again.pushed and len(hub.history("org/minilm")) == 2
    # the Hub's card data (model_info) shows the field the emissions filter reads
    from huggingface_hub import HfApi

    info = HfApi(endpoint=hub.url).model_info("org/minilm")
    assert info.card_data["co2_eq_emissions"]["emissions"] == rep.co2e_g


def test_create_pr_leaves_main_alone_and_push_false_commits_nothing(hub: FakeHub) -> None:
    hub.create_repo("org/m", {"README.md": b"---\nlicense: mit\n---\n# M\n"})
    main = hub.head("org/m")
    dry = update_card("org/m", inference_report(), push=False)
    assert dry.changed and not dry.pushed and hub.head("org/m") == main and "scer:" in dry.content
    res = update_card("org/m", inference_report(), create_pr=True, commit_message="SCER figures")
    assert res.pr_url == f"{hub.url}/org/m/discussions/1"
    assert hub.head("org/m") == main and hub.file("org/m", "README.md") == b"---\nlicense: mit\n---\n# M\n"
    pr = hub.file("org/m", "README.md", revision="refs/pr/1")
    assert pr is not None and ModelCard(pr.decode()).data.scer["inference"]["energy_j"] == 1774.5
    assert hub.history("org/m", "refs/pr/1")[0]["summary"] == "SCER figures"


def test_repo_without_readme_gets_a_minimal_card(hub: FakeHub) -> None:
    hub.create_repo("org/empty", {"config.json": b"{}"})
    update_card("org/empty", training_report())
    text = hub.file("org/empty", "README.md").decode()  # type: ignore[union-attr]
    assert text.startswith("---\nco2_eq_emissions:\n") and "# org/tiny-bert" in text
    assert hub.file("org/empty", "config.json") == b"{}"


def test_stale_parent_commit_and_conflicts_are_typed_errors(hub: FakeHub) -> None:
    first = hub.create_repo("org/m", {"README.md": b"# M\n"})
    hub._commit("org/m", "main", {"README.md": b"# M v2\n"}, "someone else", first)
    with pytest.raises(HubPushError, match="changed since the card was read"):
        update_card("org/m", training_report(), parent_commit=first)
    hub.create_repo("org/auto", {"README.md": (CARDS / "foreign_co2.README.md").read_bytes()})
    with pytest.raises(CardConflictError, match="overwrite=True"):
        update_card("org/auto", training_report())
    assert len(hub.history("org/auto")) == 1


def test_hf_endpoint_is_read_at_call_time(hub: FakeHub, monkeypatch: pytest.MonkeyPatch) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")  # a stale import-time value
    hub.create_repo("org/m", {"README.md": b"# M\n"})
    assert update_card("org/m", training_report()).pushed  # HF_ENDPOINT (the fake hub) wins


# ------------------------------------------------------------------ failures ----------------
def _assert_no_token(err: BaseException, *files: Path) -> None:
    text = str(err) + "".join(traceback.format_exception(type(err), err, err.__traceback__))
    assert WRITE not in text and READ not in text and "Bearer" not in text
    for f in files:
        assert WRITE not in f.read_text(encoding="utf-8", errors="replace")


@pytest.mark.parametrize("case,match", [
    ("bad-token", "401"),
    ("read-token", "403"),
    ("commit-500", "server error 500"),
    ("commit-drop", "network error"),
    ("refused", "network error"),
])
def test_push_failures_keep_local_files_and_never_leak_the_token(hub: FakeHub, tmp_path: Path, case: str, match: str,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="huggingface_hub")
    hub.create_repo("org/m", {"README.md": b"# M\n"})
    rep = training_report()
    report_file = rep.save(tmp_path / "scer_report.json")
    shutil.copy(CARDS / "crlf.README.md", tmp_path / "README.md")
    token, endpoint = WRITE, None
    if case == "bad-token":
        token = "hf_WrongToken0123456789abcdef"
    elif case == "read-token":
        token = READ
    elif case == "commit-500":
        hub.fail(r"/commit/", 500)
    elif case == "commit-drop":  # the connection closes with no answer (the commit POST is not retried)
        hub.fail(r"/commit/", drop=True)
    elif case == "refused":
        endpoint = "http://127.0.0.1:9"  # nothing listens there
    before = report_file.read_bytes()
    # a local card pushed to the repo: the local card is written first and kept
    with pytest.raises(HubPushError, match=match) as ei:
        update_card(tmp_path, report_file, push="org/m", token=token, endpoint=endpoint)
    _assert_no_token(ei.value, tmp_path / "README.md", report_file)
    assert token not in str(ei.value)
    assert report_file.read_bytes() == before
    local = (tmp_path / "README.md").read_bytes().decode()
    assert ModelCard(local).data.scer["training"]["report_digest"] == rep.digest()
    assert hub.file("org/m", "README.md") == b"# M\n"  # the Hub is unchanged
    # the remote path fails the same way
    with pytest.raises(HubPushError, match=match) as ei2:
        update_card("org/m", rep, token=token, endpoint=endpoint)
    _assert_no_token(ei2.value)
    assert hub.file("org/m", "README.md") == b"# M\n"
    assert WRITE not in caplog.text and READ not in caplog.text


def test_hub_errors_while_reading_the_card(hub: FakeHub) -> None:
    hub.create_repo("org/m", {"README.md": b"# M\n"})
    hub.fail(r"^/api/models/org/m$", 503, times=1)
    with pytest.raises(HubPushError, match="server error 503.*retry later"):
        update_card("org/m", training_report())
    assert update_card("org/m", training_report()).pushed  # the next try works


def test_missing_repo_says_how_to_fix(hub: FakeHub) -> None:
    with pytest.raises(HubPushError, match="not found.*create it"):
        update_card("org/nope", training_report())


def test_local_card_push_uploads_card_and_label(hub: FakeHub, tmp_path: Path) -> None:
    hub.create_repo("org/m")
    (tmp_path / "scer_label.svg").write_text("<svg>label</svg>")
    res = update_card(tmp_path, training_report(), push="org/m", create_pr=True)
    assert res.pushed and res.pr_url and res.path == tmp_path / "README.md"
    assert hub.file("org/m", "scer_label.svg", "refs/pr/1") == b"<svg>label</svg>"
    assert hub.file("org/m", "README.md", "refs/pr/1") == (tmp_path / "README.md").read_bytes()


# ------------------------------------------------------------------ CLI ---------------------
def test_cli_update_show_and_push(hub: FakeHub, tmp_path: Path) -> None:
    rep = training_report()
    rp = rep.save(tmp_path / "scer_report.json")
    (tmp_path / "rating.json").write_text(json.dumps(rating(report=rep)))
    run = CliRunner().invoke
    r = run(cli, ["card", "update", str(tmp_path), "--report", str(rp), "--rating", str(tmp_path / "rating.json"),
                  "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["changed"] is True and out["path"] == str(tmp_path / "README.md") and out["pushed"] is False
    r = run(cli, ["card", "update", str(tmp_path), "--rating", str(tmp_path / "rating.json")])  # report found beside
    assert r.exit_code == 0 and "already up to date" in r.output
    r = run(cli, ["card", "show", str(tmp_path), "--json"])
    shown = json.loads(r.output)
    assert shown["tagged"] and shown["co2_eq_emissions"]["emissions"] == rep.co2e_g
    # a Hub repo: dry run without --push, commit with it
    hub.create_repo("org/m", {"README.md": b"# M\n"})
    r = run(cli, ["card", "update", "org/m", "--report", str(rp)])
    assert r.exit_code == 0 and "dry run" in r.output and hub.file("org/m", "README.md") == b"# M\n"
    r = run(cli, ["card", "update", "org/m", "--report", str(rp), "--push", "--create-pr"])
    assert r.exit_code == 0 and "pull request: " in r.output
    r = run(cli, ["card", "show", "org/m"])
    assert r.exit_code == 0 and "no SCER metadata" in r.output  # main is unchanged, the PR has it
    # conflicts and usage errors
    shutil.copy(CARDS / "foreign_co2.README.md", tmp_path / "README.md")
    r = run(cli, ["card", "update", str(tmp_path), "--report", str(rp), "--json"])
    assert r.exit_code == 1 and json.loads(r.output)["error"] == "CardConflictError"
    assert "--overwrite" in json.loads(r.output)["message"]
    r = run(cli, ["card", "update", str(tmp_path), "--report", str(rp), "--overwrite"])
    assert r.exit_code == 0
    r = run(cli, ["card", "update", str(tmp_path), "--report", str(rp), "--push"])
    assert r.exit_code == 2 and "--repo" in r.output
    hub.fail(r"/commit/", 500)
    r = run(cli, ["card", "update", str(tmp_path), "--report", str(rp), "--push", "--repo", "org/m"])
    assert r.exit_code == 1 and "server error 500" in r.output and WRITE not in r.output


def test_cli_local_target_must_exist_and_show_is_readable(tmp_path: Path) -> None:
    rep = training_report()
    rp = rep.save(tmp_path / "scer_report.json")
    run = CliRunner().invoke
    for target in ("typo-dir", "a/b/c", "bad id", "nodir/README.md"):  # were created as new folders with a card
        r = run(cli, ["card", "update", str(tmp_path / target), "--report", str(rp)])
        assert r.exit_code == 1 and "no folder" in r.output, (target, r.output)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scer_report.json"]
    (tmp_path / "model").mkdir()  # an existing folder without README.md still gets a new card
    assert run(cli, ["card", "update", str(tmp_path / "model"), "--report", str(rp)]).exit_code == 0
    r = run(cli, ["card", "show", str(tmp_path / "model")])
    assert r.exit_code == 0 and fmt.energy(rep.energy_j) in r.output and repr(rep.energy_j) not in r.output
    assert fmt.sci_display(rep.sci)["text"] in r.output  # the headline as the label shows it
    r = run(cli, ["card", "show", str(tmp_path / "a b")])
    assert r.exit_code == 1 and "no model card at" in r.output and "Errno" not in r.output


def test_fake_hub_speaks_the_client_protocol(hub: FakeHub, tmp_path: Path) -> None:
    """The routes other tests may rely on, exercised through the real client."""
    from huggingface_hub import HfApi

    api = HfApi(endpoint=hub.url, token=WRITE)
    assert api.whoami()["name"] == "tester"
    url = api.create_repo("org/x")
    assert str(url) == f"{hub.url}/org/x" and api.create_repo("org/x", exist_ok=True) == url
    api.upload_file(path_or_fileobj=b"w", path_in_repo="sub/w.bin", repo_id="org/x")
    assert sorted(api.list_repo_files("org/x")) == [".gitattributes", "sub/w.bin"]
    infos = api.get_paths_info("org/x", ["sub/w.bin", "missing"])
    assert [i.path for i in infos] == ["sub/w.bin"] and infos[0].size == 1
    assert api.file_exists("org/x", "sub/w.bin") and not api.file_exists("org/x", "nope")
    assert Path(api.hf_hub_download("org/x", "sub/w.bin", cache_dir=tmp_path)).read_bytes() == b"w"
    from huggingface_hub.errors import HfHubHTTPError

    with pytest.raises(HfHubHTTPError) as ei:
        HfApi(endpoint=hub.url, token="hf_nope0123456789").whoami()
    assert ei.value.response.status_code == 401
    assert ("GET", "/api/whoami-v2", 401) in hub.log


def test_a_pr_branch_can_be_updated_and_crlf_survives_the_round_trip(hub: FakeHub) -> None:
    crlf = (CARDS / "crlf.README.md").read_bytes()
    hub.create_repo("org/m", {"README.md": crlf})
    first = update_card("org/m", training_report(), create_pr=True)
    assert first.pr_url and first.pr_url.endswith("/discussions/1")
    rep2 = training_report(run="2")
    res = update_card("org/m", rep2, revision="refs/pr/1")  # a new run: update the open PR, not main
    assert res.pushed and hub.file("org/m", "README.md") == crlf
    on_pr = hub.file("org/m", "README.md", "refs/pr/1")
    assert on_pr is not None and b"\r\n" in on_pr and b"\n" not in on_pr.replace(b"\r\n", b"")
    assert ModelCard(on_pr.decode()).data.scer["training"]["report_digest"] == rep2.digest()
