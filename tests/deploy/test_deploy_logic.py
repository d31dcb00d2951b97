"""Unit tests of release/deploy/logic.py: the pure logic the role's filters call."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import ClassVar

import pytest
from playbook_runs import DIGEST_A, DIGEST_B

from release.deploy import logic as deploy
from release.deploy import registry_digest as deploy_registry
from release.images.record import ImageRecord, read_image_record
from release.images.registry_errors import RegistryError
from release.manifest.versions import InvalidVersion, release_of_chart_version
from release.records import RecordError, image_record_path


class TestVersions:
    def test_stable_tag_matches_its_chart(self) -> None:
        assert deploy.version_problem("0.13.0", "v0.13.0", allow_dev=False) == ""

    def test_other_release_is_refused_with_both_versions_named(self) -> None:
        problem = deploy.version_problem("0.13.0", "v0.12.0", allow_dev=True)
        assert "0.13.0" in problem and "v0.12.0" in problem and "must run image v0.13.0" in problem

    def test_dev_tag_only_where_allowed(self) -> None:
        assert deploy.version_problem("0.13.0", "v0.13.0-dev", allow_dev=True) == ""
        refused = deploy.version_problem("0.13.0", "v0.13.0-dev", allow_dev=False)
        assert "development build" in refused and "promote" in refused

    def test_dev_of_another_release_is_refused_even_where_dev_is_allowed(self) -> None:
        assert deploy.version_problem("0.13.0", "v0.12.0-dev", allow_dev=True)

    def test_tag_without_v_and_bad_chart_versions(self) -> None:
        assert deploy.version_problem("0.13.0", "0.13.0", allow_dev=True)
        assert "not a release version" in deploy.version_problem("v0.13.0", "v0.13.0", allow_dev=True)

    def test_patterns_come_from_the_manifest(self) -> None:
        assert deploy.version_problem("0.13.0", "release-0.13.0", allow_dev=False,
                                      stable_pattern="release-{version}") == ""
        # the default stable tag is not the release's stable tag under another pattern
        assert "release-0.13.0" in deploy.version_problem("0.13.0", "v0.13.0", allow_dev=False,
                                                          stable_pattern="release-{version}")


class TestChartVersions:
    """Release versions are PEP 440; the chart's are SemVer. Both name one release."""

    @pytest.mark.parametrize(("release", "chart"), [
        ("0.13.0", "0.13.0"),                # a final is unchanged
        ("0.14.0rc1", "0.14.0-rc.1"),        # a candidate
        ("0.14.0b2", "0.14.0-b.2"),
        ("0.13.0.post1", "0.13.0+post.1"),   # a post-release: SemVer build metadata
        ("0.14.0rc1.post2", "0.14.0-rc.1+post.2"),
    ])
    def test_release_to_chart_and_back(self, release: str, chart: str) -> None:
        assert deploy.chart_version(release) == chart
        assert release_of_chart_version(chart) == release

    def test_the_manifest_pattern_wraps_the_version(self) -> None:
        assert deploy.chart_version("0.14.0rc1", "{semver}-ellm.1") == "0.14.0-rc.1-ellm.1"
        assert deploy.chart_version("0.14.0rc1", "{version}") == "0.14.0rc1"
        assert release_of_chart_version("0.14.0-rc.1-ellm.1", "{semver}-ellm.1") == "0.14.0rc1"
        assert release_of_chart_version("0.14.0-rc.1", "{semver}-ellm.1") is None

    def test_a_bad_release_is_one_clear_error(self) -> None:
        with pytest.raises(deploy.DeployError, match="not a release version"):
            deploy.chart_version("v0.14.0")

    @pytest.mark.parametrize(("chart", "tag", "allow_dev"), [
        ("0.14.0-rc.1", "v0.14.0rc1", False),
        ("0.14.0-rc.1", "v0.14.0rc1-dev", True),
        ("0.14.0rc1", "v0.14.0rc1", False),     # a chart version written as the release itself
        ("0.13.0+post.1", "v0.13.0.post1", False),
        ("0.13.0", "v0.13.0", False),
    ])
    def test_the_guard_compares_releases_not_spellings(self, chart: str, tag: str, allow_dev: bool) -> None:
        assert deploy.version_problem(chart, tag, allow_dev=allow_dev) == ""

    @pytest.mark.parametrize(("chart", "tag"), [
        ("0.14.0-rc.1", "v0.14.0rc2"),
        ("0.14.0-rc.1", "v0.14.0"),             # the candidate is not the final
        ("0.13.0+post.1", "v0.13.0"),            # nor is the post-release
        ("0.13.0", "v0.13.0.post1"),
    ])
    def test_the_guard_still_refuses_another_release(self, chart: str, tag: str) -> None:
        problem = deploy.version_problem(chart, tag, allow_dev=True)
        assert "disagree" in problem and chart in problem and tag in problem

    def test_a_dev_candidate_still_needs_an_environment_that_takes_dev_builds(self) -> None:
        assert "development build" in deploy.version_problem("0.14.0-rc.1", "v0.14.0rc1-dev", allow_dev=False)


