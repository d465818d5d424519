"""Driftwood's tasks: a table of contents. Run `invoke --list`, then `invoke --help TASK`.

The logic lives in the `ops` package; each task here only parses options and calls it.
"""

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from json import dumps, loads
from pathlib import Path
from typing import Any, TypeVar

from invoke import Collection, Context, Exit, task
from python_on_whales import DockerClient
from python_on_whales.exceptions import DockerException
from rich.console import Console

from ops import (
    backup,
    baseimages,
    bootstrap,
    build,
    chapters,
    compare,
    deploy,
    deps,
    diagnose,
    errors,
    imagefacts,
    lessons,
    measured,
    preflight,
    push,
    registry,
    runstage,
    scan,
    sign,
    stack,
    stages,
    standins,
    version,
    volumes,
)
from ops import doctor as ops_doctor
from ops.lessons import ch11
from ops.scan import render

PROJECT_ROOT = Path(__file__).resolve().parent
T = TypeVar("T")


@task(help={"force": "rebuild the offline base image stand-ins (cached rootfs tarballs reused)"})
def setup(c: Context, force: bool = False) -> None:
    """Make this host ready: engine, plugins, QEMU, registry, base images. Idempotent."""
    docker = DockerClient()
    try:
        the_plan, facts = bootstrap.setup(docker, print)
    except bootstrap.SetupError as exc:
        raise Exit(str(exc), code=1) from exc
    for item in the_plan.missing:
        print(f"missing: {item.what}; fix: {item.fix}")
    if the_plan.missing:
        raise Exit("setup could not complete this host; run the fixes above", code=1)
    seeded = _seed(docker, force)
    rows = _check(docker, facts, show_table=False)
    if the_plan.nothing_to_do and all(s.outcome == "present" for s in seeded):
        print(f"Nothing to do: this host is ready ({len(rows)} checks passed).")
    else:
        print(f"Host ready: {len(rows)} checks passed. `invoke doctor` shows them.")


@task
def doctor(c: Context) -> None:
    """Check every prerequisite: found or missing, version, and the command that fixes it."""
    docker = DockerClient()
    _check(docker, bootstrap.probe_host(docker), show_table=True)


def _check(
    docker: DockerClient, facts: bootstrap.HostFacts, *, show_table: bool
) -> list[ops_doctor.Check]:
    """Run the doctor's checks; the table is always shown when something required is missing."""
    rows = ops_doctor.checks(
        facts, ops_doctor.probe_tools(), ops_doctor.probe_base_images(docker, facts)
    )
    missing = ops_doctor.missing_required(rows)
    if show_table or missing:
        ops_doctor.render(rows, Console())
    optional = ops_doctor.absent_optional(rows)
    if optional:
        print("optional, absent: " + ", ".join(row.name for row in optional))
    if missing:
        raise Exit("missing: " + ", ".join(row.name for row in missing), code=1)
    return [row for row in rows if row.found]


@task(name="seed", help={"force": "rebuild the stand-ins even when present"})
def base_seed(c: Context, force: bool = False) -> None:
    """Pull each base image, or build its offline stand-in from Debian packages."""
    _seed(DockerClient(), force)


def _seed(docker: DockerClient, force: bool) -> list[standins.Seeded]:
    try:
        return standins.seed(docker, print, force=force)
    except (RuntimeError, DockerException) as exc:
        raise Exit(errors.explain(exc)) from exc


base_ns = Collection("base", base_seed)


# --- chapter stages: tags, worktrees, diffs and each chapter's lesson as checks ----------


@task(name="tag", help={"check": "only verify the tags are current; exit 1 if not (CI)"})
def stage_tag(c: Context, check: bool = False) -> None:
    """Tag every built chapter stage as a chain of commits built from HEAD (deterministic)."""
    chain = _chapters(chapters.stage_commits, PROJECT_ROOT)
    stale = chapters.stale_tags(PROJECT_ROOT, chain)
    if check:
        if stale:
            raise Exit(
                "stage tags are not current: " + "; ".join(stale) + " (run invoke stage.tag)"
            )
        print(f"all {len(chain)} stage tags are current")
        return
    chapters.write_tags(PROJECT_ROOT, chain)
    for chapter, oid in chain:
        print(f"{chapter.tag} {oid[:12]}")


