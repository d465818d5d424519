"""Image policy checks on what the engine records about an image.

Inputs are plain data so the checks run without an engine: the `docker image inspect`
result (python-on-whales' model, parsed the same from a recorded JSON file), the build
history's `created_by` lines, the file entries of the exported filesystem, and the
Dockerfile's text.
"""

from __future__ import annotations

import re
import stat
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass

from python_on_whales.components.image.models import ImageInspectResult

from ops.scan.model import CheckResult, Finding, result

# Names that say "this value is a secret". `*_FILE` variables point at a secret instead of
# holding one (the Docker secrets convention), so they are allowed.
SECRET_NAME = re.compile(
    r"(?i)(passw(or)?d|secret|token|api_?key|access_?key|private_?key|credential)"
)
# Values that are secrets whatever they are called.
SECRET_VALUE = re.compile(
    r"AKIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{36}|glpat-[A-Za-z0-9_-]{20}"
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----|xox[baprs]-[A-Za-z0-9-]{10,}"
)
# `KEY=value` as it appears in history lines (`|1 DB_PASSWORD=hunter2 /bin/sh -c ...`).
ASSIGNMENT = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_.-]*)=(?P<value>\"[^\"]*\"|'[^']*'|\S*)")
# Paths where world-writable is the point: sticky temporary and lock directories (FHS).
TMP_PATHS = ("tmp", "var/tmp", "dev/shm", "run/lock", "var/lock")
# Paths docker export adds for every container; they are not part of the image.
RUNTIME_PATHS = ("dev", "proc", "sys", "etc/hostname", "etc/hosts", "etc/resolv.conf", ".dockerenv")
OCI_LABELS = (
    "org.opencontainers.image.title",
    "org.opencontainers.image.source",
    "org.opencontainers.image.version",
    "org.opencontainers.image.revision",
)
PINNED = re.compile(r"@sha256:[0-9a-f]{64}$")
ROOT_USERS = {"", "root", "0", "0:0", "root:root", "root:0", "0:root"}


@dataclass(frozen=True)
class FileEntry:
    path: str  # relative to /, no leading slash
    mode: int  # permission bits including setuid/setgid/sticky
    kind: str  # "file", "dir", "symlink", "other"

    @classmethod
    def from_tarinfo(cls, info: tarfile.TarInfo) -> FileEntry:
        kind = (
            "file"
            if info.isfile()
            else "dir"
            if info.isdir()
            else "symlink"
            if info.issym() or info.islnk()
            else "other"
        )
        return cls(info.name.removeprefix("./").lstrip("/"), info.mode, kind)


def non_root(image: ImageInspectResult) -> CheckResult:
    user = (image.config.user if image.config else None) or ""
    findings = []
    if user in ROOT_USERS:
        shown = user or "(unset: root)"
        findings.append(Finding(f"runs as root: USER {shown}; add a non-root USER", "high"))
    return result("policy.non_root", findings, f"runs as {user}")


def healthcheck(image: ImageInspectResult) -> CheckResult:
    check = image.config.healthcheck if image.config else None
    test = (check.test if check else None) or []
    findings = []
    if not test or test[0] == "NONE":
        findings.append(Finding("no HEALTHCHECK: the engine cannot tell a hung app", "medium"))
    return result("policy.healthcheck", findings, " ".join(test[1:])[:60])


def _secret_assignments(pairs: Iterable[tuple[str, str]], where: str) -> list[Finding]:
    findings = []
    for name, raw in pairs:
        value = raw.strip("\"'")
        if not value:
            continue
        named = SECRET_NAME.search(name) and not name.upper().endswith("_FILE")
        if named or SECRET_VALUE.search(value):
            findings.append(
                Finding(f"{where} {name} holds a secret value", "critical", location=where)
            )
    return findings


def no_secret_env(image: ImageInspectResult) -> CheckResult:
    env = (image.config.env if image.config else None) or []
    pairs = [tuple(item.split("=", 1)) if "=" in item else (item, "") for item in env]
    findings = _secret_assignments(pairs, "ENV")  # type: ignore[arg-type]
    return result("policy.no_secret_env", findings, f"{len(env)} variables clean")


def no_secret_labels(image: ImageInspectResult) -> CheckResult:
    labels = (image.config.labels if image.config else None) or {}
    findings = _secret_assignments(labels.items(), "LABEL")
    return result("policy.no_secret_labels", findings, f"{len(labels)} labels clean")


def no_secret_history(history: list[str]) -> CheckResult:
    """Build args and ENV values end up in `docker history` for anyone who pulls the image."""
    findings = []
    for number, line in enumerate(history, start=1):
        pairs = [(m["name"], m["value"]) for m in ASSIGNMENT.finditer(line)]
        for finding in _secret_assignments(pairs, f"history step {number}:"):
            findings.append(Finding(finding.message, "critical", location=f"history[{number}]"))
        if SECRET_VALUE.search(line):
            message = f"history step {number} contains a key or token"
            findings.append(Finding(message, "critical", location=f"history[{number}]"))
    return result("policy.no_secret_history", findings, f"{len(history)} steps clean")


def no_setuid(files: list[FileEntry]) -> CheckResult:
    findings = [
        Finding(
            f"/{f.path} is setuid/setgid ({stat.filemode(f.mode | stat.S_IFREG)})",
            "medium",
            location=f"/{f.path}",
        )
        for f in files
        if f.kind == "file" and f.mode & (stat.S_ISUID | stat.S_ISGID)
    ]
    return result("policy.no_setuid", findings, "none found")


