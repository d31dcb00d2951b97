"""Promote a release's dev tag to its stable tag inside the registry: no pull, no rebuild, the
digest unchanged. Stable tags are write-once, and only a passing smoke run for the very digest opens
the gate (release/smoke/record.py). The image record is caught up after every promotion.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from release.errors import Failed, Refused
from release.images.build import now
from release.images.manifests import LABEL_REVISION, LABEL_SOURCE
from release.images.record import ImageRecord, read_image_record, update_image_record
from release.images.registry import RegistryClient
from release.images.registry_errors import NotFound
from release.images.status import labels_or_empty
from release.manifest.model import Manifest
from release.progress import Say, say_nothing
from release.records import ImageRef, parse_image
from release.redaction import strip_url_credentials
from release.smoke.record import SmokeRecord, gate_verdict

# --- pure policy ----------------------------------------------------------------------------------

class Action(StrEnum):
    COPY = "copy"  # stable tag absent: copy the dev manifest to it
    ALREADY = "already-promoted"  # stable tag already holds this digest: nothing to do
    RETAG = "force-retag"  # stable tag holds another digest and the user forced a move
    REFUSE = "refuse"  # stable tag holds another digest: write-once says no


@dataclass(frozen=True)
class PromotePlan:
    action: Action
    dev_digest: str
    stable_digest: str | None
    warning: str | None = None

    @property
    def writes(self) -> bool:
        return self.action in (Action.COPY, Action.RETAG)


def plan_promotion(dev_digest: str, stable_digest: str | None, *, force_retag: bool = False) -> PromotePlan:
    """The write-once rule for stable tags."""
    if stable_digest is None:
        return PromotePlan(Action.COPY, dev_digest, None)
    if stable_digest == dev_digest:
        return PromotePlan(Action.ALREADY, dev_digest, stable_digest)
    if force_retag:
        return PromotePlan(Action.RETAG, dev_digest, stable_digest,
                           warning=f"--force-retag moves the stable tag from {stable_digest} to {dev_digest}; "
                                   "anything deployed by the old tag will change on its next pull")
    return PromotePlan(Action.REFUSE, dev_digest, stable_digest)


@dataclass(frozen=True)
class GateDecision:
    allowed: bool
    reason: str
    skipped: bool = False
    warning: str | None = None


def smoke_gate(digest: str, record: SmokeRecord | None, *, skip: bool = False, why_not: str | None = None
               ) -> GateDecision:
    """Only a passing smoke run for this very digest opens the gate; skipping is loud and recorded.
    `why_not` is the smoke record's own reason when it holds no pass (damaged, other tier, failed)."""
    if record is not None and record.passed is True and record.digest == digest:
        return GateDecision(True, f"smoke test passed for {digest} (tier {record.tier}, {record.time})")
    if skip:
        return GateDecision(True, "smoke gate skipped", skipped=True,
                            warning=f"--skip-smoke-gate: promoting {digest} without a passing smoke test; "
                                    "this is written to the image record")
    return GateDecision(False, why_not or f"no passing smoke test is recorded for {digest}")


# --- the promotion --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PromoteResult:
    plan: PromotePlan
    dev_image: str
    stable_image: str
    gate: GateDecision | None
    record: ImageRecord | None
    dry_run: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.plan.action.value, "dev_image": self.dev_image, "stable_image": self.stable_image,
                "dev_digest": self.plan.dev_digest, "stable_digest_before": self.plan.stable_digest,
                "stable_digest": self.plan.dev_digest if self.plan.writes and not self.dry_run
                else self.plan.stable_digest,
                "smoke_gate": None if self.gate is None else dataclasses.asdict(self.gate),
                "warning": self.plan.warning, "dry_run": self.dry_run}