@task(
    name="checkout",
    help={"stage": "chapter number or slug", "path": "where (default ../driftwood-stages/NN-slug)"},
)
def stage_checkout(c: Context, stage: str, path: str = "") -> None:
    """Give stage N its own git worktree, outside this tree (yours is left untouched)."""
    dest = _chapters(chapters.checkout, PROJECT_ROOT, stage, Path(path) if path else None)
    print(f"stage {stage} is in {dest} (remove with: git worktree remove {dest})")


@task(
    name="diff",
    help={"a": "from stage (number)", "b": "to stage (number)", "patch": "show every line"},
)
def stage_diff(c: Context, a: str, b: str, patch: bool = False) -> None:
    """Show what changed from stage A to stage B, file by file."""
    print(_chapters(chapters.diff, PROJECT_ROOT, a, b, patch), end="")


@task(
    name="check",
    help={
        "stage": "chapter number or slug",
        "only": "run only the claims whose check's name contains this (e.g. form)",
    },
)
def stage_check(c: Context, stage: str, only: str = "") -> None:
    """Run chapter N's lesson as checks against its running stage: PASS/FAIL per claim."""
    chapter, root = _chapters(chapters.stage_root, PROJECT_ROOT, stage)
    lesson = _chapters(lessons.load, chapter.number)
    print(f"Chapter {chapter.folder}: {lesson.title} ({root})")
    outcomes = lessons.run(
        lesson,
        lessons.LessonContext(DockerClient(), root),
        lambda o: print(lessons.format_outcome(o)),
        only,
    )
    if not only:  # a partial run is not the stage's record
        lessons.save(lesson, outcomes, PROJECT_ROOT / "reports" / chapter.folder / "lesson.json")
    print(lessons.summary(outcomes))
    if not all(o.passed for o in outcomes):
        raise Exit(code=1)


@task(name="up", help={"stage": "chapter number or slug"})
def stage_up(c: Context, stage: str) -> None:
    """Start chapter N's stage as its lesson does (12: the production stack)."""
    with _clear_errors():
        print(_lesson_hook(stage, "up"))


@task(name="down", help={"stage": "chapter number or slug"})
def stage_down(c: Context, stage: str) -> None:
    """Stop what `invoke stage.up N` started."""
    with _clear_errors():
        print(_lesson_hook(stage, "down"))


@task(name="measured", help={"stage": "chapter number or slug"})
def stage_measured(c: Context, stage: str) -> None:
    """Write the last measured numbers into the chapter README, between its markers."""
    chapter = _chapters(chapters.find, PROJECT_ROOT, stage)
    record = PROJECT_ROOT / "reports" / chapter.folder / "lesson.json"
    if not record.exists():
        raise Exit(f"no {record.relative_to(PROJECT_ROOT)}: run invoke stage.check {stage} first")
    lesson = loads(record.read_text())
    row = None
    with _clear_errors():
        the_stage = stages.find_stage(PROJECT_ROOT, str(chapter.number))
        if the_stage.builds and (REPORTS / the_stage.name / "build.json").exists():
            row = asdict(compare.collect(the_stage, REPORTS, None))
    readme = PROJECT_ROOT / chapter.path / "README.md"
    block = measured.render(lesson, row, lesson["recorded"])
    try:
        readme.write_text(measured.inject(readme.read_text(), block, str(readme)))
    except measured.MeasuredError as exc:
        raise Exit(str(exc)) from exc
    print(f"updated {readme.relative_to(PROJECT_ROOT)}")


# --- reading images and containers (chapters 02-03) -----------------------------------------


