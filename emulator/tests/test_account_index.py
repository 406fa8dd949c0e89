"""The caller's account is found in constant time, whatever the organization's size, and always
as moto itself would find it (moto walks every account's keys on every request)."""

from __future__ import annotations

import timeit
import types

import boto3
import moto.iam.models as iam_models
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.utilities.utils import PARTITION_NAMES

from xray_cmk_emulator import account_index


def fake_backends(accounts: int) -> dict:
    """`iam_backends` of `accounts` accounts with three STS keys each."""
    out = {}
    for i in range(accounts):
        account = f"{100000000000 + i}"
        keys = {f"ASIA{i:012d}{j:04d}": object() for j in range(3)}
        out[account] = {p: types.SimpleNamespace(access_keys=keys if p == "aws" else {}) for p in PARTITION_NAMES}
    return out


def per_call(fn, key: str) -> float:
    return min(timeit.repeat(lambda: fn(key), number=2000, repeat=3)) / 2000


def test_cost_per_call_does_not_grow_with_the_organization(monkeypatch):
    # Both sizes side by side, measured in turns and the best of each kept, so that a busy
    # machine slows both alike instead of skewing one.
    sizes = {n: fake_backends(n) for n in (10, 1000)}
    keys = {n: f"ASIA{n - 1:012d}0002" for n in sizes}  # the last key moto's walk finds
    costs = {n: float("inf") for n in sizes}
    walks = {n: float("inf") for n in sizes}
    for _ in range(7):
        for n, backends in sizes.items():
            monkeypatch.setattr(iam_models, "iam_backends", backends)
            account_index._INDEX.clear()
            assert account_index.get_account_id_from(keys[n]) == f"{100000000000 + n - 1}"
            cost = max(per_call(account_index.get_account_id_from, keys[n]),
                       per_call(account_index.get_account_id_from, "test"))  # fmt: skip
            costs[n] = min(costs[n], cost)
            walks[n] = min(walks[n], per_call(account_index._walk, keys[n]))
    assert costs[1000] <= costs[10] * 1.2, costs
    # The walk it replaces does grow: the test measures something.
    assert walks[1000] > walks[10] * 5, walks


def test_answers_as_moto_does_for_issued_unknown_deleted_and_reset_keys():
    account_index.apply()
    with mock_aws():
        iam = boto3.client("iam", region_name="us-east-1")
        iam.create_user(UserName="u")
        key = iam.create_access_key(UserName="u")["AccessKey"]["AccessKeyId"]
        assert account_index.get_account_id_from(key) == DEFAULT_ACCOUNT_ID == account_index._walk(key)
        other = "222233334444"
        temp = iam_models.iam_backends[other]["global"].create_temp_access_key().physical_resource_id
        assert account_index._INDEX[temp] == other
        assert account_index.get_account_id_from(temp) == other == account_index._walk(temp)
        assert account_index.get_account_id_from("test") == DEFAULT_ACCOUNT_ID
        iam_models.iam_backends[other]["global"].delete_access_key_by_name(temp)
        assert temp not in account_index._INDEX
        assert account_index.get_account_id_from(temp) == DEFAULT_ACCOUNT_ID
        temp2 = iam_models.iam_backends[other]["global"].create_temp_access_key().physical_resource_id
        iam_models.iam_backends.reset()
        assert account_index.get_account_id_from(temp2) == DEFAULT_ACCOUNT_ID, "a reset forgets keys"
