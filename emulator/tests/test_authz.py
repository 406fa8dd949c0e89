"""Authorization as AWS decides it: one test per behaviour the emulator promises (emulator/README.md,
"Authorization")."""

from __future__ import annotations

import json
import time

import pytest
from conftest import ALLOW_ALL, Aws, aws_error, create_role

MGMT = "123456789012"
ROOT = f"arn:aws:iam::{MGMT}:root"


def allow(actions, resource="*", condition=None) -> dict:
    stmt = {"Effect": "Allow", "Action": actions, "Resource": resource}
    if condition:
        stmt["Condition"] = condition
    return {"Version": "2012-10-17", "Statement": [stmt]}


def key_policy(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def stmt(principal, actions, effect="Allow", condition=None) -> dict:
    out = {"Effect": effect, "Principal": principal, "Action": actions, "Resource": "*"}
    if condition:
        out["Condition"] = condition
    return out


ROOT_ALL = stmt({"AWS": ROOT}, "kms:*")


def error_code(exc) -> str:
    return exc.value.response["Error"]["Code"]


# --- identity policies --------------------------------------------------------------------


def test_an_action_no_identity_policy_allows_is_implicitly_denied(aws: Aws) -> None:
    bare = aws.assume(create_role(aws, "Bare", allow_all=False))
    with aws_error("AccessDeniedException", 403) as exc:
        bare.client("xray").get_encryption_config()
    assert "because no identity-based policy allows the xray:GetEncryptionConfig action" in str(exc.value)
    # sts:GetCallerIdentity needs no permission, as on AWS.
    assert bare.client("sts").get_caller_identity()["Arn"].endswith(":assumed-role/Bare/pytest")


def test_only_the_actions_allowed_are_allowed(aws: Aws) -> None:
    reader = aws.assume(create_role(aws, "Reader", allow(["xray:Get*", "kms:List*"]), allow_all=False))
    assert reader.client("xray").get_encryption_config()["EncryptionConfig"]["Type"] == "NONE"
    reader.client("kms").list_keys()
    with aws_error("AccessDeniedException", 400):
        reader.client("kms").create_key()
    with aws_error("AccessDeniedException", 403):
        reader.client("xray").put_encryption_config(Type="NONE")


def test_an_explicit_deny_wins_over_an_allow(aws: Aws) -> None:
    role = create_role(aws, "Denied", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "NotAction": "xray:Get*", "Resource": "*"}]})  # fmt: skip
    s = aws.assume(role)
    s.client("xray").get_encryption_config()
    with aws_error("AccessDeniedException", 400) as exc:
        s.client("kms").list_keys()
    assert "with an explicit deny in an identity-based policy" in str(exc.value)


def test_attached_managed_policies_and_permissions_boundaries(aws: Aws) -> None:
    iam = aws.client("iam")
    managed = iam.create_policy(PolicyName="XrayRead", PolicyDocument=json.dumps(allow("xray:*")))["Policy"]["Arn"]
    boundary = iam.create_policy(PolicyName="OnlyGet", PolicyDocument=json.dumps(allow("xray:Get*")))["Policy"]["Arn"]
    arn = create_role(aws, "Bounded", allow_all=False)
    iam.attach_role_policy(RoleName="Bounded", PolicyArn=managed)
    s = aws.assume(arn)
    s.client("xray").put_encryption_config(Type="NONE")
    iam.put_role_permissions_boundary(RoleName="Bounded", PermissionsBoundary=boundary)
    s.client("xray").get_encryption_config()
    with aws_error("AccessDeniedException", 403) as exc:
        s.client("xray").put_encryption_config(Type="NONE")
    assert "because no permissions boundary allows" in str(exc.value)


def test_resource_and_not_resource_are_matched_against_the_key_arn(aws: Aws) -> None:
    kms = aws.client("kms")
    k1 = kms.create_key()["KeyMetadata"]["Arn"]
    k2 = kms.create_key()["KeyMetadata"]["Arn"]
    s = aws.assume(create_role(aws, "OneKey", allow("kms:DescribeKey", k1), {"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Action": "kms:DescribeKey", "NotResource": k1}]}, allow_all=False))  # fmt: skip
    s.client("kms").describe_key(KeyId=k1)
    with aws_error("AccessDeniedException", 400) as exc:
        s.client("kms").describe_key(KeyId=k2)
    assert "explicit deny" in str(exc.value)