@task(name="inspect", help={"ref": "the image to read (default: PostgreSQL, pinned by digest)"})
def learn_inspect(c: Context, ref: str = "") -> None:
    """Read an image: id, digests, size, layers, entrypoint, command and history."""
    with _clear_errors():
        docker = preflight.require_engine(DockerClient())
        ref = ref or baseimages.resolve_refs(docker)["POSTGRES_IMAGE"]
        print(imagefacts.report(imagefacts.describe(docker, ref)))


@task(name="tags")
def learn_tags(c: Context) -> None:
    """Point one tag at two images in turn: the tag moves, the digest reference does not."""
    with _clear_errors():
        docker = preflight.require_engine(DockerClient())
        refs = baseimages.resolve_refs(docker)
        move = imagefacts.tag_moves(
            docker, refs["DEBIAN_IMAGE"], refs["PYTHON_IMAGE"], "driftwood-learn/moving:demo"
        )
    print(f"{move.tag} named {move.before}, then {move.after}")
    print(f"{move.pinned}\n  still names {move.pinned_id}")


@task(name="bases")
def learn_bases(c: Context) -> None:
    """Measure Debian slim, Python slim and a distroless-style runtime on the app's needs."""
    with _clear_errors():
        docker = preflight.require_engine(DockerClient())
        refs = baseimages.resolve_refs(docker)
        distroless = imagefacts.distroless_style(
            docker, refs["PYTHON_IMAGE"], "driftwood-learn/distroless-style:demo"
        )
        fits = [imagefacts.fit(docker, r) for r in (refs["DEBIAN_IMAGE"], refs["PYTHON_IMAGE"])]
        fits.append(imagefacts.fit(docker, distroless))
    print(f"{'image':<70} {'MB':>7} {'python':>8} {'sh':>5} {'pip':>5} {'apt':>5}")
    for fit in fits:
        print(
            f"{fit.ref[:70]:<70} {fit.size_mb:>7g} {fit.python or '-':>8} "
            f"{fit.shell!s:>5} {fit.pip!s:>5} {fit.apt!s:>5}"
        )


@task(name="crashloop", help={"remove": "remove the failed job's container instead"})
def learn_crashloop(c: Context, remove: bool = False) -> None:
    """Re-run stage 11's migration with a new password in its secret file: a crash loop."""
    _, root = _chapters(chapters.stage_root, PROJECT_ROOT, 11)
    with _clear_errors():
        docker = preflight.require_engine(DockerClient())
        if remove:
            ch11.stop_crash_loop(docker)
            print(f"removed {ch11.MIGRATE}")
            return
        name = ch11.start_crash_loop(docker, root)
    print(f"{name} gave up restarting (secrets/{ch11.ROTATED} is the old one again)")
    print(f"invoke diagnose --container {name}")
    print("(invoke learn.crashloop --remove cleans up)")


def _lesson_hook(stage: str, which: str) -> str:
    chapter, root = _chapters(chapters.stage_root, PROJECT_ROOT, stage)
    hook = getattr(_chapters(lessons.load, chapter.number), which)
    if hook is None:
        raise Exit(
            f"stage {chapter.folder} has its own image: use invoke stage.run {chapter.number}"
        )
    return hook(lessons.LessonContext(DockerClient(), root))


def _chapters(function: Callable[..., T], *args: Any) -> T:
    """Call into ops.chapters/ops.lessons, turning their errors into one clear message."""
    try:
        return function(*args)
    except (chapters.ChapterError, lessons.LessonError) as exc:
        raise Exit(str(exc)) from exc


# ---- stages and images: build, scan, push, sign, verify, run, compare (ops.stages ...) ----

REPORTS = PROJECT_ROOT / "reports"
STAGE_HELP = "stage name or number (default: the final stage; see `invoke stage.list`)"


