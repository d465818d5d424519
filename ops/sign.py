"""Sign and verify images with cosign, always by digest, never by tag.

A tag can be moved to another image at any time; a digest cannot. So `sign` takes a digest
reference, and `verify` first resolves a tag to the digest it names *now*, verifies that
digest (signature, then the signed CycloneDX SBOM attestation), and hands the digest back
so the caller runs exactly what was verified.

Keys: COSIGN_KEY is a key file, or the PEM itself (used as `env://COSIGN_KEY`), with its
password in COSIGN_PASSWORD; COSIGN_PUBLIC_KEY is the public key file. Without COSIGN_KEY,
a development key pair is generated under .cache/cosign/ (gitignored) on first use, with a
warning: it proves nothing to anyone else. No transparency log can be reached offline, so
signatures are not uploaded to one (`--tlog-upload=false`) and verification does not ask for
one; in CI on GitHub the workflow signs keylessly instead.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ops.push import resolve_digest, split_reference

DEV_KEY_DIR = Path(".cache/cosign")
DEV_KEY_WARNING = (
    "WARNING: no COSIGN_KEY set: using the DEVELOPMENT key pair in {dir} (generated on "
    "first use, never committed). Signatures made with it prove nothing to anyone else; "
    "set COSIGN_KEY and COSIGN_PUBLIC_KEY for real releases."
)


class SigningError(Exception):
    """Signing could not happen, or verification refused the image; the message says why."""


# Why cosign refuses an image, by the words of its error, and what to do about each cause.
# None of the advice is "sign it": a signature added after the fact would bless whatever the
# tag was moved to, which is exactly what verification is there to catch.
REFUSALS: dict[str, tuple[str, str]] = {
    "unsigned": (
        "no signatures found",
        "Nobody signed these bytes: they were pushed outside the release pipeline. Do not "
        "run them, and do not sign them to get past this check: find out who pushed them, "
        "run a digest that verifies (a rollback names the last good one: `--ref "
        "REPO@sha256:...`), and ship a change by publishing it through the pipeline (build, "
        "scan, push, sign).",
    ),
    "mismatch": (
        "no matching signatures",
        "It carries a signature, but none verifies with {public}: signed with another key, "
        "or the image or its signature changed after signing. If {public} is not the public "
        "half of the key that signs releases, set COSIGN_PUBLIC_KEY to the right one; if it "
        "is, treat the image as tampered: do not run it, run a digest that verifies.",
    ),
    "key": (
        "loading public key",
        "cosign could not read the public key {public}, so the image was not checked: set "
        "COSIGN_PUBLIC_KEY to the public half of the key that signs releases (a cosign.pub "
        "PEM file).",
    ),
}
UNKNOWN_REFUSAL = (
    "Nothing runs until it verifies: fix what cosign names (is the registry reachable, the "
    "reference right?) and verify again."
)


class Refused(SigningError):
    """cosign refused the image's signature: `cause` is a key of REFUSALS, or "unknown"."""

    def __init__(self, reference: str, digest_ref: str, public: Path, reason: str) -> None:
        self.reason = reason
        self.cause = refusal_cause(reason)
        advice = REFUSALS[self.cause][1] if self.cause in REFUSALS else UNKNOWN_REFUSAL
        super().__init__(
            f"REFUSED {reference} ({digest_ref}): cosign verify with {public}: {reason}. "
            + advice.format(public=public)
        )


def refusal_cause(reason: str) -> str:
    """The cause cosign's error names: a key of REFUSALS, else "unknown"."""
    return next((cause for cause, (words, _) in REFUSALS.items() if words in reason), "unknown")


@dataclass(frozen=True)
class Keys:
    private: str  # a path, or env://COSIGN_KEY
    public: Path
    development: bool


def _cosign() -> str:
    path = shutil.which("cosign")
    if not path:
        raise SigningError("cosign is not installed: run `invoke setup` (Debian package cosign)")
    return path


def _run(argv: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_cosign(), *argv],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **(env or {})},
    )


def signing_keys(project_root: Path, environ: dict[str, str]) -> Keys:
    """The key pair to sign with: from the environment, else the development pair."""
    key, public = environ.get("COSIGN_KEY"), environ.get("COSIGN_PUBLIC_KEY")
    if key:
        if key.lstrip().startswith("-----BEGIN"):
            private = "env://COSIGN_KEY"
        elif Path(key).is_file():
            private = key
        else:
            raise SigningError(
                f"COSIGN_KEY={key!r} is neither a key file nor a PEM key: point it at "
                "cosign.key (see `cosign generate-key-pair`) or unset it for the dev key"
            )
        if not public:
            raise SigningError(
                "COSIGN_KEY is set but COSIGN_PUBLIC_KEY is not: set it to the "
                "matching cosign.pub so the signature can be verified"
            )
        return Keys(private, Path(public), development=False)
    directory = project_root / DEV_KEY_DIR
    return Keys(str(directory / "cosign.key"), directory / "cosign.pub", development=True)