def test_condition_keys_principal_arn_org_and_resource_tags(aws: Aws) -> None:
    org = aws.client("organizations").create_organization(FeatureSet="ALL")["Organization"]["Id"]
    kms = aws.client("kms")
    tagged = kms.create_key(Tags=[{"TagKey": "owner", "TagValue": "platform"}])["KeyMetadata"]["Arn"]
    other = kms.create_key(Tags=[{"TagKey": "owner", "TagValue": "someone"}])["KeyMetadata"]["Arn"]
    role = create_role(aws, "Tagged", allow("kms:DescribeKey", condition={
        "StringEquals": {"aws:ResourceTag/owner": "platform", "aws:PrincipalOrgID": org},
        "ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/Tag*"},
    }), allow_all=False)  # fmt: skip
    s = aws.assume(role)
    s.client("kms").describe_key(KeyId=tagged)
    with aws_error("AccessDeniedException", 400):
        s.client("kms").describe_key(KeyId=other)


def test_an_unsupported_construct_refuses_and_is_logged(aws: Aws, server) -> None:
    role = create_role(aws, "Variable", allow("xray:*", condition={
        "StringEquals": {"aws:PrincipalTag/team": "${aws:username}"}}), allow_all=False)  # fmt: skip
    s = aws.assume(role)
    with aws_error("AccessDeniedException", 403) as exc:
        s.client("xray").get_encryption_config()
    assert "does not support policy variable" in str(exc.value)
    deadline = time.monotonic() + 5
    while "the policy evaluator does not support policy variable" not in server.log_path.read_text():
        assert time.monotonic() < deadline, "no log line names the unsupported construct"
        time.sleep(0.05)


# --- service control policies -------------------------------------------------------------


def test_scps_apply_to_members_and_never_to_the_management_account(aws: Aws) -> None:
    org = aws.client("organizations")
    org.create_organization(FeatureSet="ALL")
    root_id = org.list_roots()["Roots"][0]["Id"]
    account = org.create_account(AccountName="m", Email="m@example.com")["CreateAccountStatus"]
    member_id = org.describe_create_account_status(CreateAccountRequestId=account["Id"])["CreateAccountStatus"]["AccountId"]
    ou = org.create_organizational_unit(ParentId=root_id, Name="workloads")["OrganizationalUnit"]["Id"]
    org.move_account(AccountId=member_id, SourceParentId=root_id, DestinationParentId=ou)
    deny_xray_put = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Action": "xray:PutEncryptionConfig", "Resource": "*"}]}  # fmt: skip
    scp = org.create_policy(Name="no-xray-put", Description="", Type="SERVICE_CONTROL_POLICY",
                            Content=json.dumps(deny_xray_put))["Policy"]["PolicySummary"]["Id"]  # fmt: skip
    member = aws.assume(f"arn:aws:iam::{member_id}:role/OrganizationAccountAccessRole")
    # Not enabled on the root yet: an SCP cannot be attached (as on AWS), and none applies.
    with pytest.raises(org.exceptions.PolicyTypeNotEnabledException):
        org.attach_policy(PolicyId=scp, TargetId=ou)
    member.client("xray").put_encryption_config(Type="NONE")
    org.enable_policy_type(RootId=root_id, PolicyType="SERVICE_CONTROL_POLICY")
    org.attach_policy(PolicyId=scp, TargetId=ou)
    with aws_error("AccessDeniedException", 403) as exc:
        member.client("xray").put_encryption_config(Type="NONE")
    assert "with an explicit deny in a service control policy" in str(exc.value)
    member.client("xray").get_encryption_config()
    # The management account is never restricted by SCPs, even when they are attached to it.
    org.attach_policy(PolicyId=scp, TargetId=root_id)
    aws.client("xray").put_encryption_config(Type="NONE")
    # Every level must allow: detaching FullAWSAccess from the OU leaves nothing allowed there.
    org.detach_policy(PolicyId=scp, TargetId=ou)
    org.detach_policy(PolicyId=scp, TargetId=root_id)
    member.client("xray").put_encryption_config(Type="NONE")
    org.detach_policy(PolicyId="p-FullAWSAccess", TargetId=ou)
    with aws_error("AccessDeniedException", 403) as exc:
        member.client("xray").get_encryption_config()
    assert "because no service control policy allows" in str(exc.value)