@contextmanager
def _clear_errors() -> Iterator[None]:
    """Every failure a user can fix becomes one sentence and a non-zero exit."""
    try:
        yield
    except build.BuildFailed as exc:
        print(exc.log)
        raise Exit(f"error: {exc}", code=1) from exc
    except (
        chapters.ChapterError,
        stages.StageError,
        preflight.PreflightError,
        registry.RegistryError,
        sign.SigningError,
        scan.GateError,
        runstage.RunError,
        stack.StackError,
        volumes.VolumeError,
        LookupError,
        FileNotFoundError,
        TimeoutError,
    ) as exc:
        raise Exit(f"error: {exc}", code=1) from exc
    except DockerException as exc:
        raise Exit(f"error: {errors.explain(exc)}", code=1) from exc


def _image_stage(name: str | None) -> stages.Stage:
    """The stage to build, scan, push or run: one with an image of its own."""
    the_stage = stages.find_stage(PROJECT_ROOT, name)
    if not the_stage.builds:
        raise stages.StageError(
            f"stage {the_stage.name} has no image of its own (kind {the_stage.kind}): "
            f"use `invoke stage.up {the_stage.number}`"
        )
    return the_stage


def _platforms(platform: str | None) -> list[str] | None:
    return platform.split(",") if platform else None


@task(name="list", help={"json": "print the stages that build an image as a JSON list (CI matrix)"})
def stage_list(c: Context, json: bool = False) -> None:
    """List the stages, chapters first and the final stage last."""
    with _clear_errors():
        all_stages = stages.discover(PROJECT_ROOT)
    if json:
        print(dumps([s.name for s in all_stages if s.builds]))
    for s in [] if json else all_stages:
        print(f"{s.number:>3}  {s.name:<12} {s.title}  ({s.manifest.relative_to(PROJECT_ROOT)})")


@task(
    name="run",
    help={
        "stage": STAGE_HELP,
        "verify": "run only what the registry holds, signed: refuse unsigned or tampered images",
        "registry": "registry holding the signed image (with --verify)",
        "ref": "with --verify: this reference instead of the stage's tag (roll back by digest)",
    },
)
def stage_run(
    c: Context,
    stage: str | None = None,
    verify: bool = False,
    registry: str = push.LOCAL_REGISTRY,
    ref: str = "",
) -> None:
    """Bring a stage up, wait until it is healthy, and print its URL."""
    with _clear_errors():
        the_stage = _image_stage(stage)
        docker = preflight.require_engine(DockerClient())
        image = None
        if verify:
            keys = sign.signing_keys(PROJECT_ROOT, dict(os.environ))
            reference = ref or f"{registry}/{the_stage.image}:{the_stage.tag}"
            image = sign.verify(reference, sign.public_key(keys)).reference
            print(f"verified {reference} -> {image}")
        print(f"{the_stage.name} is up: {runstage.start(docker, the_stage, PROJECT_ROOT, image)}")


@task(name="stop", help={"stage": STAGE_HELP})
def stage_stop(c: Context, stage: str | None = None) -> None:
    """Stop a running stage and remove its containers."""
    with _clear_errors():
        the_stage = stages.find_stage(PROJECT_ROOT, stage)
        runstage.stop(preflight.require_engine(DockerClient()), the_stage, PROJECT_ROOT)


@task(name="logs", help={"stage": STAGE_HELP, "tail": "lines to show from the end"})
def stage_logs(c: Context, stage: str | None = None, tail: str = "200") -> None:
    """Show a running stage's logs."""
    with _clear_errors():
        the_stage = stages.find_stage(PROJECT_ROOT, stage)
        for line in runstage.logs(
            preflight.require_engine(DockerClient()), the_stage, PROJECT_ROOT, tail
        ):
            print(line, end="")


