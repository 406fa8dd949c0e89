"""bench/emulator.py: moto's per-key RSA generation is lazy, and asymmetric keys still work."""

from __future__ import annotations

from conftest import client


def test_asymmetric_keys_still_sign_and_verify(emulator: str) -> None:
    kms = client(emulator, "kms", "eu-west-1")
    key_id = kms.create_key(KeyUsage="SIGN_VERIFY", KeySpec="RSA_2048")["KeyMetadata"]["KeyId"]
    assert kms.get_public_key(KeyId=key_id)["PublicKey"].startswith(b"0\x82")  # DER SubjectPublicKeyInfo
    sig = kms.sign(KeyId=key_id, Message=b"m", SigningAlgorithm="RSASSA_PSS_SHA_256")["Signature"]
    assert kms.verify(KeyId=key_id, Message=b"m", Signature=sig, SigningAlgorithm="RSASSA_PSS_SHA_256")[
        "SignatureValid"
    ]


def test_symmetric_keys_unchanged(emulator: str) -> None:
    kms = client(emulator, "kms", "eu-west-1")
    meta = kms.create_key()["KeyMetadata"]
    assert (meta["KeySpec"], meta["KeyUsage"], meta["KeyState"]) == ("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT", "Enabled")
    blob = kms.encrypt(KeyId=meta["KeyId"], Plaintext=b"secret")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"secret"