# --- KMS: the key policy decides ----------------------------------------------------------


def test_a_key_policy_without_the_account_ignores_iam_and_locks_out_the_root(aws: Aws) -> None:
    admin = create_role(aws, "KeyAdmin", allow_all=False)
    kms = aws.client("kms")
    key = kms.create_key(Policy=key_policy(stmt({"AWS": admin}, "kms:*")), BypassPolicyLockoutSafetyCheck=True)
    key_id = key["KeyMetadata"]["KeyId"]
    for call in (lambda: kms.describe_key(KeyId=key_id), lambda: kms.get_key_policy(KeyId=key_id, PolicyName="default")):
        with aws_error("AccessDeniedException", 400) as exc:
            call()
        assert "because no resource-based policy allows" in str(exc.value)
    everything = aws.assume(create_role(aws, "Everything"))  # Allow * in IAM: still not enough
    with aws_error("AccessDeniedException", 400):
        everything.client("kms").describe_key(KeyId=key_id)
    # The principal the key policy names needs no IAM policy at all.
    aws.assume(admin).client("kms").describe_key(KeyId=key_id)


def test_a_key_policy_naming_the_account_delegates_to_iam(aws: Aws) -> None:
    key_id = aws.client("kms").create_key()["KeyMetadata"]["KeyId"]  # KMS's default policy: root kms:*
    with aws_error("AccessDeniedException", 400) as exc:
        aws.assume(create_role(aws, "NoIam", allow_all=False)).client("kms").describe_key(KeyId=key_id)
    assert "because no identity-based policy allows" in str(exc.value)
    aws.assume(create_role(aws, "WithIam", allow("kms:DescribeKey"), allow_all=False)).client("kms").describe_key(
        KeyId=key_id
    )


def test_key_policy_conditions_are_evaluated(aws: Aws) -> None:
    reader = create_role(aws, "Reader", allow_all=False)
    kms = aws.client("kms")
    key_id = kms.create_key(Policy=key_policy(
        ROOT_ALL,
        stmt({"AWS": reader}, "kms:DescribeKey", condition={"StringEquals": {"kms:CallerAccount": MGMT}}),
        stmt("*", "kms:DescribeKey", "Deny", {"StringNotEquals": {"aws:RequestedRegion": "us-east-1"}}),
    ))["KeyMetadata"]["KeyId"]  # fmt: skip
    aws.assume(reader).client("kms").describe_key(KeyId=key_id)


@pytest.mark.parametrize("op", ["get_key_policy", "list_resource_tags"])
def test_operations_kms_does_not_support_across_accounts_do_not_find_the_key(aws: Aws, op: str) -> None:
    other = aws.other_account("111111111111")
    kms = other.client("kms")
    arn = kms.create_key(Policy=key_policy(stmt({"AWS": "arn:aws:iam::111111111111:root"}, "kms:*"),
                                           stmt({"AWS": ROOT}, "kms:*")))["KeyMetadata"]["Arn"]  # fmt: skip
    args = {"KeyId": arn, **({"PolicyName": "default"} if op == "get_key_policy" else {})}
    with aws_error("NotFoundException", 400):
        getattr(aws.client("kms"), op)(**args)
    # Cross-account DescribeKey works where the key policy allows it.
    assert aws.client("kms").describe_key(KeyId=arn)["KeyMetadata"]["Arn"] == arn
    # ListAliases lists the caller's own aliases only.
    kms.create_alias(AliasName="alias/theirs", TargetKeyId=arn)
    assert "alias/theirs" not in [a["AliasName"] for a in aws.client("kms").list_aliases()["Aliases"]]


def test_cross_account_use_needs_the_key_policy_and_the_callers_iam(aws: Aws) -> None:
    other = aws.other_account("111111111111")
    arn = other.client("kms").create_key()["KeyMetadata"]["Arn"]  # default policy: its own account only
    with aws_error("AccessDeniedException", 400) as exc:
        aws.client("kms").describe_key(KeyId=arn)
    assert "because no resource-based policy allows" in str(exc.value)
    other.client("kms").put_key_policy(KeyId=arn, PolicyName="default", Policy=key_policy(
        stmt({"AWS": "arn:aws:iam::111111111111:root"}, "kms:*"), stmt({"AWS": ROOT}, "kms:DescribeKey")))  # fmt: skip
    aws.client("kms").describe_key(KeyId=arn)  # the root of 123456789012: every IAM permission
    with aws_error("AccessDeniedException", 400) as exc:
        aws.assume(create_role(aws, "NoKms", allow("xray:*"), allow_all=False)).client("kms").describe_key(KeyId=arn)
    assert "because no identity-based policy allows" in str(exc.value)


