"""Chapter 09, Registries and distribution: publish once, then run only what verifies.

`invoke stage.up 9` first publishes this commit, unless the registry already holds it
signed with the stage's key: build for this host, scan it (the gate: nothing is pushed
when the scan contradicts stage.toml), push amd64 and arm64 as one index under the tagging
scheme's tags, sign the index digest and attest its SBOM. Then it deploys, as a production
host would: it resolves the moving tag `stage-09` to the digest it names now, verifies that
digest's signature and SBOM attestation, and runs chapter 08's stack (compose.yaml, nginx in
front) with compose.registry.yaml swapping the app's build for exactly that digest.
Whatever the tag says afterwards, nothing unverified runs.
"""

from __future__ import annotations

import contextlib
import json
import re
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ops import push, registry, scan, sign, stack
from ops.build import build_stage, local_tag
from ops.lessons import Lesson, LessonContext, Result
from ops.lessons.composestage import SECRETS
from ops.lessons.probes import generated_secret, http_status, published_ports, state_dir
from ops.push import LOCAL_REGISTRY
from ops.scan.model import ScanReport, compare
from ops.stages import MANIFEST, Outcome, Stage, load_stage
from ops.version import source_version

PREFIX = "driftwood-stage-09"
REPOSITORY = f"{LOCAL_REGISTRY}/{PREFIX}"
PORT = 8009
URL = f"http://127.0.0.1:{PORT}/"
# This chapter's layer over chapter 08's compose.yaml.
LAYER = "compose.registry.yaml"
PLATFORMS = ("linux/amd64", "linux/arm64")
# What `uname -m` calls each platform's CPU.
MACHINES = {"linux/amd64": "x86_64", "linux/arm64": "aarch64"}
# Chapter 10's expectation: what the gate says to an image that does not meet it yet.
STRICTER: dict[str, Outcome] = {"policy.non_root": "pass"}


def stage(ctx: LessonContext) -> Stage:
    return load_stage(ctx.root / MANIFEST)


def keys(ctx: LessonContext) -> sign.Keys:
    """The stage's own development key pair under .cache/cosign (gitignored, generated on
    first use); never a release key from the environment."""
    return sign.signing_keys(ctx.root, {})


def publish(ctx: LessonContext, show: Callable[[str], None]) -> push.PushRecord:
    """Build, scan (the gate), push as one multi-arch index, sign and attest the SBOM."""
    the_stage, source = stage(ctx), source_version(ctx.root)
    show(f"publishing {REPOSITORY} git-{source.short_commit}: build for this host, then scan")
    build_stage(ctx.docker, the_stage, source, show=show)
    show("scanning it: hadolint, policy, secrets in every layer, dive, SBOM (a minute or two)")
    report, sbom, _ = scan.scan_image(ctx.docker, the_stage, local_tag(the_stage), ctx.root)
    ctx.memo["ch09.scan"] = report
    scan.gate(report, "pushed")
    sbom_file = state_dir(ctx.root) / "sbom.cdx.json"
    sbom_file.write_text(json.dumps(sbom, indent=2) + "\n")
    show(f"scan gate passed; building {', '.join(the_stage.platforms)} and pushing one index")
    record = push.push_stage(ctx.docker, the_stage, source, show=show)
    signing = keys(ctx)
    sign.ensure_dev_keys(signing)
    sign.sign(record.reference, signing, sbom_file)
    show(f"signed {record.reference} and attested its SBOM")
    return record


def published(ctx: LessonContext) -> str | None:
    """This commit's digest reference when the registry has it signed with the stage's key."""
    tag = f"{REPOSITORY}:git-{source_version(ctx.root).short_commit}"
    with contextlib.suppress(sign.SigningError, registry.RegistryError):
        return sign.verify(tag, sign.public_key(keys(ctx)), require_sbom=False).reference
    return None


def verified(ctx: LessonContext) -> sign.Verified:
    """What the moving tag names now, verified (signature and SBOM), or SigningError."""
    tag = f"{REPOSITORY}:{stage(ctx).tag}"
    return sign.verify(tag, sign.public_key(keys(ctx)))