class TestDigest:
    record: ClassVar[dict[str, object]] = {
        "version": "0.13.0", "repository": "ghcr.io/embeddedllm/skypilot", "dev_tag": "v0.13.0-dev",
        "dev_digest": DIGEST_A, "revision": "f" * 40, "stable_tag": "v0.13.0", "stable_digest": DIGEST_B}

    def test_record_digest_per_tag(self) -> None:
        record = ImageRecord(**self.record)  # type: ignore[arg-type]
        assert record.digest_for("ghcr.io/embeddedllm/skypilot", "v0.13.0-dev") == DIGEST_A
        assert record.digest_for("ghcr.io/embeddedllm/skypilot", "v0.13.0") == DIGEST_B

    def test_record_of_another_repository_or_tag_gives_nothing(self) -> None:
        record = ImageRecord(**self.record)  # type: ignore[arg-type]
        assert record.digest_for("ghcr.io/other/skypilot", "v0.13.0") == ""
        assert record.digest_for("ghcr.io/embeddedllm/skypilot", "v0.12.0") == ""
        assert replace(record, stable_digest=None).digest_for("ghcr.io/embeddedllm/skypilot", "v0.13.0") == ""
        assert ImageRecord("0.13.0").digest_for("ghcr.io/embeddedllm/skypilot", "v0.13.0") == ""

    def test_read_record(self, tmp_path: Path) -> None:
        assert read_image_record(tmp_path, "0.13.0") is None
        path = image_record_path(tmp_path, "0.13.0")
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(self.record))
        assert read_image_record(tmp_path, "0.13.0") == ImageRecord(**self.record)  # type: ignore[arg-type]
        path.write_text("{not json")  # damaged: said, never guessed around
        with pytest.raises(RecordError, match="is not JSON"):
            read_image_record(tmp_path, "0.13.0")

    def test_choice_order_given_record_registry(self) -> None:
        assert deploy.choose_digest(given=DIGEST_A, record=DIGEST_B, registry=DIGEST_B).source == "given"
        assert deploy.choose_digest(record=DIGEST_B, registry=DIGEST_A) == deploy.DigestChoice(DIGEST_B, "record")
        assert deploy.choose_digest(registry=DIGEST_A).source == "registry"

    def test_no_digest_or_a_bad_one_is_refused(self) -> None:
        with pytest.raises(deploy.DeployError, match="ellm-release build"):
            deploy.choose_digest()
        with pytest.raises(deploy.DeployError, match="not a sha256"):
            deploy.choose_digest(given="sha256:short")

    def test_image_reference(self) -> None:
        assert deploy.image_reference("ghcr.io/e/s", "v0.13.0", DIGEST_A) == f"ghcr.io/e/s:v0.13.0@{DIGEST_A}"
        with pytest.raises(deploy.DeployError):
            deploy.image_reference("ghcr.io/e/s", "v0.13.0", "latest")