def test_create_key_and_put_key_policy_run_the_lockout_safety_check(aws: Aws) -> None:
    someone = create_role(aws, "Someone", allow_all=False)
    kms = aws.client("kms")
    lockout = key_policy(stmt({"AWS": someone}, "kms:*"))
    with aws_error("MalformedPolicyDocumentException", 400) as exc:
        kms.create_key(Policy=lockout)
    assert "will not allow you to update the key policy" in str(exc.value)
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    with aws_error("MalformedPolicyDocumentException", 400):
        kms.put_key_policy(KeyId=key_id, PolicyName="default", Policy=lockout)
    kms.put_key_policy(KeyId=key_id, PolicyName="default", Policy=lockout, BypassPolicyLockoutSafetyCheck=True)
    with aws_error("AccessDeniedException", 400):
        kms.describe_key(KeyId=key_id)


def test_a_key_policy_naming_a_principal_that_does_not_exist_is_malformed(aws: Aws) -> None:
    kms = aws.client("kms")
    ghost = f"arn:aws:iam::{MGMT}:role/DoesNotExist"
    with aws_error("MalformedPolicyDocumentException", 400) as exc:
        kms.create_key(Policy=key_policy(ROOT_ALL, stmt({"AWS": ghost}, "kms:Decrypt")))
    assert ghost in str(exc.value)
    # Account principals and service principals are accepted.
    kms.create_key(Policy=key_policy(ROOT_ALL, stmt({"AWS": "444455556666"}, "kms:Decrypt"),
                                     stmt({"Service": "xray.amazonaws.com"}, "kms:Decrypt")))  # fmt: skip


def test_grants_authorize_their_grantee_until_retired_or_revoked(aws: Aws) -> None:
    grantee = create_role(aws, "Grantee", allow_all=False)
    kms = aws.client("kms")
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    g = aws.assume(grantee).client("kms")
    with aws_error("AccessDeniedException", 400):
        g.describe_key(KeyId=key_id)
    grant = kms.create_grant(KeyId=key_id, GranteePrincipal=grantee, Operations=["DescribeKey", "Encrypt"])
    assert [x["GrantId"] for x in kms.list_grants(KeyId=key_id)["Grants"]] == [grant["GrantId"]]
    g.describe_key(KeyId=key_id)
    with aws_error("AccessDeniedException", 400):
        g.get_key_rotation_status(KeyId=key_id)  # not one of the grant's operations
    kms.revoke_grant(KeyId=key_id, GrantId=grant["GrantId"])
    with aws_error("AccessDeniedException", 400):
        g.describe_key(KeyId=key_id)
    grant = kms.create_grant(KeyId=key_id, GranteePrincipal=grantee, Operations=["DescribeKey"])
    g.describe_key(KeyId=key_id)
    kms.retire_grant(GrantToken=grant["GrantToken"])
    with aws_error("AccessDeniedException", 400):
        g.describe_key(KeyId=key_id)


# --- X-Ray's use of the key ---------------------------------------------------------------


def _segment(trace_id: str) -> str:
    now = time.time()
    return json.dumps({"trace_id": trace_id, "id": "70de5b6f19ff9a0a", "name": "t", "start_time": now, "end_time": now + 0.1})


def _trace_id() -> str:
    return f"1-{int(time.time()):08x}-{int(time.time() * 1e6) % 16**24:024x}"