def ensure_dev_keys(keys: Keys) -> None:
    """Generate the development key pair (empty password unless COSIGN_PASSWORD is set)."""
    if not keys.development or Path(keys.private).exists():
        return
    directory = Path(keys.private).parent
    directory.mkdir(parents=True, exist_ok=True)
    password = os.environ.get("COSIGN_PASSWORD", "")
    proc = subprocess.run(
        [_cosign(), "generate-key-pair"],
        cwd=directory,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "COSIGN_PASSWORD": password},
    )
    if proc.returncode != 0:
        raise SigningError(f"cosign generate-key-pair failed: {proc.stderr.strip()}")
    Path(keys.private).chmod(0o600)


def public_key(keys: Keys) -> Path:
    if not keys.public.is_file():
        raise SigningError(
            f"no public key at {keys.public}, so nothing can be verified and nothing runs: "
            "set COSIGN_PUBLIC_KEY to the public half of the key that signed the image (a "
            "cosign.pub file). A development pair lives only in the checkout that made it "
            "(its .cache/cosign/); a new pair verifies nothing signed before."
        )
    return keys.public


def sign(reference: str, keys: Keys, sbom: Path | None) -> None:
    """Sign `repo@sha256:...` and attest its SBOM as a CycloneDX predicate."""
    if "@sha256:" not in reference:
        raise SigningError(f"refusing to sign {reference}: sign a digest, never a tag")
    if not Path(keys.private).exists() and not keys.private.startswith("env://"):
        raise SigningError(f"the signing key {keys.private} does not exist")
    common = ["--yes", "--key", keys.private, "--tlog-upload=false"]
    # Without a password in the environment cosign would prompt on a terminal.
    env = {"COSIGN_PASSWORD": os.environ.get("COSIGN_PASSWORD", "")}
    proc = _run(["sign", *common, reference], env)
    if proc.returncode != 0:
        raise SigningError(f"cosign sign failed for {reference}: {proc.stderr.strip()[-400:]}")
    if sbom is not None:
        argv = ["attest", *common, "--type", "cyclonedx", "--predicate", str(sbom), reference]
        proc = _run(argv, env)
        if proc.returncode != 0:
            raise SigningError(f"cosign attest failed: {proc.stderr.strip()[-400:]}")


@dataclass(frozen=True)
class Verified:
    reference: str  # repo@sha256:... : run this, not the tag
    sbom: dict[str, Any] | None  # the attested CycloneDX document, when one was required

    @property
    def sbom_components(self) -> int | None:
        return None if self.sbom is None else len(self.sbom.get("components", []))


def verify(reference: str, public: Path, require_sbom: bool = True) -> Verified:
    """Verify what `reference` names now; raise Refused (a SigningError) naming the cause and
    what to do about it when the signature does not verify."""
    registry, repository, _ = split_reference(reference)
    digest_ref = f"{registry}/{repository}@{resolve_digest(reference)}"
    common = ["--key", str(public), "--insecure-ignore-tlog=true"]
    proc = _run(["verify", *common, digest_ref])
    if proc.returncode != 0:
        last = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "no output"
        reason = last.removeprefix("error during command execution: ")
        raise Refused(reference, digest_ref, public, reason)
    sbom = None
    if require_sbom:
        proc = _run(["verify-attestation", *common, "--type", "cyclonedx", digest_ref])
        if proc.returncode != 0:
            raise SigningError(
                f"REFUSED {reference} ({digest_ref}): its signature verifies but it has no "
                f"valid signed CycloneDX SBOM attestation: {proc.stderr.strip()[-300:]}"
            )
        sbom = attested_sbom(proc.stdout)
    return Verified(digest_ref, sbom)


def attested_sbom(output: str) -> dict[str, Any] | None:
    """The SBOM inside `cosign verify-attestation`'s output: one DSSE envelope per line,
    whose base64 payload is an in-toto statement with the SBOM as its predicate."""
    for line in output.splitlines():
        try:
            envelope = json.loads(line)
            statement = json.loads(base64.b64decode(envelope["payload"]))
            return dict(statement["predicate"])
        except (ValueError, KeyError, TypeError):
            continue
    return None
