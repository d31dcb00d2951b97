"""The pure parts of `verify`: each area's checks from what was read, and helm's output shapes."""

from __future__ import annotations

from release.assist.verify import (
    FAIL,
    OK,
    SKIPPED,
    chart_checks,
    deployed_checks,
    deployed_images,
    helm_argv,
    image_checks,
    index_versions,
    public_url,
)
from release.images.status import TagStatus

DIGEST_A = "sha256:" + "a" * 64
DIGEST_B = "sha256:" + "b" * 64
HEAD = "c" * 40


def tag(image: str, digest: str | None, revision: str | None = HEAD, version: str | None = "0.13.0") -> TagStatus:
    return TagStatus(image, digest, revision, version, "application/vnd.oci.image.manifest.v1+json")


def test_image_checks() -> None:
    dev, stable = tag("r:v0.13.0-dev", DIGEST_A), tag("r:v0.13.0", DIGEST_A)
    assert {c.status for c in image_checks("0.13.0", dev, stable, HEAD, "ellm-0.13.0")} == {OK}
    missing = image_checks("0.13.0", tag("r:v0.13.0-dev", None), tag("r:v0.13.0", None), HEAD, "ellm-0.13.0")
    assert [c.status for c in missing] == [FAIL, SKIPPED]
    other = image_checks("0.13.0", dev, tag("r:v0.13.0", DIGEST_B), HEAD, "ellm-0.13.0")
    assert any(c.status == FAIL and "not the promoted dev build" in c.message for c in other)
    no_branch = image_checks("0.13.0", dev, tag("r:v0.13.0", None), None, "ellm-0.13.0")
    assert any(c.status == FAIL and "no branch ellm-0.13.0" in c.message for c in no_branch)
    unlabelled = image_checks("0.13.0", tag("r:v0.13.0-dev", DIGEST_A, None, None), tag("r:v0.13.0", None), HEAD,
                              "ellm-0.13.0")
    assert [c.message for c in unlabelled if c.status == FAIL] == [
        f"r:v0.13.0-dev was built from an unlabelled commit, but ellm-0.13.0 is at {HEAD}",
        "r:v0.13.0-dev has version label (none), expected 0.13.0"]


def test_chart_repository_checks_and_index_shapes() -> None:
    index = {"apiVersion": "v1", "entries": {"skypilot": [{"version": "0.12.0"}, {"version": "0.13.0"}],
                                             "other": [{"version": "9.9.9"}]}}
    assert index_versions(index, "skypilot/skypilot") == ["0.12.0", "0.13.0"]
    assert index_versions({"entries": None}, "skypilot") == [] and index_versions("not an index", "x") == []
    assert chart_checks("skypilot/skypilot", "0.13.0", "https://h", ["0.13.0"], None)[0].status == OK
    assert chart_checks("skypilot/skypilot", "0.14.0", "https://h", ["0.13.0"], None)[0].status == FAIL
    assert chart_checks("skypilot/skypilot", "0.13.0", None, None, None)[0].status == SKIPPED
    skipped = chart_checks("skypilot/skypilot", "0.13.0", "https://u:tok@h", None, "ConnectTimeout")[0]
    assert skipped.status == SKIPPED and "tok" not in skipped.message and "https://***@h" in skipped.message
    assert public_url("https://h/x") == "https://h/x"


def test_helm_argv_and_output_shapes() -> None:
    assert helm_argv("metadata", "sky", "ns", "ctx") == [
        "helm", "get", "metadata", "sky", "--namespace", "ns", "--kube-context", "ctx", "--output", "json"]
    assert helm_argv("manifest", "sky", "ns", "ctx")[-2:] == ["--kube-context", "ctx"]
    manifest = ("---\n# Source: skypilot/templates/a.yaml\napiVersion: apps/v1\nkind: Deployment\nspec:\n"
                "  template:\n    spec:\n      initContainers:\n      - image: busybox:1.36\n      containers:\n"
                f"      - image: reg:5000/org/sky:v0.13.0@{DIGEST_A}\n      - image: reg:5000/org/sky-other:v1\n"
                "---\n# Source: skypilot/templates/empty.yaml\n")
    assert deployed_images(manifest, "reg:5000/org/sky") == [f"reg:5000/org/sky:v0.13.0@{DIGEST_A}"]
    meta = {"name": "sky", "chart": "skypilot", "version": "0.13.0", "status": "deployed", "revision": 2}
    images = deployed_images(manifest, "reg:5000/org/sky")
    assert {c.status for c in deployed_checks("sky", "ctx", meta, images, "0.13.0", DIGEST_A)} == {OK}
    assert any(c.status == FAIL for c in deployed_checks("sky", "ctx", meta, images, "0.13.0", DIGEST_B))
    assert deployed_checks("sky", "ctx", None, (), "0.13.0", DIGEST_A, "Kubernetes cluster unreachable")[0].message \
        == "release sky in context ctx could not be read: Kubernetes cluster unreachable"