def test_put_encryption_config_needs_create_grant_and_describe_key_via_xray(aws: Aws) -> None:
    configurer = create_role(aws, "XrayAdmin", allow("xray:*"), allow_all=False)
    kms = aws.client("kms")
    via = {"StringEquals": {"kms:ViaService": "xray.us-east-1.amazonaws.com"}}
    grant_only = {"Bool": {"kms:GrantIsForAWSResource": "true"}, **via}
    arn = kms.create_key(Policy=key_policy(ROOT_ALL, stmt({"AWS": configurer}, "kms:DescribeKey")))["KeyMetadata"]["Arn"]
    xray = aws.assume(configurer).client("xray")
    with aws_error("AccessDeniedException", 403) as exc:
        xray.put_encryption_config(Type="KMS", KeyId=arn)
    assert "kms:CreateGrant" in str(exc.value)
    assert xray.get_encryption_config()["EncryptionConfig"]["Type"] == "NONE"
    kms.put_key_policy(KeyId=arn, PolicyName="default", Policy=key_policy(
        ROOT_ALL, stmt({"AWS": configurer}, "kms:DescribeKey"), stmt({"AWS": configurer}, "kms:CreateGrant", condition=grant_only)))  # fmt: skip
    assert xray.put_encryption_config(Type="KMS", KeyId=arn)["EncryptionConfig"]["KeyId"] == arn
    grants = kms.list_grants(KeyId=arn)["Grants"]
    assert [(g["GranteePrincipal"], "GenerateDataKey" in g["Operations"]) for g in grants] == [("xray.amazonaws.com", True)]


def test_segments_are_stored_only_while_xray_can_use_the_key(aws: Aws) -> None:
    kms = aws.client("kms")
    arn = kms.create_key()["KeyMetadata"]["Arn"]
    xray = aws.client("xray")
    xray.put_encryption_config(Type="KMS", KeyId=arn)

    def written() -> bool:
        trace_id = _trace_id()
        assert xray.put_trace_segments(TraceSegmentDocuments=[_segment(trace_id)])["UnprocessedTraceSegments"] == []
        return [t["Id"] for t in xray.batch_get_traces(TraceIds=[trace_id])["Traces"]] == [trace_id]

    assert written()
    [grant] = kms.list_grants(KeyId=arn)["Grants"]
    kms.revoke_grant(KeyId=arn, GrantId=grant["GrantId"])
    assert not written()  # accepted, then dropped: X-Ray's grant is gone
    xray.put_encryption_config(Type="KMS", KeyId=arn)  # a new grant
    assert written()
    kms.put_key_policy(KeyId=arn, PolicyName="default", Policy=key_policy(
        ROOT_ALL, stmt("*", "kms:GenerateDataKey*", "Deny", {"StringLike": {"kms:ViaService": "xray.*"}})))  # fmt: skip
    assert not written()


def test_batch_get_traces_returns_cmk_traces_only_to_callers_allowed_to_decrypt(aws: Aws) -> None:
    kms = aws.client("kms")
    reader = create_role(aws, "TraceReader", allow("xray:BatchGetTraces"), allow_all=False)
    stranger = create_role(aws, "Stranger", allow("xray:BatchGetTraces"), allow_all=False)
    via = {"StringEquals": {"kms:ViaService": "xray.us-east-1.amazonaws.com"}}
    arn = kms.create_key(Policy=key_policy(ROOT_ALL, stmt({"AWS": reader}, "kms:Decrypt", condition=via)))["KeyMetadata"]["Arn"]
    xray = aws.client("xray")
    xray.put_encryption_config(Type="KMS", KeyId=arn)
    trace_id = _trace_id()
    xray.put_trace_segments(TraceSegmentDocuments=[_segment(trace_id)])
    got = aws.assume(reader).client("xray").batch_get_traces(TraceIds=[trace_id])
    assert [t["Id"] for t in got["Traces"]] == [trace_id]
    got = aws.assume(stranger).client("xray").batch_get_traces(TraceIds=[trace_id])
    assert (got["Traces"], got["UnprocessedTraceIds"]) == ([], [trace_id])


# --- iam:SimulatePrincipalPolicy ----------------------------------------------------------


