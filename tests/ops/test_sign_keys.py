"""Which key signs: the environment's, else a development pair; refusals name the fix."""

from pathlib import Path

import pytest

from ops.sign import SigningError, public_key, sign, signing_keys


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