def stage_stack(ctx: LessonContext, app_image: str | None = None) -> stack.Stack:
    """Chapter 08's stack with this chapter's layer, under the stage's own project, port and
    settings file (never .env); `app_image` is the verified digest the settings will hold."""
    values = {name: generated_secret(ctx.root, kept) for name, kept in SECRETS.items()}
    values |= {"DRIFTWOOD_BIND": "127.0.0.1", "DRIFTWOOD_HTTP_PORT": str(PORT)}
    if app_image:
        values["DRIFTWOOD_APP_IMAGE"] = app_image
    return stack.Stack(
        ctx.root, project=PREFIX, layers=(LAYER,), overrides=tuple(sorted(values.items()))
    )


def up(ctx: LessonContext) -> str:
    """Publish this commit if needed, then run only what `stage-09` names, verified."""
    if not published(ctx):
        publish(ctx, print)
    image = verified(ctx).reference  # raises sign.Refused (cause, advice): nothing runs
    run = stage_stack(ctx, image)
    # The pinned nginx and PostgreSQL images, then the settings with the digest in them.
    stack.write_env_file(run.generated_env, stack.stack_variables(ctx.docker, ctx.root))
    stack.write_env_file(run.settings_file, dict(run.overrides))
    stack.up(run, build=False)
    return f"verified and running {image}\nthe app, through nginx: {URL} (compose project {PREFIX})"


def down(ctx: LessonContext) -> str:
    run = stage_stack(ctx)
    if not run.settings_file.exists():  # compose cannot even read the files without it
        return f"nothing to remove: {PREFIX} was never started from {ctx.root}"
    stack.down(run, volumes=True)
    return f"removed compose project {PREFIX} and its database volume; the registry keeps the image"


LESSON = Lesson(chapter=9, title="Registries and distribution", up=up, down=down)


def _verified(ctx: LessonContext) -> sign.Verified:
    return ctx.once("ch09.verified", lambda: verified(ctx))


def _digest(ctx: LessonContext) -> str:
    return _verified(ctx).reference.rpartition("@")[2]


def locked_packages(lock: str) -> dict[str, str]:
    """{normalised name: version} of a pip lock's unconditional `name==version` lines
    (entries with an environment marker, e.g. Windows-only ones, are left out)."""
    pins = re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)\s*\\?$", lock, re.MULTILINE)
    return {re.sub(r"[-_.]+", "-", name).lower(): version for name, version in pins}


def sbom_python_packages(sbom: dict[str, Any]) -> dict[str, str]:
    """{name: version} of the SBOM's Python components, read from their package URLs."""
    found = {}
    for component in sbom.get("components", []):
        purl = component.get("purl", "")
        if purl.startswith("pkg:pypi/"):
            name, _, version = purl.removeprefix("pkg:pypi/").partition("@")
            found[name] = version
    return found


@LESSON.claim(
    "The stage is chapter 08's stack with nginx in front, its only published port; the app "
    "and the migration job run by digest, the digest whose signature verified, and the app "
    "answers through nginx.",
    hint=f"invoke stage.up 9; `docker compose -p {PREFIX} ps --all`: the app's and the job's "
    f"image is {REPOSITORY}@sha256:..., never a tag (compose.registry.yaml)",
)
def runs_verified_digest(ctx: LessonContext) -> Result:
    containers = stage_stack(ctx).client().compose.ps(all=True)
    services = {c.config.labels["com.docker.compose.service"]: c for c in containers}
    if not {"nginx", "app", "migrate", "db"} <= set(services):
        return Result(False, f"services {sorted(services)} in {PREFIX}: run invoke stage.up 9")
    images = {services[name].config.image for name in ("app", "migrate")}
    published = published_ports(containers)
    status = http_status(URL + "readyz")
    return Result.expect(
        images == {_verified(ctx).reference}
        and published == [f"{PREFIX}-nginx-1 8080/tcp on 127.0.0.1:{PORT}"]
        and status == 200,
        f"app and migrate run {', '.join(sorted(images))}; published: "
        f"{'; '.join(published) or 'nothing'}; {URL}readyz through nginx {status}",
    )