def test_simulate_principal_policy_answers_from_the_same_evaluator(aws: Aws) -> None:
    role = create_role(aws, "Audit", allow(["kms:Describe*", "xray:Get*"]), {"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Action": "*", "Resource": "*",
         "Condition": {"StringEquals": {"aws:RequestedRegion": "eu-north-1"}}}]}, allow_all=False)  # fmt: skip
    iam = aws.client("iam")
    out = iam.simulate_principal_policy(
        PolicySourceArn=role, ActionNames=["kms:DescribeKey", "kms:CreateKey", "xray:GetEncryptionConfig"],
        ContextEntries=[{"ContextKeyName": "aws:RequestedRegion", "ContextKeyValues": ["eu-north-1"],
                         "ContextKeyType": "string"}],
    )  # fmt: skip
    decisions = {r["EvalActionName"]: r["EvalDecision"] for r in out["EvaluationResults"]}
    assert decisions == {"kms:DescribeKey": "explicitDeny", "kms:CreateKey": "explicitDeny",
                         "xray:GetEncryptionConfig": "explicitDeny"}  # fmt: skip
    out = iam.simulate_principal_policy(PolicySourceArn=role, ActionNames=["kms:DescribeKey", "kms:CreateKey"])
    assert {r["EvalActionName"]: r["EvalDecision"] for r in out["EvaluationResults"]} == {
        "kms:DescribeKey": "allowed", "kms:CreateKey": "implicitDeny"}  # fmt: skip
    assert out["EvaluationResults"][0]["MissingContextValues"] == ["aws:RequestedRegion"]
    # Pagination.
    page = iam.simulate_principal_policy(PolicySourceArn=role, ActionNames=["kms:DescribeKey", "kms:CreateKey"], MaxItems=1)
    assert page["IsTruncated"] and len(page["EvaluationResults"]) == 1
    rest = iam.simulate_principal_policy(PolicySourceArn=role, ActionNames=["kms:DescribeKey", "kms:CreateKey"],
                                         Marker=page["Marker"])  # fmt: skip
    assert [r["EvalActionName"] for r in rest["EvaluationResults"]] == ["kms:CreateKey"] and not rest["IsTruncated"]


def test_simulate_principal_policy_with_a_resource_policy_and_errors(aws: Aws) -> None:
    role = create_role(aws, "Nothing", allow_all=False)
    iam = aws.client("iam")
    user = iam.create_user(UserName="sim")["User"]["Arn"]
    policy = key_policy(stmt({"AWS": user}, "kms:Decrypt"))
    out = iam.simulate_principal_policy(PolicySourceArn=user, ActionNames=["kms:Decrypt", "kms:Encrypt"],
                                        ResourceArns=["arn:aws:kms:us-east-1:123456789012:key/k"],
                                        ResourcePolicy=policy, CallerArn=user)  # fmt: skip
    assert {r["EvalActionName"]: r["EvalDecision"] for r in out["EvaluationResults"]} == {
        "kms:Decrypt": "allowed", "kms:Encrypt": "implicitDeny"}  # fmt: skip
    # As the API reference says: a resource policy is evaluated only for IAM users.
    for extra in ({"CallerArn": role}, {}):
        with aws_error("InvalidInput", 400):
            iam.simulate_principal_policy(PolicySourceArn=role, ActionNames=["kms:Decrypt"],
                                          ResourcePolicy=policy, **extra)  # fmt: skip
    with aws_error("NoSuchEntity", 404):
        iam.simulate_principal_policy(PolicySourceArn=f"arn:aws:iam::{MGMT}:role/Nope", ActionNames=["kms:Decrypt"])
    # Calling it is itself authorized.
    with aws_error("AccessDenied", 403):
        aws.assume(role).client("iam").simulate_principal_policy(PolicySourceArn=role, ActionNames=["kms:Decrypt"])
    assert ALLOW_ALL  # the conftest helper the other tests use


def test_simulate_principal_policy_resource_owner_is_an_account_arn(aws: Aws) -> None:
    """A resource policy naming the caller allows it in the owner's own account; owned by another
    account, the caller's identity policies must allow it too."""
    iam = aws.client("iam")
    user = iam.create_user(UserName="named")["User"]["Arn"]  # resource policies: IAM users only
    policy = key_policy(stmt({"AWS": user}, "kms:Decrypt"))

    def decision(owner: str) -> str:
        out = iam.simulate_principal_policy(
            PolicySourceArn=user, ActionNames=["kms:Decrypt"], ResourceArns=["arn:aws:kms:us-east-1:123456789012:key/k"],
            ResourcePolicy=policy, CallerArn=user, ResourceOwner=owner,
        )  # fmt: skip
        return out["EvaluationResults"][0]["EvalDecision"]

    assert decision(f"arn:aws:iam::{MGMT}:root") == "allowed"
    assert decision("arn:aws:iam::111111111111:root") == "implicitDeny"
    with aws_error("InvalidInput", 400):
        decision(MGMT)