class TestRegistryClient:
    """The deploy's registry question goes through release/images/registry.py: same URLs and plain-HTTP rule."""

    def test_public_registries_use_https_and_loopback_plain_http(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv("ELLM_INSECURE_REGISTRIES", raising=False)
        client, path = deploy_registry.deploy_client("ghcr.io/embeddedllm/skypilot")
        assert (client.base_url, path) == ("https://ghcr.io", "embeddedllm/skypilot")
        assert deploy_registry.deploy_client("127.0.0.1:5000/e/s")[0].base_url == "http://127.0.0.1:5000"
        assert deploy_registry.deploy_client("[::1]:5000/e/s")[0].base_url == "http://[::1]:5000"
        client, path = deploy_registry.deploy_client("ubuntu")
        assert (client.base_url, path) == ("https://registry-1.docker.io", "library/ubuntu")

    def test_plain_http_elsewhere_only_when_named(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv("ELLM_INSECURE_REGISTRIES", raising=False)
        assert deploy_registry.deploy_client("mirror.lan:5000/e/s")[0].base_url == "https://mirror.lan:5000"
        assert deploy_registry.deploy_client("mirror.lan:5000/e/s", insecure=True)[0].base_url == \
            "http://mirror.lan:5000"
        monkeypatch.setenv("ELLM_INSECURE_REGISTRIES", "mirror.lan:5000")
        assert deploy_registry.deploy_client("mirror.lan:5000/e/s")[0].base_url == "http://mirror.lan:5000"

    def test_the_deploy_token_wins_and_is_a_password(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("ELLM_REGISTRY_TOKEN", "cli-token")
        client, _ = deploy_registry.deploy_client("ghcr.io/e/s", user="bot", token="pat-123")
        assert client.credentials is not None
        assert (client.credentials.username, client.credentials.source) == ("bot", "SKYPILOT_REGISTRY_TOKEN")
        assert "pat-123" not in repr(client.credentials)
        # without its own token the deploy uses what `image status` uses
        client, _ = deploy_registry.deploy_client("ghcr.io/e/s")
        assert client.credentials is not None and client.credentials.source == "ELLM_REGISTRY_TOKEN"

    def test_a_repository_with_a_tag_is_refused(self) -> None:
        with pytest.raises(RegistryError, match="must not carry a tag"):
            deploy_registry.deploy_client("ghcr.io/e/s:v1")
        with pytest.raises(RegistryError, match="cannot ask the registry"):
            deploy_registry.deploy_client("ghcr.io/E/S")


class TestValues:
    def test_merge_is_deep_and_later_layers_win(self) -> None:
        merged = deploy.merge_values({"a": {"b": 1, "c": [1, 2]}, "d": 1}, {"a": {"c": [3]}, "e": None})
        assert merged == {"a": {"b": 1, "c": [3]}, "d": 1, "e": None}

    def test_merge_does_not_change_its_inputs(self) -> None:
        base = {"a": {"b": 1}}
        deploy.merge_values(base, {"a": {"b": 2}})
        assert base == {"a": {"b": 1}}

    def test_release_values_pin_image_and_name_the_secret(self) -> None:
        image = f"r:v1@{DIGEST_A}"
        values = deploy.release_values({"ingress": {"authCredentials": None}}, {"apiService": {"replicas": 1}},
                                       image=image, auth_secret="s-auth", extra={"apiService": {"image": "x"}})
        assert values["apiService"] == {"replicas": 1, "image": image}
        assert values["ingress"] == {"authCredentials": None, "authSecret": "s-auth"}

    def test_unpinned_image_and_inline_credentials_are_refused(self) -> None:
        with pytest.raises(deploy.DeployError, match="pinned by digest"):
            deploy.release_values({}, {}, image="r:v1")
        with pytest.raises(deploy.DeployError, match="Vault"):
            deploy.release_values({"ingress": {"authCredentials": "u:$apr1$x$y"}}, {}, image=f"r:v1@{DIGEST_A}")

    def test_auth_lines(self) -> None:
        assert deploy.auth_line_ok("admin:$apr1$abc$def")
        assert deploy.auth_line_ok("admin:$2y$05$abcdefghijklmnopqrstuv")
        assert not deploy.auth_line_ok("admin:plainpassword")
        assert not deploy.auth_line_ok("")


class TestClusterState:
    def test_stuck_release_gets_instructions(self) -> None:
        message = deploy.stuck_release_message({"status": "pending-upgrade", "revision": "7"}, "sky", "ns", "ctx")
        assert "pending-upgrade" in message and "helm rollback sky" in message and "--kube-context ctx" in message
        install = deploy.stuck_release_message({"status": "pending-install"}, "sky", "ns")
        assert "helm uninstall sky -n ns" in install

    def test_healthy_states_pass(self) -> None:
        for status in (None, {}, {"status": "deployed"}, {"status": "failed"}):
            assert deploy.stuck_release_message(status, "sky", "ns") == ""

    def test_would_change(self) -> None:
        values = {"apiService": {"image": f"r:v1@{DIGEST_A}"}}
        current = {"chart": "skypilot-0.13.0", "values": values}
        assert deploy.release_would_change(None, "skypilot/skypilot", "0.13.0", values)
        assert not deploy.release_would_change(current, "skypilot/skypilot", "0.13.0", values)
        assert deploy.release_would_change(current, "skypilot/skypilot", "0.14.0", values)
        assert deploy.release_would_change(current, "skypilot/skypilot", "0.13.0",
                                           {"apiService": {"image": f"r:v1@{DIGEST_B}"}})

    def test_health(self) -> None:
        good = {"status": "healthy", "version": "0.13.0", "commit": "abcdef1234567"}
        assert deploy.health_problems(good, "0.13.0", "abcdef1234567890") == []
        assert deploy.health_problems({**good, "commit": "unknown"}, "0.13.0", "abcdef12") == []
        assert deploy.health_problems({**good, "version": "0.12.0"}, "0.13.0") == [
            "version is '0.12.0', expected '0.13.0'"]
        assert deploy.health_problems({**good, "commit": "9999999"}, "0.13.0", "abcdef12")
        assert deploy.health_problems({**good, "status": "needs_auth"}, "0.13.0")
        assert deploy.health_problems("nope", "0.13.0")  # type: ignore[arg-type]


class TestPlaybookCommand:
    def test_arguments_pass_through_and_vars_are_json(self) -> None:
        argv = deploy.playbook_command("ansible-playbook", "p/deploy.yml", "inv/kind", manifest="/m y/manifest.yaml",
                                       version="0.13.0", passthrough=("--check", "--diff"))
        assert argv[:4] == ["ansible-playbook", "-i", "inv/kind", "p/deploy.yml"]
        assert json.loads(argv[argv.index("-e") + 1]) == {"skypilot_manifest": "/m y/manifest.yaml",
                                                          "skypilot_version": "0.13.0"}
        assert argv[-2:] == ["--check", "--diff"]

    def test_dry_run_adds_check_diff_once(self) -> None:
        argv = deploy.playbook_command("a", "p", "i", check=True, passthrough=("--diff",))
        assert argv.count("--check") == 1 and argv.count("--diff") == 1

    def test_bad_version_fails_early(self) -> None:
        with pytest.raises(InvalidVersion):
            deploy.playbook_command("a", "p", "i", version="v0.13.0")
