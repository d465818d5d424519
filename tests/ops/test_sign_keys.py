"""Which key signs: the environment's, else a development pair; refusals name the cause
and the fix, which is never to sign what was refused."""

import subprocess
from pathlib import Path

import pytest

from ops import sign as sign_module
from ops.sign import Refused, SigningError, public_key, sign, signing_keys, verify


def test_development_pair_without_cosign_key(tmp_path: Path) -> None:
    keys = signing_keys(tmp_path, {})
    assert keys.development
    assert keys.private == str(tmp_path / ".cache/cosign/cosign.key")
    with pytest.raises(SigningError, match="no public key at"):
        public_key(keys)


def test_key_file_from_the_environment(tmp_path: Path) -> None:
    key, pub = tmp_path / "release.key", tmp_path / "release.pub"
    key.write_text("k")
    pub.write_text("p")
    keys = signing_keys(tmp_path, {"COSIGN_KEY": str(key), "COSIGN_PUBLIC_KEY": str(pub)})
    assert (keys.private, keys.public, keys.development) == (str(key), pub, False)
    assert public_key(keys) == pub


def test_pem_in_the_environment_is_passed_by_reference(tmp_path: Path) -> None:
    env = {
        "COSIGN_KEY": "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n...",
        "COSIGN_PUBLIC_KEY": "p",
    }
    assert signing_keys(tmp_path, env).private == "env://COSIGN_KEY"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"COSIGN_KEY": "/nope/cosign.key"}, "neither a key file nor a PEM key"),
        ({"COSIGN_KEY": "-----BEGIN X-----"}, "COSIGN_PUBLIC_KEY is not"),
    ],
)
def test_missing_or_broken_keys_name_the_fix(tmp_path: Path, env: dict, message: str) -> None:
    with pytest.raises(SigningError, match=message):
        signing_keys(tmp_path, env)


def test_tags_are_never_signed(tmp_path: Path) -> None:
    with pytest.raises(SigningError, match="sign a digest, never a tag"):
        sign("127.0.0.1:5000/driftwood:stage-12", signing_keys(tmp_path, {}), None)


# cosign's last line of output for each cause, as cosign 2 prints them.
COSIGN_ERRORS = {
    "unsigned": "error during command execution: no signatures found",
    "mismatch": "error during command execution: no matching signatures: invalid signature "
    "when validating ASN.1 encoded signature",
    "key": "error during command execution: loading public key: pem to public key: PEM "
    "decoding failed",
    "unknown": 'error during command execution: Get "http://127.0.0.1:5000/v2/": connection '
    "refused",
}
# What each refusal must tell the operator to do.
ADVICE = {
    "unsigned": "do not sign them to get past this check",
    "mismatch": "treat the image as tampered",
    "key": "the image was not checked",
    "unknown": "Nothing runs until it verifies",
}


@pytest.mark.parametrize("cause", sorted(COSIGN_ERRORS))
def test_a_refusal_names_its_cause_and_never_advises_signing(
    monkeypatch: pytest.MonkeyPatch, cause: str
) -> None:
    stderr = "Error: ...\n" + COSIGN_ERRORS[cause]
    failed = subprocess.CompletedProcess(["cosign"], 1, stdout="", stderr=stderr)
    monkeypatch.setattr(sign_module, "_run", lambda argv, env=None: failed)
    monkeypatch.setattr(sign_module, "resolve_digest", lambda reference: "sha256:" + "ab" * 32)
    with pytest.raises(Refused) as refused:
        verify("127.0.0.1:5000/driftwood-stage-09:stage-09", Path("/keys/cosign.pub"))
    message = str(refused.value)
    assert refused.value.cause == cause
    assert message.startswith(
        "REFUSED 127.0.0.1:5000/driftwood-stage-09:stage-09 "
        f"(127.0.0.1:5000/driftwood-stage-09@sha256:{'ab' * 32}): cosign verify with "
        f"/keys/cosign.pub: {COSIGN_ERRORS[cause].removeprefix('error during command execution: ')}"
    )
    assert ADVICE[cause] in message
    assert "image.sign" not in message and "Re-sign" not in message


def test_a_missing_public_key_is_not_fixed_by_signing(tmp_path: Path) -> None:
    with pytest.raises(SigningError) as missing:
        public_key(signing_keys(tmp_path, {}))
    assert "set COSIGN_PUBLIC_KEY" in str(missing.value)
    assert "sign an image" not in str(missing.value)