@task(
    name="build",
    iterable=["build_arg"],
    help={
        "stage": STAGE_HELP,
        "platform": "comma-separated, e.g. linux/amd64,linux/arm64 (default: this host's)",
        "build_arg": "NAME=VALUE, repeatable; overrides the pinned bases and version stamps",
        "no_cache": "build every step again (a cold build)",
        "push": "push to the registry and tag it afterwards (same as `image.push`)",
        "registry": "registry to push to (with --push)",
    },
)
def image_build(
    c: Context,
    stage: str | None = None,
    platform: str | None = None,
    build_arg: list[str] | None = None,
    no_cache: bool = False,
    push: bool = False,
    registry: str = push.LOCAL_REGISTRY,
) -> None:
    """Build a stage's image with BuildKit and record its id, digest, size and build time."""
    if push:
        image_push(c, stage=stage, platform=platform, registry=registry)
        return
    with _clear_errors():
        the_stage = _image_stage(stage)
        docker = preflight.require_engine(DockerClient())
        args = dict(arg.split("=", 1) for arg in build_arg or [])
        record = build.build_stage(
            docker,
            the_stage,
            version.source_version(PROJECT_ROOT),
            show=print,
            platforms=_platforms(platform),
            extra_args=args,
            cache=not no_cache,
            kind="cold" if no_cache else "build",
        )
        path = record.save(REPORTS)
    size = f"{record.size_bytes / 1e6:.1f} MB" if record.size_bytes else "?"
    print(
        f"built {record.image} ({record.image_id}) {size} in {record.seconds:.1f} s, "
        f"{record.cached_steps}/{record.steps} steps cached; recorded in {path}"
    )


@task(
    name="scan",
    help={
        "stage": STAGE_HELP,
        "image": "image to scan (default: the stage's local build, NAME:stage-NN)",
        "require_vuln_scan": "fail when no vulnerability scanner (trivy/grype) could run",
    },
)
def image_scan(
    c: Context, stage: str | None = None, image: str | None = None, require_vuln_scan: bool = False
) -> None:
    """Scan a stage's image; exit non-zero only where it contradicts its stage.toml."""
    with _clear_errors():
        the_stage = _image_stage(stage)
        docker = preflight.require_engine(DockerClient())
        report, sbom, dive = scan.scan_image(
            docker, the_stage, image or build.local_tag(the_stage), PROJECT_ROOT, require_vuln_scan
        )
        uri = str(the_stage.dockerfile.relative_to(PROJECT_ROOT))
        paths = scan.write_outputs(report, sbom, dive, REPORTS / the_stage.name, uri)
    Console().print(render.table(report))
    print("written: " + ", ".join(str(p.relative_to(PROJECT_ROOT)) for p in paths))
    if not report.ok:
        wrong = ", ".join(f"{v.check} ({v.reason})" for v in report.verdicts if not v.ok)
        raise Exit(f"scan of {the_stage.name} contradicts its stage.toml: {wrong}", code=1)


@task(
    name="push",
    help={
        "stage": STAGE_HELP,
        "registry": "registry host[:port]",
        "latest": "also tag it `latest` (never implied)",
        "platform": "comma-separated platforms (default: the stage's declared platforms)",
    },
)
def image_push(
    c: Context,
    stage: str | None = None,
    registry: str = push.LOCAL_REGISTRY,
    latest: bool = False,
    platform: str | None = None,
) -> None:
    """Push a stage as one multi-arch index, then tag it: version, commit, stage."""
    with _clear_errors():
        the_stage = _image_stage(stage)
        docker = preflight.require_engine(DockerClient())
        record = push.push_stage(
            docker,
            the_stage,
            version.source_version(PROJECT_ROOT),
            show=print,
            registry=registry,
            latest=latest,
            platforms=_platforms(platform),
        )
        record.save(REPORTS)
    print(f"pushed {record.reference}")
    for tag in record.tags:
        print(f"  {record.repository}:{tag}")


