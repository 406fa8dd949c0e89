"""Start the xray-cmk emulator for the benchmark: same arguments as ``python -m xray_cmk_emulator``.

One change, in this process only: moto 5.2.5 generates a 2048-bit RSA private
key for every KMS key it creates, symmetric ones included, although only the
asymmetric operations (Sign, Verify, GetPublicKey) ever use it. That costs
~50-150 ms of CPU per key: seeding 100 x 17 (80 customer managed keys, 170
AWS managed keys) took ~37 s on two cores instead of ~22 s. Here the key is
generated on first use instead, so every API answer stays exactly the same.
"""

from __future__ import annotations

import sys
from typing import Any

import moto.kms.models as kms_models

_generate_private_key = kms_models.generate_private_key


class LazyPrivateKey:
    def __init__(self, key_spec: str) -> None:
        self._key_spec = key_spec
        self._key: Any = None

    def __getattr__(self, name: str) -> Any:
        if self._key is None:
            self._key = _generate_private_key(self._key_spec)
        return getattr(self._key, name)


def install() -> None:
    kms_models.generate_private_key = LazyPrivateKey  # Key.__init__ looks the name up in kms_models


if __name__ == "__main__":
    install()
    from xray_cmk_emulator.__main__ import main

    sys.exit(main())