def _under(path: str, prefixes: Iterable[str]) -> bool:
    return any(path == p or path.startswith(p + "/") for p in prefixes)


def no_world_writable(files: list[FileEntry]) -> CheckResult:
    findings = [
        Finding(f"/{f.path} is world-writable", "medium", location=f"/{f.path}")
        for f in files
        if f.kind in {"file", "dir"}
        and f.mode & stat.S_IWOTH
        and not _under(f.path, TMP_PATHS)
        and not _under(f.path, RUNTIME_PATHS)
    ]
    return result("policy.no_world_writable", findings, "none outside tmp")


def base_refs(dockerfile: str, target: str | None = None) -> list[tuple[int, str]]:
    """Each external image a build uses, as written after resolving ARG defaults: (line, ref).

    `FROM scratch` and `FROM <earlier stage>` are not external images; `COPY --from=<image>`
    is. With `target`, only the images that stage is built from count, through the stages it
    copies from (a base only another target uses is not in this image); else all of them.
    """
    args: dict[str, str] = {}  # only ARGs before the first FROM can be used in a FROM
    stages: list[tuple[str, list[tuple[int, str]], set[str]]] = []  # name, refs, depends on

    def resolve(word: str) -> str:
        return re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m[1], m[0]), word)

    def stage_name(ref: str) -> str | None:
        names = [name for name, _, _ in stages]
        if ref.isdigit() and int(ref) < len(stages):
            return names[int(ref)]
        return ref.lower() if ref.lower() in names else None

    for number, line in _logical_lines(dockerfile):
        instruction, _, rest = line.partition(" ")
        instruction = instruction.upper()
        words = rest.split()
        if instruction == "ARG" and not stages and words and "=" in words[0]:
            name, _, default = words[0].partition("=")
            args[name] = default.strip("\"'")
        elif instruction == "FROM":
            operands = [w for w in words if not w.startswith("--")]
            ref = resolve(operands[0])
            name = operands[2].lower() if len(operands) >= 3 and operands[1].upper() == "AS" else ""
            parent = stage_name(ref)
            refs = [] if parent or ref.lower() == "scratch" else [(number, ref)]
            stages.append((name or str(len(stages)), refs, {parent} if parent else set()))
        elif stages and instruction in {"COPY", "ADD", "RUN"}:
            for source in re.findall(r"--(?:mount=\S*?)?from=([^\s,]+)", rest):
                parent = stage_name(source)
                if parent:
                    stages[-1][2].add(parent)
                else:
                    stages[-1][1].append((number, resolve(source)))
    wanted = {name for name, _, _ in stages}
    if target is not None:
        by_name = {name: depends for name, _, depends in stages}
        wanted, todo = set(), [target.lower()]
        while todo:
            name = todo.pop()
            if name in by_name and name not in wanted:
                wanted.add(name)
                todo.extend(by_name[name])
    return [ref for name, refs, _ in stages if name in wanted for ref in refs]


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """Join backslash continuations and drop comments, keeping the first line's number."""
    out: list[tuple[int, str]] = []
    buffer, start = "", 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not buffer and (not line or line.startswith("#")):
            continue
        if not buffer:
            start = number
        if line.endswith("\\"):
            buffer += line[:-1] + " "
            continue
        out.append((start, buffer + line))
        buffer = ""
    if buffer:
        out.append((start, buffer))
    return out


def base_pinned(
    dockerfile: str, dockerfile_name: str = "Dockerfile", target: str | None = None
) -> CheckResult:
    findings = [
        Finding(
            f"base image {ref} is not pinned by digest (add @sha256:...)",
            "medium",
            location=dockerfile_name,
            line=number,
        )
        for number, ref in base_refs(dockerfile, target)
        if not PINNED.search(ref)
    ]
    return result("policy.base_pinned", findings, "all bases pinned")


def oci_labels(image: ImageInspectResult) -> CheckResult:
    labels = (image.config.labels if image.config else None) or {}
    findings = [
        Finding(f"missing label {name}", "low") for name in OCI_LABELS if not labels.get(name)
    ]
    return result("policy.oci_labels", findings, "title, source, version, revision")


def size_budget(image: ImageInspectResult, budget_mb: int) -> CheckResult:
    size_mb = (image.size or 0) / 1_000_000
    findings = []
    if size_mb > budget_mb:
        findings.append(
            Finding(f"image is {size_mb:.1f} MB, over the stage's budget of {budget_mb} MB", "low")
        )
    return result("policy.size_budget", findings, f"{size_mb:.1f} MB of {budget_mb} MB")


def check_all(
    image: ImageInspectResult,
    history: list[str],
    files: list[FileEntry],
    dockerfile: str,
    budget_mb: int,
    dockerfile_name: str = "Dockerfile",
    target: str | None = None,
) -> list[CheckResult]:
    return [
        non_root(image),
        healthcheck(image),
        no_secret_env(image),
        no_secret_labels(image),
        no_secret_history(history),
        no_setuid(files),
        no_world_writable(files),
        base_pinned(dockerfile, dockerfile_name, target),
        oci_labels(image),
        size_budget(image, budget_mb),
    ]