@task(
    name="sign",
    help={
        "stage": STAGE_HELP,
        "sbom": "CycloneDX SBOM to attest (default: reports/<stage>/sbom.cdx.json from image.scan)",
    },
)
def image_sign(c: Context, stage: str | None = None, sbom: str | None = None) -> None:
    """Sign the stage's last pushed digest with cosign and attest its SBOM."""
    with _clear_errors():
        the_stage = stages.find_stage(PROJECT_ROOT, stage)
        pushed = REPORTS / the_stage.name / "push.json"
        if not pushed.exists():
            raise stages.StageError(
                f"nothing pushed for {the_stage.name}: run `invoke image.push` first"
            )
        reference = loads(pushed.read_text())["reference"]
        sbom_path = Path(sbom) if sbom else REPORTS / the_stage.name / "sbom.cdx.json"
        if not sbom_path.exists():
            raise stages.StageError(f"no SBOM at {sbom_path}: run `invoke image.scan` first")
        keys = sign.signing_keys(PROJECT_ROOT, dict(os.environ))
        if keys.development:
            print(sign.DEV_KEY_WARNING.format(dir=sign.DEV_KEY_DIR))
            sign.ensure_dev_keys(keys)
        sign.sign(reference, keys, sbom_path)
        digest = reference.split("@")[1]
        record = {"reference": reference, "digest": digest, "development_key": keys.development}
        (REPORTS / the_stage.name / "sign.json").write_text(dumps(record, indent=2) + "\n")
    print(f"signed {reference} and attested its SBOM")


@task(
    name="verify",
    help={
        "stage": STAGE_HELP,
        "ref": "image reference to verify (default: REGISTRY/IMAGE:stage-NN)",
        "registry": "registry holding the image",
    },
)
def image_verify(
    c: Context,
    stage: str | None = None,
    ref: str | None = None,
    registry: str = push.LOCAL_REGISTRY,
) -> None:
    """Verify an image's signature and SBOM attestation against the public key."""
    with _clear_errors():
        the_stage = stages.find_stage(PROJECT_ROOT, stage)
        reference = ref or f"{registry}/{the_stage.image}:{the_stage.tag}"
        verified = sign.verify(
            reference, sign.public_key(sign.signing_keys(PROJECT_ROOT, dict(os.environ)))
        )
    print(
        f"verified {reference} -> {verified.reference} "
        f"(signed SBOM: {verified.sbom_components} components)"
    )


@task(
    name="compare",
    help={
        "measure": "first time a cold build and a rebuild after a code change, per stage",
        "stage": "limit --measure to this stage (the report always covers every stage)",
    },
)
def report_compare(c: Context, measure: bool = False, stage: str | None = None) -> None:
    """Compare every stage: sizes, layers, build times, hardening, findings, signing."""
    with _clear_errors():
        all_stages = stages.discover(PROJECT_ROOT)
        if measure:
            docker = preflight.require_engine(DockerClient())
            building = [s for s in all_stages if s.builds]
            for the_stage in [_image_stage(stage)] if stage else building:
                cold, rebuild = compare.measure(
                    docker, the_stage, version.source_version(PROJECT_ROOT), REPORTS, show=print
                )
                print(f"{the_stage.name}: cold {cold:.1f} s, rebuild {rebuild:.1f} s")
        rows = [
            compare.collect(s, REPORTS, compare.compose_services(s) if s.compose_files else None)
            for s in all_stages
        ]
    Console().print(compare.table(rows))
    paths = compare.write_report(rows, REPORTS / "compare")
    print("written: " + ", ".join(str(p.relative_to(PROJECT_ROOT)) for p in paths))


# ---- the stack: up, down, logs, ps, database backups (ops.stack, ops.backup) --------------

PROD_HELP = "production layering (compose.prod.yaml: TLS, read-only, limits) instead of dev"


def _stack(prod: bool) -> stack.Stack:
    return stack.Stack(PROJECT_ROOT, prod=prod)