@LESSON.claim(
    "The registry's API lists the repository, the scheme's tags (version, major.minor, "
    "git sha, stage) all naming one digest, the signature's tags, and no `latest`.",
    hint=f"curl http://{LOCAL_REGISTRY}/v2/_catalog, /v2/{PREFIX}/tags/list, and a HEAD on "
    f"/v2/{PREFIX}/manifests/TAG (Docker-Content-Digest); ops/push.py compute_tags",
)
def registry_api(ctx: LessonContext) -> Result:
    catalog = json.loads(registry.call(LOCAL_REGISTRY, "_catalog?n=1000")[0])
    tags = json.loads(registry.call(LOCAL_REGISTRY, f"{PREFIX}/tags/list")[0])["tags"]
    scheme = push.compute_tags(source_version(ctx.root), stage(ctx))
    digests = {tag: push.resolve_digest(f"{REPOSITORY}:{tag}") for tag in scheme}
    digest = _digest(ctx)
    cosign_tags = sorted(t for t in tags if t.startswith(digest.replace(":", "-")))
    return Result.expect(
        PREFIX in catalog["repositories"]
        and set(digests.values()) == {digest}
        and "latest" not in tags
        and len(cosign_tags) == 2,
        f"catalog has {PREFIX}; tags {', '.join(scheme)} -> {', '.join(set(digests.values()))}; "
        f"cosign's {', '.join(cosign_tags)}; {len(tags)} tags in all, latest "
        f"{'present' if 'latest' in tags else 'absent'}",
        tags=len(tags),
    )


@LESSON.claim(
    "The pushed digest is one index listing linux/amd64 and linux/arm64, and each runs "
    "(arm64 under QEMU).",
    hint="`docker buildx imagetools inspect` on the digest; `docker run --platform "
    "linux/arm64 ...` needs QEMU's binfmt handlers (invoke setup installs qemu-user-static)",
)
def multi_arch(ctx: LessonContext) -> Result:
    digest = _digest(ctx)
    _, index = registry.read_manifest(LOCAL_REGISTRY, PREFIX, digest)
    platforms = push.index_platforms(index, digest)
    machines, seconds = {}, {}
    for platform in PLATFORMS:
        if platform not in platforms:
            continue
        started = time.monotonic()
        output = ctx.docker.run(
            f"{REPOSITORY}@{digest}",
            ["-c", "import platform; print(platform.machine())"],
            entrypoint="python",
            platform=platform,
            remove=True,
        )
        seconds[platform] = round(time.monotonic() - started, 1)
        machines[platform] = str(output).strip()
    return Result.expect(
        index.get("mediaType", "").endswith("index.v1+json") and machines == MACHINES,
        f"{index.get('mediaType')} with {', '.join(sorted(platforms))}; python -c "
        + "; ".join(f"{p}: {machines[p]} in {seconds[p]} s" for p in machines),
        amd64_run_s=seconds.get("linux/amd64", -1),
        arm64_run_s=seconds.get("linux/arm64", -1),
    )


@LESSON.claim(
    "The signature verifies by digest with the stage's public key, and not with another key.",
    hint="cosign verify --key .cache/cosign/cosign.pub --insecure-ignore-tlog=true "
    f"{REPOSITORY}@sha256:... (ops/sign.py)",
)
def signature_verifies(ctx: LessonContext) -> Result:
    reference = _verified(ctx).reference
    started = time.monotonic()
    sign.verify(reference, sign.public_key(keys(ctx)), require_sbom=False)
    seconds = time.monotonic() - started
    with tempfile.TemporaryDirectory(prefix=f"{PREFIX}-") as tmp:
        other = sign.Keys(f"{tmp}/cosign.key", Path(tmp) / "cosign.pub", development=True)
        sign.ensure_dev_keys(other)
        try:
            sign.verify(reference, other.public, require_sbom=False)
        except sign.Refused as exc:
            refused, cause = f"REFUSED ({exc.cause}): {exc.reason}", exc.cause
        else:
            refused, cause = "", ""
    return Result.expect(
        cause == "mismatch",
        f"{reference} verified in {seconds:.1f} s; another key pair: "
        f"{refused or 'verified too (wrong)'}",
        verify_s=round(seconds, 2),
    )