def test_root_credentials_are_the_account_root(aws: Aws) -> None:
    ident = aws.client("sts").get_caller_identity()
    assert (ident["Arn"], ident["UserId"], ident["Account"]) == (ROOT, MGMT, MGMT)
    other = Aws(aws.endpoint, account="111111111111").client("sts").get_caller_identity()
    assert other["Arn"] == "arn:aws:iam::111111111111:root"


def test_not_principal_and_set_operators_in_a_live_key_policy(aws: Aws) -> None:
    """A Deny with NotPrincipal spares only the exact identity it names; IfExists and
    ForAnyValue/ForAllValues follow the IAM guide on missing and multi-valued keys."""
    keeper = create_role(aws, "Keeper", allow_all=False)
    other = create_role(aws, "Other", allow("kms:DescribeKey"), allow_all=False)
    kms = aws.client("kms")
    key_id = kms.create_key(Policy=key_policy(
        ROOT_ALL,
        stmt({"AWS": keeper}, "kms:DescribeKey"),
        {"Effect": "Deny", "NotPrincipal": {"AWS": [keeper, ROOT]}, "Action": "kms:DescribeKey", "Resource": "*",
         "Condition": {"StringEqualsIfExists": {"aws:PrincipalAccount": MGMT},
                       "ForAllValues:StringLike": {"kms:EncryptionContextKeys": ["app-*"]}}},
    ))["KeyMetadata"]["KeyId"]  # fmt: skip
    # The role ARN is named, but the session is what calls: NotPrincipal does not spare it.
    with aws_error("AccessDeniedException", 400) as exc:
        aws.assume(keeper).client("kms").describe_key(KeyId=key_id)
    assert "explicit deny" in str(exc.value)
    with aws_error("AccessDeniedException", 400):
        aws.assume(other).client("kms").describe_key(KeyId=key_id)
    kms.describe_key(KeyId=key_id)  # the root is named: spared


def test_not_principal_is_deny_only_and_a_boundary_defeats_its_exception(aws: Aws) -> None:
    """The IAM guide: NotPrincipal with Allow is not supported (refused, never guessed), and a
    NotPrincipal Deny always denies a principal that has a permissions boundary."""
    iam = aws.client("iam")
    kms = aws.client("kms")
    spared = create_role(aws, "Spared", allow("kms:*"), allow_all=False)
    session = f"arn:aws:sts::{MGMT}:assumed-role/Spared/pytest"
    key_id = kms.create_key(Policy=key_policy(
        ROOT_ALL,
        {"Effect": "Deny", "NotPrincipal": {"AWS": [spared, session, ROOT]}, "Action": "kms:DescribeKey",
         "Resource": "*"},
    ))["KeyMetadata"]["KeyId"]  # fmt: skip
    s = aws.assume(spared)
    s.client("kms").describe_key(KeyId=key_id)
    boundary = iam.create_policy(PolicyName="KmsOnly", PolicyDocument=json.dumps(allow("kms:*")))["Policy"]["Arn"]
    iam.put_role_permissions_boundary(RoleName="Spared", PermissionsBoundary=boundary)
    with aws_error("AccessDeniedException", 400) as exc:
        s.client("kms").describe_key(KeyId=key_id)
    assert "explicit deny" in str(exc.value)
    allow_all_but = kms.create_key(Policy=key_policy(
        ROOT_ALL, {"Effect": "Allow", "NotPrincipal": {"AWS": ROOT}, "Action": "kms:DescribeKey", "Resource": "*"},
    ), BypassPolicyLockoutSafetyCheck=True)["KeyMetadata"]["KeyId"]  # fmt: skip
    with aws_error("AccessDeniedException", 400) as exc:
        kms.describe_key(KeyId=allow_all_but)
    assert "does not support NotPrincipal with Allow" in str(exc.value)


def test_issued_credentials_cannot_claim_another_account(aws: Aws) -> None:
    """moto's x-moto-account-id header is a hook for root test credentials only: a session
    sending it is still itself, in its own account."""
    bare = aws.assume(create_role(aws, "Bare", allow_all=False))
    spoof = Aws(aws.endpoint, bare.creds, account="111111111111")
    assert spoof.client("sts").get_caller_identity()["Account"] == MGMT
    with aws_error("AccessDeniedException", 400):
        spoof.client("kms").list_keys()
    # Root test credentials keep the hook.
    assert Aws(aws.endpoint, account="111111111111").client("sts").get_caller_identity()["Account"] == "111111111111"