@task(
    help={
        "prod": PROD_HELP,
        "build": "build the images first (--no-build to skip)",
        "verify": "with --prod: run only the signed app image from the registry (image.sign)",
        "ref": "with --verify: the signed image to run, e.g. an earlier digest (a rollback)",
    }
)
def up(
    c: Context, prod: bool = False, build: bool = True, verify: bool = False, ref: str = ""
) -> None:
    """Build and start the stack, wait until every service is healthy, print the URL."""
    if ref and not verify:
        raise Exit(
            "error: --ref is the image to verify and run: `invoke up --prod --verify --ref REF`"
        )
    if verify:
        if not prod:
            raise Exit("error: --verify runs the production stack: `invoke up --prod --verify`")
        stage_run(c, verify=True, ref=ref)
        return
    the_stack = _stack(prod)
    with _clear_errors():
        docker = preflight.require_engine(DockerClient())
        for path in stack.prepare(the_stack, docker):
            print(f"created {path.relative_to(PROJECT_ROOT)} (first run; never committed)")
        stack.up(the_stack, build=build)
    print(stack.first_user_instructions(the_stack))


@task(help={"prod": PROD_HELP, "volumes": "also delete the database volume (asks first)"})
def down(c: Context, prod: bool = False, volumes: bool = False) -> None:
    """Stop and remove the stack's containers; the data stays unless --volumes."""
    if volumes and input("Delete the database volume and all its data? [y/N] ") != "y":
        raise Exit("nothing deleted", code=1)
    with _clear_errors():
        stack.down(_stack(prod), volumes=volumes)


@task(
    iterable=["service"],
    help={
        "service": "a service to show (repeatable; default: all)",
        "follow": "keep printing new lines",
        "tail": "lines to show from the end of each log",
    },
)
def logs(
    c: Context, service: list[str] | None = None, follow: bool = False, tail: str = "100"
) -> None:
    """Show the stack's logs."""
    with _clear_errors():
        for line in stack.logs(_stack(False), service or [], follow=follow, tail=tail):
            print(line, end="")


@task
def ps(c: Context) -> None:
    """List the stack's containers with their state and health."""
    with _clear_errors():
        rows = stack.status(_stack(False))
    for name, state, health in rows:
        print(f"{name:<40} {state:<10} {health}")


@task(
    name="deploy",
    help={"prod": PROD_HELP, "build": "build the images first (--no-build to skip)"},
)
def deploy_app(c: Context, prod: bool = False, build: bool = True) -> None:
    """Replace the running app container with the current code, without a gap in service."""
    the_stack = _stack(prod)
    with _clear_errors():
        docker = preflight.require_engine(DockerClient())
        stack.prepare(the_stack, docker)
        if build:
            the_stack.client().compose.build(["app"], quiet=True)
        deploy.replace_app(the_stack)


@task(
    name="diagnose",
    iterable=["service"],
    help={
        "service": "a service to diagnose (repeatable; default: all)",
        "prod": PROD_HELP,
        "container": "diagnose this container instead, of any project (`docker ps -a`)",
    },
)
def diagnose_stack(
    c: Context, service: list[str] | None = None, prod: bool = False, container: str = ""
) -> None:
    """Say why each container is in its state: OOM kills, crashes, restarts, last log lines."""
    with _clear_errors():
        if container:
            reports = [diagnose.diagnose_named(preflight.require_engine(DockerClient()), container)]
        else:
            reports = diagnose.diagnose(_stack(prod), service or [])
    if not reports:
        raise Exit("no containers: the stack is not running (invoke up)")
    for report in reports:
        print(diagnose.render(report))


@task(name="backup", help={"prod": PROD_HELP})
def db_backup(c: Context, prod: bool = False) -> None:
    """Dump the database (pg_dump -Fc) to backups/ through a throwaway container."""
    with _clear_errors():
        print(f"written {backup.backup(_stack(prod)).relative_to(PROJECT_ROOT)}")


@task(name="restore", help={"file": "a dump written by db.backup", "prod": PROD_HELP})
def db_restore(c: Context, file: str, prod: bool = False) -> None:
    """Replace the database's contents with a dump (the app is stopped meanwhile)."""
    with _clear_errors():
        backup.restore(_stack(prod), Path(file))
    print(f"restored {file}")