@LESSON.claim(
    "The SBOM attestation verifies, and it lists every Python package the lock file pins.",
    hint="cosign verify-attestation --type cyclonedx ...; the SBOM comes from "
    "ops/scan/sbom.py (the image's *.dist-info and dpkg records), attested at publish",
)
def sbom_attested(ctx: LessonContext) -> Result:
    sbom = _verified(ctx).sbom or {}
    python = sbom_python_packages(sbom)
    locked = locked_packages((ctx.root / "requirements" / "app.lock").read_text())
    missing = sorted(f"{n}=={v}" for n, v in locked.items() if python.get(n) != v)
    components = len(sbom.get("components", []))
    return Result.expect(
        bool(locked) and not missing,
        f"{components} components, {len(python)} Python packages (e.g. "
        + ", ".join(f"{n} {python[n]}" for n in ("flask", "gunicorn", "psycopg") if n in python)
        + f"); lock pins {len(locked)}, missing from the SBOM: {', '.join(missing) or 'none'}",
        sbom_components=components,
        python_packages=len(python),
    )


def _scan(ctx: LessonContext) -> ScanReport:
    """The gate's scan from this run's publish, else a scan of the running digest."""
    if "ch09.scan" in ctx.memo:
        return ctx.memo["ch09.scan"]
    image = _verified(ctx).reference
    ctx.memo["ch09.scan"] = scan.scan_image(ctx.docker, stage(ctx), image, ctx.root)[0]
    return ctx.memo["ch09.scan"]


@LESSON.claim(
    "Scanning is a gate: the pushed image meets every expectation in stage.toml, and a "
    "stricter one (non-root, chapter 10's) would have stopped the push.",
    hint="stage.toml [expect]; ops/lessons/ch09.py publish(): the scan runs before the push "
    "and GateError stops it",
)
def scan_gate(ctx: LessonContext) -> Result:
    report = _scan(ctx)
    scan.gate(report, "pushed")
    declared = [v for v in report.verdicts if v.expected]
    stricter = compare({**stage(ctx).expect, **STRICTER}, report.results)
    try:
        scan.gate(ScanReport(report.stage, report.image, report.results, stricter), "pushed")
    except scan.GateError as exc:
        refusal = str(exc)
    else:
        refusal = ""
    return Result.expect(
        bool(refusal),
        f"{len(declared)} declared checks as declared; stricter: {refusal or 'passed (wrong)'}",
        declared_checks=len(declared),
    )


@LESSON.claim(
    "An unsigned image re-pushed under the same tag is refused: `invoke stage.up 9` stops "
    "before running it, names the cause (no signature) with advice that never says to sign "
    "it, and the stage keeps running the verified digest.",
    hint="ops/sign.py verify(): the tag is resolved to its digest now and that digest "
    "verified; compose gets the digest, so moving the tag later changes nothing running; "
    "REFUSALS there holds the advice per cause",
)
def unsigned_repush_refused(ctx: LessonContext) -> Result:
    the_stage = stage(ctx)
    signed = _verified(ctx).reference
    tag = f"{REPOSITORY}:{the_stage.tag}"
    # Same code, another label: a rebuild nobody signed, pushed over the moving tag.
    rogue = build_stage(
        ctx.docker,
        the_stage,
        source_version(ctx.root),
        show=lambda _: None,
        platforms=["linux/amd64"],
        extra_args={"REVISION": "rebuilt-unsigned"},
        push_to=tag,
    ).digest
    refusal: sign.Refused | None = None
    try:
        up(ctx)
    except sign.Refused as exc:
        refusal = exc
    finally:
        # Put the tag back on the signed index and delete the unsigned one from the registry.
        ctx.docker.buildx.imagetools.create(sources=[signed], tags=[tag])
        registry.call(LOCAL_REGISTRY, f"{PREFIX}/manifests/{rogue}", method="DELETE")
    still = runs_verified_digest(ctx)
    # The advice for an unsigned image: never to sign it (that would bless the rogue push).
    advice = str(refusal).partition(f"{refusal.reason}. ")[2] if refusal else ""
    shown = f"REFUSED ({refusal.cause}): {refusal.reason}" if refusal else "ran it (wrong)"
    return Result.expect(
        refusal is not None
        and refusal.cause == "unsigned"
        and "sign them to get past" in advice
        and "image.sign" not in advice
        and still.passed,
        f"pushed {rogue} as {the_stage.tag}; stage.up: {shown}; advice: "
        f"{advice.split(': ')[0] or '-'}; after: {still.observed}",
    )