def promote(manifest: Manifest, state: Path, *, version: str | None = None, client: RegistryClient | None = None,
            force_retag: bool = False, skip_smoke_gate: bool = False, dry_run: bool = False,
            say: Say = say_nothing,
            smoke_tiers: tuple[str, ...] = ()) -> PromoteResult:
    """Copy the dev tag's manifest (or index) to the stable tag inside the registry, write-once.
    `smoke_tiers`: the smoke tiers whose pass counts (any tier when empty)."""
    version = version or manifest.version
    dev = parse_image(manifest.dev_image(version))
    stable = parse_image(manifest.stable_image(version))
    record = read_image_record(state, version)  # a damaged record is refused before the registry is asked
    client = client or RegistryClient(dev.registry)
    try:
        dev_doc = client.get_manifest(dev.repository, dev.reference)
    except NotFound:
        raise Refused(f"the dev tag {dev} does not exist; nothing to promote",
                      hints=[f"build and push it first: ellm-release build --version {version} --push"]) from None
    stable_digest = client.manifest_digest(stable.repository, stable.reference)
    plan = plan_promotion(dev_doc.digest, stable_digest, force_retag=force_retag)
    result = PromoteResult(plan, str(dev), str(stable), None, record, dry_run)
    if plan.action is Action.ALREADY:
        if not dry_run:  # a run that died after its PUT left the record behind: catch it up
            result = dataclasses.replace(result, record=_catch_up_record(client, manifest, state, version, stable,
                                                                         dev_doc.digest))
        return result
    if plan.action is Action.REFUSE:
        raise Refused(f"{stable} already points at {stable_digest}, not at {dev}'s {dev_doc.digest}; "
                      "stable tags are write-once",
                      hints=["build a new version, or move the tag on purpose with --force-retag"])
    evidence = gate_verdict(state, dev_doc.digest, smoke_tiers)
    gate = smoke_gate(dev_doc.digest, evidence.record, skip=skip_smoke_gate, why_not=evidence.reason)
    if not gate.allowed:
        raise Refused(f"refusing to promote {dev}: {gate.reason}",
                      hints=["run the smoke tests on this digest (ansible-playbook playbooks/smoke.yml), "
                             "or pass --skip-smoke-gate to promote anyway (recorded)"])
    result = dataclasses.replace(result, gate=gate)
    if dry_run:
        return result
    for warning in (plan.warning, gate.warning):
        if warning:
            say(f"warning: {warning}")
    client.put_manifest(stable.repository, stable.reference, dev_doc)
    verify_same_digest(client, dev, stable, dev_doc.digest)
    record = update_image_record(state, version, **_dev_fields(client, manifest, version, dev_doc.digest, state),
                                 stable_tag=stable.tag, stable_digest=dev_doc.digest, promoted_at=now(),
                                 smoke_gate_skipped=gate.skipped)
    return dataclasses.replace(result, record=record)


def _catch_up_record(client: RegistryClient, manifest: Manifest, state: Path, version: str, stable: ImageRef,
                     digest: str) -> ImageRecord:
    record = read_image_record(state, version)
    if record is not None and record.stable_digest == digest and record.repository:
        return record
    # the build half too (repository, dev tag and digest, labels): the deploy role only trusts a
    # record that names the repository and the tag it pins
    return update_image_record(state, version, **_dev_fields(client, manifest, version, digest, state),
                               stable_tag=stable.tag, stable_digest=digest,
                               promoted_at=(record.promoted_at if record else None) or now())


def verify_same_digest(client: RegistryClient, dev: ImageRef, stable: ImageRef, digest: str) -> None:
    got = {str(ref): client.manifest_digest(ref.repository, ref.reference) for ref in (dev, stable)}
    if set(got.values()) != {digest}:
        shown = ", ".join(f"{name} -> {value or 'absent'}" for name, value in got.items())
        raise Failed(f"after the copy the tags disagree ({shown}); expected both at {digest}",
                           hints=["someone may have pushed during the promotion; run image status"])


def _dev_fields(client: RegistryClient, manifest: Manifest, version: str, digest: str,
                state: Path) -> dict[str, Any]:
    """Fill the build half of the record when the image was built elsewhere (e.g. by CI)."""
    existing = read_image_record(state, version)
    if existing is not None and existing.dev_digest == digest:
        return {}
    dev = parse_image(manifest.dev_image(version))
    labels = labels_or_empty(client, dev.repository, digest, manifest.image.platform)
    return {"repository": manifest.image.repository, "dev_tag": dev.tag, "dev_digest": digest,
            "revision": labels.get(LABEL_REVISION), "source": _bare_url(labels.get(LABEL_SOURCE)),
            "built_at": None}


def _bare_url(url: str | None) -> str | None:
    # a label written by some other build may carry a token in its URL: the record never does
    return strip_url_credentials(url) if url else url