@task(name="lock", help={"upgrade": "move every dependency to its newest allowed version"})
def deps_lock(c: Context, upgrade: bool = False) -> None:
    """Regenerate requirements/app.lock (hashes, amd64 and arm64) from pyproject.toml."""
    print(f"written {deps.lock(PROJECT_ROOT, upgrade=upgrade).relative_to(PROJECT_ROOT)}")


db_ns = Collection("db", db_backup, db_restore)
deps_ns = Collection("deps", deps_lock)


# ---- named volumes as files: backup, restore, and moving one to another host --------------


@task(
    name="backup",
    help={
        "volume": "the named volume to copy (its containers must be stopped)",
        "output": "the archive to write (default backups/VOLUME.tar.gz)",
    },
)
def volume_backup(c: Context, volume: str, output: str = "") -> None:
    """Archive a named volume's files (owners, modes) through a throwaway container."""
    archive = Path(output) if output else PROJECT_ROOT / "backups" / f"{volume}.tar.gz"
    with _clear_errors():
        written = volumes.backup(preflight.require_engine(DockerClient()), volume, archive)
    print(f"{volume} -> {written} ({written.stat().st_size / 1e6:.1f} MB)")


@task(
    name="restore",
    help={
        "file": "the archive written by volume.backup (copied from another host, say)",
        "volume": "the volume to fill (created when missing)",
        "replace": "empty a volume that already holds files first (its data is lost)",
    },
)
def volume_restore(c: Context, file: str, volume: str, replace: bool = False) -> None:
    """Unpack an archive into a named volume, here or on another host."""
    with _clear_errors():
        docker = preflight.require_engine(DockerClient())
        volumes.restore(docker, Path(file), volume, replace=replace)
    print(f"{file} -> volume {volume}")


volume_ns = Collection("volume", volume_backup, volume_restore)


# ---- the local registry's housekeeping ------------------------------------------------------


@task(
    name="rm",
    help={
        "image": "REPOSITORY:TAG or REPOSITORY@DIGEST in the local registry (no host part)",
    },
)
def registry_rm(c: Context, image: str) -> None:
    """Delete an image (an index with its platform manifests) from the local registry."""
    repository, separator, reference = image.rpartition("@" if "@" in image else ":")
    if not separator or not repository:
        raise Exit(f"{image!r}: give REPOSITORY:TAG or REPOSITORY@DIGEST, e.g. driftwood:1.0.0")
    with _clear_errors():
        deleted = registry.delete_image(repository, reference)
    if not deleted:
        raise Exit(f"{registry.ADDRESS}/{image} is not in the registry")
    print(f"deleted {len(deleted)} manifest(s): {', '.join(d[:19] for d in deleted)}")
    print("their layers are freed by `invoke registry.gc`")


@task(name="gc")
def registry_gc(c: Context) -> None:
    """Free the layers no manifest references (the registry pauses while it collects)."""
    with _clear_errors():
        registry.collect_garbage()


registry_ns = Collection("registry", registry_rm, registry_gc)


stage_ns = Collection(
    "stage",
    stage_tag,
    stage_checkout,
    stage_diff,
    stage_check,
    stage_up,
    stage_down,
    stage_measured,
    stage_list,
    stage_run,
    stage_stop,
    stage_logs,
)
image_ns = Collection("image", image_build, image_scan, image_push, image_sign, image_verify)
report_ns = Collection("report", report_compare)
learn_ns = Collection("learn", learn_inspect, learn_tags, learn_bases, learn_crashloop)


ns = Collection(
    setup,
    doctor,
    up,
    down,
    logs,
    ps,
    diagnose_stack,
    deploy_app,
    base_ns,
    db_ns,
    deps_ns,
    stage_ns,
    image_ns,
    report_ns,
    learn_ns,
    volume_ns,
    registry_ns,
)
